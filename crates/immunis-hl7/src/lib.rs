//! `immunis-hl7`: the only Immunis crate that knows HL7 v2.
//!
//! Layers (bottom up):
//! - [`parse`]: a lenient, zero-copy, index-based HL7 v2 parser ([`Message`]).
//! - [`escape`]: escape-sequence decoding (on access) and encoding (on write).
//! - [`batch`]: splitting FHS/BHS batches and multi-message payloads.
//! - [`write`]: a segment/message builder with correct escaping (ACK/RSP).
//! - [`mllp`]: MLLP framing as a pure codec (no sockets).
//!
//! Everything here is pure: no I/O, no clock. Nothing panics on any input.
#![forbid(unsafe_code)]

pub mod batch;
pub mod error;
pub mod escape;
pub mod mllp;
pub mod parse;
pub mod write;

pub use batch::{split_messages, Batch};
pub use error::ParseError;
pub use mllp::{frame, MllpDecoder, MllpError};
pub use parse::{Comp, Delimiters, Field, Message, Rep, Segment};
pub use write::{FieldValue, MessageBuilder, SegmentBuilder};

mod convert;
pub mod header;
pub mod issue;
pub mod vxu;

pub use header::{check_header, Expected, Hd, MessageHeader};
pub use issue::{AckCode, AppErrorCode, ErrorCode, Issue, Location, Severity};
pub use vxu::{interpret_vxu, VxuSubmission};
pub mod ack;
pub use ack::{build_ack, err_segment, ReplyOptions};
pub mod qbp;
pub mod rsp;
pub use qbp::{interpret_qbp, QbpOutcome, Query, QueryEcho, QueryProfile};
pub use rsp::{
    build_rsp_candidates, build_rsp_error, build_rsp_evaluated, build_rsp_history,
    build_rsp_not_found, build_rsp_too_many, DoseEvaluation, Forecast, HistoryDose, PatientRecord,
    Recommendation, SeriesStatus,
};
