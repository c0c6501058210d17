-- Audit spool files already folded into audit_log (see immunis-registry's
-- audit_spool): the fold records the file's name in the same transaction
-- as its entries, so a file folded twice (a crash before its deletion, or
-- two processes recovering it) adds its entries once.
CREATE TABLE audit_spool_folded (
    name TEXT PRIMARY KEY,
    folded_at BIGINT NOT NULL,
    entries BIGINT NOT NULL
);
