-- API tokens: credentials for scripts and tools, made on the console's
-- TOKENS page and sent as "Authorization: Bearer <token>" to /api/ and
-- /metrics. Only a hash of each token is kept, so that a copy of the
-- database does not let anyone in. A revoked token keeps its row (who made
-- it, when it was last used, when it was revoked) for the record.
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash BLOB    NOT NULL UNIQUE,          -- SHA-256 of the token's text
    owner      TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name       TEXT    NOT NULL,                 -- what it is for, e.g. "ci"
    created_at INTEGER NOT NULL,                 -- unix seconds
    last_used  INTEGER NOT NULL DEFAULT 0,       -- unix seconds; 0 = never
    revoked_at INTEGER NOT NULL DEFAULT 0        -- unix seconds; 0 = in force
);
