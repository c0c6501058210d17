//! The registry's HL7 v2 service: raw bytes in, ACK/RSP bytes out, for every
//! transport. Parsing, validation and reply building are `immunis-hl7`'s; this
//! module authenticates the sending facility, orchestrates, and guarantees the
//! journal invariant: every message and its reply are committed before the
//! reply is returned.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Local, NaiveDate};
use immunis_access::Actor;
use immunis_hl7::{
    build_ack, build_ack_with_code, check_header, interpret_vxu, AckCode, ErrorCode, Expected,
    Issue, Location, Message, MessageHeader, ReplyOptions,
};
use immunis_store::JournalEntry;

use crate::ingest::{DoseOutcome, IngestOutcome};
use crate::{Registry, RegistryError, Reply};

/// How the sender was authenticated.
#[derive(Debug, Clone)]
pub enum Submitter {
    /// Credentials (HTTP basic, SOAP) or a client certificate established the actor.
    Authenticated(Actor),
    /// A verified client certificate (MLLP over TLS) identified the facility:
    /// MSH-4 of every message must name that facility.
    Certified(Actor),
    /// A transport the operator trusts (plaintext MLLP on loopback): the
    /// facility is the registered facility named in MSH-4.
    TrustedNetwork,
}

/// Where the bytes came from (for the journal and the audit trail).
#[derive(Debug, Clone)]
pub struct Inbound {
    pub transport: &'static str,
    pub remote_addr: Option<String>,
}

static REPLY_SEQ: AtomicU64 = AtomicU64::new(1);

pub(crate) fn reply_options() -> ReplyOptions {
    let now = Local::now();
    let seq = REPLY_SEQ.fetch_add(1, Ordering::Relaxed);
    let stamp = hl7_seconds(&now);
    ReplyOptions {
        control_id: format!("IMM{stamp}{:06}", seq % 1_000_000),
        timestamp: format!("{stamp}{}", hl7_offset(now.offset().local_minus_utc())),
        sending_application: None,
        sending_facility: None,
    }
}

/// `YYYYMMDDHHMMSS` (chrono's `%Y%m%d%H%M%S` without parsing a format
/// string for every reply: that was 1.4 % of the writer's work per VXU).
fn hl7_seconds<T: chrono::Datelike + chrono::Timelike>(t: &T) -> String {
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A UTC offset as `+HHMM` / `-HHMM` (chrono's `%z`).
fn hl7_offset(seconds_east: i32) -> String {
    let sign = if seconds_east < 0 { '-' } else { '+' };
    let m = seconds_east.unsigned_abs() / 60;
    format!("{sign}{:02}{:02}", m / 60, m % 60)
}

pub(crate) fn today() -> NaiveDate {
    Local::now().date_naive()
}

/// An ACK for bytes that could not even be read as HL7 (no usable MSH).
pub fn unparseable_reject(reason: &str) -> Vec<u8> {
    let header = MessageHeader::default();
    let issue = Issue::error(
        Location::segment_type("MSH"),
        ErrorCode::SegmentSequence,
        None,
        format!("The message could not be parsed: {reason}"),
    );
    let mut h = header;
    h.trigger_event = "V04".into();
    build_ack(&h, &[issue], &reply_options()).into_bytes()
}

/// The reply to a frame that broke MLLP rules (too large, garbage).
pub fn framing_reject(reason: &str) -> Vec<u8> {
    unparseable_reject(reason)
}

fn journal_entry(raw: &[u8], inbound: &Inbound, header: Option<&MessageHeader>) -> JournalEntry {
    JournalEntry {
        transport: inbound.transport.to_string(),
        facility_code: header
            .map(|h| h.sending_facility.id().to_string())
            .filter(|s| !s.is_empty()),
        remote_addr: inbound.remote_addr.clone(),
        message_control_id: header
            .map(|h| h.control_id.clone())
            .filter(|s| !s.is_empty()),
        message_type: header
            .map(|h| format!("{}^{}", h.message_type, h.trigger_event))
            .filter(|s| s != "^"),
        raw: raw.to_vec(),
    }
}

/// Journals a reply that changed nothing; if even that fails the sender gets
/// an AE/207 so it retries (nothing accepted is lost).
pub(crate) async fn reply_without_changes(
    reg: &Registry,
    raw: &[u8],
    inbound: &Inbound,
    header: Option<&MessageHeader>,
    reply: Vec<u8>,
    code: AckCode,
) -> Vec<u8> {
    let entry = journal_entry(raw, inbound, header);
    match reg
        .journal_only(
            entry,
            Reply {
                bytes: reply.clone(),
                code: code.code().to_string(),
            },
        )
        .await
    {
        Ok(()) => reply,
        Err(e) => internal_error(header, &e),
    }
}

fn internal_error(header: Option<&MessageHeader>, e: &RegistryError) -> Vec<u8> {
    tracing::error!("message not processed: {e}");
    let h = header.cloned().unwrap_or_default();
    let issue = Issue::error(
        Location::segment_type("MSH"),
        ErrorCode::ApplicationInternalError,
        None,
        "The registry could not store this message; nothing was recorded. Please resend.",
    );
    build_ack(&h, &[issue], &reply_options()).into_bytes()
}

fn outcome_issues(o: &IngestOutcome) -> Vec<Issue> {
    let mut out = Vec::new();
    for (i, d) in o.doses.iter().enumerate() {
        if *d == DoseOutcome::NotFound {
            out.push(Issue::warning(
                Location::segment_type("RXA"),
                ErrorCode::UnknownKeyIdentifier,
                None,
                format!(
                    "Dose {}: no earlier report from this facility with this ORC-3 to update or delete; nothing changed",
                    i + 1
                ),
            ));
        }
    }
    if o.needs_review {
        out.push(Issue::info(
            Location::segment_type("PID"),
            "Several registry patients resemble this person; the record was kept separate and queued for review",
        ));
    }
    out
}

fn resolve_actor(
    reg: &Registry,
    who: &Submitter,
    header: &MessageHeader,
    inbound: &Inbound,
) -> Result<Actor, Issue> {
    match who {
        Submitter::Authenticated(a) => Ok(a.clone()),
        Submitter::Certified(a) => {
            let code = header.sending_facility.id();
            if a.facility_code.as_deref() == Some(code) {
                Ok(a.clone())
            } else {
                Err(Issue::error(
                    Location::field("MSH", 1, 4),
                    ErrorCode::UnknownKeyIdentifier,
                    None,
                    format!("Sending facility {code:?} (MSH-4) is not the facility of the client certificate; message rejected"),
                ))
            }
        }
        Submitter::TrustedNetwork => {
            let code = header.sending_facility.id();
            reg.facility_actor(code, inbound.remote_addr.clone()).map_err(|_| {
                Issue::error(
                    Location::field("MSH", 1, 4),
                    ErrorCode::UnknownKeyIdentifier,
                    None,
                    format!("Sending facility {code:?} (MSH-4) is not registered with this registry; message rejected"),
                )
            })
        }
    }
}

/// A reject that must not be processed further: AR even for codes outside
/// 200–203 (unknown or unauthorized submitter).
fn reject_ack(header: &MessageHeader, issue: Issue) -> Vec<u8> {
    build_ack_with_code(
        header,
        AckCode::Reject,
        std::slice::from_ref(&issue),
        &reply_options(),
    )
    .into_bytes()
}

/// Processes one HL7 message and returns the reply, committed.
pub async fn process_message(
    reg: &Registry,
    who: &Submitter,
    raw: &[u8],
    inbound: &Inbound,
) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let msg = match Message::parse(&text) {
        Ok(m) => m,
        Err(e) => {
            let reply = unparseable_reject(&e.to_string());
            return reply_without_changes(reg, raw, inbound, None, reply, AckCode::Reject).await;
        }
    };
    let header = MessageHeader::from_message(&msg);
    let actor = match resolve_actor(reg, who, &header, inbound) {
        Ok(a) => a,
        Err(issue) => {
            let reply = reject_ack(&header, issue);
            return reply_without_changes(reg, raw, inbound, Some(&header), reply, AckCode::Reject)
                .await;
        }
    };
    match header.message_type.as_str() {
        "VXU" => process_vxu(reg, &actor, raw, &msg, header, inbound).await,
        "QBP" => crate::hl7_query::process_qbp(reg, &actor, raw, &msg, header, inbound).await,
        _ => {
            let issues = check_header(&header, Expected::Vxu);
            let reply = build_ack(&header, &issues, &reply_options()).into_bytes();
            reply_without_changes(reg, raw, inbound, Some(&header), reply, AckCode::Reject).await
        }
    }
}

async fn process_vxu(
    reg: &Registry,
    actor: &Actor,
    raw: &[u8],
    msg: &Message<'_>,
    header: MessageHeader,
    inbound: &Inbound,
) -> Vec<u8> {
    let (submission, issues) = interpret_vxu(msg, today(), reg.codes());
    let Some(vxu) = submission else {
        let code = AckCode::from_issues(&issues);
        let reply = build_ack(&header, &issues, &reply_options()).into_bytes();
        return reply_without_changes(reg, raw, inbound, Some(&header), reply, code).await;
    };
    let entry = journal_entry(raw, inbound, Some(&header));
    let ack_header = header.clone();
    let respond = move |o: &IngestOutcome| {
        let mut all = issues.clone();
        all.extend(outcome_issues(o));
        let code = AckCode::from_issues(&all);
        Reply {
            bytes: build_ack(&ack_header, &all, &reply_options()).into_bytes(),
            code: code.code().to_string(),
        }
    };
    match reg.ingest(actor, vxu.submission, entry, respond).await {
        Ok((_, reply)) => reply.bytes,
        Err(RegistryError::Denied(why)) => {
            let issue = Issue::error(
                Location::field("MSH", 1, 4),
                ErrorCode::UnknownKeyIdentifier,
                None,
                format!("Not accepted: {why}"),
            );
            let reply = reject_ack(&header, issue);
            reply_without_changes(reg, raw, inbound, Some(&header), reply, AckCode::Reject).await
        }
        Err(e) => internal_error(Some(&header), &e),
    }
}

/// Processes a payload that may hold several messages (a batch, a file):
/// one reply per message, in order, each committed before the next starts.
/// A batch (FHS/BHS) is answered with a batch of replies in the same
/// envelope (BTS counting them); plain concatenated messages get their
/// replies concatenated.
pub async fn process_payload(
    reg: &Registry,
    who: &Submitter,
    raw: &[u8],
    inbound: &Inbound,
) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let batch = immunis_hl7::split_messages(&text);
    if batch.messages.is_empty() {
        return unparseable_reject("no MSH segment found");
    }
    let mut replies = Vec::with_capacity(batch.messages.len());
    for m in &batch.messages {
        replies.push(process_message(reg, who, m.as_bytes(), inbound).await);
    }
    if batch.is_batch() {
        return immunis_hl7::batch_reply(&batch.envelope, &replies, &reply_options());
    }
    let mut out = Vec::new();
    for r in replies {
        out.extend_from_slice(&r);
        if !out.ends_with(b"\r") {
            out.push(b'\r');
        }
    }
    out
}

/// True when a frame is a batch (starts with FHS or BHS after any blank
/// lines): the transports answer it with [`process_payload`].
pub fn is_batch_payload(raw: &[u8]) -> bool {
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    matches!(raw.get(start..start + 3), Some(b"FHS") | Some(b"BHS"))
}

/// Journals a query and its response together with the query's audit entry,
/// in one commit, before the response is returned.
pub(crate) async fn reply_with_audit(
    reg: &Registry,
    raw: &[u8],
    inbound: &Inbound,
    header: &MessageHeader,
    reply: Vec<u8>,
    code: AckCode,
    audit: immunis_store::AuditEntry,
) -> Vec<u8> {
    let entry = journal_entry(raw, inbound, Some(header));
    let bytes = reply.clone();
    let code = code.code().to_string();
    let audited = reg.audit_enabled();
    let committed = reg
        .writer
        .run(move |tx| {
            let id = tx.journal_insert(&entry)?;
            tx.journal_respond(id, &bytes, &code, audit.patient_ids.first().copied())?;
            if audited {
                tx.append_audit(&audit)?;
            }
            Ok(())
        })
        .await;
    match committed {
        Ok(()) => reply,
        Err(e) => internal_error(Some(header), &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    #[test]
    fn reply_timestamps_are_chronos_format() {
        for (offset, secs) in [
            (-5 * 3600, 0i64),
            (-4 * 3600, 1_733_590_000),
            (0, 951_782_399),
            (5 * 3600 + 1800, 4_102_444_799),
            (-(9 * 3600 + 30 * 60), 1_000_000_007),
        ] {
            let tz = FixedOffset::east_opt(offset).expect("offset");
            let t = tz.timestamp_opt(secs, 0).single().expect("time");
            assert_eq!(hl7_seconds(&t), t.format("%Y%m%d%H%M%S").to_string());
            assert_eq!(
                hl7_offset(t.offset().local_minus_utc()),
                t.format("%z").to_string()
            );
        }
    }
}
