//! Typed errors of the wire layer.

use thiserror::Error;

/// Why an input could not be parsed as an HL7 v2 message at all.
///
/// Everything short of these is tolerated by the parser (lenient by design,
/// CDC IG NOTES §4.6) and left to the interpretation layer to report.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Nothing but whitespace / framing bytes.
    #[error("empty message")]
    Empty,
    /// The first segment is not MSH (a batch header, garbage, ...).
    #[error("message does not start with an MSH segment (found {found:?})")]
    MissingMsh {
        /// The first few characters found instead (at most 16).
        found: String,
    },
    /// MSH-1/MSH-2 are unusable (non-ASCII, duplicated, or a line break).
    #[error("invalid encoding characters in MSH-1/MSH-2: {0}")]
    InvalidDelimiters(String),
    /// Offsets are stored as `u32`; inputs of 4 GiB or more are refused.
    #[error("message too large: {0} bytes")]
    TooLarge(usize),
}
