-- Leadership as a lease with a fencing token. `generation` grows at every
-- take-over; every outbox claim names it and is refused once another
-- instance has taken over, so a deposed leader (frozen, cut off) sends
-- nothing more. On SQLite the lock file beside the database already keeps a
-- second instance out: the row only counts generations.
CREATE TABLE leader_lease (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    holder     TEXT,
    generation INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT
);
INSERT INTO leader_lease (id, generation) VALUES (1, 0);

-- A source never synced gets the same grace as one that stopped: counted
-- from its first attempt.
ALTER TABLE sync_state ADD COLUMN first_attempt_at TEXT;
UPDATE sync_state SET first_attempt_at = COALESCE(
    (SELECT MIN(started_at) FROM sync_runs r WHERE r.source = sync_state.source),
    last_attempt_at);
