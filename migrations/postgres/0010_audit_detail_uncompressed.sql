-- A sync page's audit entry lists every dossier written with its content
-- hash (~100 KB of hex): PostgreSQL tried to compress each one and nearly
-- always gave up (3% of the server's time in a 1M sync). Stored out of line
-- as it was, without the attempt.
ALTER TABLE audit_log ALTER COLUMN detail SET STORAGE EXTERNAL;
