-- Every letter version keeps its DOCX in the database, with its SHA-256: the
-- file in `letters.dir` is only a copy for staff (another instance, which may
-- send the alert, does not have it). NULL for versions drafted before this.
-- A DOCX is already a zip: kept out of line without compressing it again.
ALTER TABLE letters ADD COLUMN content bytea;
ALTER TABLE letters ALTER COLUMN content SET STORAGE EXTERNAL;
