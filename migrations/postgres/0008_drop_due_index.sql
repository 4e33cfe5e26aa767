-- No query looks dossiers up by the source's due date: deadlines are read
-- from the evaluations (their class and computed due date are indexed there).
-- The index cost every sync an insert per new dossier and an update per
-- changed due date (1M initial sync ~6% faster without it).
DROP INDEX IF EXISTS dossiers_due;
