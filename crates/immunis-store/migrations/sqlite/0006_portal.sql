-- Immunis schema v6 (SQLite): the provider web portal. A facility's vaccine
-- lot inventory with its recording defaults, and the reasons given for each
-- change a person made to a dose by hand (edit / delete; the superseded and
-- deleted events themselves stay in vaccination_event). Nothing is deleted.
CREATE TABLE facility_lot (
    id              INTEGER PRIMARY KEY,
    facility_code   TEXT NOT NULL,
    cvx             TEXT NOT NULL,
    lot_number      TEXT NOT NULL,
    mvx             TEXT,
    expiration_date TEXT,
    route           TEXT,
    site            TEXT,
    amount_ml       TEXT,
    funding_source  TEXT,
    active          INTEGER NOT NULL DEFAULT 1,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX facility_lot_facility ON facility_lot(facility_code, active);
CREATE TABLE dose_change (
    id              INTEGER PRIMARY KEY,
    patient_id      INTEGER NOT NULL,
    facility_code   TEXT NOT NULL,
    source_id       TEXT NOT NULL,
    action          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    actor           TEXT NOT NULL,
    journal_id      INTEGER,
    recorded_at     INTEGER NOT NULL
);
CREATE INDEX dose_change_patient ON dose_change(patient_id, id);
