-- The audit trail (issue 17): who did what, when, from where. Separate
-- from the revisions (which hold configurations); the console only appends,
-- and retention (PruneAudit) is the only delete.
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,           -- unix nanoseconds
    director  TEXT    NOT NULL,           -- this director's host name
    actor     TEXT    NOT NULL,           -- user, "token NAME", "lvsconsole", "cli:USER"
    client    TEXT    NOT NULL DEFAULT '',-- the client's address, when known
    kind      TEXT    NOT NULL,
    detail    TEXT    NOT NULL DEFAULT '',
    fields    TEXT    NOT NULL DEFAULT '' -- a small JSON object, or empty
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_kind ON audit (kind, id);
