//! ACK^V04 (CDC IG Z23) builder.
//!
//! IG (ACK-Z23 profile, NOTES §4.2): MSH (sender/receiver swapped, MSH-9
//! `ACK^<event>^ACK`, MSH-21 `Z23^CDCPHINVS`), MSA (AA/AE/AR, MSA-2 echoing
//! the sender's MSH-10), one ERR per issue (ERR-2 location, ERR-3 0357,
//! ERR-4 0516 severity, ERR-5 0533, ERR-8 user message).

use crate::error::ParseError;
use crate::header::{Hd, MessageHeader};
use crate::issue::{AckCode, AppErrorCode, ErrorCode, Issue, Location};
use crate::write::{FieldValue, MessageBuilder, SegmentBuilder};

/// What the responder supplies: no clock and no id generator here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplyOptions {
    /// MSH-10 of the reply (unique per reply).
    pub control_id: String,
    /// MSH-7 of the reply, `YYYYMMDDHHMMSS[.S][+/-ZZZZ]`.
    pub timestamp: String,
    /// MSH-3 of the reply; default: the incoming MSH-5.
    pub sending_application: Option<Hd>,
    /// MSH-4 of the reply; default: the incoming MSH-6.
    pub sending_facility: Option<Hd>,
}

fn hd(h: &Hd) -> FieldValue {
    FieldValue::comps(h.components())
}

/// The reply MSH: sender and receiver swapped (IG: MSH-3/4 ↔ MSH-5/6).
pub(crate) fn reply_msh(
    incoming: &MessageHeader,
    message_type: [&str; 3],
    profile: &str,
    opts: &ReplyOptions,
) -> SegmentBuilder {
    let processing = match incoming.processing_id.as_str() {
        p @ ("P" | "T" | "D") => p,
        _ => "P",
    };
    SegmentBuilder::new("MSH")
        .with(
            3,
            hd(opts
                .sending_application
                .as_ref()
                .unwrap_or(&incoming.receiving_application)),
        )
        .with(
            4,
            hd(opts
                .sending_facility
                .as_ref()
                .unwrap_or(&incoming.receiving_facility)),
        )
        .with(5, hd(&incoming.sending_application))
        .with(6, hd(&incoming.sending_facility))
        .with(7, opts.timestamp.as_str())
        .with_comps(9, message_type)
        .with(10, opts.control_id.as_str())
        .with(11, processing)
        .with(12, "2.5.1")
        .with(15, "NE")
        .with(16, "NE")
        .with_comps(21, [profile, "CDCPHINVS"])
}

/// One ERR segment (IG: ERR per issue, 0357/0516/0533).
pub fn err_segment(issue: &Issue) -> SegmentBuilder {
    let mut seg =
        SegmentBuilder::new("ERR").with(2, FieldValue::comps(issue.location.components()));
    if let Some(code) = issue.code {
        seg.set(
            3,
            FieldValue::comps([
                code.code().to_string(),
                code.text().to_string(),
                "HL70357".into(),
            ]),
        );
    }
    seg.set(4, issue.severity.code());
    if let Some(app) = issue.app_code {
        seg.set(
            5,
            FieldValue::comps([
                app.code().to_string(),
                app.text().to_string(),
                "HL70533".into(),
            ]),
        );
    }
    seg.set(8, issue.message.as_str());
    seg
}

/// MSA with the acknowledgment code and the sender's control id.
pub(crate) fn msa(code: AckCode, incoming: &MessageHeader) -> SegmentBuilder {
    SegmentBuilder::new("MSA")
        .with(1, code.code())
        .with(2, incoming.control_id.as_str())
}

/// Build the ACK for a received message and the issues found in it. MSA-1
/// is derived from the issues ([`AckCode::from_issues`]). MSH-9.2 echoes the
/// incoming trigger event (`ACK^V04^ACK`, or `ACK^Q11^ACK` for a rejected
/// query, IG example 018), `V04` if there is none.
pub fn build_ack(incoming: &MessageHeader, issues: &[Issue], opts: &ReplyOptions) -> String {
    build_ack_with_code(incoming, AckCode::from_issues(issues), issues, opts)
}

/// [`build_ack`] with an explicit MSA-1 (e.g. AR for a payload that could not
/// be parsed at all, with [`parse_error_issue`] and a default header).
pub fn build_ack_with_code(
    incoming: &MessageHeader,
    code: AckCode,
    issues: &[Issue],
    opts: &ReplyOptions,
) -> String {
    let event = if incoming.trigger_event.is_empty() {
        "V04"
    } else {
        incoming.trigger_event.as_str()
    };
    let mut m = MessageBuilder::new();
    m.push(reply_msh(incoming, ["ACK", event, "ACK"], "Z23", opts));
    m.push(msa(code, incoming));
    for i in issues {
        m.push(err_segment(i));
    }
    m.encode()
}

/// The issue to report when a payload is not an HL7 message at all
/// (answer it with `build_ack_with_code(&MessageHeader::default(),
/// AckCode::Reject, ...)`).
pub fn parse_error_issue(e: &ParseError) -> Issue {
    let (loc, code) = match e {
        ParseError::Empty | ParseError::MissingMsh { .. } => {
            (Location::segment_type("MSH"), ErrorCode::SegmentSequence)
        }
        ParseError::InvalidDelimiters(_) => (Location::field("MSH", 1, 2), ErrorCode::DataType),
        ParseError::TooLarge(_) => (
            Location::segment_type("MSH"),
            ErrorCode::ApplicationInternalError,
        ),
    };
    Issue::error(
        loc,
        code,
        Some(AppErrorCode::InvalidValue),
        format!("Message rejected: {e}"),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Message;

    #[test]
    fn unparseable_payload_gets_an_ar() {
        let e = Message::parse("hello").unwrap_err();
        let ack = build_ack_with_code(
            &MessageHeader::default(),
            AckCode::Reject,
            &[parse_error_issue(&e)],
            &ReplyOptions::default(),
        );
        let m = Message::parse(&ack).unwrap();
        assert_eq!(m.get("MSH", 9).raw(), "ACK^V04^ACK");
        assert_eq!(m.get("MSA", 1).raw(), "AR");
        assert_eq!(m.get("ERR", 3).comp(1).raw(), "100");
        assert!(m.get("ERR", 8).text().contains("MSH"));
    }
}
