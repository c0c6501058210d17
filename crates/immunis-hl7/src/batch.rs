//! Splitting a payload into messages: FHS/BHS/BTS/FTS batches, several
//! messages concatenated, MLLP-framed payloads.
//!
//! Zero-copy: each message is a slice of the input starting at its `MSH`
//! (parse it with [`crate::Message::parse`]). The envelope segments are kept
//! so that a caller can echo FHS/BHS control ids or check BTS counts.

use crate::parse::{is_segment_break, skip_preamble};

/// The parts of a payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch<'a> {
    /// `FHS` / `BHS` / `BTS` / `FTS` segments, in order, raw.
    pub envelope: Vec<&'a str>,
    /// One slice per message, each starting with `MSH`.
    pub messages: Vec<&'a str>,
    /// Non-blank lines that belong to no message (before the first MSH and
    /// not envelope segments): garbage a caller may want to report.
    pub stray: Vec<&'a str>,
}

impl Batch<'_> {
    /// True if the payload had a file or batch envelope.
    pub fn is_batch(&self) -> bool {
        !self.envelope.is_empty()
    }
}

/// Split `input` into messages (see [`Batch`]). Never fails: an empty or
/// garbage input gives no messages.
pub fn split_messages<'a>(input: &'a str) -> Batch<'a> {
    let bytes = input.as_bytes();
    let mut out = Batch::default();
    // (start of current message, end of its last line)
    let mut current: Option<(usize, usize)> = None;
    let close = |current: &mut Option<(usize, usize)>, out: &mut Batch<'a>| {
        if let Some((s, e)) = current.take() {
            if let Some(m) = input.get(s..e) {
                out.messages.push(m);
            }
        }
    };
    let mut pos = skip_preamble(bytes);
    // Lines, with blanks trimmed; each (start, end).
    while pos < bytes.len() {
        let len = bytes
            .get(pos..)
            .unwrap_or_default()
            .iter()
            .position(|&b| is_segment_break(b))
            .unwrap_or(bytes.len() - pos);
        let (mut s, mut e) = (pos, pos + len);
        pos = e + 1;
        while s < e && bytes.get(s).is_some_and(|b| *b == b' ' || *b == b'\t') {
            s += 1;
        }
        while e > s && bytes.get(e - 1).is_some_and(|b| b.is_ascii_whitespace()) {
            e -= 1;
        }
        if s == e {
            continue;
        }
        let line = input.get(s..e).unwrap_or("");
        let name = line.get(..3).unwrap_or(line);
        match name {
            "MSH" => {
                close(&mut current, &mut out);
                current = Some((s, e));
            }
            "FHS" | "BHS" | "BTS" | "FTS" => {
                close(&mut current, &mut out);
                out.envelope.push(line);
            }
            _ => match current.as_mut() {
                Some(cur) => cur.1 = e,
                None => out.stray.push(line),
            },
        }
    }
    close(&mut current, &mut out);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn splits_batch_and_concatenation() {
        let input =
            "FHS|^~\\&|A\rBHS|^~\\&|A\rMSH|^~\\&|1\rPID|1\nMSH|^~\\&|2\r\nPID|2\r\nBTS|2\rFTS|1\r";
        let b = split_messages(input);
        assert_eq!(b.messages, ["MSH|^~\\&|1\rPID|1", "MSH|^~\\&|2\r\nPID|2"]);
        assert_eq!(b.envelope.len(), 4);
        assert!(b.is_batch());
        assert!(b.stray.is_empty());
    }

    #[test]
    fn garbage_and_empty() {
        assert_eq!(split_messages(""), Batch::default());
        let b = split_messages("hello\r\x0bMSH|^~\\&|x\x1c\r");
        assert_eq!(b.stray, ["hello"]);
        assert_eq!(b.messages, ["MSH|^~\\&|x"]);
    }
}
