-- Health check kinds beyond piranha's send/expect and send_program.
ALTER TABLE virtual_servers ADD COLUMN check_kind        TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN check_interval_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE virtual_servers ADD COLUMN check_failures    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE virtual_servers ADD COLUMN http_path         TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN http_host         TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN http_status       TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN http_body         TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN tls_verify        INTEGER NOT NULL DEFAULT 0;
