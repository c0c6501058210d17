-- Immunis schema v3 (SQLite): security. The objection to data sharing as a
-- history of consent events (105 CMR 222), audit anchors, human users, OAuth2
-- clients, rosters and jurisdictions (policy inputs), client certificates.
-- Patient-owned rows carry patient_id. Nothing is physically deleted.
CREATE TABLE consent_event (
    id              INTEGER PRIMARY KEY,
    patient_id      INTEGER NOT NULL,
    kind            TEXT NOT NULL,          -- 'objection_filed' | 'objection_withdrawn'
    effective_date  TEXT,                   -- date on the form / PD1-13
    form_received   TEXT,                   -- date the registry received the form
    recorded_by     TEXT NOT NULL,          -- the actor (user, submitter, facility)
    organization    TEXT,                   -- the actor's organization id
    source          TEXT NOT NULL,          -- 'hl7' | 'form'
    journal_id      INTEGER,
    recorded_at     INTEGER NOT NULL
);
CREATE INDEX consent_event_patient ON consent_event(patient_id, id);
CREATE TABLE audit_anchor (
    seq         INTEGER PRIMARY KEY,
    hash        TEXT NOT NULL,
    anchored_at INTEGER NOT NULL
);
CREATE TABLE app_user (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    organization_id INTEGER REFERENCES organization(id),
    role            TEXT NOT NULL,
    person_patient_id INTEGER,
    password_hash   TEXT NOT NULL,
    totp_secret     TEXT NOT NULL,
    totp_last_step  INTEGER NOT NULL DEFAULT 0,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER NOT NULL DEFAULT 0,
    disabled        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE TABLE oauth_client (
    id              INTEGER PRIMARY KEY,
    client_id       TEXT NOT NULL UNIQUE,
    organization_id INTEGER NOT NULL REFERENCES organization(id),
    role            TEXT NOT NULL,
    secret_hash     TEXT NOT NULL,
    disabled        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE TABLE roster (
    organization_id INTEGER NOT NULL,
    patient_id      INTEGER NOT NULL,
    added_at        INTEGER NOT NULL,
    PRIMARY KEY (organization_id, patient_id)
);
CREATE INDEX roster_patient ON roster(patient_id);
CREATE TABLE jurisdiction (
    organization_id INTEGER NOT NULL,
    kind            TEXT NOT NULL,          -- 'zip' | 'town'
    value           TEXT NOT NULL,
    PRIMARY KEY (organization_id, kind, value)
);
CREATE TABLE client_certificate (
    fingerprint     TEXT PRIMARY KEY,       -- SHA-256 of the DER certificate, hex
    facility_code   TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
-- Objections recorded before this schema lived only in the patient document
-- (PD1-12 = Y): carry each into the history so none is lost on upgrade.
INSERT INTO consent_event (patient_id, kind, effective_date, form_received, recorded_by, organization, source, journal_id, recorded_at)
    SELECT patient_id, 'objection_filed', NULL, NULL, 'migration 0003', NULL, 'hl7', NULL, updated_at
    FROM patient WHERE protected = 1 AND merged_into IS NULL;
