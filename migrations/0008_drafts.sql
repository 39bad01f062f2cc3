-- Pending changes. A console user's edits go to their draft, a whole
-- configuration made on the running one (base, kept whole so that the draft
-- can be rebased by a three-way merge however long the history is kept),
-- and take effect only when they APPLY it. A draft survives a restart.
CREATE TABLE drafts (
    owner      TEXT    PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
    version    INTEGER NOT NULL,      -- bumped by each edit: forms carry it
    base       BLOB    NOT NULL,      -- the running configuration it was made on (as revisions.config)
    config     BLOB    NOT NULL,      -- the draft (as revisions.config)
    proved     INTEGER NOT NULL DEFAULT 0, -- the owner re-entered their password for a program it changes
    notes      TEXT    NOT NULL DEFAULT '', -- what brought whole configurations in ("import of lvs.cf"), for the revision's summary
    updated_at TEXT    NOT NULL
);

-- An APPLY that rolls back unless confirmed ("commit confirmed"): at the
-- deadline, unless someone pressed CONFIRM, the configuration of serial
-- previous is restored. At most one is pending; it survives a restart.
CREATE TABLE confirmations (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    serial     INTEGER NOT NULL,      -- the revision the APPLY made
    previous   INTEGER NOT NULL,      -- the revision to go back to
    owner      TEXT    NOT NULL,      -- who applied
    minutes    TEXT    NOT NULL,      -- the delay as the admin chose it, for the event ("10 minutes")
    deadline   TEXT    NOT NULL       -- RFC 3339
);
