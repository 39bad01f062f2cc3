-- Load monitors (issue 18): a virtual server's load monitor settings, and
-- a real server's most weight and own port. The host key pins of the
-- uptime monitor's SSH servers, trusted on first use: one per address
-- (host:port), the SHA256 fingerprint ssh-keygen -l prints.
ALTER TABLE virtual_servers ADD COLUMN load_port        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE virtual_servers ADD COLUMN load_send        TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN load_http_path   TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN load_interval_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE virtual_servers ADD COLUMN load_ssh_user    TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN load_ssh_key     TEXT    NOT NULL DEFAULT '';
ALTER TABLE real_servers    ADD COLUMN max_weight       INTEGER NOT NULL DEFAULT 0;
ALTER TABLE real_servers    ADD COLUMN load_port        INTEGER NOT NULL DEFAULT 0;

CREATE TABLE ssh_host_keys (
	host        TEXT    PRIMARY KEY,
	fingerprint TEXT    NOT NULL,
	pinned_ms   INTEGER NOT NULL
);
