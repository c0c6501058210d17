-- Immunis schema v4 (SQLite): documents and consumer access. The registry's
-- SMART Health Card signing keys (rotated, retired, never deleted), the
-- one-time codes of "My immunization record" (hashed) and its short-lived
-- consumer sessions. Patient-owned rows carry patient_id.
CREATE TABLE signing_key (
    kid          TEXT PRIMARY KEY,          -- RFC 7638 JWK thumbprint
    public_jwk   TEXT NOT NULL,             -- the public JWK (JSON)
    private_key  TEXT NOT NULL,             -- 'aead1:NONCE:CIPHERTEXT' (hex) or 'plain:HEX'
    created_at   INTEGER NOT NULL,
    activated_at INTEGER,                   -- the newest activated, unretired key signs
    retired_at   INTEGER                    -- retired keys leave the JWKS
);
CREATE TABLE consumer_code (
    id           INTEGER PRIMARY KEY,
    request_hash TEXT NOT NULL UNIQUE,      -- SHA-256 of the request handle given to the browser
    patient_id   INTEGER NOT NULL,
    code_hash    TEXT NOT NULL,             -- SHA-256 of handle + code
    channel      TEXT NOT NULL,             -- 'sms' | 'email'
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    used_at      INTEGER
);
CREATE INDEX consumer_code_patient ON consumer_code(patient_id);
CREATE TABLE consumer_session (
    sid          TEXT PRIMARY KEY,          -- public session id (named in the audit trail)
    token_hash   TEXT NOT NULL UNIQUE,      -- SHA-256 of the cookie secret
    patient_id   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX consumer_session_patient ON consumer_session(patient_id);
