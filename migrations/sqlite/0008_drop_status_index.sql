-- No query filters dossiers by status (reports filter by the evaluation's
-- class); the index only cost every sync an insert per new dossier and an
-- update per changed one.
DROP INDEX IF EXISTS dossiers_status;
