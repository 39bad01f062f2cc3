-- Failover: preemption by a recovered primary, and the secret the two
-- directors authenticate heartbeats and configuration sync with. The secret
-- is not part of the configuration: it is never exported, synced or kept in
-- a revision.
ALTER TABLE settings ADD COLUMN preempt          INTEGER NOT NULL DEFAULT 0;
ALTER TABLE settings ADD COLUMN preempt_delay_ms INTEGER NOT NULL DEFAULT 0;

CREATE TABLE peer_secret (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    secret BLOB    NOT NULL,
    set_at TEXT    NOT NULL
);
