-- The periodic report (`store::period_report`) reads only the dossiers that
-- can matter to a period: still open, or ended on or after the period's first
-- day. This index is on when a dossier ended ('infinity', after every time,
-- while it is open), so that those are one range of it rather than a scan of
-- every dossier ever stored. The report's query writes the same expression.
CREATE INDEX dossiers_period_end ON dossiers (
    (CASE WHEN status IN ('finished', 'returned', 'refused', 'withdrawn', 'stopped')
          THEN COALESCE(finished_at, returned_at, source_updated_at) ELSE 'infinity' END)
);
