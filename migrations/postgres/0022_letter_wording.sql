-- What each apology-letter version was drafted for, so that a new version is
-- drafted when that changes: `wording` 'before_due' (the result cannot be
-- returned on time) or 'late' (an apology for the delay), and `cause`, the
-- step and unit that held the dossier ("step / unit"; NULL when unknown).
-- Versions drafted before this have NULL wording and are drafted again once,
-- in the current wording (unless issued).
ALTER TABLE letters ADD COLUMN wording TEXT;
ALTER TABLE letters ADD COLUMN cause TEXT;
-- The applicant's address as the source gives it (personal data: masked like
-- the phone and email wherever a dossier leaves through the API).
ALTER TABLE dossiers ADD COLUMN applicant_address TEXT;
