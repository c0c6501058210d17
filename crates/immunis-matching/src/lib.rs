//! # immunis-matching
//!
//! Patient matching (record linkage) for the Immunis immunization registry.
//! Pure: no I/O, no clock; the registry supplies records and persists keys.
//!
//! * [`normalize()`] turns a [`MatchRecord`] into a [`NormalizedRecord`]
//!   (case, punctuation, diacritics, compound surnames, suffixes, addresses,
//!   phones, identifiers, phonetic codes).
//! * [`blocking_keys`] gives the compact keys to index for candidate lookup.
//! * [`Matcher`] scores a pair (Fellegi–Sunter with term-frequency
//!   adjustment, hard rules) into a [`MatchResult`] with an [`Outcome`] and a
//!   per-field explanation.
//! * [`aira`] evaluates the matcher on AIRA patient-matching test files.
//! * [`policy`] is the learned decision tree that turns a scored comparison
//!   into the three-way outcome (precision-first: no `Match` leaf holds a
//!   `Not a Match` training pair).
//! * [`em`] fits m/u probabilities from unlabelled candidate pairs.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aira;
pub mod blocking;
pub mod compare;
pub mod em;
pub mod error;
pub mod model;
pub mod nicknames;
pub mod normalize;
pub mod policy;
pub mod record;
pub mod score;

pub use blocking::{blocking_keys, blocking_keys_normalized, BlockingKey, BlockingKeyKind};
pub use compare::{compare, Comparison, HardRule, Presence};
pub use error::{AiraError, ModelError};
pub use model::{Field, Level, Model, Thresholds};
pub use normalize::{normalize, NameFrequencies, NormalizedRecord};
pub use policy::Policy;
pub use record::{
    Address, Identifier, IdentifierKind, MatchRecord, MultipleBirth, PersonName, Sex, Shot,
};
pub use score::{FieldComparison, MatchResult, Matcher, Outcome};
