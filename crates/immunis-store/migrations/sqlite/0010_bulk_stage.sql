-- Bulk loading (`Tx::stage_blocking_keys`, tx_linkage.rs): blocking keys
-- held unindexed while millions of people are loaded, then moved into
-- patient_blocking_key in key order by `Tx::index_staged_blocking_keys`
-- (inserted person by person, each key dirtied a random page of the index).
CREATE TABLE blocking_key_stage (
    patient_id  INTEGER NOT NULL,
    key         INTEGER NOT NULL
);
