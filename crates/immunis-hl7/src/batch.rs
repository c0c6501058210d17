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

/// Field `n` of an FHS/BHS segment (`FHS-1` is the field separator itself,
/// so `FHS-n` is the `n-1`th piece), with the sender's component separator
/// turned into `^` so it reads right under the reply's standard delimiters.
fn header_field(segment: &str, n: usize) -> String {
    let mut chars = segment.chars().skip(3);
    let Some(field_sep) = chars.next() else {
        return String::new();
    };
    let comp_sep = chars.next().unwrap_or('^');
    segment
        .split(field_sep)
        .nth(n.saturating_sub(1))
        .unwrap_or("")
        .chars()
        .map(|c| if c == comp_sep { '^' } else { c })
        .filter(|c| !matches!(c, '|' | '\r' | '\n'))
        .collect()
}

/// The reply to a batch (HL7 v2.5.1 §2.10.3, the IG's batch acknowledgement,
/// as in NM-SIIS's FHS/BHS ACK batch): `FHS`/`BHS` with sender and receiver
/// swapped, our control id in FHS-11/BHS-11 and the sender's in FHS-12/BHS-12
/// (the reference control id), every reply in order, then `BTS` with the
/// number of replies and `FTS|1`. Envelope segments the sender left out
/// (a bare BHS batch, say) are left out of the reply too.
pub fn batch_reply(envelope: &[&str], replies: &[Vec<u8>], opts: &crate::ReplyOptions) -> Vec<u8> {
    let find = |name: &str| envelope.iter().find(|s| s.starts_with(name)).copied();
    let header = |seg: &str, name: &str| {
        let app = opts
            .sending_application
            .as_ref()
            .map(|h| h.components().join("^"))
            .unwrap_or_else(|| header_field(seg, 5));
        let facility = opts
            .sending_facility
            .as_ref()
            .map(|h| h.components().join("^"))
            .unwrap_or_else(|| header_field(seg, 6));
        format!(
            "{name}|^~\\&|{app}|{facility}|{}|{}|{}||||{}|{}\r",
            header_field(seg, 3),
            header_field(seg, 4),
            opts.timestamp,
            opts.control_id,
            header_field(seg, 11),
        )
    };
    let mut out = Vec::new();
    let fhs = find("FHS");
    let bhs = find("BHS");
    if let Some(f) = fhs {
        out.extend_from_slice(header(f, "FHS").as_bytes());
    }
    if let Some(b) = bhs.or(fhs) {
        out.extend_from_slice(header(b, "BHS").as_bytes());
    }
    for r in replies {
        out.extend_from_slice(r);
        if !out.ends_with(b"\r") {
            out.push(b'\r');
        }
    }
    out.extend_from_slice(format!("BTS|{}\r", replies.len()).as_bytes());
    if fhs.is_some() {
        out.extend_from_slice(b"FTS|1\r");
    }
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
    fn batch_reply_swaps_parties_and_counts() {
        let input = "FHS|^~\\&|RPMS|IHS2||NMSIIS|20120731085717|CR|HL7.251.batch.txt||CI809903|\r\
                     BHS|^~\\&|RPMS|IHS2||NMSIIS|20120731085717||||CB1|\r\
                     MSH|^~\\&|RPMS|IHS2||NMSIIS|20120731085717||VXU^V04^VXU_V04|M1|P|2.5.1\r\
                     MSH|^~\\&|RPMS|IHS2||NMSIIS|20120731085717||VXU^V04^VXU_V04|M2|P|2.5.1\r\
                     BTS|2\rFTS|1\r";
        let b = split_messages(input);
        let opts = crate::ReplyOptions {
            control_id: "R1".into(),
            timestamp: "20250101120000".into(),
            ..Default::default()
        };
        let acks = vec![
            b"MSH|^~\\&|ack1\rMSA|AA|M1".to_vec(),
            b"MSH|^~\\&|ack2\rMSA|AE|M2\r".to_vec(),
        ];
        let out = String::from_utf8(batch_reply(&b.envelope, &acks, &opts)).unwrap();
        let lines: Vec<&str> = out.split('\r').filter(|l| !l.is_empty()).collect();
        assert_eq!(
            lines[0],
            "FHS|^~\\&||NMSIIS|RPMS|IHS2|20250101120000||||R1|CI809903"
        );
        assert_eq!(
            lines[1],
            "BHS|^~\\&||NMSIIS|RPMS|IHS2|20250101120000||||R1|CB1"
        );
        assert_eq!(
            lines[2..6],
            ["MSH|^~\\&|ack1", "MSA|AA|M1", "MSH|^~\\&|ack2", "MSA|AE|M2"]
        );
        assert_eq!(lines[6..], ["BTS|2", "FTS|1"]);
        // The reply is itself a batch our splitter reads back.
        let back = split_messages(&out);
        assert_eq!(back.messages.len(), 2);
        assert_eq!(back.envelope.len(), 4);
    }

    #[test]
    fn batch_reply_custom_delimiters_and_bare_bhs() {
        let b = split_messages("BHS#$~\\&#SENDER$X#FAC##IIS#2025####B9\rMSH#$~\\&#A\r");
        let out = String::from_utf8(batch_reply(
            &b.envelope,
            &[b"MSH|^~\\&|a\r".to_vec()],
            &crate::ReplyOptions::default(),
        ))
        .unwrap();
        assert!(out.starts_with("BHS|^~\\&||IIS|SENDER^X|FAC|"), "{out}");
        assert!(out.contains("|B9\r"));
        assert!(!out.contains("FHS") && !out.contains("FTS"));
        assert!(out.ends_with("BTS|1\r"));
    }

    #[test]
    fn garbage_and_empty() {
        assert_eq!(split_messages(""), Batch::default());
        let b = split_messages("hello\r\x0bMSH|^~\\&|x\x1c\r");
        assert_eq!(b.stray, ["hello"]);
        assert_eq!(b.messages, ["MSH|^~\\&|x"]);
    }
}
