-- The quarantine keeps one row per bad record of a source, not one per poll:
-- `qkey` is the record's identity (its code, else `sha256:` and the hex
-- SHA-256 of what was sent), `times` how often it was received, `received_at`
-- when it was first quarantined and `last_seen_at` when last. A record the
-- source sends again fixed is released (its row deleted).
ALTER TABLE quarantine ADD COLUMN qkey TEXT;
ALTER TABLE quarantine ADD COLUMN last_seen_at TEXT;
ALTER TABLE quarantine ADD COLUMN times INTEGER NOT NULL DEFAULT 1;

-- Rows of before: a code-less record's hash is not computed here (SQLite has
-- no SHA-256), so each such row keeps a key of its own.
UPDATE quarantine SET qkey = COALESCE(NULLIF(code, ''), 'row:' || id);

-- The newest row of each (source, qkey) stays, with the first and last times
-- and the count of the rows it stands for; the others go.
UPDATE quarantine
SET received_at = g.first_at, last_seen_at = g.last_at, times = g.n
FROM (SELECT MAX(id) AS id, MIN(received_at) AS first_at, MAX(received_at) AS last_at, COUNT(*) AS n
      FROM quarantine GROUP BY source, qkey) AS g
WHERE quarantine.id = g.id;
DELETE FROM quarantine WHERE id NOT IN (SELECT MAX(id) FROM quarantine GROUP BY source, qkey);

CREATE UNIQUE INDEX quarantine_source_qkey ON quarantine (source, qkey);

-- Follow-up replies of a source kept between polls (a dossier's details, a
-- catalogue), each with the source's stamp of its version.
CREATE TABLE source_cache (
    source     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    stamp      TEXT NOT NULL,
    body       TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (source, kind, key)
);
