-- The deadline engine's latest verdict on each dossier.
CREATE TABLE evaluations (
    dossier_id        BIGINT PRIMARY KEY REFERENCES dossiers (id),
    class             TEXT NOT NULL,
    due_at            TEXT,
    computed_due_at   TEXT,
    due_mismatch      BIGINT NOT NULL,
    working_days_left BIGINT,
    working_days_late BIGINT,
    delay_step        TEXT,
    delay_unit        TEXT,
    delay_officer     TEXT,
    delay_days        BIGINT,
    class_since       TEXT NOT NULL,
    evaluated_at      TEXT NOT NULL
);
CREATE INDEX evaluations_class ON evaluations (class);

-- Append-only: every change of class (or of the due date it is judged against).
CREATE TABLE classification_history (
    id                BIGSERIAL PRIMARY KEY,
    dossier_id        BIGINT NOT NULL REFERENCES dossiers (id),
    at                TEXT NOT NULL,
    from_class        TEXT,
    to_class          TEXT NOT NULL,
    due_at            TEXT,
    working_days_left BIGINT,
    working_days_late BIGINT
);
CREATE INDEX classification_history_dossier ON classification_history (dossier_id);
