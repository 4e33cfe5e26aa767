-- A dossier's steps are always read and written with the dossier: keep them in
-- its row as a JSON array (times as 'YYYY-MM-DDTHH:MM:SS', Vietnam time)
-- instead of four or five rows of their own. A sync then writes one row per
-- dossier where it wrote five. The two facts queries need from the steps are
-- kept as columns: when the current (unfinished) step started, and the
-- handling officer (the first one at the dossier's unit).
ALTER TABLE dossiers
    ADD COLUMN steps TEXT NOT NULL DEFAULT '[]',
    ADD COLUMN step_since TEXT,
    ADD COLUMN handling_officer TEXT;
UPDATE dossiers d SET
    steps = COALESCE((SELECT json_agg(json_build_object(
                'name', s.name, 'unit', s.unit, 'officer', s.officer,
                'started_at', replace(s.started_at, ' ', 'T'),
                'finished_at', replace(s.finished_at, ' ', 'T'),
                'due_at', replace(s.due_at, ' ', 'T')) ORDER BY s.seq)::text
            FROM dossier_steps s WHERE s.dossier_id = d.id), '[]'),
    step_since = (SELECT MAX(s.started_at) FROM dossier_steps s
                  WHERE s.dossier_id = d.id AND s.finished_at IS NULL),
    handling_officer = (SELECT s.officer FROM dossier_steps s
                        WHERE s.dossier_id = d.id AND s.unit = d.unit_name
                        ORDER BY s.seq LIMIT 1);
DROP TABLE dossier_steps;
