-- Console sessions. Only a hash of each token is kept, so that a copy of the
-- database does not let anyone in.
CREATE TABLE sessions (
    token_hash BLOB    PRIMARY KEY,
    user       TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created_at INTEGER NOT NULL, -- unix seconds
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL  -- absolute expiry
) WITHOUT ROWID;
CREATE INDEX sessions_expires ON sessions (expires_at);
