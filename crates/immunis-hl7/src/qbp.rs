//! QBP^Q11 (CDC IG Z34 "Request Immunization History" / Z44 "Request
//! Evaluated History and Forecast") → a patient query.
//!
//! IG (QBP-Z34/Z44 profiles, NOTES §4.5): QPD-1 query name, QPD-2 query tag
//! (R, echoed in QAK-1/QPD-2), QPD-3..11 demographics (RE), RCP-2 quantity
//! limit (`n^RD&records&HL70126`). A missing QPD-2 is answered with RSP Z33
//! AE + ERR `QPD^1^2` 101 (IG example 016 → 017).

use chrono::NaiveDate;
use immunis_model::{Address, PatientIdentifier, PersonName, Phone, Sex};

use crate::convert::{self, date, text, DateValue};
use crate::header::{check_header, Expected, MessageHeader};
use crate::issue::{AckCode, AppErrorCode, ErrorCode, Issue, Location};
use crate::parse::{Message, Segment};
use crate::write::{FieldValue, SegmentBuilder};

/// Which response profile family the query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryProfile {
    /// Z34: immunization history (answered Z31/Z32/Z33).
    Z34,
    /// Z44: evaluated history and forecast (answered Z42/Z31/Z33).
    Z44,
}

impl QueryProfile {
    /// Profile id.
    pub fn code(self) -> &'static str {
        match self {
            QueryProfile::Z34 => "Z34",
            QueryProfile::Z44 => "Z44",
        }
    }
}

/// What every RSP must echo, available even when the query is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryEcho {
    /// The QBP's MSH.
    pub header: MessageHeader,
    /// QPD-2 query tag (may be empty when that is the error).
    pub tag: String,
    /// QPD-1 as received (echoed in QAK-3).
    pub query_name: FieldValue,
    /// The QPD segment as received, re-encoded (echoed after QAK).
    pub qpd: Option<SegmentBuilder>,
    /// RCP-2 quantity limit, when given and valid.
    pub quantity_limit: Option<u32>,
    /// Z34/Z44 if recognised.
    pub profile: Option<QueryProfile>,
}

/// A valid patient query (QPD-3..11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Z34 or Z44.
    pub profile: QueryProfile,
    /// QPD-2.
    pub tag: String,
    /// QPD-3.
    pub identifiers: Vec<PatientIdentifier>,
    /// QPD-4.
    pub name: Option<PersonName>,
    /// QPD-5.
    pub mother_maiden_name: Option<PersonName>,
    /// QPD-6.
    pub birth_date: Option<NaiveDate>,
    /// QPD-7.
    pub sex: Option<Sex>,
    /// QPD-8.
    pub address: Option<Address>,
    /// QPD-9.
    pub phone: Option<Phone>,
    /// QPD-10.
    pub multiple_birth: Option<bool>,
    /// QPD-11.
    pub birth_order: Option<u8>,
    /// RCP-2: most candidates to return (more → Z33 TM).
    pub quantity_limit: Option<u32>,
}

/// The result of interpreting a QBP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QbpOutcome {
    /// For the response, whatever happened.
    pub echo: QueryEcho,
    /// The query, if valid enough to run.
    pub query: Option<Query>,
    /// Issues found (ERR segments of the RSP).
    pub issues: Vec<Issue>,
}

/// Copy a parsed segment into a builder (decoded values, so it re-encodes
/// correctly whatever the sender's delimiters were).
pub fn copy_segment(seg: Segment<'_, '_>) -> SegmentBuilder {
    let mut b = SegmentBuilder::new(seg.name());
    for (i, f) in seg.fields().enumerate() {
        b.set(i + 1, copy_field(f));
    }
    b
}

fn copy_field(f: crate::parse::Field<'_>) -> FieldValue {
    FieldValue::reps(f.reps().map(|r| {
        FieldValue::comps_subs(
            r.comps()
                .map(|c| {
                    (1..=c.sub_count())
                        .map(|s| c.sub_text(s).into_owned())
                        .collect()
                })
                .collect(),
        )
    }))
}

/// Interpret a parsed QBP^Q11.
pub fn interpret_qbp(msg: &Message<'_>) -> QbpOutcome {
    let header = MessageHeader::from_message(msg);
    let mut issues = check_header(&header, Expected::Qbp);
    let qpd = msg.segment("QPD");
    let rcp = msg.segment("RCP");
    let mut echo = QueryEcho {
        header,
        ..QueryEcho::default()
    };
    if let Some(rcp) = rcp {
        let limit = text(rcp.field(2).comp(1));
        if !limit.is_empty() {
            match limit.parse::<u32>() {
                Ok(n) if n > 0 => echo.quantity_limit = Some(n),
                _ => issues.push(Issue::warning(
                    Location::field("RCP", 1, 2),
                    ErrorCode::DataType,
                    Some(AppErrorCode::InvalidValue),
                    format!("Quantity limit {limit:?} is not a positive number; ignored"),
                )),
            }
        }
    } else {
        issues.push(Issue::warning(
            Location::segment_type("RCP"),
            ErrorCode::SegmentSequence,
            Some(AppErrorCode::RequiredDataMissing),
            "RCP is a required segment; no quantity limit applied",
        ));
    }
    let Some(qpd) = qpd else {
        issues.push(Issue::error(
            Location::segment_type("QPD"),
            ErrorCode::SegmentSequence,
            Some(AppErrorCode::RequiredDataMissing),
            "QPD is a required segment; query rejected",
        ));
        return QbpOutcome {
            echo,
            query: None,
            issues,
        };
    };
    echo.qpd = Some(copy_segment(qpd));
    echo.query_name = copy_field(qpd.field(1));
    echo.tag = qpd.field(2).decoded().trim().to_string();
    let loc = |f| Location::field("QPD", 1, f);
    let mut ok = AckCode::from_issues(&issues) != AckCode::Reject;

    // QPD-1 (else MSH-21) names the profile.
    let mut name = text(qpd.field(1).comp(1)).to_ascii_uppercase();
    if name.is_empty() {
        name.clone_from(&echo.header.profile);
    }
    echo.profile = match name.as_str() {
        "Z34" => Some(QueryProfile::Z34),
        "Z44" => Some(QueryProfile::Z44),
        _ => None,
    };
    if echo.profile.is_none() {
        ok = false;
        issues.push(Issue::error(
            loc(1),
            ErrorCode::TableValueNotFound,
            Some(AppErrorCode::TableValueNotFound),
            format!("Unsupported query {name:?} (expected Z34 or Z44)"),
        ));
    }
    // IG example 017: QPD-2 missing → AE, ERR QPD^1^2 101.
    if echo.tag.is_empty() {
        ok = false;
        issues.push(Issue::error(
            loc(2),
            ErrorCode::RequiredFieldMissing,
            Some(AppErrorCode::RequiredDataMissing),
            "Query tag (QPD-2) is required",
        ));
    }
    let identifiers: Vec<_> = qpd.field(3).reps().filter_map(convert::cx).collect();
    let name_q = qpd.field(4).reps().find_map(convert::xpn);
    let birth_date = match date(qpd.field(6)) {
        DateValue::Valid(d) => Some(d),
        DateValue::Missing => None,
        DateValue::Invalid(raw) => {
            ok = false;
            issues.push(Issue::error(
                loc(6),
                ErrorCode::DataType,
                Some(AppErrorCode::InvalidDate),
                format!("Birth date {raw:?} is not a valid date"),
            ));
            None
        }
    };
    if identifiers.is_empty() && (name_q.is_none() || birth_date.is_none()) {
        ok = false;
        issues.push(Issue::error(
            loc(3),
            ErrorCode::RequiredFieldMissing,
            Some(AppErrorCode::RequiredDataMissing),
            "A patient identifier (QPD-3), or name (QPD-4) and birth date (QPD-6), is required",
        ));
    }
    let sex_raw = text(qpd.field(7).comp(1));
    let order_raw = text(qpd.field(11).comp(1));
    let query = match (ok, echo.profile) {
        (true, Some(profile)) => Some(Query {
            profile,
            tag: echo.tag.clone(),
            identifiers,
            name: name_q,
            mother_maiden_name: qpd.field(5).reps().find_map(convert::xpn),
            birth_date,
            sex: (!sex_raw.is_empty()).then(|| Sex::from_hl7(&sex_raw)),
            address: qpd.field(8).reps().find_map(convert::xad),
            phone: qpd.field(9).reps().find_map(convert::xtn),
            multiple_birth: convert::yes_no(&text(qpd.field(10).comp(1))),
            birth_order: order_raw.parse().ok(),
            quantity_limit: echo.quantity_limit,
        }),
        _ => None,
    };
    QbpOutcome {
        echo,
        query,
        issues,
    }
}

/// Turns a VXU into the QBP^Q11 Z34 an EHR would send to look that person up
/// (PID-3 first identifier, PID-5 name, PID-7 birth date, PID-8 sex), with
/// control id and query tag numbered `n`. For load generators and tests.
pub fn z34_query_for(vxu: &str, n: usize) -> Option<String> {
    let msg = crate::Message::parse(vxu).ok()?;
    let pid = msg.segment("PID")?;
    let id = pid.field(3).rep(1).raw().to_string();
    let name = pid.field(5).rep(1).raw().to_string();
    let dob = pid.field(7).raw().to_string();
    let sex = pid.field(8).raw().to_string();
    let facility = msg.get("MSH", 4).raw().to_string();
    Some(format!(
        "MSH|^~\\&|BENCH|{facility}|IMMUNIS||20250101||QBP^Q11^QBP_Q11|Q{n}|P|2.5.1|||ER|AL|||||Z34^CDCPHINVS\r\
         QPD|Z34^Request Immunization History^CDCPHINVS|T{n}|{id}|{name}||{dob}|{sex}\r\
         RCP|I|10^RD&records&HL70126"
    ))
}
