-- The periodic report (`store::period_report`) reads only the dossiers that
-- can matter to a period: still open, or ended on or after the period's first
-- day. This index is on when a dossier ended ('infinity', after every time,
-- while it is open), so that those are one range of it rather than a scan of
-- every dossier ever stored; the report's query writes the same expression.
-- It includes every other column the query reads, for an index-only scan
-- (measured on 1M dossiers: a quarter in 0.55–0.8 s instead of 0.9–1 s).
CREATE INDEX dossiers_period_end ON dossiers (
    (CASE WHEN status IN ('finished', 'returned', 'refused', 'withdrawn', 'stopped')
          THEN COALESCE(finished_at, returned_at, source_updated_at) ELSE 'infinity' END)
) INCLUDE (id, received_at, field_code, unit_code, channel, status, due_at, finished_at,
           returned_at, source_updated_at, deleted, field_name, unit_name);
