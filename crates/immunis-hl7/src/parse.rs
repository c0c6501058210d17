//! Zero-copy, index-based HL7 v2 parser.
//!
//! [`Message::parse`] makes a single pass over the input and records, in two
//! flat vectors, the byte span of every segment and of every field (split on
//! the field separator only). Repetitions, components and subcomponents are
//! split lazily when accessed, and escape sequences are decoded on access
//! ([`Field::text`], [`Comp::text`]): parsing never allocates per value.
//!
//! Leniency (CDC IG NOTES §4.6, "things real senders get wrong"):
//! - segment separators CR, LF, CRLF (any run of CR/LF is one break, empty
//!   lines are skipped), and MLLP framing bytes 0x0B / 0x1C anywhere;
//! - a UTF-8 BOM and leading whitespace before `MSH`;
//! - trailing spaces/tabs at the end of a segment, leading ones before a name;
//! - custom encoding characters from MSH-1/MSH-2 (incl. the 5-char `^~\&#`);
//!   missing encoding characters fall back to the defaults.
//!
//! Never panics: all slicing is checked (`str::get`), and offsets are `u32`
//! (inputs of 4 GiB or more are refused with [`ParseError::TooLarge`]).

use std::borrow::Cow;

use crate::error::ParseError;
use crate::escape;

/// The encoding characters of a message (MSH-1 and MSH-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delimiters {
    /// Field separator (MSH-1), `|`.
    pub field: u8,
    /// Component separator, `^`.
    pub component: u8,
    /// Repetition separator, `~`.
    pub repetition: u8,
    /// Escape character, `\`.
    pub escape: u8,
    /// Subcomponent separator, `&`.
    pub subcomponent: u8,
    /// Truncation character (v2.7+, 5th encoding char), e.g. `#`.
    pub truncation: Option<u8>,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: b'|',
            component: b'^',
            repetition: b'~',
            escape: b'\\',
            subcomponent: b'&',
            truncation: None,
        }
    }
}

impl Delimiters {
    /// Read the delimiters from a header segment (`MSH`, `FHS` or `BHS`):
    /// byte 3 is the field separator, then up to five encoding characters
    /// until the next field separator. Missing ones take the default value.
    pub fn from_header(seg: &[u8]) -> Result<Self, ParseError> {
        let field = *seg
            .get(3)
            .ok_or_else(|| ParseError::InvalidDelimiters("no field separator".into()))?;
        let enc: Vec<u8> = seg
            .iter()
            .skip(4)
            .take_while(|&&b| b != field && !is_segment_break(b))
            .take(5)
            .copied()
            .collect();
        let d = Delimiters {
            field,
            component: enc.first().copied().unwrap_or(b'^'),
            repetition: enc.get(1).copied().unwrap_or(b'~'),
            escape: enc.get(2).copied().unwrap_or(b'\\'),
            subcomponent: enc.get(3).copied().unwrap_or(b'&'),
            truncation: enc.get(4).copied(),
        };
        d.validate()?;
        Ok(d)
    }

    fn validate(&self) -> Result<(), ParseError> {
        let mut all = vec![
            self.field,
            self.component,
            self.repetition,
            self.escape,
            self.subcomponent,
        ];
        all.extend(self.truncation);
        for &b in &all {
            if !b.is_ascii_punctuation() {
                return Err(ParseError::InvalidDelimiters(format!(
                    "{:?} is not an ASCII punctuation character",
                    char::from(b)
                )));
            }
        }
        let mut sorted = all.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != all.len() {
            return Err(ParseError::InvalidDelimiters(
                "encoding characters are not distinct".into(),
            ));
        }
        Ok(())
    }

    /// MSH-2 as it should be written: `^~\&` (plus the truncation char).
    pub fn encoding_chars(&self) -> String {
        let mut s = String::with_capacity(5);
        for b in [
            self.component,
            self.repetition,
            self.escape,
            self.subcomponent,
        ] {
            s.push(char::from(b));
        }
        if let Some(t) = self.truncation {
            s.push(char::from(t));
        }
        s
    }
}

/// CR, LF, and the MLLP start/end bytes all break segments.
#[inline(always)]
pub(crate) fn is_segment_break(b: u8) -> bool {
    b <= 0x1C && (b == b'\r' || b == b'\n' || b == 0x0B || b == 0x1C)
}

/// Bytes allowed (and skipped) before the first segment.
fn is_preamble(b: u8) -> bool {
    is_segment_break(b) || b == b' ' || b == b'\t' || b == 0x0C
}

#[inline(always)]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Skip a BOM, whitespace and framing bytes at the start of `bytes`.
pub(crate) fn skip_preamble(bytes: &[u8]) -> usize {
    let mut i = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    };
    while bytes.get(i).is_some_and(|&b| is_preamble(b)) {
        i += 1;
    }
    i
}

#[derive(Debug, Clone, Copy)]
struct SegSpan {
    start: u32,
    end: u32,
    /// Index into `fields` of element 0 (the segment name).
    first: u32,
    /// Number of elements (name included).
    count: u32,
}

/// A parsed HL7 v2 message borrowing its input.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    src: &'a str,
    delims: Delimiters,
    segs: Vec<SegSpan>,
    /// Spans of the elements of all segments, split on the field separator.
    fields: Vec<(u32, u32)>,
}

impl<'a> Message<'a> {
    /// Parse one message. The input must start (after framing bytes,
    /// whitespace or a BOM) with `MSH`. Anything after it, including further
    /// `MSH` segments, is taken as segments of this message: use
    /// [`crate::split_messages`] for batches and multi-message payloads.
    pub fn parse(src: &'a str) -> Result<Self, ParseError> {
        if src.len() >= u32::MAX as usize {
            return Err(ParseError::TooLarge(src.len()));
        }
        let bytes = src.as_bytes();
        let start = skip_preamble(bytes);
        let rest = bytes.get(start..).unwrap_or_default();
        if rest.is_empty() {
            return Err(ParseError::Empty);
        }
        if !rest.starts_with(b"MSH") {
            let found: String = String::from_utf8_lossy(rest).chars().take(16).collect();
            return Err(ParseError::MissingMsh { found });
        }
        let delims = Delimiters::from_header(rest)?;
        let fs = delims.field;

        let mut segs: Vec<SegSpan> = Vec::with_capacity(rest.len() / 48 + 1);
        let mut fields: Vec<(u32, u32)> = Vec::with_capacity(rest.len() / 5 + 8);
        let mut seg_start = start;
        let mut field_start = start;
        // Hot loop: one pass, two comparisons per byte in the common case.
        for (i, &b) in bytes.iter().enumerate().skip(start) {
            if b == fs {
                fields.push((field_start as u32, i as u32));
                field_start = i + 1;
            } else if is_segment_break(b) {
                finish_segment(bytes, &mut segs, &mut fields, seg_start, field_start, i);
                seg_start = i + 1;
                field_start = i + 1;
            }
        }
        finish_segment(
            bytes,
            &mut segs,
            &mut fields,
            seg_start,
            field_start,
            bytes.len(),
        );
        Ok(Message {
            src,
            delims,
            segs,
            fields,
        })
    }

    /// The whole input this message was parsed from.
    pub fn source(&self) -> &'a str {
        self.src
    }

    /// The delimiters declared in MSH-1/MSH-2.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delims
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.segs.len()
    }

    /// True if there are no segments (never the case for a parsed message).
    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// The segment at position `i` (0-based), if any.
    pub fn segment_at(&self, i: usize) -> Option<Segment<'_, 'a>> {
        (i < self.segs.len()).then_some(Segment { msg: self, idx: i })
    }

    /// All segments in order.
    pub fn segments(&self) -> impl Iterator<Item = Segment<'_, 'a>> + '_ {
        (0..self.segs.len()).map(move |idx| Segment { msg: self, idx })
    }

    /// Segments with the given name, in order.
    pub fn segments_named<'m>(
        &'m self,
        name: &'m str,
    ) -> impl Iterator<Item = Segment<'m, 'a>> + 'm {
        self.segments().filter(move |s| s.name() == name)
    }

    /// First segment with the given name.
    pub fn segment(&self, name: &str) -> Option<Segment<'_, 'a>> {
        self.segments().find(|s| s.name() == name)
    }

    /// Field `field` (1-based, HL7 numbering) of the first `seg` segment;
    /// an empty field if either is absent. `msg.get("RXA", 5)`.
    pub fn get(&self, seg: &str, field: usize) -> Field<'a> {
        self.segment(seg)
            .map(|s| s.field(field))
            .unwrap_or_else(|| Field::empty(self.delims))
    }

    /// Raw value at a path such as `PID-5`, `PID-5.1`, `PID-3[2].4.2`,
    /// `RXA[2]-5.1` or `MSH.9.2` (occurrence and repetition 1-based).
    /// `None` if the path is malformed or the segment is absent.
    pub fn query(&self, path: &str) -> Option<&'a str> {
        let p = Path::parse(path)?;
        let seg = self
            .segments_named(p.seg)
            .nth(p.occurrence.checked_sub(1)?)?;
        let field = seg.field(p.field);
        let rep = field.rep(p.rep);
        Some(match (p.comp, p.sub) {
            (None, _) if p.rep_given => rep.raw(),
            (None, _) => field.raw(),
            (Some(c), None) => rep.comp(c).raw(),
            (Some(c), Some(s)) => rep.comp(c).sub(s),
        })
    }

    /// Decoded value at a path (see [`Message::query`]).
    pub fn query_text(&self, path: &str) -> Option<Cow<'a, str>> {
        self.query(path)
            .map(|raw| escape::decode(raw, &self.delims))
    }

    fn element(&self, seg: &SegSpan, i: usize) -> Option<&'a str> {
        if i >= seg.count as usize {
            return None;
        }
        let &(s, e) = self.fields.get(seg.first as usize + i)?;
        self.src.get(s as usize..e as usize)
    }
}

/// Record the segment that ends at `end` (exclusive), trimming blanks.
fn finish_segment(
    bytes: &[u8],
    segs: &mut Vec<SegSpan>,
    fields: &mut Vec<(u32, u32)>,
    seg_start: usize,
    field_start: usize,
    end: usize,
) {
    let first = segs
        .last()
        .map_or(0, |s| s.first as usize + s.count as usize);
    // Trailing blanks of the last field (IG NOTES §4.6: trailing spaces).
    let mut e = end;
    while e > field_start && bytes.get(e - 1).copied().is_some_and(is_blank) {
        e -= 1;
    }
    if fields.len() == first {
        // No field separator: a bare name, or a blank/empty line.
        let mut s = seg_start;
        while s < e && bytes.get(s).copied().is_some_and(is_blank) {
            s += 1;
        }
        if s >= e {
            return;
        }
        fields.push((s as u32, e as u32));
        segs.push(SegSpan {
            start: s as u32,
            end: e as u32,
            first: first as u32,
            count: 1,
        });
        return;
    }
    fields.push((field_start as u32, e as u32));
    // Leading blanks before the segment name.
    let mut s = seg_start;
    if let Some(name) = fields.get_mut(first) {
        while (s as u32) < name.1 && bytes.get(s).copied().is_some_and(is_blank) {
            s += 1;
        }
        name.0 = s as u32;
    }
    segs.push(SegSpan {
        start: s as u32,
        end: e as u32,
        first: first as u32,
        count: (fields.len() - first) as u32,
    });
}

fn is_header_name(name: &str) -> bool {
    matches!(name, "MSH" | "FHS" | "BHS")
}

/// A segment of a [`Message`] (cheap to copy).
#[derive(Debug, Clone, Copy)]
pub struct Segment<'m, 'a> {
    msg: &'m Message<'a>,
    idx: usize,
}

impl<'m, 'a> Segment<'m, 'a> {
    fn span(&self) -> Option<&'m SegSpan> {
        self.msg.segs.get(self.idx)
    }

    /// Segment name (`PID`).
    pub fn name(&self) -> &'a str {
        self.span()
            .and_then(|s| self.msg.element(s, 0))
            .unwrap_or("")
    }

    /// Position of this segment in the message (0-based).
    pub fn index(&self) -> usize {
        self.idx
    }

    /// The raw text of the segment (without the separator).
    pub fn raw(&self) -> &'a str {
        self.span()
            .and_then(|s| self.msg.src.get(s.start as usize..s.end as usize))
            .unwrap_or("")
    }

    /// Field `n` (1-based, HL7 numbering: `MSH-1` is the field separator,
    /// `MSH-2` the encoding characters). Absent fields are empty.
    pub fn field(&self, n: usize) -> Field<'a> {
        let d = self.msg.delims;
        let Some(span) = self.span() else {
            return Field::empty(d);
        };
        if is_header_name(self.name()) {
            match n {
                0 => Field::empty(d),
                1 => {
                    let s = span.start as usize + 3;
                    let raw = self.msg.src.get(s..s + 1).unwrap_or("");
                    Field::literal(raw, d)
                }
                2 => Field::literal(self.msg.element(span, 1).unwrap_or(""), d),
                _ => Field::new(self.msg.element(span, n - 1).unwrap_or(""), d),
            }
        } else if n == 0 {
            Field::empty(d)
        } else {
            Field::new(self.msg.element(span, n).unwrap_or(""), d)
        }
    }

    /// Highest field number present (trailing empty fields included).
    pub fn field_count(&self) -> usize {
        let count = self.span().map_or(0, |s| s.count as usize);
        if is_header_name(self.name()) {
            count
        } else {
            count.saturating_sub(1)
        }
    }

    /// Fields 1..=[`Self::field_count`].
    pub fn fields(&self) -> impl Iterator<Item = Field<'a>> + 'm {
        let this = *self;
        (1..=self.field_count()).map(move |n| this.field(n))
    }
}

/// Split `raw` on an ASCII byte (faster than `str::split(char)` on the
/// short pieces HL7 is made of; always yields at least one piece).
#[derive(Debug, Clone)]
struct ByteSplit<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

fn split_byte(raw: &str, sep: u8) -> ByteSplit<'_> {
    ByteSplit {
        rest: Some(raw),
        sep,
    }
}

impl<'a> Iterator for ByteSplit<'a> {
    type Item = &'a str;
    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match rest.bytes().position(|b| b == self.sep) {
            // An ASCII separator is always a char boundary.
            Some(i) => {
                self.rest = rest.get(i + 1..);
                rest.get(..i)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

fn nth_piece(raw: &str, sep: u8, n: usize) -> &str {
    // 1-based; 0 or beyond the end gives "".
    match n.checked_sub(1) {
        Some(i) => split_byte(raw, sep).nth(i).unwrap_or(""),
        None => "",
    }
}

/// One field: repetitions of components of subcomponents, split lazily.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    raw: &'a str,
    d: Delimiters,
    /// MSH-1 / MSH-2: never split nor decoded.
    literal: bool,
}

impl<'a> Field<'a> {
    fn new(raw: &'a str, d: Delimiters) -> Self {
        Field {
            raw,
            d,
            literal: false,
        }
    }
    fn literal(raw: &'a str, d: Delimiters) -> Self {
        Field {
            raw,
            d,
            literal: true,
        }
    }
    fn empty(d: Delimiters) -> Self {
        Field::new("", d)
    }

    /// The raw (still escaped) text of the field.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// True if the field is absent or empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// True if the field is the HL7 explicit null `""`.
    pub fn is_null(&self) -> bool {
        self.raw == "\"\""
    }

    /// Number of repetitions (0 for an empty field).
    pub fn rep_count(&self) -> usize {
        if self.raw.is_empty() {
            0
        } else if self.literal {
            1
        } else {
            split_byte(self.raw, self.d.repetition).count()
        }
    }

    /// Repetition `n` (1-based); empty if absent.
    pub fn rep(&self, n: usize) -> Rep<'a> {
        let raw = if self.literal {
            if n == 1 {
                self.raw
            } else {
                ""
            }
        } else {
            nth_piece(self.raw, self.d.repetition, n)
        };
        Rep {
            raw,
            d: self.d,
            literal: self.literal,
        }
    }

    /// All repetitions (none for an empty field).
    pub fn reps(&self) -> impl Iterator<Item = Rep<'a>> + 'a {
        let d = self.d;
        let literal = self.literal;
        let sep = if literal {
            // A byte that cannot occur: field separator of the message.
            d.field
        } else {
            d.repetition
        };
        let raw = self.raw;
        split_byte(raw, sep)
            .filter(move |_| !raw.is_empty())
            .map(move |r| Rep { raw: r, d, literal })
    }

    /// Component `n` of the first repetition.
    pub fn comp(&self, n: usize) -> Comp<'a> {
        self.rep(1).comp(n)
    }

    /// Decoded text of the first component of the first repetition
    /// (the usual value of a simple field).
    pub fn text(&self) -> Cow<'a, str> {
        if self.literal {
            return Cow::Borrowed(self.raw);
        }
        self.comp(1).text()
    }

    /// Decoded text of the whole field (separators kept as they are).
    pub fn decoded(&self) -> Cow<'a, str> {
        if self.literal {
            return Cow::Borrowed(self.raw);
        }
        escape::decode(self.raw, &self.d)
    }
}

/// One repetition of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rep<'a> {
    raw: &'a str,
    d: Delimiters,
    literal: bool,
}

impl<'a> Rep<'a> {
    /// Raw text of the repetition.
    pub fn raw(&self) -> &'a str {
        self.raw
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
    /// Component `n` (1-based); empty if absent.
    pub fn comp(&self, n: usize) -> Comp<'a> {
        let raw = if self.literal {
            if n == 1 {
                self.raw
            } else {
                ""
            }
        } else {
            nth_piece(self.raw, self.d.component, n)
        };
        Comp {
            raw,
            d: self.d,
            literal: self.literal,
        }
    }
    /// Number of components (at least 1).
    pub fn comp_count(&self) -> usize {
        if self.literal {
            1
        } else {
            split_byte(self.raw, self.d.component).count()
        }
    }
    /// All components, in order (a single pass over the repetition).
    pub fn comps(&self) -> impl Iterator<Item = Comp<'a>> + 'a {
        let d = self.d;
        let literal = self.literal;
        let sep = if literal { d.field } else { d.component };
        split_byte(self.raw, sep).map(move |c| Comp { raw: c, d, literal })
    }

    /// Decoded text of the first component.
    pub fn text(&self) -> Cow<'a, str> {
        self.comp(1).text()
    }
}

/// One component of a repetition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comp<'a> {
    raw: &'a str,
    d: Delimiters,
    literal: bool,
}

impl<'a> Comp<'a> {
    /// Raw text of the component (subcomponents included).
    pub fn raw(&self) -> &'a str {
        self.raw
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
    /// Raw subcomponent `n` (1-based); `""` if absent.
    pub fn sub(&self, n: usize) -> &'a str {
        if self.literal {
            return if n == 1 { self.raw } else { "" };
        }
        nth_piece(self.raw, self.d.subcomponent, n)
    }
    /// Number of subcomponents (at least 1).
    pub fn sub_count(&self) -> usize {
        if self.literal {
            1
        } else {
            split_byte(self.raw, self.d.subcomponent).count()
        }
    }
    /// Decoded subcomponent `n`.
    pub fn sub_text(&self, n: usize) -> Cow<'a, str> {
        escape::decode(self.sub(n), &self.d)
    }
    /// Decoded text of the component (subcomponent separators kept).
    pub fn text(&self) -> Cow<'a, str> {
        if self.literal {
            return Cow::Borrowed(self.raw);
        }
        escape::decode(self.raw, &self.d)
    }
}

/// A parsed location path (`RXA[2]-5[1].1.2`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Path<'p> {
    seg: &'p str,
    occurrence: usize,
    field: usize,
    rep: usize,
    rep_given: bool,
    comp: Option<usize>,
    sub: Option<usize>,
}

impl<'p> Path<'p> {
    fn parse(path: &'p str) -> Option<Self> {
        let name_len = path
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 {
            return None;
        }
        let seg = path.get(..name_len)?;
        let mut rest = path.get(name_len..)?;
        let (occurrence, r) = bracket(rest)?;
        rest = r;
        rest = rest.strip_prefix(['-', '.'])?;
        let mut parts = rest.split('.');
        let (field_s, rep_part) = {
            let f = parts.next()?;
            match f.find('[') {
                Some(i) => (f.get(..i)?, f.get(i..)?),
                None => (f, ""),
            }
        };
        let field: usize = field_s.parse().ok()?;
        let (rep, tail) = bracket(rep_part)?;
        if !tail.is_empty() {
            return None;
        }
        let comp = parts.next().map(str::parse).transpose().ok()?;
        let sub = parts.next().map(str::parse).transpose().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Path {
            seg,
            occurrence,
            field,
            rep,
            rep_given: !rep_part.is_empty(),
            comp,
            sub,
        })
    }
}

/// Parse an optional `[n]` prefix; default 1.
fn bracket(s: &str) -> Option<(usize, &str)> {
    match s.strip_prefix('[') {
        None => Some((1, s)),
        Some(r) => {
            let end = r.find(']')?;
            let n = r.get(..end)?.parse().ok()?;
            Some((n, r.get(end + 1..)?))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const VXU: &str = "MSH|^~\\&|MYEHR|DCS|MYIIS||201201130000-0500||VXU^V04^VXU_V04|45646ug|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS \r\
PID|1||432155^^^dcs^MR~999^^^SSA^SS||Patient^Johnny^New^^^^L||20110411|M\n\
RXA|0|1|20110415||85^hep B, unspec^CVX|999\r\n\
RXA|0|1|20120113||110^DTaP \\T\\ HIB^CVX|0.5|mL^^UCUM\r\n\r\n";

    #[test]
    fn parses_fields_and_paths() {
        let m = Message::parse(VXU).unwrap();
        assert_eq!(m.len(), 4);
        let names: Vec<_> = m.segments().map(|s| s.name()).collect();
        assert_eq!(names, ["MSH", "PID", "RXA", "RXA"]);
        assert_eq!(m.get("MSH", 1).raw(), "|");
        assert_eq!(m.get("MSH", 2).raw(), "^~\\&");
        assert_eq!(m.get("MSH", 3).raw(), "MYEHR");
        assert_eq!(m.get("MSH", 9).comp(2).raw(), "V04");
        // trailing blank trimmed
        assert_eq!(m.get("MSH", 21).raw(), "Z22^CDCPHINVS");
        assert_eq!(m.get("MSH", 21).comp(3).raw(), "");
        assert_eq!(m.get("PID", 3).rep_count(), 2);
        assert_eq!(m.get("PID", 3).rep(2).comp(5).raw(), "SS");
        assert_eq!(m.query("PID-3[2].4"), Some("SSA"));
        assert_eq!(m.query("RXA[2]-5.2"), Some("DTaP \\T\\ HIB"));
        assert_eq!(m.query_text("RXA[2]-5.2").as_deref(), Some("DTaP & HIB"));
        assert_eq!(m.query("MSH.9.2"), Some("V04"));
        assert_eq!(m.query("RXA[3]-5"), None);
        assert_eq!(m.query("PID-99"), Some(""));
        assert_eq!(m.query("-1"), None);
        assert_eq!(m.get("ZZZ", 1).raw(), "");
        assert_eq!(m.get("PID", 0).raw(), "");
        let pid = m.segment("PID").unwrap();
        assert_eq!(pid.field_count(), 8);
        assert_eq!(m.segment("MSH").unwrap().field_count(), 21);
        assert_eq!(m.get("RXA", 7).comp(3).sub(1), "");
    }

    #[test]
    fn custom_and_five_char_delimiters() {
        let m = Message::parse("MSH*:!$%#*A*B\rPID*1**x:y!z:w%q").unwrap();
        let d = m.delimiters();
        assert_eq!(
            (d.field, d.component, d.repetition, d.escape, d.subcomponent),
            (b'*', b':', b'!', b'$', b'%')
        );
        assert_eq!(d.truncation, Some(b'#'));
        assert_eq!(m.get("PID", 3).rep(2).comp(2).sub(2), "q");
        assert_eq!(m.get("MSH", 2).raw(), ":!$%#");
        assert_eq!(d.encoding_chars(), ":!$%#");
    }

    #[test]
    fn rejects_what_is_not_a_message() {
        assert!(matches!(Message::parse(""), Err(ParseError::Empty)));
        assert!(matches!(
            Message::parse(" \r\n\x0b\x1c\r"),
            Err(ParseError::Empty)
        ));
        assert!(matches!(
            Message::parse("FHS|^~\\&|"),
            Err(ParseError::MissingMsh { .. })
        ));
        assert!(matches!(
            Message::parse("MSH"),
            Err(ParseError::InvalidDelimiters(_))
        ));
        assert!(matches!(
            Message::parse("MSH|^^\\&|"),
            Err(ParseError::InvalidDelimiters(_))
        ));
    }

    #[test]
    fn tolerates_framing_bom_and_blank_lines() {
        let m = Message::parse("\u{feff}\x0bMSH|^~\\&|A\r\r  \n PID|1 \x1c\r").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.segment_at(1).unwrap().name(), "PID");
        assert_eq!(m.get("PID", 1).raw(), "1");
        // MSH with no more fields
        let m = Message::parse("MSH|^~\\&").unwrap();
        assert_eq!(m.get("MSH", 2).raw(), "^~\\&");
        assert_eq!(m.get("MSH", 3).raw(), "");
    }
}
