-- The accepted configuration: one row of settings (global and redundancy),
-- the virtual servers and their real servers, and the history of revisions.
-- Uniqueness of names is checked by config.Validate, not by constraints here,
-- so that one change can swap two names.

CREATE TABLE settings (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    serial            INTEGER NOT NULL,
    -- global
    primary_addr      TEXT    NOT NULL DEFAULT '',
    primary_private   TEXT    NOT NULL DEFAULT '',
    network           TEXT    NOT NULL,
    nat_router        TEXT    NOT NULL DEFAULT '',
    nat_router_device TEXT    NOT NULL DEFAULT '',
    nat_nmask         TEXT    NOT NULL DEFAULT '',
    tcp_timeout       INTEGER NOT NULL DEFAULT 0,
    tcpfin_timeout    INTEGER NOT NULL DEFAULT 0,
    udp_timeout       INTEGER NOT NULL DEFAULT 0,
    active_cmd        TEXT    NOT NULL DEFAULT '',
    inactive_cmd      TEXT    NOT NULL DEFAULT '',
    service           TEXT    NOT NULL DEFAULT '',
    hard_shutdown     INTEGER NOT NULL DEFAULT 1,
    rsh_command       TEXT    NOT NULL DEFAULT '',
    debug_level       TEXT    NOT NULL DEFAULT '',
    -- redundancy
    backup_active     INTEGER NOT NULL DEFAULT 0,
    backup            TEXT    NOT NULL DEFAULT '',
    backup_private    TEXT    NOT NULL DEFAULT '',
    heartbeat         INTEGER NOT NULL DEFAULT 0,
    keepalive_ms      INTEGER NOT NULL,
    deadtime_ms       INTEGER NOT NULL,
    heartbeat_port    INTEGER NOT NULL,
    monitor_links     INTEGER NOT NULL DEFAULT 0,
    syncdaemon        INTEGER NOT NULL DEFAULT 0,
    syncd_iface       TEXT    NOT NULL DEFAULT '',
    syncd_id          INTEGER NOT NULL DEFAULT 0
);

-- AUTOINCREMENT: an id is never reused, so restoring an old revision cannot
-- give a deleted server's id (and its history) to another one.
CREATE TABLE virtual_servers (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    position         INTEGER NOT NULL,
    name             TEXT    NOT NULL,
    active           INTEGER NOT NULL,
    address          TEXT    NOT NULL,
    device           TEXT    NOT NULL DEFAULT '',
    netmask          TEXT    NOT NULL DEFAULT '',
    protocol         TEXT    NOT NULL,
    port             INTEGER NOT NULL,
    fwmark           INTEGER NOT NULL DEFAULT 0,
    scheduler        TEXT    NOT NULL,
    sched_fallback   INTEGER NOT NULL DEFAULT 0,
    sched_port       INTEGER NOT NULL DEFAULT 0,
    one_packet       INTEGER NOT NULL DEFAULT 0,
    persistence      INTEGER NOT NULL DEFAULT 0,
    pmask            TEXT    NOT NULL DEFAULT '',
    sorry_server     TEXT    NOT NULL DEFAULT '',
    check_timeout_ms INTEGER NOT NULL,
    reentry_ms       INTEGER NOT NULL,
    quiesce          INTEGER NOT NULL DEFAULT 0,
    load_monitor     TEXT    NOT NULL DEFAULT '',
    send             TEXT    NOT NULL DEFAULT '',
    expect           TEXT    NOT NULL DEFAULT '',
    use_regex        INTEGER NOT NULL DEFAULT 0,
    send_program     TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE real_servers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    virtual_id  INTEGER NOT NULL REFERENCES virtual_servers (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    active      INTEGER NOT NULL,
    address     TEXT    NOT NULL,
    port        INTEGER NOT NULL DEFAULT 0,
    weight      INTEGER NOT NULL,
    forward     TEXT    NOT NULL DEFAULT '',
    uthreshold  INTEGER NOT NULL DEFAULT 0,
    lthreshold  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX real_servers_virtual ON real_servers (virtual_id, position);

-- Every accepted configuration, whole, with who made it, when, and a summary
-- of what changed: the audit trail piranha lacked, and what a restore goes
-- back to. config is gzip-compressed JSON of config.Config: a 10,000-server
-- configuration is 1.5 MB of JSON and about a tenth of that compressed.
CREATE TABLE revisions (
    serial     INTEGER PRIMARY KEY,
    created_at TEXT    NOT NULL,
    author     TEXT    NOT NULL,
    summary    TEXT    NOT NULL,
    config     BLOB    NOT NULL
);

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
