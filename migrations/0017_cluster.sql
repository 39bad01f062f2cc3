-- Cluster mode (issue 19): N active directors announcing the VIPs over
-- BGP instead of a pair, with the BGP settings, and whether a virtual
-- server's VIP is announced (on by default). Durations in milliseconds.
ALTER TABLE settings        ADD COLUMN cluster           INTEGER NOT NULL DEFAULT 0;
ALTER TABLE settings        ADD COLUMN cluster_directors TEXT    NOT NULL DEFAULT '';
ALTER TABLE settings        ADD COLUMN bgp_as            INTEGER NOT NULL DEFAULT 0;
ALTER TABLE settings        ADD COLUMN bgp_peers         TEXT    NOT NULL DEFAULT '';
ALTER TABLE settings        ADD COLUMN bgp_password      TEXT    NOT NULL DEFAULT '';
ALTER TABLE settings        ADD COLUMN bgp_hold_time_ms  INTEGER NOT NULL DEFAULT 9000;
ALTER TABLE settings        ADD COLUMN bgp_drain_ms      INTEGER NOT NULL DEFAULT 10000;
ALTER TABLE settings        ADD COLUMN bgp_communities   TEXT    NOT NULL DEFAULT '';
ALTER TABLE settings        ADD COLUMN bgp_next_hop      TEXT    NOT NULL DEFAULT '';
ALTER TABLE virtual_servers ADD COLUMN bgp_announce      INTEGER NOT NULL DEFAULT 1;
