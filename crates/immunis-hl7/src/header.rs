//! The message header (MSH) as the interpretation layer and the ACK/RSP
//! builders need it, and the IG checks on it.
//!
//! IG (VXU Z22 / QBP Z34-Z44 profiles, NOTES §4.1, §4.5): MSH-9 message type,
//! MSH-10 control id, MSH-11 processing id (P/T/D), MSH-12 version 2.5.1,
//! MSH-21 profile. Unsupported version/type/processing id rejects the
//! message (MSA AR, ERR 203/200/202, IG ACK examples 003 and 018).

use crate::issue::{AppErrorCode, ErrorCode, Issue, Location};
use crate::parse::{Field, Message};

/// HL7 HD (hierarchic designator): MSH-3..6.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hd {
    /// HD-1 namespace id.
    pub namespace: String,
    /// HD-2 universal id (an OID, often).
    pub universal_id: String,
    /// HD-3 universal id type (ISO, DNS...).
    pub universal_id_type: String,
}

impl Hd {
    /// From a parsed HD field.
    pub fn from_field(f: &Field<'_>) -> Self {
        Hd {
            namespace: f.comp(1).text().trim().to_string(),
            universal_id: f.comp(2).text().trim().to_string(),
            universal_id_type: f.comp(3).text().trim().to_string(),
        }
    }

    /// Namespace id, or the universal id if there is none.
    pub fn id(&self) -> &str {
        if self.namespace.is_empty() {
            &self.universal_id
        } else {
            &self.namespace
        }
    }

    /// Components to write.
    pub fn components(&self) -> [String; 3] {
        [
            self.namespace.clone(),
            self.universal_id.clone(),
            self.universal_id_type.clone(),
        ]
    }
}

/// MSH values, decoded and trimmed. Built leniently: absent fields are empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageHeader {
    /// MSH-3.
    pub sending_application: Hd,
    /// MSH-4: with ORC-3, the dose identity (NOTES §4.4).
    pub sending_facility: Hd,
    /// MSH-5.
    pub receiving_application: Hd,
    /// MSH-6.
    pub receiving_facility: Hd,
    /// MSH-7 as sent.
    pub timestamp: String,
    /// MSH-9.1 (`VXU`).
    pub message_type: String,
    /// MSH-9.2 (`V04`).
    pub trigger_event: String,
    /// MSH-9.3 (`VXU_V04`).
    pub message_structure: String,
    /// MSH-10.
    pub control_id: String,
    /// MSH-11.1.
    pub processing_id: String,
    /// MSH-12.1.
    pub version: String,
    /// MSH-15.
    pub accept_ack_type: String,
    /// MSH-16.
    pub application_ack_type: String,
    /// MSH-21.1 of the first repetition (`Z22`).
    pub profile: String,
    /// MSH-22.1 responsible sending organization (name or id).
    pub responsible_sending_org: String,
}

fn t(f: Field<'_>) -> String {
    f.text().trim().to_string()
}

impl MessageHeader {
    /// Read the MSH of `msg`.
    pub fn from_message(msg: &Message<'_>) -> Self {
        let g = |n| msg.get("MSH", n);
        let ty = g(9);
        MessageHeader {
            sending_application: Hd::from_field(&g(3)),
            sending_facility: Hd::from_field(&g(4)),
            receiving_application: Hd::from_field(&g(5)),
            receiving_facility: Hd::from_field(&g(6)),
            timestamp: t(g(7)),
            message_type: ty.comp(1).text().trim().to_ascii_uppercase(),
            trigger_event: ty.comp(2).text().trim().to_ascii_uppercase(),
            message_structure: ty.comp(3).text().trim().to_ascii_uppercase(),
            control_id: g(10).decoded().trim().to_string(),
            processing_id: t(g(11)).to_ascii_uppercase(),
            version: t(g(12)),
            accept_ack_type: t(g(15)),
            application_ack_type: t(g(16)),
            profile: t(g(21)).to_ascii_uppercase(),
            responsible_sending_org: t(g(22)),
        }
    }
}

/// What message a receiver expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// `VXU^V04`.
    Vxu,
    /// `QBP^Q11`.
    Qbp,
}

/// Versions processed as 2.5.1 with a warning (close enough in structure;
/// real senders use them: corpus 153/154 send 2.6). Anything else is rejected.
const TOLERATED_VERSIONS: &[&str] = &["2.5", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2"];

/// IG header checks. Errors with 200-203 codes reject the message (AR).
pub fn check_header(h: &MessageHeader, expected: Expected) -> Vec<Issue> {
    let mut out = Vec::new();
    let (ty, ev) = match expected {
        Expected::Vxu => ("VXU", "V04"),
        Expected::Qbp => ("QBP", "Q11"),
    };
    // IG: unrecognised message type → AR, ERR 200 (corpus 018).
    if h.message_type != ty {
        out.push(Issue::error(
            Location::field("MSH", 1, 9).at(1, 1),
            ErrorCode::UnsupportedMessageType,
            None,
            format!(
                "Unsupported message type {:?} (expected {ty}); message rejected",
                h.message_type
            ),
        ));
    } else if h.trigger_event != ev {
        out.push(Issue::error(
            Location::field("MSH", 1, 9).at(1, 2),
            ErrorCode::UnsupportedEventCode,
            None,
            format!(
                "Unsupported event code {:?} (expected {ev}); message rejected",
                h.trigger_event
            ),
        ));
    }
    // IG: MSH-11 P/T/D (0103); anything else → AR, ERR 202.
    match h.processing_id.as_str() {
        "P" | "T" | "D" => {}
        "" => out.push(Issue::error(
            Location::field("MSH", 1, 11),
            ErrorCode::UnsupportedProcessingId,
            Some(AppErrorCode::RequiredDataMissing),
            "Processing id (MSH-11) is missing; message rejected",
        )),
        other => out.push(Issue::error(
            Location::field("MSH", 1, 11),
            ErrorCode::UnsupportedProcessingId,
            None,
            format!("Unsupported processing id {other:?}; message rejected"),
        )),
    }
    // IG: MSH-12 2.5.1 (ACK example 003: AR + ERR 203).
    if h.version != "2.5.1" {
        if TOLERATED_VERSIONS.contains(&h.version.as_str()) {
            out.push(Issue::warning(
                Location::field("MSH", 1, 12),
                ErrorCode::UnsupportedVersionId,
                None,
                format!("HL7 version {} processed as 2.5.1", h.version),
            ));
        } else {
            out.push(Issue::error(
                Location::field("MSH", 1, 12),
                ErrorCode::UnsupportedVersionId,
                None,
                format!(
                    "Unsupported HL7 version id {:?}; message rejected",
                    h.version
                ),
            ));
        }
    }
    // IG: MSH-10 R; the ACK cannot echo it (MSA-2 empty).
    if h.control_id.is_empty() {
        out.push(Issue::error(
            Location::field("MSH", 1, 10),
            ErrorCode::RequiredFieldMissing,
            Some(AppErrorCode::RequiredDataMissing),
            "Message control id (MSH-10) is missing",
        ));
    }
    // IG: MSH-21 R, but often missing in practice (NOTES §4.6): warn only.
    let profiles: &[&str] = match expected {
        Expected::Vxu => &["Z22"],
        Expected::Qbp => &["Z34", "Z44"],
    };
    if h.profile.is_empty() {
        out.push(Issue::warning(
            Location::field("MSH", 1, 21),
            ErrorCode::RequiredFieldMissing,
            Some(AppErrorCode::RequiredDataMissing),
            format!(
                "Message profile (MSH-21) is missing; processed as {}",
                profiles.join("/")
            ),
        ));
    } else if !profiles.contains(&h.profile.as_str()) && expected == Expected::Vxu {
        out.push(Issue::warning(
            Location::field("MSH", 1, 21),
            ErrorCode::TableValueNotFound,
            Some(AppErrorCode::TableValueNotFound),
            format!("Unknown message profile {:?}; processed as Z22", h.profile),
        ));
    }
    out
}
