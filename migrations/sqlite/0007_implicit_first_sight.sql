-- A dossier's first sighting is implied by its own row: the "created" history
-- entry (observed at first_seen_at) and the "first seen" due date
-- (original_due_at, observed at first_seen_at) are read from `dossiers`
-- instead of being written as two more rows per new dossier. A dossier first
-- seen without a due date keeps an explicit "first seen" row (NULL), since its
-- original_due_at is the first due date it got later.
DELETE FROM dossier_history WHERE kind = 'created';
DELETE FROM due_date_history WHERE reason = 'first seen' AND due_at IS NOT NULL;
