-- API token scopes: what a token may do through the API.
--   read:     GET of every API resource, and /metrics;
--   operator: read, and activating and deactivating virtual and real
--             servers and changing a real server's weight;
--   admin:    every API route.
-- Whatever the scope, a token can neither make a token nor change a program
-- the directors run as root (send_program, active_cmd, inactive_cmd): that
-- needs a console session and the user's password, a rule the store keeps
-- (store.Change.Elevated).
--
-- Tokens made before scopes existed become admin: they could do everything
-- then, and the scripts that use them keep working. What made that
-- dangerous, a token choosing what root runs, is gone with the rule above,
-- whatever the scope; an admin who wants less revokes the token and makes
-- one of a narrower scope.
--
-- The table is rebuilt, rather than given a column with a default, so that
-- a new token has no default scope: each is made with the one chosen.
CREATE TABLE api_tokens_scoped (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash BLOB    NOT NULL UNIQUE,          -- SHA-256 of the token's text
    owner      TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name       TEXT    NOT NULL,                 -- what it is for, e.g. "ci"
    scope      TEXT    NOT NULL CHECK (scope IN ('read', 'operator', 'admin')),
    created_at INTEGER NOT NULL,                 -- unix seconds
    last_used  INTEGER NOT NULL DEFAULT 0,       -- unix seconds; 0 = never
    revoked_at INTEGER NOT NULL DEFAULT 0        -- unix seconds; 0 = in force
);
INSERT INTO api_tokens_scoped (id, token_hash, owner, name, scope, created_at, last_used, revoked_at)
    SELECT id, token_hash, owner, name, 'admin', created_at, last_used, revoked_at FROM api_tokens;
-- Ids are not given twice: the new table goes on counting where the old
-- one was.
DELETE FROM sqlite_sequence WHERE name = 'api_tokens_scoped';
INSERT INTO sqlite_sequence (name, seq) SELECT 'api_tokens_scoped', seq FROM sqlite_sequence WHERE name = 'api_tokens';
DROP TABLE api_tokens;
ALTER TABLE api_tokens_scoped RENAME TO api_tokens;
