//! The school nurse view (issue 6): a school's roster evaluated against the
//! school-entry requirements (`immunis-schools`), as a plain [`SchoolReport`]
//! a page can render and a CSV export; plus the school's own records — the
//! grade on the roster and the exemption certificates the nurse files.
//!
//! **Access.** A report is produced for a school by its own users, or by a
//! registry administrator. Each rostered student is read through
//! [`crate::query`]'s `load_visible` — the one access decision — *as the
//! school sees them* (`AllowSchoolEntryOnly`: name, birth date, sex, doses and
//! evidence of immunity; an objection to data sharing means nothing, and the
//! row says "record not available to school"). An administrator's report is
//! computed with the school's view too, so what it shows is what the school
//! would see. Grades and exemptions go through `Action::MaintainSchoolRecords`
//! (school users for students already on their roster; administrators for
//! anyone — putting a person *on* a roster grants access, so a school cannot).
//!
//! **Audit.** One audit entry *per student read* (action `school_report`,
//! allow or deny, that student's id), all appended in one writer job, so the
//! accounting of disclosures (`audit.rs`, which finds a person's entries by
//! id and counts `school_report` as disclosing) lists each student's
//! disclosure to the school on its own line, and a student under objection
//! has a `deny` entry. The bulk search path puts every id in one entry; a
//! report is not one query but one read per rostered student, each with its
//! own decision, so each gets its own entry.

use std::io::Write;

use chrono::NaiveDate;
use immunis_access::{decide, Action, Actor, Decision, Purpose, Role};
use immunis_cdsi::{DoseStatus, SeriesStatus};
use immunis_model::{Organization, OrganizationKind, PatientId};
use immunis_schools::{
    evaluate as evaluate_student, school_year_label, Basis, CdsiGroup, CdsiStatus, Dose, Evidence,
    Exemption, ExemptionKind, Grade, NextDose, Overall, Rules, Status, Student, Validity,
};
use immunis_store::{AuditEntry, NewSchoolExemption, RosterEntry, SchoolExemptionRecord};

use crate::checkpoint::{load_visible, patient_context, Visible};
use crate::forecast::{cdsi_observations, evaluate as cdsi_evaluate};
use crate::query::PatientRecord;
use crate::{audit_entry, Registry, RegistryError};

/// A report column: one school vaccine group required by some set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportColumn {
    pub key: String,
    pub label: String,
}

/// One requirement's cell in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportCell {
    pub status: Status,
    /// "compliant", "exempt (medical)", "in progress" …
    pub text: String,
    pub missing: Vec<String>,
    pub notes: Vec<String>,
}

/// A row's overall state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowStatus {
    Assessed(Overall),
    /// Under an objection to data sharing (or otherwise not visible): the
    /// school relies on the paper certificate.
    NotAvailable,
    /// The student could not be assessed (no grade on the roster, no
    /// requirement set for the grade and age).
    NotAssessed(String),
}

impl std::fmt::Display for RowStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowStatus::Assessed(o) => write!(f, "{o}"),
            RowStatus::NotAvailable => f.write_str("record not available to school"),
            RowStatus::NotAssessed(why) => write!(f, "not assessed: {why}"),
        }
    }
}

/// One rostered student.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolReportRow {
    pub patient_id: PatientId,
    /// "Family, Given"; empty when the record is not available.
    pub name: String,
    pub birth_date: Option<NaiveDate>,
    /// The grade on the roster (normalized), empty when none.
    pub grade: String,
    /// The requirement set applied (e.g. "k-6").
    pub requirement_set: String,
    pub status: RowStatus,
    /// Aligned with [`SchoolReport::columns`]; `None` = not in this
    /// student's requirement set.
    pub cells: Vec<Option<ReportCell>>,
    pub missing: Vec<String>,
}

/// Per requirement, the survey's categories (each student counted once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequirementCounts {
    pub key: String,
    pub label: String,
    pub by_doses: usize,
    /// Evidence of immunity or, at college, birth year.
    pub by_immunity: usize,
    pub medical: usize,
    pub religious: usize,
    pub waiver: usize,
    pub in_progress: usize,
    pub not_compliant: usize,
}

/// Totals over the rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportSummary {
    pub students: usize,
    pub compliant: usize,
    pub in_progress: usize,
    pub not_compliant: usize,
    pub exempt: usize,
    pub not_available: usize,
    pub not_assessed: usize,
    pub per_requirement: Vec<RequirementCounts>,
}

/// The school nurse view of a roster on one date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolReport {
    pub organization: String,
    pub assessed_on: NaiveDate,
    /// "2025-26".
    pub school_year: String,
    /// The requirement file's name.
    pub requirements: String,
    /// What of the data behind the report is out of date on the assessment
    /// date (the requirements' school year, seasonal CDSi data of a group
    /// they use), as sentences; empty when current.
    pub warnings: Vec<String>,
    pub grade_filter: Option<String>,
    pub columns: Vec<ReportColumn>,
    pub rows: Vec<SchoolReportRow>,
    pub summary: ReportSummary,
}

/// A spreadsheet cannot take a cell starting with these as a formula.
fn csv_safe(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

impl SchoolReport {
    /// The CSV export: one row per student — registry id, name, birth date,
    /// grade, requirement set, overall status, one column per requirement,
    /// and the missing items joined with "; ".
    pub fn write_csv<W: Write>(&self, out: W) -> Result<(), RegistryError> {
        let err = |e: csv::Error| RegistryError::Internal(format!("CSV: {e}"));
        let mut w = csv::Writer::from_writer(out);
        let mut header = vec![
            "registry_id".to_string(),
            "name".into(),
            "birth_date".into(),
            "grade".into(),
            "requirement_set".into(),
            "overall".into(),
        ];
        header.extend(self.columns.iter().map(|c| c.label.clone()));
        header.push("missing".into());
        w.write_record(&header).map_err(err)?;
        for r in &self.rows {
            let mut rec = vec![
                r.patient_id.0.to_string(),
                csv_safe(&r.name),
                r.birth_date.map(|d| d.to_string()).unwrap_or_default(),
                r.grade.clone(),
                r.requirement_set.clone(),
                r.status.to_string(),
            ];
            rec.extend(
                r.cells
                    .iter()
                    .map(|c| c.as_ref().map(|c| c.text.clone()).unwrap_or_default()),
            );
            rec.push(csv_safe(&r.missing.join("; ")));
            w.write_record(&rec).map_err(err)?;
        }
        w.flush()
            .map_err(|e| RegistryError::Internal(format!("CSV: {e}")))?;
        Ok(())
    }
}

fn cdsi_status(s: SeriesStatus) -> CdsiStatus {
    match s {
        SeriesStatus::NotComplete => CdsiStatus::NotComplete,
        SeriesStatus::Complete => CdsiStatus::Complete,
        SeriesStatus::Immune => CdsiStatus::Immune,
        SeriesStatus::Contraindicated => CdsiStatus::Contraindicated,
        SeriesStatus::AgedOut => CdsiStatus::AgedOut,
        SeriesStatus::NotRecommended => CdsiStatus::NotRecommended,
    }
}

/// The rules' view of one visible record: doses with CDSi's validity per
/// CDSi vaccine group, evidence of immunity, CDSi's series status and
/// forecast, and the school's exemptions.
pub fn student_from_record(
    reg: &Registry,
    rules: &Rules,
    record: &PatientRecord,
    grade: Grade,
    exemptions: &[SchoolExemptionRecord],
    today: NaiveDate,
) -> Student {
    let engine = reg.engine();
    let evaluated = cdsi_evaluate(engine, record, today);
    let mut student = Student::new(record.patient.birth_date.0, grade);
    let mut in_cdsi = vec![None; record.doses.len()];
    for (i, &ri) in evaluated.dose_map.iter().enumerate() {
        if let Some(slot) = in_cdsi.get_mut(ri) {
            *slot = Some(i);
        }
    }
    for (ri, d) in record.doses.iter().enumerate() {
        let ev = &d.primary.event;
        let (Some(date), Some(cvx)) = (ev.administered_date, ev.cvx.as_ref()) else {
            continue;
        };
        let Ok(cvx) = cvx.as_str().trim().parse::<u16>() else {
            continue;
        };
        let mut cdsi = Vec::new();
        if let Some(i) = in_cdsi[ri] {
            for g in &evaluated.assessment.vaccine_groups {
                let evals: Vec<_> = g.evaluations.iter().filter(|e| e.dose_index == i).collect();
                if evals.is_empty() {
                    continue;
                }
                let validity = match evals.iter().find(|e| e.status != DoseStatus::Valid) {
                    None => Validity::Valid,
                    Some(e) => Validity::NotValid(
                        e.reason
                            .map_or(e.status.as_str(), |r| r.as_str())
                            .to_string(),
                    ),
                };
                cdsi.push((engine.vaccine_group_name(g.group).to_string(), validity));
            }
        }
        student.doses.push(Dose { date, cvx, cdsi });
    }
    for o in cdsi_observations(engine, record) {
        if let Some((antigen, kind)) = rules.evidence_for_cdsi_observation(o.code) {
            student.evidence.push(Evidence {
                antigen: antigen.to_string(),
                kind,
            });
        }
    }
    student.cdsi = evaluated
        .assessment
        .vaccine_groups
        .iter()
        .map(|g| CdsiGroup {
            group: engine.vaccine_group_name(g.group).to_string(),
            status: cdsi_status(g.status),
            next: g.forecast.as_ref().map(|f| NextDose {
                dose_number: f.dose_number,
                earliest: f.earliest,
                recommended: f.recommended,
                past_due: f.past_due,
            }),
        })
        .collect();
    student.exemptions = exemptions
        .iter()
        .filter(|e| e.patient_id == record.id)
        .filter_map(|e| {
            Some(Exemption {
                kind: ExemptionKind::parse(&e.kind)?,
                groups: e.vaccine_groups.clone(),
                signed: e.signed,
                school_year: e.school_year.and_then(|y| i32::try_from(y).ok()),
                expires: e.expires,
            })
        })
        .collect();
    student
}

/// An exemption to file for a rostered student.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExemption {
    pub kind: ExemptionKind,
    /// Group keys covered (checked against the rules); empty = every vaccine.
    pub groups: Vec<String>,
    pub signed: NaiveDate,
    pub school_year: Option<i32>,
    pub expires: Option<NaiveDate>,
}

impl Registry {
    /// The name of the school a school user acts for (`None` for anyone
    /// else): what the portal's school page reports on.
    pub fn own_school(&self, actor: &Actor) -> Result<Option<String>, RegistryError> {
        let (Role::School, Some(id)) = (actor.role, actor.organization) else {
            return Ok(None);
        };
        let mut org = None;
        self.read(&mut |tx| {
            org = tx.find_organization(id)?;
            Ok(())
        })?;
        Ok(org
            .filter(|o| o.kind == OrganizationKind::School)
            .map(|o| o.name))
    }

    fn school(&self, name: &str) -> Result<Organization, RegistryError> {
        let org = self.organization_by_name(name)?;
        if org.kind != OrganizationKind::School {
            return Err(RegistryError::Invalid(format!(
                "{name} is a {}, not a school",
                org.kind.as_str()
            )));
        }
        Ok(org)
    }

    /// A school user acts for their own school only; administrators for any.
    fn school_scope(&self, actor: &Actor, org: &Organization) -> Result<(), &'static str> {
        match actor.role {
            Role::RegistryAdmin => Ok(()),
            Role::School if actor.organization == Some(org.id) => Ok(()),
            Role::School => Err("a school user acts for their own school only"),
            _ => Err("only the school and the registry keep school records"),
        }
    }

    fn audit_now(&self, entries: Vec<AuditEntry>) -> Result<(), RegistryError> {
        if !self.audit_enabled() || entries.is_empty() {
            return Ok(());
        }
        self.writer.run_blocking(move |tx| {
            for e in &entries {
                tx.append_audit(e)?;
            }
            Ok(())
        })
    }

    /// The decision for maintaining a school's record of one student.
    fn maintain_decision(
        &self,
        actor: &Actor,
        org: &Organization,
        patient: PatientId,
    ) -> Result<Decision, RegistryError> {
        if let Err(why) = self.school_scope(actor, org) {
            return Ok(Decision::Deny(why));
        }
        let mut decision = Decision::Deny("patient not found");
        self.read(&mut |tx| {
            let Some(p) = tx.load_patient(patient)? else {
                return Ok(());
            };
            let ctx = patient_context(tx, actor, patient, &p.patient, false)?;
            decision = decide(
                actor,
                Action::MaintainSchoolRecords,
                Purpose::SchoolEntry,
                Some(ctx),
            );
            Ok(())
        })?;
        Ok(decision)
    }

    fn deny_maintain(
        &self,
        actor: &Actor,
        action: &str,
        patient: PatientId,
        why: &'static str,
    ) -> RegistryError {
        let mut audit = audit_entry(actor, action, Purpose::SchoolEntry, "deny");
        audit.patient_ids = vec![patient];
        if let Err(e) = self.audit_now(vec![audit]) {
            return e;
        }
        if why == "patient not found" {
            RegistryError::NotFound("patient".into())
        } else {
            RegistryError::Denied(why)
        }
    }

    /// Sets a student's grade (and school year) on a school's roster.
    /// Administrators may put anyone on the roster; a school user may only
    /// change the grade of a student already on their own roster.
    pub fn set_school_grade(
        &self,
        actor: &Actor,
        school: &str,
        patient: PatientId,
        grade: &Grade,
        school_year: Option<i32>,
    ) -> Result<(), RegistryError> {
        let org = self.school(school)?;
        if let Decision::Deny(why) = self.maintain_decision(actor, &org, patient)? {
            return Err(self.deny_maintain(actor, "school_roster", patient, why));
        }
        let g = grade.to_string();
        let mut audit = audit_entry(actor, "school_roster", Purpose::SchoolEntry, "allow");
        audit.patient_ids = vec![patient];
        audit.detail = Some(format!(
            "org {} grade {g} year {}",
            org.id.0,
            school_year.map(school_year_label).unwrap_or_default()
        ));
        let year = school_year.map(i64::from);
        let audit_on = self.audit_enabled();
        self.writer.run_blocking(move |tx| {
            tx.set_roster_grade(org.id, patient, Some(&g), year)?;
            if audit_on {
                tx.append_audit(&audit)?;
            }
            Ok(())
        })
    }

    /// Files an exemption certificate for a student on the school's roster;
    /// returns its id. Group keys are checked against `rules`.
    pub fn record_school_exemption(
        &self,
        actor: &Actor,
        rules: &Rules,
        school: &str,
        patient: PatientId,
        exemption: &NewExemption,
    ) -> Result<i64, RegistryError> {
        let org = self.school(school)?;
        let mut groups = Vec::new();
        for g in &exemption.groups {
            let group = rules.group(g).ok_or_else(|| {
                RegistryError::Invalid(format!(
                    "unknown vaccine {g:?} (one of: {})",
                    rules
                        .groups
                        .iter()
                        .map(|g| g.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            groups.push(group.key.clone());
        }
        if exemption.expires.is_some_and(|e| e < exemption.signed) {
            return Err(RegistryError::Invalid(
                "the exemption expires before it was signed".into(),
            ));
        }
        if let Decision::Deny(why) = self.maintain_decision(actor, &org, patient)? {
            return Err(self.deny_maintain(actor, "school_exemption", patient, why));
        }
        let mut audit = audit_entry(actor, "school_exemption", Purpose::SchoolEntry, "allow");
        audit.patient_ids = vec![patient];
        let kind = exemption.kind.as_str();
        audit.detail = Some(format!(
            "org {} {kind} {}",
            org.id.0,
            if groups.is_empty() {
                "all".to_string()
            } else {
                groups.join(",")
            }
        ));
        let (signed, expires) = (exemption.signed, exemption.expires);
        let year = exemption.school_year.map(i64::from);
        let by = actor.subject.clone();
        let audit_on = self.audit_enabled();
        self.writer.run_blocking(move |tx| {
            if !tx.on_roster(org.id, patient)? {
                return Err(immunis_store::StoreError::Conflict(
                    "the student is not on the school's roster".into(),
                ));
            }
            let id = tx.insert_school_exemption(&NewSchoolExemption {
                organization_id: org.id,
                patient_id: patient,
                kind,
                vaccine_groups: &groups,
                signed,
                school_year: year,
                expires,
                filed_by: &by,
            })?;
            if audit_on {
                tx.append_audit(&audit)?;
            }
            Ok(id)
        })
    }

    /// Withdraws an exemption filed in error (it stays on record).
    pub fn withdraw_school_exemption(
        &self,
        actor: &Actor,
        school: &str,
        id: i64,
    ) -> Result<(), RegistryError> {
        let org = self.school(school)?;
        let mut found = None;
        self.read(&mut |tx| {
            found = tx.school_exemption(id)?;
            Ok(())
        })?;
        let e = found
            .filter(|e| e.organization_id == org.id && e.withdrawn_at.is_none())
            .ok_or_else(|| RegistryError::NotFound(format!("exemption {id}")))?;
        if let Decision::Deny(why) = self.maintain_decision(actor, &org, e.patient_id)? {
            return Err(self.deny_maintain(actor, "school_exemption_withdraw", e.patient_id, why));
        }
        let mut audit = audit_entry(
            actor,
            "school_exemption_withdraw",
            Purpose::SchoolEntry,
            "allow",
        );
        audit.patient_ids = vec![e.patient_id];
        audit.detail = Some(format!("org {} exemption {id}", org.id.0));
        let by = actor.subject.clone();
        let audit_on = self.audit_enabled();
        self.writer.run_blocking(move |tx| {
            tx.withdraw_school_exemption(id, &by)?;
            if audit_on {
                tx.append_audit(&audit)?;
            }
            Ok(())
        })
    }

    /// The school nurse view: every student on the school's roster (in one
    /// grade, if given) evaluated against `rules` on `today`. Audited per
    /// student before it returns.
    pub fn school_report(
        &self,
        actor: &Actor,
        rules: &Rules,
        school: &str,
        grade: Option<&Grade>,
        today: NaiveDate,
    ) -> Result<SchoolReport, RegistryError> {
        let org = self.school(school)?;
        let purpose = Purpose::SchoolEntry;
        let allowed = self.school_scope(actor, &org).and_then(|()| {
            match decide(actor, Action::ReadRecord, purpose, None) {
                Decision::Deny(why) => Err(why),
                _ => Ok(()),
            }
        });
        if let Err(why) = allowed {
            let mut audit = audit_entry(actor, "school_report", purpose, "deny");
            audit.detail = Some(format!("org {}", org.id.0));
            self.audit_now(vec![audit])?;
            return Err(RegistryError::Denied(why));
        }
        // What the school sees, also when an administrator asks.
        let view = Actor {
            subject: actor.subject.clone(),
            role: Role::School,
            organization: Some(org.id),
            facility_code: None,
            client_addr: actor.client_addr.clone(),
        };
        let mut loaded: Vec<(RosterEntry, Option<PatientRecord>)> = Vec::new();
        let mut exemptions = Vec::new();
        self.read(&mut |tx| {
            loaded.clear();
            exemptions = tx.school_exemptions(org.id)?;
            for entry in tx.roster(org.id)? {
                let g = entry.grade.as_deref().and_then(|g| Grade::parse(g).ok());
                if grade.is_some_and(|want| g.as_ref() != Some(want)) {
                    continue;
                }
                let rec = load_visible(tx, self, &view, purpose, entry.patient_id)?;
                loaded.push((entry, rec.map(Visible::into_inner)));
            }
            Ok(())
        })?;

        let columns: Vec<ReportColumn> = rules
            .required_groups()
            .into_iter()
            .map(|g| ReportColumn {
                key: g.key.clone(),
                label: rules
                    .sets
                    .iter()
                    .flat_map(|s| &s.requirements)
                    .find(|r| rules.groups[r.group].key == g.key)
                    .map_or_else(|| g.label.clone(), |r| r.label.clone()),
            })
            .collect();
        let mut summary = ReportSummary {
            per_requirement: columns
                .iter()
                .map(|c| RequirementCounts {
                    key: c.key.clone(),
                    label: c.label.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let mut rows = Vec::with_capacity(loaded.len());
        let mut audits = Vec::with_capacity(loaded.len());
        for (entry, rec) in &loaded {
            let mut audit = audit_entry(
                actor,
                "school_report",
                purpose,
                if rec.is_some() { "allow" } else { "deny" },
            );
            audit.patient_ids = vec![entry.patient_id];
            audit.detail = Some(format!("org {}", org.id.0));
            audits.push(audit);
            let grade_text = entry.grade.clone().unwrap_or_default();
            let mut row = SchoolReportRow {
                patient_id: entry.patient_id,
                name: String::new(),
                birth_date: None,
                grade: grade_text,
                requirement_set: String::new(),
                status: RowStatus::NotAvailable,
                cells: vec![None; columns.len()],
                missing: Vec::new(),
            };
            summary.students += 1;
            let Some(rec) = rec else {
                summary.not_available += 1;
                rows.push(row);
                continue;
            };
            let name = rec.patient.legal_name();
            row.name = format!("{}, {}", name.family, name.given);
            row.birth_date = Some(rec.patient.birth_date.0);
            let Some(g) = entry.grade.as_deref().and_then(|g| Grade::parse(g).ok()) else {
                row.status = RowStatus::NotAssessed("no grade on the roster".into());
                summary.not_assessed += 1;
                rows.push(row);
                continue;
            };
            let student = student_from_record(self, rules, rec, g, &exemptions, today);
            let result = match evaluate_student(rules, &student, today) {
                Ok(r) => r,
                Err(e) => {
                    row.status = RowStatus::NotAssessed(e.to_string());
                    summary.not_assessed += 1;
                    rows.push(row);
                    continue;
                }
            };
            row.requirement_set = result.set_id.clone();
            for req in &result.requirements {
                let Some(ci) = columns.iter().position(|c| c.key == req.group) else {
                    continue;
                };
                let counts = &mut summary.per_requirement[ci];
                match req.status {
                    Status::Compliant(Basis::Doses) => counts.by_doses += 1,
                    Status::Compliant(_) => counts.by_immunity += 1,
                    Status::Exempt(ExemptionKind::Medical) => counts.medical += 1,
                    Status::Exempt(ExemptionKind::Religious) => counts.religious += 1,
                    Status::Exempt(ExemptionKind::Waiver) => counts.waiver += 1,
                    Status::InProgress { .. } => counts.in_progress += 1,
                    Status::NotCompliant => counts.not_compliant += 1,
                    Status::NotRequired => {}
                }
                row.cells[ci] = Some(ReportCell {
                    status: req.status,
                    text: req.status.to_string(),
                    missing: req.missing.clone(),
                    notes: req.notes.clone(),
                });
            }
            row.missing = result.missing().into_iter().map(str::to_string).collect();
            match result.overall {
                Overall::Compliant => summary.compliant += 1,
                Overall::InProgress => summary.in_progress += 1,
                Overall::NotCompliant => summary.not_compliant += 1,
                Overall::Exempt(_) => summary.exempt += 1,
            }
            row.status = RowStatus::Assessed(result.overall);
            rows.push(row);
        }
        self.audit_now(audits)?;
        let currency = self.data_currency(today);
        let used: Vec<&str> = rules
            .groups
            .iter()
            .filter_map(|g| g.cdsi_group.as_deref())
            .collect();
        let warnings = crate::clinical::school_requirements_outdated(rules, today)
            .into_iter()
            .chain(
                currency
                    .out_of_date
                    .iter()
                    .filter(|o| {
                        matches!(o, crate::clinical::OutOfDate::Season { vaccine_group, .. }
                            if used.contains(&vaccine_group.as_str()))
                    })
                    .cloned(),
            )
            .map(|o| o.sentence(&currency.cdsi_release))
            .collect();
        Ok(SchoolReport {
            warnings,
            organization: org.name,
            assessed_on: today,
            school_year: school_year_label(rules.school_year_of(today)),
            requirements: rules.name.clone(),
            grade_filter: grade.map(ToString::to_string),
            columns,
            rows,
            summary,
        })
    }
}
