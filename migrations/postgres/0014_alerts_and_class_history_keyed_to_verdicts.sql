-- Alerts and class changes are checked against the verdict they are written
-- with (upserted just before, in the same transaction) instead of the dossier.
-- Each inserted row locked its dossier's row, which dirtied a page of the
-- largest table and, after a checkpoint, wrote that whole page to the WAL:
-- 1M all-open morning check, 76,711 alerts over 34,008 dossiers, 249 -> 133 MB
-- of WAL and 2.37-2.75 -> 2.07-2.20 s (bench/RESULTS.md). A verdict belongs to
-- a dossier (its own key), so an alert still cannot point at nothing, and
-- retention removes alerts and class history before verdicts. SQLite keeps its
-- keys to dossiers: it takes no row locks, and changing them means rebuilding
-- both tables.
ALTER TABLE alerts
    DROP CONSTRAINT alerts_dossier_id_fkey,
    ADD CONSTRAINT alerts_verdict_fkey FOREIGN KEY (dossier_id) REFERENCES evaluations (dossier_id);
ALTER TABLE classification_history
    DROP CONSTRAINT classification_history_dossier_id_fkey,
    ADD CONSTRAINT classification_history_verdict_fkey FOREIGN KEY (dossier_id) REFERENCES evaluations (dossier_id);
