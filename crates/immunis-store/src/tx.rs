//! The typed operations of one transaction, written once over the [`Conn`]
//! seam so both backends run identical SQL.

use chrono::NaiveDate;
use immunis_model::{
    Facility, FacilityId, ObservationKind, Organization, OrganizationId, OrganizationKind, Patient,
    PatientId, PatientIdentifier, PatientObservation, VaccinationEvent, VaccinationId,
};
use sha2::{Digest, Sha256};

use crate::codec::{event_from_doc, event_to_doc, patient_from_doc, patient_to_doc};
use crate::{now_millis, Conn, Result, StoreError, Value};

/// One transaction. Obtained from [`crate::Store::write`] or [`crate::Store::read`].
pub struct Tx<'a> {
    pub(crate) conn: &'a mut dyn Conn,
    /// The audit chain head this transaction last wrote: a group commit
    /// appends many entries in one transaction, and only the first needs to
    /// read the head from the table (nothing else writes inside it).
    audit_head: Option<(i64, String)>,
    /// Read transactions only (SQLite's reader connections, which refuse
    /// writes): the people [`Tx::load_patient`] already decoded. A search
    /// loads the same person several times — the exact search, the matcher,
    /// the record read — and the snapshot cannot change under it (Z34:
    /// 5.3 loads per query, 54 k instructions each; `examples/z34_instr.rs`).
    patient_memo: Option<Vec<StoredPatient>>,
}

/// People kept by a read transaction's memo at most (a search touches a
/// handful; a scan over thousands should not keep them all).
const PATIENT_MEMO: usize = 64;

/// An inbound message as received, before it is processed.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    pub transport: String,
    pub facility_code: Option<String>,
    pub remote_addr: Option<String>,
    pub message_control_id: Option<String>,
    pub message_type: Option<String>,
    pub raw: Vec<u8>,
}

/// A journaled message with what was answered.
#[derive(Debug, Clone)]
pub struct JournalRecord {
    pub raw: Vec<u8>,
    pub response: Option<Vec<u8>>,
    pub outcome: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SubmitterCredential {
    pub username: String,
    pub facility: Facility,
    pub secret_hash: String,
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub struct StoredPatient {
    pub id: PatientId,
    pub version: i64,
    pub patient: Patient,
    pub merged_into: Option<PatientId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Active,
    /// Replaced by a later version (RXA-21 U); kept for history.
    Superseded,
    /// Deleted by its source (RXA-21 D); kept for history.
    Deleted,
}

impl EventStatus {
    fn as_str(self) -> &'static str {
        match self {
            EventStatus::Active => "active",
            EventStatus::Superseded => "superseded",
            EventStatus::Deleted => "deleted",
        }
    }
    fn parse(s: &str) -> EventStatus {
        match s {
            "superseded" => EventStatus::Superseded,
            "deleted" => EventStatus::Deleted,
            _ => EventStatus::Active,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewEvent<'e> {
    pub patient_id: PatientId,
    pub facility_code: &'e str,
    pub event: &'e VaccinationEvent,
    pub supersedes: Option<VaccinationId>,
    pub journal_id: Option<i64>,
    /// `event`'s stored document ([`crate::event_to_doc`]) when the caller
    /// encoded it already (ingest does, before its job reaches the writer).
    pub doc: Option<&'e str>,
}

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: VaccinationId,
    pub patient_id: PatientId,
    pub facility_code: String,
    pub status: EventStatus,
    pub supersedes: Option<VaccinationId>,
    pub recorded_at: i64,
    pub event: VaccinationEvent,
}

#[derive(Debug, Clone)]
pub struct StoredObservation {
    pub id: i64,
    pub patient_id: PatientId,
    pub facility_code: String,
    pub observation: PatientObservation,
}

/// What to record about one access or change (CDSi-free, HL7-free).
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    pub actor: String,
    pub organization: Option<String>,
    pub role: String,
    pub purpose: String,
    pub client_addr: Option<String>,
    pub action: String,
    pub patient_ids: Vec<PatientId>,
    pub outcome: String,
    pub detail: Option<String>,
}

/// A stored, chained audit record.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// Uppercase letters and digits only: the key the conservative matcher and
/// the name indexes use ("O'Brien-Smith" → "OBRIENSMITH").
pub fn name_key(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The audit chain's hash of a record: SHA-256 over the previous hash and the
/// record's fields, length-prefixed so no two records encode alike.
pub fn audit_hash(prev: &str, seq: i64, at: i64, e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    let ids: Vec<String> = e.patient_ids.iter().map(|p| p.0.to_string()).collect();
    let fields: [&str; 10] = [
        prev,
        &e.actor,
        e.organization.as_deref().unwrap_or(""),
        &e.role,
        &e.purpose,
        e.client_addr.as_deref().unwrap_or(""),
        &e.action,
        &ids.join(","),
        &e.outcome,
        e.detail.as_deref().unwrap_or(""),
    ];
    h.update(seq.to_be_bytes());
    h.update(at.to_be_bytes());
    for f in fields {
        h.update((f.len() as u64).to_be_bytes());
        h.update(f.as_bytes());
    }
    hex::encode(h.finalize())
}

pub(crate) fn text(row: &mut [Value], i: usize) -> String {
    row.get_mut(i)
        .map(take)
        .and_then(Value::into_string)
        .unwrap_or_default()
}
pub(crate) fn opt_text(row: &mut [Value], i: usize) -> Option<String> {
    row.get_mut(i).map(take).and_then(Value::into_string)
}
pub(crate) fn int(row: &[Value], i: usize) -> i64 {
    row.get(i).and_then(Value::as_i64).unwrap_or(0)
}
pub(crate) fn opt_int(row: &[Value], i: usize) -> Option<i64> {
    row.get(i).and_then(Value::as_i64)
}

/// The patient ids in the first column of `rows` (NULLs skipped).
pub(crate) fn patient_ids(rows: &[Vec<Value>]) -> Vec<PatientId> {
    rows.iter()
        .filter_map(|r| opt_int(r, 0))
        .map(PatientId)
        .collect()
}

/// Takes a column out of a row without cloning it.
fn take(v: &mut Value) -> Value {
    std::mem::replace(v, Value::Null)
}

pub(crate) fn date_text(d: Option<NaiveDate>) -> Value {
    d.map_or(Value::Null, |d| Value::Text(iso_date(d)))
}

/// `YYYY-MM-DD`, as chrono's `%Y-%m-%d` writes it, without its format
/// interpreter (dates are written and read on every ingest).
pub(crate) fn iso_date(d: NaiveDate) -> String {
    use chrono::Datelike;
    let (y, m, day) = (d.year(), d.month(), d.day());
    if !(0..=9999).contains(&y) {
        return d.format("%Y-%m-%d").to_string();
    }
    let digits = [
        y / 1000,
        y / 100 % 10,
        y / 10 % 10,
        y % 10,
        -1,
        (m / 10) as i32,
        (m % 10) as i32,
        -1,
        (day / 10) as i32,
        (day % 10) as i32,
    ];
    digits
        .iter()
        .map(|&v| match u8::try_from(v) {
            Ok(v) => char::from(b'0' + v),
            Err(_) => '-',
        })
        .collect()
}

/// Reads what [`iso_date`] (or chrono's `%Y-%m-%d`) wrote.
pub(crate) fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let y = i32::try_from(num(0..4)?).ok()?;
        return NaiveDate::from_ymd_opt(y, num(5..7)?, num(8..10)?);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

impl<'a> Tx<'a> {
    pub fn new(conn: &'a mut dyn Conn) -> Tx<'a> {
        Tx {
            conn,
            audit_head: None,
            patient_memo: None,
        }
    }

    /// A transaction on a connection that cannot write: decoded people are
    /// remembered for its duration.
    pub fn new_read(conn: &'a mut dyn Conn) -> Tx<'a> {
        Tx {
            conn,
            audit_head: None,
            patient_memo: Some(Vec::new()),
        }
    }

    /// A write whose row count is not needed: the backend may pipeline it
    /// with the next statement (see [`Conn::execute_deferred`]).
    pub(crate) fn defer(&mut self, sql: &str, params: Vec<Value>) -> Result<()> {
        self.conn.execute_deferred(sql, params)
    }

    pub(crate) fn insert_returning(&mut self, sql: &str, params: &[Value]) -> Result<i64> {
        let rows = self.conn.query(sql, params)?;
        rows.first()
            .and_then(|r| r.first())
            .and_then(Value::as_i64)
            .ok_or_else(|| StoreError::Corrupt("insert returned no id".into()))
    }

    // ---- message journal -------------------------------------------------

    /// Records an inbound message verbatim; returns its journal id.
    pub fn journal_insert(&mut self, j: &JournalEntry) -> Result<i64> {
        self.insert_returning(
            "INSERT INTO message_journal (received_at, transport, facility_code, remote_addr, message_control_id, message_type, raw) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                Value::Int(now_millis()),
                Value::Text(j.transport.clone()),
                j.facility_code.clone().into(),
                j.remote_addr.clone().into(),
                j.message_control_id.clone().into(),
                j.message_type.clone().into(),
                Value::Blob(j.raw.clone()),
            ],
        )
    }

    /// Stores the response sent for a journaled message.
    pub fn journal_respond(
        &mut self,
        id: i64,
        response: &[u8],
        outcome: &str,
        patient: Option<PatientId>,
    ) -> Result<()> {
        self.defer(
            "UPDATE message_journal SET response = $1, outcome = $2, patient_id = $3 WHERE id = $4",
            vec![
                Value::Blob(response.to_vec()),
                Value::Text(outcome.to_string()),
                patient.map(|p| p.0).into(),
                Value::Int(id),
            ],
        )
    }

    /// One journal entry with its response.
    pub fn journal_get(&mut self, id: i64) -> Result<Option<JournalRecord>> {
        let mut rows = self.conn.query(
            "SELECT raw, response, outcome FROM message_journal WHERE id = $1",
            &[Value::Int(id)],
        )?;
        Ok(rows.pop().map(|mut r| {
            let outcome = opt_text(&mut r, 2);
            let response = r.get_mut(1).map(take).and_then(Value::into_bytes);
            let raw = r
                .get_mut(0)
                .map(take)
                .and_then(Value::into_bytes)
                .unwrap_or_default();
            JournalRecord {
                raw,
                response,
                outcome,
            }
        }))
    }

    /// Count of journal entries by outcome (`None` = not yet answered).
    pub fn journal_outcomes(&mut self) -> Result<Vec<(Option<String>, i64)>> {
        let rows = self.conn.query(
            "SELECT outcome, COUNT(*) FROM message_journal GROUP BY outcome ORDER BY outcome",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|mut r| (opt_text(&mut r, 0), int(&r, 1)))
            .collect())
    }

    // ---- organizations, facilities, submitter credentials ----------------

    pub fn insert_organization(
        &mut self,
        name: &str,
        kind: OrganizationKind,
    ) -> Result<OrganizationId> {
        self.insert_returning(
            "INSERT INTO organization (name, kind, created_at) VALUES ($1, $2, $3) RETURNING id",
            &[name.into(), kind.as_str().into(), Value::Int(now_millis())],
        )
        .map(OrganizationId)
    }

    pub fn find_organization_by_name(&mut self, name: &str) -> Result<Option<Organization>> {
        let mut rows = self.conn.query(
            "SELECT id, name, kind FROM organization WHERE name = $1 ORDER BY id LIMIT 1",
            &[name.into()],
        )?;
        rows.pop().map(|mut r| organization_row(&mut r)).transpose()
    }

    pub fn insert_facility(
        &mut self,
        org: OrganizationId,
        code: &str,
        name: &str,
    ) -> Result<FacilityId> {
        self.insert_returning(
            "INSERT INTO facility (organization_id, code, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            &[Value::Int(org.0), code.into(), name.into(), Value::Int(now_millis())],
        )
        .map(FacilityId)
    }

    pub fn find_facility(&mut self, code: &str) -> Result<Option<Facility>> {
        let mut rows = self.conn.query(
            "SELECT id, organization_id, code, name FROM facility WHERE code = $1",
            &[code.into()],
        )?;
        Ok(rows.pop().map(|mut r| Facility {
            id: FacilityId(int(&r, 0)),
            organization_id: OrganizationId(int(&r, 1)),
            code: text(&mut r, 2),
            name: text(&mut r, 3),
        }))
    }

    pub fn list_facilities(&mut self) -> Result<Vec<(Facility, Organization)>> {
        let rows = self.conn.query(
            "SELECT f.id, f.organization_id, f.code, f.name, o.name, o.kind FROM facility f \
             JOIN organization o ON o.id = f.organization_id ORDER BY f.code",
            &[],
        )?;
        rows.into_iter()
            .map(|mut r| {
                let f = Facility {
                    id: FacilityId(int(&r, 0)),
                    organization_id: OrganizationId(int(&r, 1)),
                    code: text(&mut r, 2),
                    name: text(&mut r, 3),
                };
                let o = Organization {
                    id: f.organization_id,
                    name: text(&mut r, 4),
                    kind: organization_kind(f.organization_id, &text(&mut r, 5))?,
                };
                Ok((f, o))
            })
            .collect()
    }

    pub fn insert_credential(
        &mut self,
        facility: FacilityId,
        username: &str,
        secret_hash: &str,
    ) -> Result<()> {
        let existing = self.conn.query(
            "SELECT id FROM submitter_credential WHERE username = $1",
            &[username.into()],
        )?;
        if !existing.is_empty() {
            return Err(StoreError::Conflict(format!(
                "username {username:?} already exists"
            )));
        }
        self.conn.execute(
            "INSERT INTO submitter_credential (facility_id, username, secret_hash, created_at) VALUES ($1, $2, $3, $4)",
            &[Value::Int(facility.0), username.into(), secret_hash.into(), Value::Int(now_millis())],
        )?;
        Ok(())
    }

    pub fn find_credential(&mut self, username: &str) -> Result<Option<SubmitterCredential>> {
        let mut rows = self.conn.query(
            "SELECT c.username, c.secret_hash, c.disabled, f.id, f.organization_id, f.code, f.name \
             FROM submitter_credential c JOIN facility f ON f.id = c.facility_id WHERE c.username = $1",
            &[username.into()],
        )?;
        Ok(rows.pop().map(|mut r| SubmitterCredential {
            username: text(&mut r, 0),
            secret_hash: text(&mut r, 1),
            disabled: int(&r, 2) != 0,
            facility: Facility {
                id: FacilityId(int(&r, 3)),
                organization_id: OrganizationId(int(&r, 4)),
                code: text(&mut r, 5),
                name: text(&mut r, 6),
            },
        }))
    }

    // ---- patients ---------------------------------------------------------

    fn patient_keys(p: &Patient) -> (String, String) {
        let n = p.legal_name();
        (name_key(&n.family), name_key(&n.given))
    }

    /// Creates a person; returns the new registry id. Version 1 is kept in history.
    pub fn insert_patient(&mut self, p: &Patient, journal_id: Option<i64>) -> Result<PatientId> {
        let doc = patient_to_doc(p);
        let (fk, gk) = Self::patient_keys(p);
        let now = now_millis();
        let id = PatientId(self.insert_returning(
            "INSERT INTO patient (version, created_at, updated_at, birth_date, sex, family_key, given_key, protected, doc) \
             VALUES (1, $1, $1, $2, $3, $4, $5, $6, $7) RETURNING patient_id",
            &[
                Value::Int(now),
                date_text(Some(p.birth_date.0)),
                p.sex.hl7().into(),
                fk.into(),
                gk.into(),
                Value::Int(i64::from(p.protection.as_ref().is_some_and(|d| d.value))),
                Value::Text(doc.clone()),
            ],
        )?);
        self.defer(
            "INSERT INTO patient_version (patient_id, version, recorded_at, journal_id, doc) VALUES ($1, 1, $2, $3, $4)",
            vec![Value::Int(id.0), Value::Int(now), journal_id.into(), Value::Text(doc)],
        )?;
        self.index_identifiers(id, &p.identifiers)?;
        Ok(id)
    }

    fn index_identifiers(&mut self, id: PatientId, ids: &[PatientIdentifier]) -> Result<()> {
        for i in ids.iter().filter(|i| !i.value.is_empty()) {
            self.defer(
                "INSERT INTO patient_identifier (patient_id, id_value, authority, id_type) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                vec![
                    Value::Int(id.0),
                    i.value.as_str().into(),
                    i.assigning_authority.as_str().into(),
                    i.id_type.as_str().into(),
                ],
            )?;
        }
        Ok(())
    }

    /// Replaces a person's current demographics with a new version; every
    /// earlier version stays in `patient_version`.
    pub fn update_patient(
        &mut self,
        id: PatientId,
        p: &Patient,
        journal_id: Option<i64>,
    ) -> Result<i64> {
        let doc = patient_to_doc(p);
        let (fk, gk) = Self::patient_keys(p);
        let now = now_millis();
        let rows = self.conn.query(
            "UPDATE patient SET version = version + 1, updated_at = $1, birth_date = $2, sex = $3, family_key = $4, \
             given_key = $5, protected = $6, doc = $7 WHERE patient_id = $8 RETURNING version",
            &[
                Value::Int(now),
                date_text(Some(p.birth_date.0)),
                p.sex.hl7().into(),
                fk.into(),
                gk.into(),
                Value::Int(i64::from(p.protection.as_ref().is_some_and(|d| d.value))),
                Value::Text(doc.clone()),
                Value::Int(id.0),
            ],
        )?;
        let version = rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_i64)
            .ok_or(StoreError::NotFound("patient"))?;
        self.defer(
            "INSERT INTO patient_version (patient_id, version, recorded_at, journal_id, doc) VALUES ($1, $2, $3, $4, $5)",
            vec![Value::Int(id.0), Value::Int(version), Value::Int(now), journal_id.into(), Value::Text(doc)],
        )?;
        self.index_identifiers(id, &p.identifiers)?;
        Ok(version)
    }

    pub fn load_patient(&mut self, id: PatientId) -> Result<Option<StoredPatient>> {
        if let Some(hit) = self
            .patient_memo
            .as_ref()
            .and_then(|m| m.iter().find(|p| p.id == id))
        {
            return Ok(Some(hit.clone()));
        }
        let mut rows = self.conn.query(
            "SELECT patient_id, version, merged_into, doc FROM patient WHERE patient_id = $1",
            &[Value::Int(id.0)],
        )?;
        let Some(mut r) = rows.pop() else {
            return Ok(None);
        };
        let stored = StoredPatient {
            id: PatientId(int(&r, 0)),
            version: int(&r, 1),
            merged_into: opt_int(&r, 2).map(PatientId),
            patient: patient_from_doc(&text(&mut r, 3))?,
        };
        if let Some(memo) = self.patient_memo.as_mut() {
            if memo.len() < PATIENT_MEMO {
                memo.push(stored.clone());
            }
        }
        Ok(Some(stored))
    }

    /// Versions of a person's demographics, oldest first: (version, recorded_at, patient).
    pub fn patient_versions(&mut self, id: PatientId) -> Result<Vec<(i64, i64, Patient)>> {
        let rows = self.conn.query(
            "SELECT version, recorded_at, doc FROM patient_version WHERE patient_id = $1 ORDER BY version",
            &[Value::Int(id.0)],
        )?;
        rows.into_iter()
            .map(|mut r| Ok((int(&r, 0), int(&r, 1), patient_from_doc(&text(&mut r, 2))?)))
            .collect()
    }

    /// People holding this identifier from this assigning authority (and type,
    /// when given).
    pub fn find_by_identifier(&mut self, id: &PatientIdentifier) -> Result<Vec<PatientId>> {
        let rows = if id.id_type.is_empty() {
            self.conn.query(
                "SELECT DISTINCT patient_id FROM patient_identifier WHERE id_value = $1 AND authority = $2",
                &[id.value.as_str().into(), id.assigning_authority.as_str().into()],
            )?
        } else {
            self.conn.query(
                "SELECT patient_id FROM patient_identifier WHERE id_value = $1 AND authority = $2 AND id_type = $3",
                &[id.value.as_str().into(), id.assigning_authority.as_str().into(), id.id_type.as_str().into()],
            )?
        };
        Ok(patient_ids(&rows))
    }

    /// People with this family-name key and birth date (not merged away).
    pub fn find_by_family_and_birth(
        &mut self,
        family_key: &str,
        birth: NaiveDate,
    ) -> Result<Vec<PatientId>> {
        let rows = self.conn.query(
            "SELECT patient_id FROM patient WHERE family_key = $1 AND birth_date = $2 AND merged_into IS NULL LIMIT 200",
            &[family_key.into(), date_text(Some(birth))],
        )?;
        Ok(patient_ids(&rows))
    }

    /// People born on this date whose given-name key matches (not merged away).
    pub fn find_by_birth_and_given(
        &mut self,
        birth: NaiveDate,
        given_key: &str,
    ) -> Result<Vec<PatientId>> {
        let rows = self.conn.query(
            "SELECT patient_id FROM patient WHERE birth_date = $1 AND given_key = $2 AND merged_into IS NULL LIMIT 200",
            &[date_text(Some(birth)), given_key.into()],
        )?;
        Ok(patient_ids(&rows))
    }

    pub fn count_patients(&mut self) -> Result<i64> {
        let rows = self.conn.query("SELECT COUNT(*) FROM patient", &[])?;
        Ok(rows.first().map(|r| int(r, 0)).unwrap_or(0))
    }

    // ---- vaccination events ---------------------------------------------

    pub fn insert_event(&mut self, e: &NewEvent<'_>) -> Result<VaccinationId> {
        self.insert_returning(
            "INSERT INTO vaccination_event (patient_id, facility_code, filler_order_number, administered_date, cvx, \
             completion, information_source, status, supersedes, journal_id, recorded_at, doc) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10, $11) RETURNING event_id",
            &Self::event_params(e),
        )
        .map(VaccinationId)
    }

    /// [`Tx::insert_event`] when the new id is not needed (the ingest path):
    /// the backend may pipeline the insert with the next statement.
    pub fn add_event(&mut self, e: &NewEvent<'_>) -> Result<()> {
        self.defer(
            "INSERT INTO vaccination_event (patient_id, facility_code, filler_order_number, administered_date, cvx, \
             completion, information_source, status, supersedes, journal_id, recorded_at, doc) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10, $11)",
            Self::event_params(e),
        )
    }

    fn event_params(e: &NewEvent<'_>) -> Vec<Value> {
        let ev = e.event;
        vec![
            Value::Int(e.patient_id.0),
            e.facility_code.into(),
            ev.filler_order_number.clone().into(),
            date_text(ev.administered_date),
            ev.cvx.as_ref().map(|c| c.as_str().to_string()).into(),
            ev.completion.hl7().into(),
            ev.information_source.nip001().into(),
            e.supersedes.map(|v| v.0).into(),
            e.journal_id.into(),
            Value::Int(now_millis()),
            Value::Text(e.doc.map_or_else(|| event_to_doc(ev), str::to_owned)),
        ]
    }

    pub fn set_event_status(&mut self, id: VaccinationId, status: EventStatus) -> Result<()> {
        self.defer(
            "UPDATE vaccination_event SET status = $1 WHERE event_id = $2",
            vec![status.as_str().into(), Value::Int(id.0)],
        )
    }

    fn events_from_rows(rows: Vec<Vec<Value>>) -> Result<Vec<StoredEvent>> {
        rows.into_iter()
            .map(|mut r| {
                Ok(StoredEvent {
                    id: VaccinationId(int(&r, 0)),
                    patient_id: PatientId(int(&r, 1)),
                    facility_code: text(&mut r, 2),
                    status: EventStatus::parse(&text(&mut r, 3)),
                    supersedes: opt_int(&r, 4).map(VaccinationId),
                    recorded_at: int(&r, 5),
                    event: event_from_doc(&text(&mut r, 6))?,
                })
            })
            .collect()
    }

    /// The active event a source reported under this filler order number.
    pub fn find_event_by_source(
        &mut self,
        facility_code: &str,
        filler: &str,
    ) -> Result<Option<StoredEvent>> {
        let rows = self.conn.query(
            "SELECT event_id, patient_id, facility_code, status, supersedes, recorded_at, doc FROM vaccination_event \
             WHERE facility_code = $1 AND filler_order_number = $2 AND status = 'active' ORDER BY event_id DESC LIMIT 1",
            &[facility_code.into(), filler.into()],
        )?;
        Ok(Self::events_from_rows(rows)?.pop())
    }

    /// The active event a source reported under this filler order number, as
    /// its id, owner and stored document (no decoding: the ingest hot path compares
    /// documents as text, see [`crate::event_to_doc`]).
    pub fn find_event_doc_by_source(
        &mut self,
        facility_code: &str,
        filler: &str,
    ) -> Result<Option<(VaccinationId, PatientId, String)>> {
        let mut rows = self.conn.query(
            "SELECT event_id, patient_id, doc FROM vaccination_event \
             WHERE facility_code = $1 AND filler_order_number = $2 AND status = 'active' ORDER BY event_id DESC LIMIT 1",
            &[facility_code.into(), filler.into()],
        )?;
        Ok(rows.pop().map(|mut r| {
            (
                VaccinationId(int(&r, 0)),
                PatientId(int(&r, 1)),
                text(&mut r, 2),
            )
        }))
    }

    /// A person's shot history as the matcher uses it: (administered date,
    /// CVX) of every active, complete, dated and coded event, read from the
    /// indexed columns (which `insert_event` writes from the same event as
    /// the document) without decoding documents. Sorted, duplicates removed.
    pub fn load_shots(&mut self, patient: PatientId) -> Result<Vec<(NaiveDate, String)>> {
        let rows = self.conn.query(
            "SELECT administered_date, cvx FROM vaccination_event \
             WHERE patient_id = $1 AND status = 'active' AND completion = 'CP' \
             AND administered_date IS NOT NULL AND cvx IS NOT NULL",
            &[Value::Int(patient.0)],
        )?;
        let mut out: Vec<(NaiveDate, String)> = rows
            .into_iter()
            .filter_map(|mut r| {
                let date = parse_iso_date(&text(&mut r, 0))?;
                Some((date, text(&mut r, 1)))
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Active events a source reported for this person on this date with
    /// this CVX (the candidates for a re-send of a dose that has no usable
    /// ORC-3), decoded.
    pub fn find_active_events_like(
        &mut self,
        patient: PatientId,
        facility_code: &str,
        ev: &VaccinationEvent,
    ) -> Result<Vec<StoredEvent>> {
        let rows = self.conn.query(
            "SELECT event_id, patient_id, facility_code, status, supersedes, recorded_at, doc FROM vaccination_event \
             WHERE patient_id = $1 AND facility_code = $2 AND status = 'active' \
             AND administered_date IS NOT DISTINCT FROM $3 AND cvx IS NOT DISTINCT FROM $4 ORDER BY event_id",
            &[
                Value::Int(patient.0),
                facility_code.into(),
                date_text(ev.administered_date),
                ev.cvx.as_ref().map(|c| c.as_str().to_string()).into(),
            ],
        )?;
        Self::events_from_rows(rows)
    }

    /// Every event of a person, all statuses, oldest first.
    pub fn load_events(&mut self, patient: PatientId) -> Result<Vec<StoredEvent>> {
        let rows = self.conn.query(
            "SELECT event_id, patient_id, facility_code, status, supersedes, recorded_at, doc FROM vaccination_event \
             WHERE patient_id = $1 ORDER BY event_id",
            &[Value::Int(patient.0)],
        )?;
        Self::events_from_rows(rows)
    }

    pub fn count_events(&mut self) -> Result<i64> {
        let rows = self
            .conn
            .query("SELECT COUNT(*) FROM vaccination_event", &[])?;
        Ok(rows.first().map(|r| int(r, 0)).unwrap_or(0))
    }

    // ---- patient observations --------------------------------------------

    pub fn insert_observation(
        &mut self,
        patient: PatientId,
        facility_code: &str,
        o: &PatientObservation,
        journal_id: Option<i64>,
    ) -> Result<i64> {
        self.insert_returning(
            "INSERT INTO patient_observation (patient_id, kind, code, code_system, observed_on, facility_code, status, journal_id, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8) RETURNING observation_id",
            &[
                Value::Int(patient.0),
                o.kind.as_str().into(),
                o.value.code.as_str().into(),
                o.value.system.clone().into(),
                date_text(o.date),
                facility_code.into(),
                journal_id.into(),
                Value::Int(now_millis()),
            ],
        )
    }

    pub fn load_observations(&mut self, patient: PatientId) -> Result<Vec<StoredObservation>> {
        let rows = self.conn.query(
            "SELECT observation_id, patient_id, kind, code, code_system, observed_on, facility_code FROM patient_observation \
             WHERE patient_id = $1 AND status = 'active' ORDER BY observation_id",
            &[Value::Int(patient.0)],
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|mut r| {
                let kind = ObservationKind::parse(&text(&mut r, 2))?;
                let date = opt_text(&mut r, 5).and_then(|d| parse_iso_date(&d));
                Some(StoredObservation {
                    id: int(&r, 0),
                    patient_id: PatientId(int(&r, 1)),
                    observation: PatientObservation {
                        kind,
                        value: immunis_model::Code {
                            code: text(&mut r, 3),
                            text: None,
                            system: opt_text(&mut r, 4),
                        },
                        date,
                    },
                    facility_code: text(&mut r, 6),
                })
            })
            .collect())
    }

    // ---- audit trail --------------------------------------------------------

    /// Appends to the hash-chained audit trail. Only the single writer appends,
    /// so the chain is linear.
    pub fn append_audit(&mut self, e: &AuditEntry) -> Result<i64> {
        self.append_audit_at(e, now_millis())
    }

    /// [`Tx::append_audit`] for an access that happened at `at` (milliseconds
    /// since the epoch) and was made durable elsewhere first (the audit spool).
    pub fn append_audit_at(&mut self, e: &AuditEntry, at: i64) -> Result<i64> {
        let (prev_seq, prev_hash) = match self.audit_head.take() {
            Some(head) => head,
            None => {
                let mut last = self.conn.query(
                    "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                    &[],
                )?;
                match last.pop() {
                    Some(mut r) => (int(&r, 0), text(&mut r, 1)),
                    None => (0, GENESIS.to_string()),
                }
            }
        };
        let seq = prev_seq + 1;
        let hash = audit_hash(&prev_hash, seq, at, e);
        let ids: Vec<String> = e.patient_ids.iter().map(|p| p.0.to_string()).collect();
        self.defer(
            "INSERT INTO audit_log (seq, at, actor, organization, role, purpose, client_addr, action, patient_ids, outcome, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            vec![
                Value::Int(seq),
                Value::Int(at),
                e.actor.as_str().into(),
                e.organization.clone().into(),
                e.role.as_str().into(),
                e.purpose.as_str().into(),
                e.client_addr.clone().into(),
                e.action.as_str().into(),
                Value::Text(ids.join(",")),
                e.outcome.as_str().into(),
                e.detail.clone().into(),
                Value::Text(prev_hash),
                Value::Text(hash.clone()),
            ],
        )?;
        self.audit_head = Some((seq, hash));
        Ok(seq)
    }

    /// Whether the audit spool file `name` was folded into the trail already.
    pub fn audit_spool_folded(&mut self, name: &str) -> Result<bool> {
        let rows = self.conn.query(
            "SELECT 1 FROM audit_spool_folded WHERE name = $1",
            &[Value::Text(name.to_string())],
        )?;
        Ok(!rows.is_empty())
    }

    /// Records that spool file `name` (with `entries` entries) is folded.
    pub fn mark_audit_spool_folded(&mut self, name: &str, entries: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO audit_spool_folded (name, folded_at, entries) VALUES ($1, $2, $3)",
            &[
                Value::Text(name.to_string()),
                Value::Int(now_millis()),
                Value::Int(entries),
            ],
        )?;
        Ok(())
    }

    /// The audit trail in order (from `after_seq`, at most `limit` records).
    pub fn audit_records(&mut self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        let rows = self.conn.query(
            "SELECT seq, at, actor, organization, role, purpose, client_addr, action, patient_ids, outcome, detail, prev_hash, hash \
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[Value::Int(after_seq), Value::Int(limit)],
        )?;
        Ok(rows
            .into_iter()
            .map(|mut r| {
                let ids = text(&mut r, 8);
                AuditRecord {
                    seq: int(&r, 0),
                    at: int(&r, 1),
                    entry: AuditEntry {
                        actor: text(&mut r, 2),
                        organization: opt_text(&mut r, 3),
                        role: text(&mut r, 4),
                        purpose: text(&mut r, 5),
                        client_addr: opt_text(&mut r, 6),
                        action: text(&mut r, 7),
                        patient_ids: ids
                            .split(',')
                            .filter_map(|s| s.parse().ok())
                            .map(PatientId)
                            .collect(),
                        outcome: text(&mut r, 9),
                        detail: opt_text(&mut r, 10),
                    },
                    prev_hash: text(&mut r, 11),
                    hash: text(&mut r, 12),
                }
            })
            .collect())
    }

    /// Raw statement access for tests that must tamper with stored data.
    pub fn execute_raw(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        self.conn.execute(sql, params)
    }
}

/// Re-walks the chain; returns the seq of the first bad record, if any.
pub fn verify_chain(
    records: &[AuditRecord],
    mut prev: String,
    mut prev_seq: i64,
) -> std::result::Result<(String, i64), (i64, String)> {
    for r in records {
        if r.seq != prev_seq + 1 {
            return Err((
                r.seq,
                format!("sequence gap: expected {}, found {}", prev_seq + 1, r.seq),
            ));
        }
        if r.prev_hash != prev {
            return Err((
                r.seq,
                "previous-hash link broken (record deleted, reordered or edited)".into(),
            ));
        }
        let h = audit_hash(&r.prev_hash, r.seq, r.at, &r.entry);
        if h != r.hash {
            return Err((
                r.seq,
                "record content does not match its hash (edited)".into(),
            ));
        }
        prev = r.hash.clone();
        prev_seq = r.seq;
    }
    Ok((prev, prev_seq))
}

/// The chain's starting hash.
pub fn genesis() -> String {
    GENESIS.to_string()
}

/// An organization from a row `id, name, kind`.
pub(crate) fn organization_row(r: &mut [Value]) -> Result<Organization> {
    let id = OrganizationId(int(r, 0));
    Ok(Organization {
        id,
        name: text(r, 1),
        kind: organization_kind(id, &text(r, 2))?,
    })
}

/// The kind of a stored organization. An unknown kind is corruption and
/// fails closed: the kind decides a user's role, so no default is safe.
pub(crate) fn organization_kind(id: OrganizationId, raw: &str) -> Result<OrganizationKind> {
    OrganizationKind::parse(raw).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "organization {} has the unknown kind {raw:?}",
            id.0
        ))
    })
}

#[cfg(test)]
mod date_tests {
    use super::{iso_date, parse_iso_date};
    use chrono::NaiveDate;

    #[test]
    fn iso_dates_round_trip_as_chrono_writes_them() {
        let mut d = NaiveDate::from_ymd_opt(1899, 12, 25).expect("date");
        let end = NaiveDate::from_ymd_opt(2031, 3, 1).expect("date");
        while d < end {
            let chrono = d.format("%Y-%m-%d").to_string();
            assert_eq!(iso_date(d), chrono);
            assert_eq!(parse_iso_date(&chrono), Some(d));
            d = d + chrono::Days::new(37);
        }
        for far in [
            NaiveDate::from_ymd_opt(12, 1, 9),
            NaiveDate::from_ymd_opt(10000, 1, 9),
            NaiveDate::from_ymd_opt(-3, 1, 9),
        ]
        .into_iter()
        .flatten()
        {
            assert_eq!(iso_date(far), far.format("%Y-%m-%d").to_string());
            assert_eq!(parse_iso_date(&iso_date(far)), Some(far));
        }
        for bad in [
            "",
            "2024-02-30",
            "2024-13-01",
            "2024-1-011",
            "20x4-01-01",
            "2024/01/01",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }
}
