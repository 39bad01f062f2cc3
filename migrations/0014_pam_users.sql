-- Console users who log in through the system's PAM (issue 17): their row
-- has no password hash ('' never verifies), source 'pam', and a role that
-- every PAM login maps again from the user's system groups. pam_unmapped
-- marks a PAM user disabled because their groups no longer map to a role
-- (a later login whose groups map enables them again); a PAM user disabled
-- in the console stays disabled.
ALTER TABLE users ADD COLUMN source       TEXT    NOT NULL DEFAULT 'local'
    CHECK (source IN ('local', 'pam'));
ALTER TABLE users ADD COLUMN pam_unmapped INTEGER NOT NULL DEFAULT 0;
