-- A check finds what to look at without reading every dossier: the verdicts
-- whose moment came through this index, the dossiers the sync changed through
-- the queue it appends to (a row per change; a check removes the rows it
-- read), the new ones as ids above the last check's.
CREATE INDEX evaluations_recheck ON evaluations (recheck_at) WHERE recheck_at IS NOT NULL;
CREATE TABLE check_queue (
    seq        INTEGER PRIMARY KEY,
    dossier_id INTEGER NOT NULL
);
-- Dossiers changed since their verdict was made.
INSERT INTO check_queue (dossier_id)
SELECT d.id FROM dossiers d JOIN evaluations e ON e.dossier_id = d.id
 WHERE d.last_changed_at > e.evaluated_at;
