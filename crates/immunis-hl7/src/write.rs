//! Building HL7 v2 messages (ACK, RSP) with correct escaping.
//!
//! A [`SegmentBuilder`] holds owned field values ([`FieldValue`]: repetitions
//! of components of subcomponents, as plain text); escaping happens once, when
//! the message is encoded. Trailing empty fields, components and
//! subcomponents are dropped on output (v2.5.1 §2.5.3: trailing delimiters
//! may be omitted). Segments are separated by CR (v2.5.1 §2.5.1).

use crate::escape::Escaper;
use crate::parse::Delimiters;

/// The value of one field: repetitions of components of subcomponents, as
/// plain (unescaped) text. Most fields are one text or one repetition of
/// simple components, so those are stored flat (one allocation, not three
/// nested vectors: building an RSP with a long history allocates per field).
#[derive(Debug, Clone, Default)]
pub struct FieldValue {
    repr: Repr,
}

#[derive(Debug, Clone, Default)]
enum Repr {
    #[default]
    Empty,
    Text(String),
    /// One repetition of components without subcomponents.
    Comps(Vec<String>),
    /// `reps[rep][comp][sub]`.
    Reps(Vec<Vec<Vec<String>>>),
}

impl FieldValue {
    /// An empty field.
    pub fn empty() -> Self {
        FieldValue::default()
    }

    /// A simple text value.
    pub fn text(s: impl Into<String>) -> Self {
        FieldValue {
            repr: Repr::Text(s.into()),
        }
    }

    /// One repetition made of components (`CX`, `CWE`...).
    pub fn comps<I, S>(comps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        FieldValue {
            repr: Repr::Comps(comps.into_iter().map(Into::into).collect()),
        }
    }

    /// One repetition of components given as subcomponent lists.
    pub fn comps_subs(comps: Vec<Vec<String>>) -> Self {
        FieldValue {
            repr: Repr::Reps(vec![comps]),
        }
    }

    /// Several repetitions.
    pub fn reps(reps: impl IntoIterator<Item = FieldValue>) -> Self {
        FieldValue {
            repr: Repr::Reps(reps.into_iter().flat_map(FieldValue::into_reps).collect()),
        }
    }

    /// The general form: `reps[rep][comp][sub]`.
    fn into_reps(self) -> Vec<Vec<Vec<String>>> {
        match self.repr {
            Repr::Empty => Vec::new(),
            Repr::Text(s) => vec![vec![vec![s]]],
            Repr::Comps(c) => vec![c.into_iter().map(|s| vec![s]).collect()],
            Repr::Reps(r) => r,
        }
    }

    /// Add a repetition.
    pub fn push_rep(&mut self, rep: FieldValue) {
        let mut reps = std::mem::take(self).into_reps();
        reps.extend(rep.into_reps());
        self.repr = Repr::Reps(reps);
    }

    /// True if nothing would be written.
    pub fn is_empty(&self) -> bool {
        match &self.repr {
            Repr::Empty => true,
            Repr::Text(s) => s.is_empty(),
            Repr::Comps(c) => c.iter().all(String::is_empty),
            Repr::Reps(r) => r
                .iter()
                .all(|r| r.iter().all(|c| c.iter().all(String::is_empty))),
        }
    }

    fn encode_into(&self, out: &mut String, e: &Escaper<'_>) {
        let d = e.delimiters();
        match &self.repr {
            Repr::Empty => {}
            Repr::Text(s) => e.escape_into(out, s),
            Repr::Comps(comps) => {
                let end = comps
                    .iter()
                    .rposition(|s| !s.is_empty())
                    .map_or(0, |i| i + 1);
                for (ci, comp) in comps.iter().take(end).enumerate() {
                    if ci > 0 {
                        out.push(char::from(d.component));
                    }
                    e.escape_into(out, comp);
                }
            }
            Repr::Reps(reps) => encode_reps(reps, out, e),
        }
    }
}

/// Two values are equal when they encode the same (`text("a")` equals `comps(["a"])`).
impl PartialEq for FieldValue {
    fn eq(&self, other: &Self) -> bool {
        let d = Delimiters::default();
        let e = Escaper::new(&d);
        let (mut a, mut b) = (String::new(), String::new());
        self.encode_into(&mut a, &e);
        other.encode_into(&mut b, &e);
        a == b
    }
}

impl Eq for FieldValue {}

fn encode_reps(reps: &[Vec<Vec<String>>], out: &mut String, e: &Escaper<'_>) {
    let d = e.delimiters();
    let reps_end = reps
        .iter()
        .rposition(|r| r.iter().any(|c| c.iter().any(|s| !s.is_empty())))
        .map_or(0, |i| i + 1);
    for (ri, rep) in reps.iter().take(reps_end).enumerate() {
        if ri > 0 {
            out.push(char::from(d.repetition));
        }
        let comps_end = rep
            .iter()
            .rposition(|c| c.iter().any(|s| !s.is_empty()))
            .map_or(0, |i| i + 1);
        for (ci, comp) in rep.iter().take(comps_end).enumerate() {
            if ci > 0 {
                out.push(char::from(d.component));
            }
            let subs_end = comp
                .iter()
                .rposition(|s| !s.is_empty())
                .map_or(0, |i| i + 1);
            for (si, sub) in comp.iter().take(subs_end).enumerate() {
                if si > 0 {
                    out.push(char::from(d.subcomponent));
                }
                e.escape_into(out, sub);
            }
        }
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::text(s)
    }
}

impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        FieldValue::text(s)
    }
}

impl From<&String> for FieldValue {
    fn from(s: &String) -> Self {
        FieldValue::text(s.as_str())
    }
}

/// Builder for one segment. Field numbers are HL7's (1-based); for `MSH`,
/// fields 1 and 2 are written from the delimiters and ignored if set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentBuilder {
    name: String,
    fields: Vec<FieldValue>,
}

impl SegmentBuilder {
    /// A new, empty segment.
    pub fn new(name: impl Into<String>) -> Self {
        SegmentBuilder {
            name: name.into(),
            fields: Vec::new(),
        }
    }

    /// Set field `n` (1-based; 0 is ignored).
    pub fn set(&mut self, n: usize, value: impl Into<FieldValue>) -> &mut Self {
        if let Some(i) = n.checked_sub(1) {
            if self.fields.len() <= i {
                self.fields.resize(i + 1, FieldValue::empty());
            }
            if let Some(f) = self.fields.get_mut(i) {
                *f = value.into();
            }
        }
        self
    }

    /// Chaining form of [`Self::set`].
    pub fn with(mut self, n: usize, value: impl Into<FieldValue>) -> Self {
        self.set(n, value);
        self
    }

    /// Chaining form setting components of field `n`.
    pub fn with_comps<I, S>(self, n: usize, comps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with(n, FieldValue::comps(comps))
    }

    /// Segment name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Value of field `n` as set (empty if unset).
    pub fn get(&self, n: usize) -> Option<&FieldValue> {
        self.fields.get(n.checked_sub(1)?)
    }

    /// Append the encoded segment (no terminator) to `out`.
    pub fn encode_into(&self, out: &mut String, d: &Delimiters) {
        // Segment names are trusted identifiers, but keep them clean.
        out.extend(self.name.chars().filter(|c| c.is_ascii_alphanumeric()));
        let is_header = matches!(self.name.as_str(), "MSH" | "FHS" | "BHS");
        let end = self
            .fields
            .iter()
            .rposition(|f| !f.is_empty())
            .map_or(0, |i| i + 1);
        if is_header {
            out.push(char::from(d.field));
            out.push_str(&d.encoding_chars());
        }
        let skip = if is_header { 2 } else { 0 };
        let e = Escaper::new(d);
        for f in self.fields.iter().take(end).skip(skip) {
            out.push(char::from(d.field));
            f.encode_into(out, &e);
        }
    }
}

/// Writes one (non-header) segment straight into a message's text: no value
/// is allocated on the way, which is what building an RSP with a long history
/// spent most of its time on (`order_group` in `rsp.rs`). Fields are written
/// in increasing order; empty values and trailing empty components are not
/// written, so the text is what a [`SegmentBuilder`] with the same values
/// encodes to.
pub struct SegmentWriter<'o, 'd> {
    out: &'o mut String,
    esc: Escaper<'d>,
    /// The last field written.
    field: usize,
}

impl<'o, 'd> SegmentWriter<'o, 'd> {
    /// Starts segment `name` at the end of `out`.
    pub fn start(out: &'o mut String, d: &'d Delimiters, name: &str) -> Self {
        out.extend(name.chars().filter(char::is_ascii_alphanumeric));
        SegmentWriter {
            out,
            esc: Escaper::new(d),
            field: 0,
        }
    }

    /// Moves to field `n`; false (and nothing written) when `n` is not past
    /// the last field written.
    fn at(&mut self, n: usize) -> bool {
        debug_assert!(
            n > self.field,
            "fields out of order: {n} after {}",
            self.field
        );
        if n <= self.field {
            return false;
        }
        let sep = char::from(self.esc.delimiters().field);
        while self.field < n {
            self.out.push(sep);
            self.field += 1;
        }
        true
    }

    /// Field `n` as one text.
    pub fn text(&mut self, n: usize, s: &str) -> &mut Self {
        if !s.is_empty() && self.at(n) {
            self.esc.escape_into(self.out, s);
        }
        self
    }

    /// Field `n` as one repetition of components.
    pub fn comps(&mut self, n: usize, comps: &[&str]) -> &mut Self {
        let end = comps
            .iter()
            .rposition(|c| !c.is_empty())
            .map_or(0, |i| i + 1);
        if end > 0 && self.at(n) {
            let sep = char::from(self.esc.delimiters().component);
            for (i, c) in comps.iter().take(end).enumerate() {
                if i > 0 {
                    self.out.push(sep);
                }
                self.esc.escape_into(self.out, c);
            }
        }
        self
    }

    /// Field `n` from a built value.
    pub fn value(&mut self, n: usize, v: &FieldValue) -> &mut Self {
        if !v.is_empty() && self.at(n) {
            v.encode_into(self.out, &self.esc);
        }
        self
    }

    /// Ends the segment (CR).
    pub fn end(self) {
        self.out.push('\r');
    }
}

/// Builder for a whole message: segments in order, CR-separated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageBuilder {
    delims: Delimiters,
    segments: Vec<SegmentBuilder>,
}

impl MessageBuilder {
    /// With the standard delimiters `|^~\&`.
    pub fn new() -> Self {
        MessageBuilder::default()
    }

    /// With custom delimiters.
    pub fn with_delimiters(delims: Delimiters) -> Self {
        MessageBuilder {
            delims,
            segments: Vec::new(),
        }
    }

    /// Append a segment.
    pub fn push(&mut self, seg: SegmentBuilder) -> &mut Self {
        self.segments.push(seg);
        self
    }

    /// The delimiters it encodes with.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delims
    }

    /// Segments so far.
    pub fn segments(&self) -> &[SegmentBuilder] {
        &self.segments
    }

    /// Encode: segments joined and terminated by CR.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.segments.len() * 64);
        for s in &self.segments {
            s.encode_into(&mut out, &self.delims);
            out.push('\r');
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Message;

    #[test]
    fn encodes_and_reparses() {
        let mut m = MessageBuilder::new();
        m.push(
            SegmentBuilder::new("MSH")
                .with(3, "IIS")
                .with_comps(9, ["ACK", "V04", "ACK"])
                .with(10, "id|1")
                .with(12, "2.5.1"),
        );
        m.push(SegmentBuilder::new("MSA").with(1, "AE").with(2, "id|1"));
        m.push(
            SegmentBuilder::new("ERR")
                .with_comps(2, ["RXA", "1", "5", "", ""])
                .with_comps(3, ["103", "Table value not found", "HL70357"])
                .with(4, "E")
                .with(8, "bad ^ value & more\nline"),
        );
        m.push(SegmentBuilder::new("RCP").with(
            2,
            FieldValue::comps_subs(vec![
                vec!["5".into()],
                vec!["RD".into(), "records".into(), "HL70126".into()],
            ]),
        ));
        let text = m.encode();
        assert_eq!(
            text,
            "MSH|^~\\&|IIS||||||ACK^V04^ACK|id\\F\\1||2.5.1\r\
MSA|AE|id\\F\\1\r\
ERR||RXA^1^5|103^Table value not found^HL70357|E||||bad \\S\\ value \\T\\ more\\.br\\line\r\
RCP||5^RD&records&HL70126\r"
        );
        let p = Message::parse(&text).unwrap();
        assert_eq!(p.get("MSA", 2).text(), "id|1");
        assert_eq!(p.get("ERR", 8).text(), "bad ^ value & more\nline");
        assert_eq!(p.get("MSH", 9).comp(3).raw(), "ACK");
        assert_eq!(p.get("RCP", 2).comp(2).sub(3), "HL70126");
    }

    #[test]
    fn repetitions() {
        let f = FieldValue::reps([
            FieldValue::comps(["1", "", "", "A", "MR"]),
            FieldValue::comps(["2", "", "", "B", "SR"]),
        ]);
        let mut out = String::new();
        SegmentBuilder::new("PID")
            .with(3, f)
            .encode_into(&mut out, &Delimiters::default());
        assert_eq!(out, "PID|||1^^^A^MR~2^^^B^SR");
    }
}
