//! School operations of one transaction (schema v5): the grade and school
//! year of a roster entry, and exemptions filed by school nurses. Same SQL on
//! both backends.

use chrono::NaiveDate;
use immunis_model::{OrganizationId, PatientId};

use crate::{now_millis, Result, StoreError, Tx, Value};

/// One person on an organization's roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    pub patient_id: PatientId,
    pub grade: Option<String>,
    /// The school year (starting calendar year) the grade is for.
    pub school_year: Option<i64>,
    pub added_at: i64,
}

/// An exemption to file.
#[derive(Debug, Clone)]
pub struct NewSchoolExemption<'a> {
    pub organization_id: OrganizationId,
    pub patient_id: PatientId,
    /// "medical" | "religious" | "waiver".
    pub kind: &'a str,
    /// Group keys covered; empty = every vaccine.
    pub vaccine_groups: &'a [String],
    pub signed: NaiveDate,
    pub school_year: Option<i64>,
    pub expires: Option<NaiveDate>,
    pub filed_by: &'a str,
}

/// A filed exemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolExemptionRecord {
    pub id: i64,
    pub organization_id: OrganizationId,
    pub patient_id: PatientId,
    pub kind: String,
    pub vaccine_groups: Vec<String>,
    pub signed: NaiveDate,
    pub school_year: Option<i64>,
    pub expires: Option<NaiveDate>,
    pub filed_by: String,
    pub filed_at: i64,
    pub withdrawn_at: Option<i64>,
}

fn int(row: &[Value], i: usize) -> i64 {
    row.get(i).and_then(Value::as_i64).unwrap_or(0)
}

fn opt_int(row: &[Value], i: usize) -> Option<i64> {
    row.get(i).and_then(Value::as_i64)
}

fn text(row: &mut [Value], i: usize) -> Option<String> {
    row.get_mut(i)
        .map(|v| std::mem::replace(v, Value::Null))
        .and_then(Value::into_string)
}

fn date(s: Option<String>) -> Option<NaiveDate> {
    s.and_then(|s| crate::tx::parse_iso_date(&s))
}

const EXEMPTION_COLUMNS: &str = "id, organization_id, patient_id, kind, vaccine_groups, signed_date, school_year, expires, filed_by, filed_at, withdrawn_at";

fn exemption_row(mut r: Vec<Value>) -> Result<SchoolExemptionRecord> {
    let signed = date(text(&mut r, 5))
        .ok_or_else(|| StoreError::Corrupt("school exemption without a signed date".into()))?;
    Ok(SchoolExemptionRecord {
        id: int(&r, 0),
        organization_id: OrganizationId(int(&r, 1)),
        patient_id: PatientId(int(&r, 2)),
        kind: text(&mut r, 3).unwrap_or_default(),
        vaccine_groups: text(&mut r, 4)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
        signed,
        school_year: opt_int(&r, 6),
        expires: date(text(&mut r, 7)),
        filed_by: text(&mut r, 8).unwrap_or_default(),
        filed_at: int(&r, 9),
        withdrawn_at: opt_int(&r, 10),
    })
}

impl Tx<'_> {
    /// Puts a person on a roster (if not yet) and sets the grade and school
    /// year of the entry.
    pub fn set_roster_grade(
        &mut self,
        org: OrganizationId,
        patient: PatientId,
        grade: Option<&str>,
        school_year: Option<i64>,
    ) -> Result<()> {
        self.add_roster(org, patient)?;
        self.conn.execute(
            "UPDATE roster SET grade = $1, school_year = $2 WHERE organization_id = $3 AND patient_id = $4",
            &[
                grade.into(),
                school_year.into(),
                Value::Int(org.0),
                Value::Int(patient.0),
            ],
        )?;
        Ok(())
    }

    /// An organization's roster, by patient id.
    pub fn roster(&mut self, org: OrganizationId) -> Result<Vec<RosterEntry>> {
        let rows = self.conn.query(
            "SELECT patient_id, grade, school_year, added_at FROM roster WHERE organization_id = $1 ORDER BY patient_id",
            &[Value::Int(org.0)],
        )?;
        Ok(rows
            .into_iter()
            .map(|mut r| RosterEntry {
                patient_id: PatientId(int(&r, 0)),
                grade: text(&mut r, 1),
                school_year: opt_int(&r, 2),
                added_at: int(&r, 3),
            })
            .collect())
    }

    pub fn insert_school_exemption(&mut self, e: &NewSchoolExemption<'_>) -> Result<i64> {
        let rows = self.conn.query(
            "INSERT INTO school_exemption (organization_id, patient_id, kind, vaccine_groups, signed_date, school_year, expires, filed_by, filed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            &[
                Value::Int(e.organization_id.0),
                Value::Int(e.patient_id.0),
                e.kind.into(),
                Value::Text(e.vaccine_groups.join(",")),
                crate::tx::date_text(Some(e.signed)),
                e.school_year.into(),
                crate::tx::date_text(e.expires),
                e.filed_by.into(),
                Value::Int(now_millis()),
            ],
        )?;
        rows.first()
            .and_then(|r| r.first())
            .and_then(Value::as_i64)
            .ok_or_else(|| StoreError::Corrupt("insert returned no id".into()))
    }

    /// The exemptions an organization filed that are not withdrawn, by
    /// patient then filing order.
    pub fn school_exemptions(&mut self, org: OrganizationId) -> Result<Vec<SchoolExemptionRecord>> {
        let sql = format!(
            "SELECT {EXEMPTION_COLUMNS} FROM school_exemption \
             WHERE organization_id = $1 AND withdrawn_at IS NULL ORDER BY patient_id, id"
        );
        let rows = self.conn.query(&sql, &[Value::Int(org.0)])?;
        rows.into_iter().map(exemption_row).collect()
    }

    /// One exemption by id (withdrawn or not).
    pub fn school_exemption(&mut self, id: i64) -> Result<Option<SchoolExemptionRecord>> {
        let sql = format!("SELECT {EXEMPTION_COLUMNS} FROM school_exemption WHERE id = $1");
        let mut rows = self.conn.query(&sql, &[Value::Int(id)])?;
        rows.pop().map(exemption_row).transpose()
    }

    /// Marks an exemption withdrawn (it stays in the table).
    pub fn withdraw_school_exemption(&mut self, id: i64, by: &str) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE school_exemption SET withdrawn_at = $1, withdrawn_by = $2 WHERE id = $3 AND withdrawn_at IS NULL",
            &[Value::Int(now_millis()), by.into(), Value::Int(id)],
        )?;
        Ok(n > 0)
    }
}
