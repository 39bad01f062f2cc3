-- API tokens get an expiry, and revisions name the token they were made
-- with (issue 17).
--
-- expires_at: unix seconds; 0 = the token does not expire. An expired
-- token opens nothing; it keeps its row, like a revoked one, for the
-- record. Tokens made before expiries existed do not expire.
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
-- token: the name of the API token a change was made with, beside its
-- owner in author; '' for a change made otherwise (the console, the
-- command line, the peer), and for every revision made before.
ALTER TABLE revisions ADD COLUMN token TEXT NOT NULL DEFAULT '';
