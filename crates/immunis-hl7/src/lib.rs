//! `immunis-hl7`: the only Immunis crate that knows HL7 v2 (CDC IG for
//! Immunization Messaging R1.5, HL7 v2.5.1).
//!
//! Wire layer (pure, no I/O, no clock, never panics on any input):
//! - [`parse`]: lenient, zero-copy, index-based parser ([`Message::parse`],
//!   `msg.get("RXA", 5).comp(1)`, `msg.query("PID-3[2].4")`).
//! - [`escape`]: escape sequences, decoded on access, encoded on write.
//! - [`batch`]: FHS/BHS batches and multi-message payloads ([`split_messages`]).
//! - [`mod@write`]: segment/message builder with correct escaping.
//! - [`mllp`]: MLLP framing ([`frame`]) and incremental [`MllpDecoder`].
//!
//! Immunization layer (domain values from `immunis-model`):
//! - [`vxu`]: VXU^V04 Z22 → [`VxuSubmission`] + [`Issue`]s ([`interpret_vxu`]).
//! - [`ack`]: ACK Z23 ([`build_ack`]).
//! - [`qbp`]: QBP^Q11 Z34/Z44 → [`Query`] ([`interpret_qbp`]).
//! - [`rsp`]: RSP^K11 Z31/Z32/Z33/Z42 builders.
//! - [`issue`], [`header`]: ERR coding (0357/0516/0533) and MSH checks.
#![forbid(unsafe_code)]

pub mod ack;
pub mod batch;
mod convert;
pub mod error;
pub mod escape;
pub mod header;
pub mod issue;
pub mod mllp;
pub mod parse;
pub mod qbp;
pub mod rsp;
pub mod vxu;
pub mod write;

pub use ack::{build_ack, build_ack_with_code, err_segment, parse_error_issue, ReplyOptions};
pub use batch::{batch_reply, split_messages, Batch};
pub use error::ParseError;
pub use header::{check_header, Expected, Hd, MessageHeader};
pub use issue::{AckCode, AppErrorCode, ErrorCode, Issue, Location, Severity};
pub use mllp::{frame, unframe, MllpDecoder, MllpError};
pub use parse::{Comp, Delimiters, Field, Message, Rep, Segment};
pub use qbp::{copy_segment, interpret_qbp, QbpOutcome, Query, QueryEcho, QueryProfile};
pub use rsp::{
    build_rsp_candidates, build_rsp_error, build_rsp_evaluated, build_rsp_history,
    build_rsp_not_found, build_rsp_too_many, nk1_segment, pd1_segment, pid_segment, DoseEvaluation,
    Forecast, HistoryDose, PatientRecord, Recommendation, SeriesStatus,
};
pub use vxu::{interpret_vxu, VxuSubmission};
pub use write::{FieldValue, MessageBuilder, SegmentBuilder};
