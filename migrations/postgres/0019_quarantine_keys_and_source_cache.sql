-- The quarantine keeps one row per bad record of a source, not one per poll:
-- `qkey` is the record's identity (its code, else `sha256:` and the hex
-- SHA-256 of what was sent), `times` how often it was received, `received_at`
-- when it was first quarantined and `last_seen_at` when last. A record the
-- source sends again fixed is released (its row deleted).
ALTER TABLE quarantine
    ADD COLUMN qkey TEXT,
    ADD COLUMN last_seen_at timestamptz,
    ADD COLUMN times BIGINT NOT NULL DEFAULT 1;

UPDATE quarantine
SET qkey = COALESCE(NULLIF(code, ''), 'sha256:' || encode(sha256(convert_to(raw, 'UTF8')), 'hex'));

-- The newest row of each (source, qkey) stays, with the first and last times
-- and the count of the rows it stands for; the others go.
UPDATE quarantine
SET received_at = g.first_at, last_seen_at = g.last_at, times = g.n
FROM (SELECT MAX(id) AS id, MIN(received_at) AS first_at, MAX(received_at) AS last_at, COUNT(*) AS n
      FROM quarantine GROUP BY source, qkey) AS g
WHERE quarantine.id = g.id;
DELETE FROM quarantine
WHERE id NOT IN (SELECT MAX(id) FROM quarantine GROUP BY source, qkey);

ALTER TABLE quarantine
    ALTER COLUMN qkey SET NOT NULL,
    ALTER COLUMN last_seen_at SET NOT NULL;
CREATE UNIQUE INDEX quarantine_source_qkey ON quarantine (source, qkey);

-- Follow-up replies of a source kept between polls (a dossier's details, a
-- catalogue), each with the source's stamp of its version.
CREATE TABLE source_cache (
    source     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    stamp      TEXT NOT NULL,
    body       TEXT NOT NULL,
    fetched_at timestamptz NOT NULL,
    PRIMARY KEY (source, kind, key)
);
