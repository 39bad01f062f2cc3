-- A revision's config may be a delta (issue 20): at 10,000 virtual servers
-- a whole snapshot is about 1 MB of JSON to encode and compress per edit.
-- base is 0 for a whole configuration (every revision before this file),
-- else the serial of the revision the delta applies to (the one before);
-- depth counts the deltas since the last whole one, which bounds what
-- reading a revision decodes.
ALTER TABLE revisions ADD COLUMN base INTEGER NOT NULL DEFAULT 0;
ALTER TABLE revisions ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
