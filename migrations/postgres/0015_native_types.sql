-- PostgreSQL's own types instead of the text both backends shared: auditors
-- and BI tools querying PostgreSQL got strings for times, 0/1 for flags and
-- text for JSON. Converted in place:
--   times ('YYYY-MM-DD HH:MM:SS', Vietnam local time) -> timestamptz, the
--     instant, shown in the session's time zone (SET TIME ZONE
--     'Asia/Ho_Chi_Minh' to see Vietnam time);
--   plain days ('YYYY-MM-DD') -> date;
--   0/1 flags -> boolean;
--   JSON text -> jsonb; the audit trail's details -> json, which keeps the
--     exact text that the entry's hash covers (jsonb would reorder keys).
-- SQLite keeps its types. One ALTER TABLE per table: each is rewritten once.

-- Its predicate (deleted = 1) does not survive the type change: rebuilt below.
DROP INDEX IF EXISTS dossiers_deleted;

ALTER TABLE dossiers
    ALTER COLUMN submitted_at TYPE timestamptz USING (NULLIF(submitted_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN received_at TYPE timestamptz USING (received_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN due_at TYPE timestamptz USING (NULLIF(due_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN original_due_at TYPE timestamptz USING (NULLIF(original_due_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN finished_at TYPE timestamptz USING (NULLIF(finished_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN returned_at TYPE timestamptz USING (NULLIF(returned_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN source_updated_at TYPE timestamptz USING (source_updated_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN first_seen_at TYPE timestamptz USING (first_seen_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN last_changed_at TYPE timestamptz USING (last_changed_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN step_since TYPE timestamptz USING (NULLIF(step_since, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN deleted DROP DEFAULT,
    ALTER COLUMN deleted TYPE boolean USING (deleted <> 0),
    ALTER COLUMN deleted SET DEFAULT FALSE,
    ALTER COLUMN pauses DROP DEFAULT,
    ALTER COLUMN pauses TYPE jsonb USING (pauses::jsonb),
    ALTER COLUMN pauses SET DEFAULT '[]',
    ALTER COLUMN extension TYPE jsonb USING (extension::jsonb),
    ALTER COLUMN steps DROP DEFAULT,
    ALTER COLUMN steps TYPE jsonb USING (steps::jsonb),
    ALTER COLUMN steps SET DEFAULT '[]';
CREATE INDEX dossiers_deleted ON dossiers (id) WHERE deleted;

ALTER TABLE dossier_history
    ALTER COLUMN observed_at TYPE timestamptz USING (observed_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN source_updated_at TYPE timestamptz USING (source_updated_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN changes TYPE jsonb USING (changes::jsonb);

ALTER TABLE due_date_history
    ALTER COLUMN due_at TYPE timestamptz USING (NULLIF(due_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN observed_at TYPE timestamptz USING (observed_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh');

ALTER TABLE quarantine
    ALTER COLUMN received_at TYPE timestamptz USING (received_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh');

ALTER TABLE sync_state
    ALTER COLUMN last_success_at TYPE timestamptz USING (NULLIF(last_success_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN last_attempt_at TYPE timestamptz USING (NULLIF(last_attempt_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh');

ALTER TABLE sync_runs
    ALTER COLUMN started_at TYPE timestamptz USING (started_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN finished_at TYPE timestamptz USING (finished_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh');

ALTER TABLE evaluations
    ALTER COLUMN due_at TYPE timestamptz USING (NULLIF(due_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN computed_due_at TYPE timestamptz USING (NULLIF(computed_due_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN due_mismatch TYPE boolean USING (due_mismatch <> 0),
    ALTER COLUMN class_since TYPE timestamptz USING (class_since::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN evaluated_at TYPE timestamptz USING (evaluated_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN recheck_at TYPE timestamptz USING (NULLIF(recheck_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh');

ALTER TABLE classification_history
    ALTER COLUMN at TYPE timestamptz USING (at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN due_at TYPE timestamptz USING (NULLIF(due_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh');

ALTER TABLE outbox
    ALTER COLUMN attachments DROP DEFAULT,
    ALTER COLUMN attachments TYPE jsonb USING (attachments::jsonb),
    ALTER COLUMN attachments SET DEFAULT '[]',
    ALTER COLUMN next_attempt_at TYPE timestamptz USING (next_attempt_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN created_at TYPE timestamptz USING (created_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN sent_at TYPE timestamptz USING (NULLIF(sent_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh');

-- An alert's due date was '' when it had none (part of its key): now NULL,
-- and the key treats NULL as one value (an index on COALESCE: any version of
-- PostgreSQL, where UNIQUE NULLS NOT DISTINCT needs 15).
ALTER TABLE alerts
    DROP CONSTRAINT alerts_dossier_id_rung_due_at_recipient_key,
    ALTER COLUMN due_at DROP NOT NULL,
    ALTER COLUMN due_at TYPE timestamptz USING (NULLIF(due_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN unrouted TYPE boolean USING (unrouted <> 0),
    ALTER COLUMN created_at TYPE timestamptz USING (created_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh');
CREATE UNIQUE INDEX alerts_once ON alerts (dossier_id, rung, COALESCE(due_at, '-infinity'::timestamptz), recipient);

ALTER TABLE digests
    ALTER COLUMN for_date TYPE date USING (for_date::date),
    ALTER COLUMN created_at TYPE timestamptz USING (created_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh');

ALTER TABLE letters
    ALTER COLUMN due_at TYPE timestamptz USING (NULLIF(due_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN generated_at TYPE timestamptz USING (generated_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN issued_at TYPE timestamptz USING (NULLIF(issued_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh');

ALTER TABLE api_tokens
    ALTER COLUMN created_at TYPE timestamptz USING (created_at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN revoked_at TYPE timestamptz USING (NULLIF(revoked_at, '')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh');

-- The type change resets the column's storage: kept out of line without
-- compression, as 0010 set it.
ALTER TABLE audit_log
    ALTER COLUMN at TYPE timestamptz USING (at::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'),
    ALTER COLUMN detail TYPE json USING (detail::json),
    ALTER COLUMN detail SET STORAGE EXTERNAL;
