-- The checks keepalived has that piranha had not (issue 15): the MD5 of
-- an HTTP body, the SMTP check's HELO name, the DNS check's query, and a
-- check program whose exit status sets the weight (misc_dynamic).
ALTER TABLE virtual_servers ADD COLUMN http_digest    TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN smtp_helo      TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN dns_type       TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN dns_name       TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN program_weight INTEGER NOT NULL DEFAULT 0;
