-- The auditors' filters (`store::filter`): a period's dossiers, of one unit
-- or field or of all, are found through these instead of read one by one —
-- by receipt day; by due day; by when they ended (the expression of
-- `dossiers_period_end`, which serves the filters without a unit), for
-- "finished in the period" and "late at some moment of the period". (No
-- (field, received) index: the planner took it to scan every dossier in
-- field order for the periodic report's GROUP BY, 2.5× slower than the
-- report's own index; a field's month goes through `dossiers_received`.)
CREATE INDEX dossiers_received ON dossiers (received_at);
CREATE INDEX dossiers_unit_received ON dossiers (unit_code, received_at);
CREATE INDEX dossiers_unit_due ON dossiers (unit_code, due_at);
CREATE INDEX dossiers_unit_end ON dossiers (unit_code,
    (CASE WHEN status IN ('finished', 'returned', 'refused', 'withdrawn', 'stopped')
          THEN COALESCE(finished_at, returned_at, source_updated_at) ELSE 'infinity' END));
