//! Typed errors of the crate.

use thiserror::Error;

/// Errors reading a scoring model (`data/model.tsv` format).
#[derive(Debug, Error, PartialEq)]
pub enum ModelError {
    /// A malformed row.
    #[error("model line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// A required threshold row is absent.
    #[error("model has no `threshold {0}` row")]
    MissingThreshold(&'static str),
    /// The possible-match threshold is above the match threshold.
    #[error("possible-match threshold {possible} is above match threshold {matched}")]
    ThresholdOrder {
        /// Possible-match threshold.
        possible: f64,
        /// Match threshold.
        matched: f64,
    },
}

/// Errors reading an AIRA patient-matching test file.
#[derive(Debug, Error)]
pub enum AiraError {
    /// A malformed line.
    #[error("line {line}: {message}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// Writing the results failed.
    #[error("writing results: {0}")]
    Io(#[from] std::io::Error),
}
