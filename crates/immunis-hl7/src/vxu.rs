//! VXU^V04 (CDC IG Z22) → domain values, with IG-style validation.
//!
//! [`interpret_vxu`] returns a partial result and the issues found:
//! - header problems (version, type, processing id) reject the message
//!   (`None`, MSA AR; IG ACK examples 003/018);
//! - a missing PID, PID-3, PID-5 name or PID-7 birth date (or an invalid or
//!   future birth date) rejects the message (`None`, MSA AE, ERR 101 + 100;
//!   IG ACK examples 004/008);
//! - an error in a required field of an optional segment rejects that
//!   segment only (NK1 without relationship: ERR E, NK1 dropped; IG 006);
//! - an error in an ORDER group (unknown CVX, missing/bad/illogical RXA-3,
//!   refusal without reason, update/delete without ORC-3) rejects that dose
//!   only (ERR 103/101 + 100 "segment group rejected"; IG 005);
//! - anything else is a warning and the data is kept or ignored (lenient,
//!   NOTES §4.6).
//!
//! Nothing here reads a clock: "today" is an argument.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use immunis_model::{
    BirthDate, CodeTables, CompletionStatus, Cvx, Dated, DoseAction, DoseReport, Guardian,
    InformationSource, Mvx, NameType, ObservationKind, Patient, PatientObservation,
    PatientSubmission, RegistryStatus, Sex, SubmissionSource, VaccinationEvent, ValueSet,
    VisDocument,
};

use crate::convert::{self, date, non_empty, text, DateValue};
use crate::header::{check_header, Expected, MessageHeader};
use crate::issue::{AckCode, AppErrorCode, ErrorCode, Issue, Location, Severity};
use crate::parse::{Message, Segment};

/// A VXU as the registry should apply it: the header (for the ACK and the
/// dose identity) and the patient submission.
#[derive(Debug, Clone, PartialEq)]
pub struct VxuSubmission {
    /// MSH values.
    pub header: MessageHeader,
    /// Patient, doses (with RXA-21 action), patient-level observations.
    pub submission: PatientSubmission,
}

/// LOINC observation identifiers that are understood but carry nothing the
/// registry stores from a VXU (evaluation/forecast details, dose numbers).
const IGNORED_LOINC: &[&str] = &[
    "30973-2", "59782-3", "59779-9", "59780-7", "30980-7", "30981-5", "59777-3", "59778-1",
    "59783-1", "59781-5", "30982-3", "30979-9", "38890-0", "30999-1", "30944-3", "30946-8",
    "48767-8",
];

/// Interpret a parsed VXU. `today` is the registry's current date (for
/// "date in the future" rules); `codes` the code tables (CVX, MVX, value sets).
pub fn interpret_vxu(
    msg: &Message<'_>,
    today: NaiveDate,
    codes: &CodeTables,
) -> (Option<VxuSubmission>, Vec<Issue>) {
    let header = MessageHeader::from_message(msg);
    let mut cx = Ctx {
        issues: check_header(&header, Expected::Vxu),
        today,
        codes,
    };
    if AckCode::from_issues(&cx.issues) == AckCode::Reject {
        return (None, cx.issues);
    }
    let occ = occurrences(msg);
    let Some(pid) = msg.segment("PID") else {
        // IG ACK example 004: ERR 100 "PID is required segment. Message rejected".
        cx.issues.push(Issue::error(
            Location::segment_type("PID"),
            ErrorCode::SegmentSequence,
            Some(AppErrorCode::RequiredDataMissing),
            "PID is a required segment; message rejected",
        ));
        return (None, cx.issues);
    };
    let Some(mut patient) = cx.patient(pid) else {
        return (None, cx.issues);
    };

    // Walk the segments after PID into PD1 / NK1 / ORDER groups.
    let mut groups: Vec<Group<'_, '_>> = Vec::new();
    let mut seen_pd1 = false;
    for seg in msg.segments().skip(pid.index() + 1) {
        let n = occ.get(seg.index()).copied().unwrap_or(1);
        match seg.name() {
            "PD1" if !seen_pd1 => {
                seen_pd1 = true;
                cx.pd1(seg, &mut patient);
            }
            "NK1" => {
                if let Some(g) = cx.nk1(seg, n) {
                    patient.guardians.push(g);
                }
            }
            "PV1" | "PV2" | "GT1" | "IN1" | "IN2" | "IN3" | "TQ1" | "TQ2" | "NTE" | "SFT" => {}
            "ORC" => groups.push(Group {
                orc: Some((seg, n)),
                ..Group::default()
            }),
            "RXA" => match groups.last_mut() {
                Some(g) if g.rxa.is_none() => g.rxa = Some((seg, n)),
                _ => groups.push(Group {
                    rxa: Some((seg, n)),
                    ..Group::default()
                }),
            },
            "RXR" => match groups.last_mut() {
                Some(g) if g.rxa.is_some() && g.rxr.is_none() => g.rxr = Some(seg),
                _ => cx.warn_ignored(seg, n, "RXR out of sequence (must follow RXA)"),
            },
            "OBX" => match groups.last_mut() {
                Some(g) if g.rxa.is_some() => g.obx.push((seg, n)),
                _ => {
                    // 2.5.1 has no patient-level OBX group (NOTES §4.1):
                    // keep patient-level facts, warn about the sequence.
                    cx.issues.push(Issue::warning(
                        Location::segment(seg.name(), n),
                        ErrorCode::SegmentSequence,
                        None,
                        "OBX outside an ORC/RXA group; patient-level observations kept, others ignored",
                    ));
                    groups.push(Group {
                        obx: vec![(seg, n)],
                        orphan_obx: true,
                        ..Group::default()
                    });
                }
            },
            "MSH" => {
                cx.warn_ignored(seg, n, "a second message in the payload is ignored");
                break;
            }
            _ => cx.warn_ignored(seg, n, "segment not expected in VXU^V04; ignored"),
        }
    }

    let facility = header.sending_facility.id().to_string();
    let birth = patient.birth_date.0;
    let mut doses = Vec::new();
    let mut observations = Vec::new();
    for g in &groups {
        let (dose, obs) = cx.group(g, birth);
        doses.extend(dose);
        observations.extend(obs);
    }
    let submission = PatientSubmission {
        source: SubmissionSource {
            facility_code: facility,
            message_control_id: header.control_id.clone(),
        },
        patient,
        doses,
        observations,
    };
    (Some(VxuSubmission { header, submission }), cx.issues)
}

/// Occurrence number (1-based) of each segment among segments of its name.
pub(crate) fn occurrences(msg: &Message<'_>) -> Vec<usize> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    msg.segments()
        .map(|s| {
            let c = counts.entry(s.name()).or_insert(0);
            *c += 1;
            *c
        })
        .collect()
}

#[derive(Debug, Default)]
struct Group<'m, 'a> {
    orc: Option<(Segment<'m, 'a>, usize)>,
    rxa: Option<(Segment<'m, 'a>, usize)>,
    rxr: Option<Segment<'m, 'a>>,
    obx: Vec<(Segment<'m, 'a>, usize)>,
    /// OBX found before any ORC/RXA.
    orphan_obx: bool,
}

struct Ctx<'c> {
    issues: Vec<Issue>,
    today: NaiveDate,
    codes: &'c CodeTables,
}

impl Ctx<'_> {
    fn push(
        &mut self,
        sev: Severity,
        loc: Location,
        code: ErrorCode,
        app: Option<AppErrorCode>,
        msg: impl Into<String>,
    ) {
        self.issues.push(Issue::new(sev, loc, code, app, msg));
    }

    fn warn_ignored(&mut self, seg: Segment<'_, '_>, n: usize, why: &str) {
        self.issues.push(Issue::warning(
            Location::segment(seg.name(), n),
            ErrorCode::SegmentSequence,
            Some(AppErrorCode::DataIgnored),
            format!("{}: {why}", seg.name()),
        ));
    }

    /// Warn if `code` is not in `set` (the value is kept).
    fn check_code(&mut self, set: ValueSet, code: &str, loc: Location, what: &str) {
        if !code.is_empty() && !self.codes.is_valid_code(set, code) {
            self.push(
                Severity::Warning,
                loc,
                ErrorCode::TableValueNotFound,
                Some(AppErrorCode::TableValueNotFound),
                format!("{what} {code:?} is not a recognised code"),
            );
        }
    }

    /// A date field that is optional: warn if invalid.
    fn opt_date(&mut self, seg: Segment<'_, '_>, n: usize, field: usize) -> Option<NaiveDate> {
        match date(seg.field(field)) {
            DateValue::Valid(d) => Some(d),
            DateValue::Missing => None,
            DateValue::Invalid(raw) => {
                self.push(
                    Severity::Warning,
                    Location::field(seg.name(), n, field),
                    ErrorCode::DataType,
                    Some(AppErrorCode::InvalidDate),
                    format!(
                        "{}-{field} {raw:?} is not a valid date; ignored",
                        seg.name()
                    ),
                );
                None
            }
        }
    }

    /// PID → Patient; `None` rejects the message (issues pushed).
    fn patient(&mut self, pid: Segment<'_, '_>) -> Option<Patient> {
        let loc = |f| Location::field("PID", 1, f);
        let mut fatal = false;
        // PID-3 R [1..*].
        let identifiers: Vec<_> = pid.field(3).reps().filter_map(convert::cx).collect();
        if identifiers.is_empty() {
            fatal = true;
            self.push(
                Severity::Error,
                loc(3),
                ErrorCode::RequiredFieldMissing,
                Some(AppErrorCode::RequiredDataMissing),
                "Patient identifier (PID-3) is required",
            );
        }
        for (i, id) in identifiers.iter().enumerate() {
            if id.id_type.is_empty() {
                self.push(
                    Severity::Warning,
                    loc(3).at(i + 1, 5),
                    ErrorCode::RequiredFieldMissing,
                    Some(AppErrorCode::RequiredDataMissing),
                    format!("Identifier {:?} has no identifier type (CX-5)", id.value),
                );
            } else {
                self.check_code(
                    ValueSet::IdentifierType,
                    &id.id_type,
                    loc(3).at(i + 1, 5),
                    "Identifier type",
                );
            }
        }
        // PID-5 R: at least one name with a family name; first legal one first.
        let mut names: Vec<_> = pid.field(5).reps().filter_map(convert::xpn).collect();
        if let Some(i) = names.iter().position(|n| n.name_type == NameType::Legal) {
            let legal = names.remove(i);
            names.insert(0, legal);
        }
        if names.is_empty() {
            fatal = true;
            // IG ACK example 004.
            self.push(
                Severity::Error,
                loc(5),
                ErrorCode::RequiredFieldMissing,
                Some(AppErrorCode::RequiredDataMissing),
                "Patient name is required",
            );
        }
        // PID-7 R, a real date, not in the future (IG ACK example 008).
        let birth = match date(pid.field(7)) {
            DateValue::Valid(d) if d > self.today => {
                fatal = true;
                self.push(
                    Severity::Error,
                    loc(7),
                    ErrorCode::RequiredFieldMissing,
                    Some(AppErrorCode::IllogicalDate),
                    format!("Birth date {d} is after today"),
                );
                None
            }
            DateValue::Valid(d) => Some(d),
            DateValue::Missing => {
                fatal = true;
                self.push(
                    Severity::Error,
                    loc(7),
                    ErrorCode::RequiredFieldMissing,
                    Some(AppErrorCode::RequiredDataMissing),
                    "Birth date is required",
                );
                None
            }
            DateValue::Invalid(raw) => {
                fatal = true;
                self.push(
                    Severity::Error,
                    loc(7),
                    ErrorCode::DataType,
                    Some(AppErrorCode::InvalidDate),
                    format!("Birth date {raw:?} is not a valid date"),
                );
                None
            }
        };
        if fatal {
            self.push(
                Severity::Error,
                Location::segment_type("PID"),
                ErrorCode::SegmentSequence,
                None,
                "PID is a required segment and was rejected; message rejected",
            );
            return None;
        }
        let (Some(birth), false) = (birth, names.is_empty()) else {
            return None;
        };
        // PID-8 sex (lenient: warn, Unknown).
        let sex_raw = text(pid.field(8).comp(1));
        if sex_raw.is_empty() {
            self.push(
                Severity::Warning,
                loc(8),
                ErrorCode::RequiredFieldMissing,
                Some(AppErrorCode::RequiredDataMissing),
                "Administrative sex is missing",
            );
        } else if !matches!(
            sex_raw.to_ascii_uppercase().as_str(),
            "F" | "M" | "U" | "X" | "O"
        ) {
            self.push(
                Severity::Warning,
                loc(8),
                ErrorCode::TableValueNotFound,
                Some(AppErrorCode::TableValueNotFound),
                format!("Administrative sex {sex_raw:?} is not recognised; recorded as unknown"),
            );
        }
        let legal = names.remove(0);
        let mut p = Patient::new(legal, BirthDate(birth), Sex::from_hl7(&sex_raw));
        p.identifiers = identifiers;
        p.names.extend(names);
        // PID-2 is not supported (IG ACK example 007: AA + W, data ignored).
        if !pid.field(2).is_empty() {
            self.issues.push(Issue {
                location: loc(2),
                code: None,
                severity: Severity::Warning,
                app_code: Some(AppErrorCode::DataIgnored),
                message: "PID-2 is not supported -- data ignored".into(),
            });
        }
        p.mother_maiden_name = pid.field(6).reps().find_map(convert::xpn).map(|mut n| {
            n.name_type = NameType::Maiden;
            n
        });
        p.race = convert::codes(pid.field(10));
        for (i, r) in p.race.clone().iter().enumerate() {
            self.check_code(ValueSet::Race, &r.code, loc(10).at(i + 1, 1), "Race");
        }
        p.addresses = pid.field(11).reps().filter_map(convert::xad).collect();
        p.phones = pid.field(13).reps().filter_map(convert::xtn).collect();
        p.ethnicity = convert::codes(pid.field(22));
        for (i, e) in p.ethnicity.clone().iter().enumerate() {
            self.check_code(
                ValueSet::Ethnicity,
                &e.code,
                loc(22).at(i + 1, 1),
                "Ethnicity",
            );
        }
        // PID-24/25 multiple birth (25 RE when 24 = Y).
        p.multiple_birth = self.yes_no(pid, 24);
        let order = text(pid.field(25).comp(1));
        if !order.is_empty() {
            match order.parse::<u8>() {
                Ok(n) if (1..=9).contains(&n) => p.birth_order = Some(n),
                _ => self.push(
                    Severity::Warning,
                    loc(25),
                    ErrorCode::DataType,
                    Some(AppErrorCode::InvalidValue),
                    format!("Birth order {order:?} is not a number from 1 to 9; ignored"),
                ),
            }
        } else if p.multiple_birth == Some(true) {
            self.push(
                Severity::Warning,
                loc(25),
                ErrorCode::RequiredFieldMissing,
                Some(AppErrorCode::RequiredDataMissing),
                "Birth order is expected when multiple birth indicator is Y",
            );
        }
        // PID-29/30 death (29 RE when 30 = Y).
        p.deceased = self.yes_no(pid, 30);
        p.death_date = self.opt_date(pid, 1, 29);
        if let Some(d) = p.death_date {
            if d < birth || d > self.today {
                self.push(
                    Severity::Warning,
                    loc(29),
                    ErrorCode::DataType,
                    Some(AppErrorCode::IllogicalDate),
                    format!("Death date {d} is before birth or in the future; ignored"),
                );
                p.death_date = None;
            } else if p.deceased != Some(true) {
                p.deceased = Some(true);
            }
        } else if p.deceased == Some(true) {
            self.push(
                Severity::Warning,
                loc(29),
                ErrorCode::RequiredFieldMissing,
                Some(AppErrorCode::RequiredDataMissing),
                "Death date is expected when death indicator is Y",
            );
        }
        Some(p)
    }

    fn yes_no(&mut self, seg: Segment<'_, '_>, field: usize) -> Option<bool> {
        let raw = text(seg.field(field).comp(1));
        if raw.is_empty() {
            return None;
        }
        let v = convert::yes_no(&raw);
        if v.is_none() {
            self.push(
                Severity::Warning,
                Location::field(seg.name(), 1, field),
                ErrorCode::TableValueNotFound,
                Some(AppErrorCode::TableValueNotFound),
                format!("{}-{field} {raw:?} is not Y or N; ignored", seg.name()),
            );
        }
        v
    }

    /// PD1-11/18 publicity, 12/13 protection, 16/17 registry status.
    fn pd1(&mut self, seg: Segment<'_, '_>, p: &mut Patient) {
        let loc = |f| Location::field("PD1", 1, f);
        if let Some(code) = seg.field(11).reps().find_map(convert::code) {
            self.check_code(ValueSet::Publicity, &code.code, loc(11), "Publicity code");
            let effective = self.opt_date(seg, 1, 18);
            p.publicity = Some(Dated {
                value: code,
                effective,
            });
        }
        if let Some(protect) = self.yes_no(seg, 12) {
            let effective = self.opt_date(seg, 1, 13);
            if effective.is_none() {
                // IG: PD1-13 RE when PD1-12 is valued.
                self.push(
                    Severity::Warning,
                    loc(13),
                    ErrorCode::RequiredFieldMissing,
                    Some(AppErrorCode::RequiredDataMissing),
                    "Protection indicator effective date is expected when PD1-12 is valued",
                );
            }
            p.protection = Some(Dated {
                value: protect,
                effective,
            });
        }
        let status = text(seg.field(16).comp(1));
        if !status.is_empty() {
            match RegistryStatus::from_hl7(&status) {
                Some(value) => {
                    let effective = self.opt_date(seg, 1, 17);
                    p.registry_status = Some(Dated { value, effective });
                }
                None => self.push(
                    Severity::Warning,
                    loc(16),
                    ErrorCode::TableValueNotFound,
                    Some(AppErrorCode::TableValueNotFound),
                    format!("Registry status {status:?} is not in table 0441; ignored"),
                ),
            }
        }
    }

    /// NK1 → Guardian; `None` (segment rejected) without name or relationship.
    fn nk1(&mut self, seg: Segment<'_, '_>, n: usize) -> Option<Guardian> {
        let name = seg.field(2).reps().find_map(convert::xpn);
        let relationship = seg.field(3).reps().find_map(convert::code);
        if name.is_none() {
            self.push(
                Severity::Error,
                Location::field("NK1", n, 2),
                ErrorCode::RequiredFieldMissing,
                Some(AppErrorCode::RequiredDataMissing),
                "Next of kin name missing -- segment rejected",
            );
        }
        if relationship.is_none() {
            // IG ACK example 006.
            self.push(
                Severity::Error,
                Location::field("NK1", n, 3),
                ErrorCode::RequiredFieldMissing,
                Some(AppErrorCode::RequiredDataMissing),
                "Relationship missing -- segment rejected",
            );
        }
        let (name, relationship) = (name?, relationship?);
        self.check_code(
            ValueSet::Relationship,
            &relationship.code,
            Location::field("NK1", n, 3),
            "Relationship",
        );
        Some(Guardian {
            name,
            relationship,
            address: seg.field(4).reps().find_map(convert::xad),
            phone: seg.field(5).reps().find_map(convert::xtn),
        })
    }

    /// Reject an ORDER group: ERR 100 on the RXA (IG ACK example 005).
    fn reject_group(&mut self, rxa_n: usize) {
        self.push(
            Severity::Error,
            Location::segment("RXA", rxa_n),
            ErrorCode::SegmentSequence,
            None,
            "RXA segment group rejected",
        );
    }

    /// Resolve RXA-5 to a known CVX (CVX, alternate CVX, or NDC).
    fn vaccine(&mut self, rxa: Segment<'_, '_>, n: usize) -> Result<(Cvx, Option<String>), ()> {
        let loc = Location::field("RXA", n, 5);
        let f = rxa.field(5);
        let triplets = [(1, 3), (4, 6)];
        let mut ndc = None;
        let mut from_ndc = None;
        let mut cvx_found = None;
        let mut first_code = None;
        for (c, s) in triplets {
            let code = text(f.comp(c));
            if code.is_empty() {
                continue;
            }
            let system = text(f.comp(s)).to_ascii_uppercase();
            first_code.get_or_insert_with(|| code.clone());
            if system.contains("NDC") {
                if let Some(norm) = immunis_model::codes::normalize_ndc(&code) {
                    if from_ndc.is_none() {
                        from_ndc = self.codes.cvx_for_ndc(&norm);
                    }
                    ndc.get_or_insert(norm);
                }
            } else if (system == "CVX" || system.is_empty()) && cvx_found.is_none() {
                cvx_found = Cvx::parse(&code)
                    .ok()
                    .filter(|cvx| self.codes.is_known_cvx(cvx));
            }
        }
        // CVX and NDC both given (NOTES §4.6): the CVX wins, the NDC is kept.
        if let Some(cvx) = cvx_found.or(from_ndc) {
            return Ok((cvx, ndc));
        }
        match first_code {
            None => self.push(
                Severity::Error,
                loc,
                ErrorCode::RequiredFieldMissing,
                Some(AppErrorCode::RequiredDataMissing),
                "Vaccine code (RXA-5) is required",
            ),
            Some(code) => {
                // IG ACK example 005: 103 + 101 on RXA-5, then 100 on RXA.
                self.push(
                    Severity::Error,
                    loc.clone(),
                    ErrorCode::TableValueNotFound,
                    Some(AppErrorCode::TableValueNotFound),
                    format!("Vaccine code {code:?} not recognized -- field rejected"),
                );
                self.push(
                    Severity::Error,
                    loc,
                    ErrorCode::RequiredFieldMissing,
                    Some(AppErrorCode::RequiredDataMissing),
                    "RXA-5 is required -- segment rejected",
                );
            }
        }
        Err(())
    }

    /// One ORDER group → dose report and patient-level observations.
    fn group(
        &mut self,
        g: &Group<'_, '_>,
        birth: NaiveDate,
    ) -> (Option<DoseReport>, Vec<PatientObservation>) {
        if g.orphan_obx {
            let mut ev = VaccinationEvent::default();
            let obs = self.observations(g, &mut ev, true);
            return (None, obs);
        }
        let Some((rxa, n)) = g.rxa else {
            if let Some((_, orc_n)) = g.orc {
                self.push(
                    Severity::Error,
                    Location::segment("ORC", orc_n),
                    ErrorCode::SegmentSequence,
                    Some(AppErrorCode::RequiredDataMissing),
                    "RXA is a required segment -- segment group rejected",
                );
            }
            return (None, Vec::new());
        };
        let loc = |f| Location::field("RXA", n, f);
        let mut ok = true;

        // RXA-20 completion status (0322), RXA-21 action (0323).
        let status_raw = text(rxa.field(20).comp(1));
        let completion = CompletionStatus::from_hl7(&status_raw).unwrap_or_else(|| {
            self.push(
                Severity::Warning,
                loc(20),
                ErrorCode::TableValueNotFound,
                Some(AppErrorCode::TableValueNotFound),
                format!("Completion status {status_raw:?} not in table 0322; taken as CP"),
            );
            CompletionStatus::Complete
        });
        let action_raw = text(rxa.field(21).comp(1));
        let action = DoseAction::from_hl7(&action_raw).unwrap_or_else(|| {
            self.push(
                Severity::Warning,
                loc(21),
                ErrorCode::TableValueNotFound,
                Some(AppErrorCode::TableValueNotFound),
                format!("Action code {action_raw:?} not in table 0323; taken as A"),
            );
            DoseAction::Add
        });

        // RXA-5 vaccine.
        let vaccine = self.vaccine(rxa, n);
        ok &= vaccine.is_ok();

        // RXA-3 administration date: valid, not before birth, not future.
        let admin = match date(rxa.field(3)) {
            DateValue::Valid(d) if d < birth => {
                self.push(
                    Severity::Error,
                    loc(3),
                    ErrorCode::RequiredFieldMissing,
                    Some(AppErrorCode::IllogicalDate),
                    format!("Administration date {d} is before the birth date {birth}"),
                );
                None
            }
            DateValue::Valid(d) if d > self.today => {
                self.push(
                    Severity::Error,
                    loc(3),
                    ErrorCode::RequiredFieldMissing,
                    Some(AppErrorCode::IllogicalDate),
                    format!("Administration date {d} is in the future"),
                );
                None
            }
            DateValue::Valid(d) => Some(d),
            DateValue::Missing => {
                self.push(
                    Severity::Error,
                    loc(3),
                    ErrorCode::RequiredFieldMissing,
                    Some(AppErrorCode::RequiredDataMissing),
                    "Administration date (RXA-3) is required",
                );
                None
            }
            DateValue::Invalid(raw) => {
                self.push(
                    Severity::Error,
                    loc(3),
                    ErrorCode::DataType,
                    Some(AppErrorCode::InvalidDate),
                    format!("Administration date {raw:?} is not a valid date"),
                );
                None
            }
        };
        ok &= admin.is_some();
        // IZ-30: RXA-4 = RXA-3 when valued.
        if let (DateValue::Valid(end), Some(start)) = (date(rxa.field(4)), admin) {
            if end != start {
                self.push(
                    Severity::Warning,
                    loc(4),
                    ErrorCode::DataType,
                    Some(AppErrorCode::IllogicalDate),
                    "RXA-4 should equal RXA-3 (IZ-30); RXA-4 ignored",
                );
            }
        }

        // RXA-18 refusal reason: R if RE (IZ-32), ignored otherwise.
        let refusal = rxa.field(18).reps().find_map(convert::code);
        let refusal_reason = match (completion, refusal) {
            (CompletionStatus::Refused, None) => {
                ok = false;
                self.push(
                    Severity::Error,
                    loc(18),
                    ErrorCode::RequiredFieldMissing,
                    Some(AppErrorCode::RequiredDataMissing),
                    "Refusal reason (RXA-18) is required when RXA-20 is RE",
                );
                None
            }
            (CompletionStatus::Refused, Some(r)) => {
                self.check_code(ValueSet::Refusal, &r.code, loc(18), "Refusal reason");
                Some(r)
            }
            (_, Some(_)) => {
                self.push(
                    Severity::Warning,
                    loc(18),
                    ErrorCode::DataType,
                    Some(AppErrorCode::DataIgnored),
                    "Refusal reason given but RXA-20 is not RE (IZ-32) -- data ignored",
                );
                None
            }
            (_, None) => None,
        };

        // RXA-9 information source: R when CP/PA, SHALL NOT be valued
        // otherwise (IZ-31/47).
        let source_code = text(rxa.field(9).comp(1));
        let information_source = if !completion.was_given() {
            if !source_code.is_empty() {
                self.push(
                    Severity::Warning,
                    loc(9),
                    ErrorCode::DataType,
                    Some(AppErrorCode::DataIgnored),
                    "RXA-9 must not be valued when RXA-20 is NA or RE (IZ-47) -- data ignored",
                );
            }
            InformationSource::Historical("01".into())
        } else if source_code.is_empty() {
            self.push(
                Severity::Warning,
                loc(9),
                ErrorCode::RequiredFieldMissing,
                Some(AppErrorCode::RequiredDataMissing),
                "Information source (RXA-9) is missing; recorded as historical (01)",
            );
            InformationSource::Historical("01".into())
        } else {
            if !matches!(
                source_code.as_str(),
                "00" | "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08"
            ) {
                self.push(
                    Severity::Warning,
                    loc(9),
                    ErrorCode::TableValueNotFound,
                    Some(AppErrorCode::TableValueNotFound),
                    format!("Information source {source_code:?} is not in NIP001"),
                );
            }
            InformationSource::from_nip001(&source_code)
        };
        let new_admin = information_source.is_administered() && completion.was_given();

        // ORC: dose identity (ORC-3) for update/delete (NOTES §4.4).
        let mut ev = VaccinationEvent::default();
        match g.orc {
            Some((orc, orc_n)) => {
                let filler = text(orc.field(3).comp(1));
                ev.placer_order_number = non_empty(text(orc.field(2).comp(1)));
                ev.entered_by = orc.field(10).reps().find_map(convert::xcn);
                ev.ordering_provider = orc.field(12).reps().find_map(convert::xcn);
                if filler.is_empty() {
                    if action != DoseAction::Add {
                        ok = false;
                        self.push(
                            Severity::Error,
                            Location::field("ORC", orc_n, 3),
                            ErrorCode::RequiredFieldMissing,
                            Some(AppErrorCode::RequiredDataMissing),
                            "Filler order number (ORC-3) is required to update or delete a dose",
                        );
                    } else if completion.was_given() {
                        self.push(
                            Severity::Warning,
                            Location::field("ORC", orc_n, 3),
                            ErrorCode::RequiredFieldMissing,
                            Some(AppErrorCode::RequiredDataMissing),
                            "Filler order number (ORC-3) is missing; this dose cannot be updated later",
                        );
                    }
                } else if filler != "9999" {
                    ev.filler_order_number = Some(filler);
                }
            }
            None => {
                self.push(
                    Severity::Warning,
                    Location::segment("RXA", n),
                    ErrorCode::SegmentSequence,
                    Some(AppErrorCode::RequiredDataMissing),
                    "RXA without a preceding ORC",
                );
                if action != DoseAction::Add {
                    ok = false;
                    self.push(
                        Severity::Error,
                        Location::segment_type("ORC"),
                        ErrorCode::SegmentSequence,
                        Some(AppErrorCode::RequiredDataMissing),
                        "ORC (with ORC-3) is required to update or delete a dose",
                    );
                }
            }
        }

        if !ok {
            self.reject_group(n);
            return (None, Vec::new());
        }
        let (Ok((cvx, ndc)), Some(admin)) = (vaccine, admin) else {
            self.reject_group(n);
            return (None, Vec::new());
        };

        // Patient-level observations ride on a 998 / NA group (NOTES §4.1).
        if cvx.is_no_vaccine() {
            if completion != CompletionStatus::NotAdministered {
                self.push(
                    Severity::Warning,
                    loc(20),
                    ErrorCode::DataType,
                    Some(AppErrorCode::IllogicalValue),
                    "CVX 998 (no vaccine administered) should have RXA-20 NA",
                );
            }
            let obs = self.observations(g, &mut ev, true);
            return (None, obs);
        }

        ev.administered_date = Some(admin);
        ev.cvx = Some(cvx);
        ev.ndc = ndc;
        ev.trade_name = non_empty(text(rxa.field(5).comp(2)));
        ev.completion = completion;
        ev.refusal_reason = refusal_reason;
        ev.information_source = information_source;

        // RXA-6 amount (999 = unknown), RXA-7 units.
        let amount = text(rxa.field(6).comp(1));
        if amount.is_empty() {
            if completion.was_given() {
                self.push(
                    Severity::Warning,
                    loc(6),
                    ErrorCode::RequiredFieldMissing,
                    Some(AppErrorCode::RequiredDataMissing),
                    "Administered amount (RXA-6) is missing",
                );
            }
        } else if amount != "999" {
            match amount.parse::<f64>() {
                Ok(a) if a.is_finite() && a >= 0.0 => ev.amount = Some(a),
                _ => self.push(
                    Severity::Warning,
                    loc(6),
                    ErrorCode::DataType,
                    Some(AppErrorCode::InvalidValue),
                    format!("Administered amount {amount:?} is not a number; ignored"),
                ),
            }
        }
        ev.units = non_empty(text(rxa.field(7).comp(1)));
        ev.administering_provider = rxa.field(10).reps().find_map(convert::xcn);
        let fac = rxa.field(11).comp(4);
        ev.administering_facility =
            non_empty(fac.sub_text(1).trim().to_string()).map(immunis_model::Code::new);
        ev.lot_number = rxa
            .field(15)
            .reps()
            .map(|r| text(r.comp(1)))
            .find(|s| !s.is_empty());
        ev.expiration_date = self.opt_date(rxa, n, 16);
        let mvx = text(rxa.field(17).comp(1));
        if !mvx.is_empty() {
            match Mvx::parse(&mvx) {
                Ok(m) if self.codes.mvx_name(&m).is_some() => ev.mvx = Some(m),
                _ => self.push(
                    Severity::Warning,
                    loc(17),
                    ErrorCode::TableValueNotFound,
                    Some(AppErrorCode::TableValueNotFound),
                    format!("Manufacturer code {mvx:?} is not a known MVX; ignored"),
                ),
            }
        }
        // IG: lot number and manufacturer R for a new administration.
        if new_admin {
            if ev.lot_number.is_none() {
                self.push(
                    Severity::Warning,
                    loc(15),
                    ErrorCode::RequiredFieldMissing,
                    Some(AppErrorCode::RequiredDataMissing),
                    "Lot number is expected for a newly administered dose",
                );
            }
            if mvx.is_empty() {
                self.push(
                    Severity::Warning,
                    loc(17),
                    ErrorCode::RequiredFieldMissing,
                    Some(AppErrorCode::RequiredDataMissing),
                    "Manufacturer is expected for a newly administered dose",
                );
            }
        }
        // RXR route and site.
        if let Some(rxr) = g.rxr {
            ev.route = rxr.field(1).reps().find_map(convert::code);
            ev.site = rxr.field(2).reps().find_map(convert::code);
        }
        let obs = self.observations(g, &mut ev, false);
        // IZ-23: a new administration SHALL have a funding eligibility OBX.
        if new_admin && ev.funding_eligibility.is_none() {
            self.push(
                Severity::Warning,
                Location::segment("RXA", n),
                ErrorCode::RequiredFieldMissing,
                Some(AppErrorCode::RequiredObservationMissing),
                "Funding eligibility observation (OBX 64994-7) is expected for a newly administered dose (IZ-23)",
            );
        }
        (Some(DoseReport { action, event: ev }), obs)
    }

    /// The OBX of a group: dose-level facts into `ev`, patient-level ones
    /// returned. With `patient_only`, dose-level facts are ignored.
    fn observations(
        &mut self,
        g: &Group<'_, '_>,
        ev: &mut VaccinationEvent,
        patient_only: bool,
    ) -> Vec<PatientObservation> {
        let mut out = Vec::new();
        let mut vis: BTreeMap<String, VisDocument> = BTreeMap::new();
        for &(obx, n) in &g.obx {
            let loc = |f| Location::field("OBX", n, f);
            let loinc = text(obx.field(3).comp(1));
            let sub_id = text(obx.field(4).comp(1));
            let value = obx.field(5);
            if loinc.is_empty() {
                self.push(
                    Severity::Warning,
                    loc(3),
                    ErrorCode::RequiredFieldMissing,
                    Some(AppErrorCode::RequiredDataMissing),
                    "Observation identifier (OBX-3) missing -- observation ignored",
                );
                continue;
            }
            if let Some(kind) = ObservationKind::from_loinc(&loinc) {
                match value.reps().find_map(convert::code) {
                    Some(code) => {
                        let set = match kind {
                            ObservationKind::EvidenceOfImmunity if loinc == "59784-9" => {
                                Some(ValueSet::EvidenceOfImmunity)
                            }
                            ObservationKind::Contraindication => Some(ValueSet::Contraindication),
                            ObservationKind::Reaction => Some(ValueSet::Reaction),
                            ObservationKind::Indication => Some(ValueSet::SpecialIndication),
                            ObservationKind::EvidenceOfImmunity => None,
                        };
                        if let Some(set) = set {
                            self.check_code(set, &code.code, loc(5), "Observation value");
                        }
                        let date = match self.opt_date(obx, n, 14) {
                            Some(d) => Some(d),
                            None => ev.administered_date,
                        };
                        out.push(PatientObservation {
                            kind,
                            value: code,
                            date,
                        });
                    }
                    None => self.push(
                        Severity::Warning,
                        loc(5),
                        ErrorCode::RequiredFieldMissing,
                        Some(AppErrorCode::RequiredDataMissing),
                        format!("Observation {loinc} has no value -- ignored"),
                    ),
                }
                continue;
            }
            if patient_only {
                if !IGNORED_LOINC.contains(&loinc.as_str()) {
                    self.push(
                        Severity::Warning,
                        loc(3),
                        ErrorCode::SegmentSequence,
                        Some(AppErrorCode::DataIgnored),
                        format!(
                            "Observation {loinc} is not a patient-level observation -- ignored"
                        ),
                    );
                }
                continue;
            }
            match loinc.as_str() {
                "64994-7" => {
                    if let Some(code) = value.reps().find_map(convert::code) {
                        self.check_code(
                            ValueSet::FundingEligibility,
                            &code.code,
                            loc(5),
                            "Funding eligibility",
                        );
                        ev.funding_eligibility = Some(code);
                    }
                }
                "30963-3" => {
                    if let Some(code) = value.reps().find_map(convert::code) {
                        self.check_code(
                            ValueSet::FundingSource,
                            &code.code,
                            loc(5),
                            "Funding source",
                        );
                        ev.funding_source = Some(code);
                    }
                }
                // VIS: grouped by OBX-4 sub-id (IZ-24).
                "69764-9" | "30956-7" => {
                    let doc = text(value.comp(1));
                    vis.entry(sub_id).or_default().document = doc;
                }
                "29768-9" => {
                    let d = self.opt_date(obx, n, 5);
                    vis.entry(sub_id).or_default().published = d;
                }
                "29769-7" => {
                    let d = self.opt_date(obx, n, 5);
                    vis.entry(sub_id).or_default().presented = d;
                }
                other if IGNORED_LOINC.contains(&other) => {}
                other => self.push(
                    Severity::Warning,
                    loc(3),
                    ErrorCode::TableValueNotFound,
                    Some(AppErrorCode::DataIgnored),
                    format!(
                        "Observation identifier {other:?} not recognized -- observation ignored"
                    ),
                ),
            }
        }
        ev.vis.extend(vis.into_values());
        out
    }
}
