-- Messages leave through this outbox: one row per email, drained by `send`.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL,
    -- what makes this message unique (digest of a day, stale alert of an outage, ...)
    dedupe_key      TEXT NOT NULL UNIQUE,
    recipient       TEXT NOT NULL,
    recipient_name  TEXT,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    -- JSON list of {"path": ..., "name": ...} files to attach
    attachments     TEXT NOT NULL DEFAULT '[]',
    message_id      TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);

-- The ladder: each rung fires once per dossier, due date and recipient.
CREATE TABLE alerts (
    id             BIGSERIAL PRIMARY KEY,
    dossier_id     BIGINT NOT NULL REFERENCES dossiers (id),
    rung           TEXT NOT NULL,
    due_at         TEXT NOT NULL,
    recipient      TEXT NOT NULL,
    recipient_name TEXT,
    recipient_role TEXT NOT NULL,
    unrouted       BIGINT NOT NULL,
    created_at     TEXT NOT NULL,
    outbox_id      BIGINT REFERENCES outbox (id),
    UNIQUE (dossier_id, rung, due_at, recipient)
);
CREATE INDEX alerts_unsent ON alerts (outbox_id);

-- One digest per working day.
CREATE TABLE digests (
    for_date   TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    summary    TEXT NOT NULL
);

-- Apology letters (Mẫu 04): drafts and issued versions.
CREATE TABLE letters (
    id           BIGSERIAL PRIMARY KEY,
    dossier_id   BIGINT NOT NULL REFERENCES dossiers (id),
    version      BIGINT NOT NULL,
    due_at       TEXT,
    generated_at TEXT NOT NULL,
    path         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    status       TEXT NOT NULL,
    issued_at    TEXT,
    doc_number   TEXT,
    UNIQUE (dossier_id, version)
);
