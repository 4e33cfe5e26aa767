-- An open verdict's working days left or late move every working day: they are
-- derived when read, no longer stored, so that a verdict is written again only
-- when it changes. Each verdict says when it can next change while its dossier
-- does not (its class moving with time, a rung of the escalation ladder); a
-- check looks again only at those whose moment has come.
ALTER TABLE evaluations ADD COLUMN recheck_at TEXT;

-- Every open verdict is looked at by the next check, which writes its moment.
UPDATE evaluations SET recheck_at = evaluated_at
 WHERE class IN ('overdue', 'due_today', 'due_soon', 'not_yet_due');

-- Settings a check applied (the fingerprint of the calendar and the rules):
-- when they change, every verdict is looked at again.
CREATE TABLE applied_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
