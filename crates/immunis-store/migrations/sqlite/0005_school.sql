-- School nurse view (issue 6): a roster entry's grade and school year, and the
-- exemptions school nurses file (kind, vaccines covered, dates, who filed).
-- Patient-owned rows carry patient_id. Nothing is physically deleted: an
-- exemption filed in error is withdrawn (withdrawn_at / withdrawn_by).
ALTER TABLE roster ADD COLUMN grade TEXT;
ALTER TABLE roster ADD COLUMN school_year INTEGER;
CREATE TABLE school_exemption (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL,
    patient_id      INTEGER NOT NULL,
    kind            TEXT NOT NULL,          -- 'medical' | 'religious' | 'waiver'
    vaccine_groups  TEXT NOT NULL,          -- comma-separated group keys; '' = every vaccine
    signed_date     TEXT NOT NULL,          -- YYYY-MM-DD
    school_year     INTEGER,                -- starting calendar year
    expires         TEXT,                   -- YYYY-MM-DD (temporary medical exemptions)
    filed_by        TEXT NOT NULL,          -- the actor
    filed_at        INTEGER NOT NULL,
    withdrawn_at    INTEGER,
    withdrawn_by    TEXT
);
CREATE INDEX school_exemption_org ON school_exemption(organization_id, patient_id);
CREATE INDEX school_exemption_patient ON school_exemption(patient_id);
