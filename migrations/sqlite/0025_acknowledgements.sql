-- Leaders' acknowledgements from their emails' one-tap links (`ack`): who
-- acknowledged or assigned which dossier's alert (its due date and rung),
-- when, from which address, and what they set. A link is used once: its
-- token's hash is unique. `ack_key` holds the installation's random key
-- that signs the links (made on first use).
CREATE TABLE acknowledgements (
    id            INTEGER PRIMARY KEY,
    dossier_id    INTEGER NOT NULL REFERENCES dossiers (id),
    kind          TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    rung          TEXT NOT NULL,
    due_at        TEXT,
    assigned_unit TEXT,
    target_date   TEXT,
    note          TEXT,
    at            TEXT NOT NULL,
    client        TEXT,
    token_sha256  TEXT NOT NULL UNIQUE
);
CREATE INDEX acknowledgements_dossier ON acknowledgements (dossier_id);
CREATE TABLE ack_key (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    key        TEXT NOT NULL,
    created_at TEXT NOT NULL
);
