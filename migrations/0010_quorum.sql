-- keepalived's quorum and notify programs (issue 15): a virtual server's
-- quorum (0: keepalived's 1), hysteresis and the programs run when it is
-- gained and lost; a real server's programs run when it goes up and down.
ALTER TABLE virtual_servers ADD COLUMN quorum      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE virtual_servers ADD COLUMN hysteresis  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE virtual_servers ADD COLUMN quorum_up   TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN quorum_down TEXT    NOT NULL DEFAULT '';
ALTER TABLE real_servers    ADD COLUMN notify_up   TEXT    NOT NULL DEFAULT '';
ALTER TABLE real_servers    ADD COLUMN notify_down TEXT    NOT NULL DEFAULT '';
