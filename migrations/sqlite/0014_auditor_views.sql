-- Views for auditors, the same names, columns and rows on SQLite and
-- PostgreSQL (times here as stored text, Vietnam time; there as timestamptz).
--
-- v_overdue_history: every time a dossier turned overdue (still open past its
-- due date) or was found finished late, from the classification history,
-- with its source, code, unit, field, the due date it was judged against,
-- when it finished and the class it moved to. Dossiers the source deleted
-- are left out, as in the reports.
CREATE VIEW v_overdue_history AS
SELECT d.source, d.code, d.unit_code, d.unit_name, d.field_code, d.field_name,
       h.at, h.from_class, h.to_class AS class, h.due_at,
       COALESCE(d.finished_at, d.returned_at) AS finished_at
  FROM classification_history h JOIN dossiers d ON d.id = h.dossier_id
 WHERE h.to_class IN ('overdue', 'late') AND d.deleted = 0;

-- v_kpis: per month, unit and field, the dossiers finished on time (before
-- or on the due day) and late, by the month they finished (as the KPI
-- report counts them), and the ones still open past their due date, by the
-- month that due date fell in; from each dossier's latest verdict.
CREATE VIEW v_kpis AS
SELECT month, unit_code, unit_name, field_code, field_name,
       SUM(CASE WHEN class IN ('before_due', 'on_due_day') THEN 1 ELSE 0 END) AS on_time,
       SUM(CASE WHEN class = 'late' THEN 1 ELSE 0 END) AS late,
       SUM(CASE WHEN class = 'overdue' THEN 1 ELSE 0 END) AS overdue
  FROM (SELECT CASE WHEN e.class = 'overdue' THEN substr(e.due_at, 1, 7)
                    ELSE substr(COALESCE(d.finished_at, d.returned_at), 1, 7) END AS month,
               d.unit_code, d.unit_name, d.field_code, d.field_name, e.class
          FROM dossiers d JOIN evaluations e ON e.dossier_id = d.id
         WHERE d.deleted = 0 AND e.class IN ('before_due', 'on_due_day', 'late', 'overdue')) AS k
 GROUP BY month, unit_code, unit_name, field_code, field_name;
