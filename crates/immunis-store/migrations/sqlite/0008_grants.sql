-- Immunis schema v8: live sessions and bearer tokens, so a restart does not
-- log everyone out and every server process sees the same revocations (a user
-- disabled from the CLI loses their sessions in the server too). Only the
-- SHA-256 of each secret is stored. Not patient data.
CREATE TABLE auth_grant (
    token_hash      TEXT PRIMARY KEY,       -- hex SHA-256 of the session/token secret
    kind            TEXT NOT NULL,          -- 'session' | 'token'
    subject         TEXT NOT NULL,          -- username, or client:<client_id>
    role            TEXT NOT NULL,
    organization_id BIGINT,
    facility_code   TEXT,
    created_at      BIGINT NOT NULL,        -- ms since the epoch
    last_used_at    BIGINT NOT NULL,
    idle_limit_ms   BIGINT,                 -- sessions: inactivity limit; tokens: NULL
    expires_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX auth_grant_subject ON auth_grant(subject);
