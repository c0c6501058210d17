//! Operations for the provider web portal (schema v6): a facility's vaccine
//! lot inventory with recording defaults, the reasons given for hand edits
//! and deletions of doses, and a surname lookup for name-only searches.
//! Same SQL on both backends.

use chrono::NaiveDate;
use immunis_model::PatientId;

use crate::tx::{int, opt_int, opt_text, patient_ids, text};
use crate::{now_millis, Result, Tx, Value};

/// A lot a facility keeps on hand, with the defaults used when recording a
/// dose from it.
#[derive(Debug, Clone, PartialEq)]
pub struct FacilityLot {
    pub id: i64,
    pub facility_code: String,
    pub cvx: String,
    pub lot_number: String,
    pub mvx: Option<String>,
    pub expiration_date: Option<NaiveDate>,
    pub route: Option<String>,
    pub site: Option<String>,
    pub amount_ml: Option<String>,
    pub funding_source: Option<String>,
    pub active: bool,
}

/// A lot to add.
#[derive(Debug, Clone)]
pub struct NewLot<'a> {
    pub facility_code: &'a str,
    pub cvx: &'a str,
    pub lot_number: &'a str,
    pub mvx: Option<&'a str>,
    pub expiration_date: Option<NaiveDate>,
    pub route: Option<&'a str>,
    pub site: Option<&'a str>,
    pub amount_ml: Option<&'a str>,
    pub funding_source: Option<&'a str>,
    pub created_by: &'a str,
}

/// Why a person changed or deleted a dose (the event versions themselves
/// stay in `vaccination_event`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoseChange {
    pub id: i64,
    pub patient_id: PatientId,
    pub facility_code: String,
    pub source_id: String,
    /// `update` or `delete`.
    pub action: String,
    pub reason: String,
    pub actor: String,
    pub journal_id: Option<i64>,
    pub recorded_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewDoseChange<'a> {
    pub patient_id: PatientId,
    pub facility_code: &'a str,
    pub source_id: &'a str,
    pub action: &'a str,
    pub reason: &'a str,
    pub actor: &'a str,
    pub journal_id: Option<i64>,
}

fn lot_from_row(mut r: Vec<Value>) -> FacilityLot {
    FacilityLot {
        id: int(&r, 0),
        facility_code: text(&mut r, 1),
        cvx: text(&mut r, 2),
        lot_number: text(&mut r, 3),
        mvx: opt_text(&mut r, 4),
        expiration_date: opt_text(&mut r, 5).and_then(|s| crate::tx::parse_iso_date(&s)),
        route: opt_text(&mut r, 6),
        site: opt_text(&mut r, 7),
        amount_ml: opt_text(&mut r, 8),
        funding_source: opt_text(&mut r, 9),
        active: int(&r, 10) != 0,
    }
}

const LOT_COLUMNS: &str = "id, facility_code, cvx, lot_number, mvx, expiration_date, route, site, amount_ml, funding_source, active";

impl Tx<'_> {
    pub fn insert_lot(&mut self, l: &NewLot<'_>) -> Result<i64> {
        self.insert_returning(
            "INSERT INTO facility_lot (facility_code, cvx, lot_number, mvx, expiration_date, route, site, amount_ml, funding_source, active, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11) RETURNING id",
            &[
                l.facility_code.into(),
                l.cvx.into(),
                l.lot_number.into(),
                l.mvx.into(),
                crate::tx::date_text(l.expiration_date),
                l.route.into(),
                l.site.into(),
                l.amount_ml.into(),
                l.funding_source.into(),
                l.created_by.into(),
                Value::Int(now_millis()),
            ],
        )
    }

    /// The lots of these facilities (active ones only unless `all`), newest first.
    pub fn facility_lots(
        &mut self,
        facility_codes: &[String],
        all: bool,
    ) -> Result<Vec<FacilityLot>> {
        let mut out = Vec::new();
        for code in facility_codes {
            let sql = format!(
                "SELECT {LOT_COLUMNS} FROM facility_lot WHERE facility_code = $1{} ORDER BY id DESC",
                if all { "" } else { " AND active = 1" }
            );
            let rows = self.conn.query(&sql, &[code.as_str().into()])?;
            out.extend(rows.into_iter().map(lot_from_row));
        }
        Ok(out)
    }

    pub fn lot(&mut self, id: i64) -> Result<Option<FacilityLot>> {
        let sql = format!("SELECT {LOT_COLUMNS} FROM facility_lot WHERE id = $1");
        let rows = self.conn.query(&sql, &[Value::Int(id)])?;
        Ok(rows.into_iter().next().map(lot_from_row))
    }

    /// Takes a lot off (or back on) the list offered when recording; returns
    /// whether it exists.
    pub fn set_lot_active(&mut self, id: i64, active: bool) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE facility_lot SET active = $1 WHERE id = $2",
            &[Value::Int(i64::from(active)), Value::Int(id)],
        )?;
        Ok(n > 0)
    }

    pub fn insert_dose_change(&mut self, c: &NewDoseChange<'_>) -> Result<i64> {
        self.insert_returning(
            "INSERT INTO dose_change (patient_id, facility_code, source_id, action, reason, actor, journal_id, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                Value::Int(c.patient_id.0),
                c.facility_code.into(),
                c.source_id.into(),
                c.action.into(),
                c.reason.into(),
                c.actor.into(),
                c.journal_id.into(),
                Value::Int(now_millis()),
            ],
        )
    }

    /// The hand changes to a person's doses, oldest first.
    pub fn dose_changes(&mut self, patient: PatientId) -> Result<Vec<DoseChange>> {
        let rows = self.conn.query(
            "SELECT id, patient_id, facility_code, source_id, action, reason, actor, journal_id, recorded_at \
             FROM dose_change WHERE patient_id = $1 ORDER BY id",
            &[Value::Int(patient.0)],
        )?;
        Ok(rows
            .into_iter()
            .map(|mut r| DoseChange {
                id: int(&r, 0),
                patient_id: PatientId(int(&r, 1)),
                facility_code: text(&mut r, 2),
                source_id: text(&mut r, 3),
                action: text(&mut r, 4),
                reason: text(&mut r, 5),
                actor: text(&mut r, 6),
                journal_id: opt_int(&r, 7),
                recorded_at: int(&r, 8),
            })
            .collect())
    }

    /// People with this family-name key (any birth date), not merged away:
    /// the name-only search (uses the `(family_key, birth_date)` index).
    pub fn find_by_family(&mut self, family_key: &str, limit: i64) -> Result<Vec<PatientId>> {
        let rows = self.conn.query(
            "SELECT patient_id FROM patient WHERE family_key = $1 AND merged_into IS NULL LIMIT $2",
            &[family_key.into(), Value::Int(limit)],
        )?;
        Ok(patient_ids(&rows))
    }

    /// Records born on `birth` (merge survivors only), at most `limit`; uses
    /// the (birth date, given name) index's leading column.
    pub fn find_by_birth_date(&mut self, birth: NaiveDate, limit: i64) -> Result<Vec<PatientId>> {
        let rows = self.conn.query(
            "SELECT patient_id FROM patient WHERE birth_date = $1 AND merged_into IS NULL LIMIT $2",
            &[crate::tx::date_text(Some(birth)), Value::Int(limit)],
        )?;
        Ok(patient_ids(&rows))
    }

    /// People holding an identifier with this value, whatever its assigning
    /// authority or type (a nurse types an MRN or a state id without its
    /// namespace); uses the identifier primary key's leading column.
    pub fn find_by_identifier_value(&mut self, value: &str, limit: i64) -> Result<Vec<PatientId>> {
        let rows = self.conn.query(
            "SELECT DISTINCT patient_id FROM patient_identifier WHERE id_value = $1 LIMIT $2",
            &[value.into(), Value::Int(limit)],
        )?;
        Ok(patient_ids(&rows))
    }
}
