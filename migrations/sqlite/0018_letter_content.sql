-- Every letter version keeps its DOCX in the database, with its SHA-256: the
-- file in `letters.dir` is only a copy for staff (another instance, which may
-- send the alert, does not have it). NULL for versions drafted before this.
ALTER TABLE letters ADD COLUMN content BLOB;
