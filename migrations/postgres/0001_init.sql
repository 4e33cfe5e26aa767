-- All times are Vietnam local time (Asia/Ho_Chi_Minh), as 'YYYY-MM-DD HH:MM:SS'.

-- One row per dossier per source, as last seen. Auditors read this table.
CREATE TABLE dossiers (
    id                BIGSERIAL PRIMARY KEY,
    source            TEXT NOT NULL,
    code              TEXT NOT NULL,
    procedure_code    TEXT,
    procedure_name    TEXT NOT NULL,
    field_code        TEXT NOT NULL,
    field_name        TEXT NOT NULL,
    unit_code         TEXT NOT NULL,
    unit_name         TEXT NOT NULL,
    officer           TEXT,
    applicant_name    TEXT NOT NULL,
    applicant_kind    TEXT NOT NULL,
    applicant_id_no   TEXT,
    applicant_phone   TEXT,
    applicant_email   TEXT,
    summary           TEXT,
    channel           TEXT NOT NULL,
    status            TEXT NOT NULL,
    submitted_at      TEXT,
    received_at       TEXT NOT NULL,
    due_at            TEXT,
    -- the first due date ever seen: sources overwrite theirs in place
    original_due_at   TEXT,
    finished_at       TEXT,
    returned_at       TEXT,
    duration_unit     TEXT,
    duration_value    BIGINT,
    current_step      TEXT,
    pauses            TEXT NOT NULL DEFAULT '[]',
    extension         TEXT,
    source_updated_at TEXT NOT NULL,
    deleted           BIGINT NOT NULL DEFAULT 0,
    content_hash      TEXT NOT NULL,
    first_seen_at     TEXT NOT NULL,
    last_changed_at   TEXT NOT NULL,
    UNIQUE (source, code)
);
CREATE INDEX dossiers_due ON dossiers (due_at);
CREATE INDEX dossiers_status ON dossiers (status);

CREATE TABLE dossier_steps (
    dossier_id  BIGINT NOT NULL REFERENCES dossiers (id),
    seq         BIGINT NOT NULL,
    name        TEXT NOT NULL,
    unit        TEXT NOT NULL,
    officer     TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    due_at      TEXT,
    PRIMARY KEY (dossier_id, seq)
);

-- Append-only: every observed change of a dossier, with the fields that changed.
CREATE TABLE dossier_history (
    id                BIGSERIAL PRIMARY KEY,
    dossier_id        BIGINT NOT NULL REFERENCES dossiers (id),
    observed_at       TEXT NOT NULL,
    kind              TEXT NOT NULL,
    changes           TEXT NOT NULL,
    source_updated_at TEXT NOT NULL
);
CREATE INDEX dossier_history_dossier ON dossier_history (dossier_id);

-- Every due date a dossier has had, in the order seen.
CREATE TABLE due_date_history (
    id          BIGSERIAL PRIMARY KEY,
    dossier_id  BIGINT NOT NULL REFERENCES dossiers (id),
    due_at      TEXT,
    observed_at TEXT NOT NULL,
    reason      TEXT NOT NULL
);
CREATE INDEX due_date_history_dossier ON due_date_history (dossier_id);

-- Records a source sent that could not be stored, with why and what was sent.
CREATE TABLE quarantine (
    id          BIGSERIAL PRIMARY KEY,
    source      TEXT NOT NULL,
    code        TEXT,
    reason      TEXT NOT NULL,
    raw         TEXT NOT NULL,
    received_at TEXT NOT NULL
);

CREATE TABLE sync_state (
    source          TEXT PRIMARY KEY,
    watermark       TEXT,
    last_success_at TEXT,
    last_attempt_at TEXT,
    last_error      TEXT
);

CREATE TABLE sync_runs (
    id          BIGSERIAL PRIMARY KEY,
    source      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    fetched     BIGINT NOT NULL,
    created     BIGINT NOT NULL,
    changed     BIGINT NOT NULL,
    unchanged   BIGINT NOT NULL,
    deleted     BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    error       TEXT
);
