-- Immunis schema v1 (SQLite). Every patient-owned row carries patient_id, the
-- future distribution key. Nothing is physically deleted: rows change status.
CREATE TABLE organization (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE facility (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organization(id),
    code            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE TABLE submitter_credential (
    id            INTEGER PRIMARY KEY,
    facility_id   INTEGER NOT NULL REFERENCES facility(id),
    username      TEXT NOT NULL UNIQUE,
    secret_hash   TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE message_journal (
    id                  INTEGER PRIMARY KEY,
    received_at         INTEGER NOT NULL,
    transport           TEXT NOT NULL,
    facility_code       TEXT,
    remote_addr         TEXT,
    message_control_id  TEXT,
    message_type        TEXT,
    raw                 BLOB NOT NULL,
    response            BLOB,
    outcome             TEXT,
    patient_id          INTEGER
);
CREATE INDEX message_journal_control ON message_journal(facility_code, message_control_id);
CREATE TABLE patient (
    patient_id      INTEGER PRIMARY KEY,
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    birth_date      TEXT NOT NULL,
    sex             TEXT NOT NULL,
    family_key      TEXT NOT NULL,
    given_key       TEXT NOT NULL,
    protected       INTEGER NOT NULL DEFAULT 0,
    merged_into     INTEGER,
    doc             TEXT NOT NULL
);
CREATE INDEX patient_name_dob ON patient(family_key, birth_date);
CREATE INDEX patient_dob_given ON patient(birth_date, given_key);
CREATE TABLE patient_version (
    patient_id      INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    recorded_at     INTEGER NOT NULL,
    journal_id      INTEGER,
    doc             TEXT NOT NULL,
    PRIMARY KEY (patient_id, version)
) WITHOUT ROWID;
CREATE TABLE patient_identifier (
    patient_id  INTEGER NOT NULL,
    id_value    TEXT NOT NULL,
    authority   TEXT NOT NULL,
    id_type     TEXT NOT NULL,
    PRIMARY KEY (id_value, authority, id_type, patient_id)
) WITHOUT ROWID;
CREATE INDEX patient_identifier_patient ON patient_identifier(patient_id);
CREATE TABLE vaccination_event (
    event_id            INTEGER PRIMARY KEY,
    patient_id          INTEGER NOT NULL,
    facility_code       TEXT NOT NULL,
    filler_order_number TEXT,
    administered_date   TEXT,
    cvx                 TEXT,
    completion          TEXT NOT NULL,
    information_source  TEXT NOT NULL,
    status              TEXT NOT NULL,
    supersedes          INTEGER,
    journal_id          INTEGER,
    recorded_at         INTEGER NOT NULL,
    doc                 TEXT NOT NULL
);
CREATE INDEX vaccination_event_patient ON vaccination_event(patient_id);
CREATE INDEX vaccination_event_source ON vaccination_event(facility_code, filler_order_number);
CREATE TABLE patient_observation (
    observation_id  INTEGER PRIMARY KEY,
    patient_id      INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    code            TEXT NOT NULL,
    code_system     TEXT,
    observed_on     TEXT,
    facility_code   TEXT NOT NULL,
    status          TEXT NOT NULL,
    journal_id      INTEGER,
    recorded_at     INTEGER NOT NULL
);
CREATE INDEX patient_observation_patient ON patient_observation(patient_id);
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    organization TEXT,
    role         TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    client_addr  TEXT,
    action       TEXT NOT NULL,
    patient_ids  TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    detail       TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
