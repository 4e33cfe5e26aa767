-- Steps are always read by dossier, in order: keep them in one b-tree keyed
-- (dossier_id, seq) instead of a rowid table plus its primary-key index. A
-- sync inserts about four steps per dossier; this halves their b-tree work.
CREATE TABLE dossier_steps_new (
    dossier_id  INTEGER NOT NULL REFERENCES dossiers (id),
    seq         INTEGER NOT NULL,
    name        TEXT NOT NULL,
    unit        TEXT NOT NULL,
    officer     TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    due_at      TEXT,
    PRIMARY KEY (dossier_id, seq)
) WITHOUT ROWID;
INSERT INTO dossier_steps_new SELECT dossier_id, seq, name, unit, officer, started_at, finished_at, due_at FROM dossier_steps;
DROP TABLE dossier_steps;
ALTER TABLE dossier_steps_new RENAME TO dossier_steps;
