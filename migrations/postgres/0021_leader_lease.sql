-- Leadership as a lease with a fencing token. The leader renews `expires_at`
-- (the server's clock, so hosts' clocks need not agree); another instance
-- takes over once it has run out, and `generation` grows at every take-over.
-- Every outbox claim names the generation and is refused once it is not the
-- current one, so a deposed leader (frozen, cut off) sends nothing more.
CREATE TABLE leader_lease (
    id         integer PRIMARY KEY CHECK (id = 1),
    holder     text,
    generation bigint NOT NULL DEFAULT 0,
    expires_at timestamptz
);
INSERT INTO leader_lease (id, generation) VALUES (1, 0);

-- A source never synced gets the same grace as one that stopped: counted
-- from its first attempt.
ALTER TABLE sync_state ADD COLUMN first_attempt_at timestamptz;
UPDATE sync_state SET first_attempt_at = COALESCE(
    (SELECT MIN(started_at) FROM sync_runs r WHERE r.source = sync_state.source),
    last_attempt_at);
