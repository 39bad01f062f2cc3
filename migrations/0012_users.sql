-- Console users get a role (issue 17): viewer, operator or admin, which map
-- onto the API tokens' scopes read, operator and admin. Users that exist
-- already become admins: until now every user could do everything. A
-- disabled user keeps its row (name, role, tokens) but cannot log in.
ALTER TABLE users ADD COLUMN role       TEXT    NOT NULL DEFAULT 'admin'
    CHECK (role IN ('viewer', 'operator', 'admin'));
ALTER TABLE users ADD COLUMN disabled   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN created_at TEXT    NOT NULL DEFAULT '';
UPDATE users SET created_at = updated_at;
