//! Typed errors of the crate (supporting-data loading and input parsing).

use thiserror::Error;

/// An error while loading supporting data.
#[derive(Debug, Error)]
pub enum DataError {
    /// An XML document could not be parsed.
    #[error("supporting data {file}: malformed XML: {message}")]
    Xml {
        /// Which document.
        file: String,
        /// Parser message.
        message: String,
    },
    /// A required element is missing.
    #[error("supporting data: missing {0}")]
    Missing(String),
    /// The data is inconsistent.
    #[error("supporting data: {0}")]
    Invalid(String),
    /// Reading a supporting data directory failed (only `from_dir`).
    #[error("supporting data: {0}")]
    Io(String),
}

/// An error in a patient record given to the engine.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InputError {
    /// A CVX code which is not a number below 1000.
    #[error("invalid CVX code {0:?}")]
    Cvx(String),
    /// A date which is not ISO `YYYY-MM-DD`.
    #[error("invalid date {0:?}")]
    Date(String),
    /// An unknown sex code (expected M, F or U).
    #[error("invalid sex {0:?} (expected M, F or U)")]
    Sex(String),
    /// An observation code which is not numeric.
    #[error("invalid observation code {0:?}")]
    Observation(String),
    /// A dose volume which is negative or not a number.
    #[error("invalid dose volume {0:?} (expected millilitres >= 0)")]
    Volume(String),
}
