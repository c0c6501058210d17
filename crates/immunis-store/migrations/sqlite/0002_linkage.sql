-- Record linkage (issue 4): the blocking-key index the probabilistic matcher
-- probes, the review queue of possible matches, human "different people"
-- decisions, and the merge history. Merges move nothing: the absorbed
-- patient keeps its rows and gets patient.merged_into = survivor.
CREATE TABLE patient_blocking_key (
    patient_id  INTEGER NOT NULL,
    key         INTEGER NOT NULL,
    PRIMARY KEY (key, patient_id)
) WITHOUT ROWID;
CREATE INDEX patient_blocking_key_patient ON patient_blocking_key(patient_id);
CREATE INDEX patient_merged_into ON patient(merged_into);
CREATE TABLE match_review (
    id              INTEGER PRIMARY KEY,
    patient_a       INTEGER NOT NULL,
    patient_b       INTEGER NOT NULL,
    score_millibits INTEGER NOT NULL,
    explanation     TEXT NOT NULL,
    origin          TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    resolved_at     INTEGER,
    resolved_by     TEXT
);
CREATE INDEX match_review_status ON match_review(status, id);
CREATE INDEX match_review_pair ON match_review(patient_a, patient_b);
CREATE TABLE link_decision (
    patient_lo  INTEGER NOT NULL,
    patient_hi  INTEGER NOT NULL,
    decision    TEXT NOT NULL,
    decided_by  TEXT NOT NULL,
    decided_at  INTEGER NOT NULL,
    review_id   INTEGER,
    PRIMARY KEY (patient_lo, patient_hi)
);
CREATE INDEX link_decision_hi ON link_decision(patient_hi);
CREATE TABLE patient_merge (
    id          INTEGER PRIMARY KEY,
    survivor    INTEGER NOT NULL,
    absorbed    INTEGER NOT NULL,
    method      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    merged_at   INTEGER NOT NULL,
    unmerged_at INTEGER,
    unmerged_by TEXT
);
CREATE INDEX patient_merge_absorbed ON patient_merge(absorbed);
CREATE INDEX patient_merge_survivor ON patient_merge(survivor);
