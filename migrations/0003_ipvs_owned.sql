-- The IPVS services this director created. The engine changes and deletes
-- only these: rules someone else added (ipvsadm by hand, another tool) are
-- never touched, and a restart adopts its own without a flush.
CREATE TABLE ipvs_owned (
    service    TEXT PRIMARY KEY, -- engine's canonical key of the service
    created_at TEXT NOT NULL
) WITHOUT ROWID;
