//! MLLP (Minimal Lower Layer Protocol) framing as a pure codec.
//!
//! Frame: `0x0B` + message + `0x1C 0x0D` (HL7 v2 Implementation Guide for
//! MLLP, Release 2; NOTES §3 "one message, one ACK per frame"). The server
//! crate owns the sockets; this module only turns bytes into frames.
//!
//! [`MllpDecoder`] is incremental: [`MllpDecoder::push`] bytes as they are
//! read, then call [`MllpDecoder::next_frame`] until it returns `None`.
//! It handles partial reads, garbage between frames (discarded and
//! counted), a missing trailing `0x0D`, a new start byte inside an unfinished
//! frame (the partial frame is dropped), and a maximum message size (a
//! [`MllpError::TooLarge`] error, after which the decoder resynchronises on
//! the next frame).

use thiserror::Error;

/// Start block byte.
pub const START_BLOCK: u8 = 0x0B;
/// End block byte.
pub const END_BLOCK: u8 = 0x1C;
/// Carriage return that follows the end block.
pub const CARRIAGE_RETURN: u8 = 0x0D;

/// Wrap one message in an MLLP frame.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(START_BLOCK);
    out.extend_from_slice(message);
    out.push(END_BLOCK);
    out.push(CARRIAGE_RETURN);
    out
}

/// Strip framing from a payload that holds at most one frame (lenient: a
/// missing start or end block is tolerated).
pub fn unframe(payload: &[u8]) -> &[u8] {
    let start = payload
        .iter()
        .position(|&b| b == START_BLOCK)
        .map_or(0, |i| i + 1);
    let rest = payload.get(start..).unwrap_or_default();
    let end = rest
        .iter()
        .position(|&b| b == END_BLOCK)
        .unwrap_or(rest.len());
    rest.get(..end).unwrap_or_default()
}

/// Errors reported by [`MllpDecoder`]; the decoder stays usable after them.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MllpError {
    /// A frame grew beyond the configured maximum; its content is discarded.
    #[error("MLLP message too large: more than {max} bytes (at least {size} received)")]
    TooLarge {
        /// Bytes received for this frame when it was abandoned.
        size: usize,
        /// Configured maximum.
        max: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for a start block.
    Seeking,
    /// Inside a frame whose start block is at `buf[0]`; `scan` bytes of
    /// content were already searched for an end block.
    InFrame { scan: usize },
    /// Discarding an oversized frame until its end block.
    Skipping,
}

/// Incremental MLLP decoder.
#[derive(Debug, Clone)]
pub struct MllpDecoder {
    buf: Vec<u8>,
    max: usize,
    state: State,
    /// A frame just ended with `0x1C` as the last byte seen: a `0x0D` at the
    /// start of the next input belongs to it.
    pending_cr: bool,
    discarded: usize,
}

impl MllpDecoder {
    /// Default maximum message size (1 MiB).
    pub const DEFAULT_MAX: usize = 1 << 20;

    /// A decoder refusing messages larger than `max_message_size` bytes.
    pub fn new(max_message_size: usize) -> Self {
        MllpDecoder {
            buf: Vec::new(),
            max: max_message_size,
            state: State::Seeking,
            pending_cr: false,
            discarded: 0,
        }
    }

    /// Feed bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        let bytes = if self.pending_cr && !bytes.is_empty() {
            self.pending_cr = false;
            bytes.strip_prefix(&[CARRIAGE_RETURN]).unwrap_or(bytes)
        } else {
            bytes
        };
        match self.state {
            // Skipping: only the end block matters, keep nothing else.
            State::Skipping => match bytes.iter().position(|&b| b == END_BLOCK) {
                Some(p) => {
                    self.discarded += p + 1;
                    self.state = State::Seeking;
                    let rest = bytes.get(p + 1..).unwrap_or_default();
                    let rest = match rest.first() {
                        Some(&CARRIAGE_RETURN) => rest.get(1..).unwrap_or_default(),
                        Some(_) => rest,
                        None => {
                            self.pending_cr = true;
                            rest
                        }
                    };
                    self.push(rest);
                }
                None => self.discarded += bytes.len(),
            },
            _ => self.buf.extend_from_slice(bytes),
        }
    }

    /// Bytes discarded so far (garbage outside frames, dropped frames).
    pub fn discarded_bytes(&self) -> usize {
        self.discarded
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// True if the decoder is inside an unfinished frame.
    pub fn in_frame(&self) -> bool {
        matches!(self.state, State::InFrame { .. })
    }

    /// The next complete message (content without framing), an error for an
    /// oversized one, or `None` if more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Vec<u8>, MllpError>> {
        loop {
            match self.state {
                State::Skipping => return None,
                State::Seeking => {
                    let start = self.buf.iter().position(|&b| b == START_BLOCK);
                    match start {
                        Some(p) => {
                            self.discarded += p;
                            self.buf.drain(..p);
                            self.state = State::InFrame { scan: 0 };
                        }
                        None => {
                            self.discarded += self.buf.len();
                            self.buf.clear();
                            return None;
                        }
                    }
                }
                State::InFrame { scan } => {
                    let content = self.buf.get(1..).unwrap_or_default();
                    let from = scan.min(content.len());
                    let hit = content
                        .get(from..)
                        .unwrap_or_default()
                        .iter()
                        .position(|&b| b == END_BLOCK || b == START_BLOCK)
                        .map(|i| i + from);
                    match hit {
                        Some(i) if content.get(i) == Some(&START_BLOCK) => {
                            // A new frame starts before this one ended: drop
                            // the partial frame (sender restarted).
                            self.discarded += i + 1;
                            self.buf.drain(..=i);
                            self.state = State::InFrame { scan: 0 };
                        }
                        Some(i) => {
                            if i > self.max {
                                self.discarded += i + 2;
                                self.buf.drain(..(i + 2).min(self.buf.len()));
                                self.state = State::Seeking;
                                self.eat_cr();
                                return Some(Err(MllpError::TooLarge {
                                    size: i,
                                    max: self.max,
                                }));
                            }
                            let msg = content.get(..i).unwrap_or_default().to_vec();
                            self.buf.drain(..(i + 2).min(self.buf.len()));
                            self.state = State::Seeking;
                            self.eat_cr();
                            return Some(Ok(msg));
                        }
                        None if content.len() > self.max => {
                            let size = content.len();
                            self.discarded += self.buf.len();
                            self.buf.clear();
                            self.state = State::Skipping;
                            return Some(Err(MllpError::TooLarge {
                                size,
                                max: self.max,
                            }));
                        }
                        None => {
                            self.state = State::InFrame {
                                scan: content.len(),
                            };
                            return None;
                        }
                    }
                }
            }
        }
    }

    /// After an end block: consume the CR that should follow it.
    fn eat_cr(&mut self) {
        match self.buf.first() {
            Some(&CARRIAGE_RETURN) => {
                self.buf.drain(..1);
            }
            Some(_) => {}
            None => self.pending_cr = true,
        }
    }
}

impl Default for MllpDecoder {
    fn default() -> Self {
        MllpDecoder::new(Self::DEFAULT_MAX)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn drain(d: &mut MllpDecoder) -> Vec<Result<Vec<u8>, MllpError>> {
        std::iter::from_fn(|| d.next_frame()).collect()
    }

    #[test]
    fn frames_roundtrip_byte_by_byte() {
        let mut stream = b"junk".to_vec();
        stream.extend(frame(b"MSH|one"));
        stream.extend(b"\r\n");
        stream.extend(frame(b"MSH|two"));
        let mut d = MllpDecoder::new(100);
        let mut got = Vec::new();
        for b in &stream {
            d.push(std::slice::from_ref(b));
            got.extend(drain(&mut d));
        }
        assert_eq!(got, vec![Ok(b"MSH|one".to_vec()), Ok(b"MSH|two".to_vec())]);
        assert_eq!(d.discarded_bytes(), 6); // "junk" + "\r\n"
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn too_large_then_resync() {
        let mut d = MllpDecoder::new(5);
        d.push(&[START_BLOCK]);
        d.push(b"0123456789");
        assert_eq!(
            drain(&mut d),
            vec![Err(MllpError::TooLarge { size: 10, max: 5 })]
        );
        d.push(b"more\x1c\r");
        d.push(&frame(b"ok"));
        assert_eq!(drain(&mut d), vec![Ok(b"ok".to_vec())]);
        // oversized frame arriving in one piece
        d.push(&frame(b"0123456789"));
        d.push(&frame(b"ok2"));
        assert_eq!(
            drain(&mut d),
            vec![
                Err(MllpError::TooLarge { size: 10, max: 5 }),
                Ok(b"ok2".to_vec())
            ]
        );
    }

    #[test]
    fn restart_and_missing_cr() {
        let mut d = MllpDecoder::default();
        d.push(b"\x0bpartial\x0bwhole\x1c\x0bnext\x1c");
        assert_eq!(
            drain(&mut d),
            vec![Ok(b"whole".to_vec()), Ok(b"next".to_vec())]
        );
        d.push(b"\r");
        assert_eq!(d.buffered(), 0);
        assert_eq!(unframe(&frame(b"abc")), b"abc");
        assert_eq!(unframe(b"abc"), b"abc");
    }
}
