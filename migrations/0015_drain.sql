-- DRAIN of a real server (issue 17): the console's state of a real server
-- (draining, and since when, in Unix milliseconds; 0: not draining), kept
-- out of lvs.cf, and the longest a drain of a virtual server's real
-- servers lasts (0: until their connections end).
ALTER TABLE real_servers    ADD COLUMN draining         INTEGER NOT NULL DEFAULT 0;
ALTER TABLE real_servers    ADD COLUMN drain_since_ms   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE virtual_servers ADD COLUMN drain_timeout_ms INTEGER NOT NULL DEFAULT 0;
