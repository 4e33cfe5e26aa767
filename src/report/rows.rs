//! The report's rows: the store's counts per (field, unit) rolled up by
//! field, by unit and in total, with the rates.

use crate::store::PeriodCounts;
use serde::Serialize;
use std::collections::BTreeMap;

/// One line of the report (a field, a unit, or the totals).
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReportRow {
    /// The field's or unit's code ("" for the totals).
    pub code: String,
    pub name: String,
    /// carried + new_total: every dossier handled in the period.
    pub received: i64,
    /// In progress at the end of the previous period (kỳ trước chuyển qua).
    pub carried: i64,
    /// Received in the period, and by channel.
    pub new_total: i64,
    pub new_online: i64,
    pub new_direct: i64,
    pub new_postal: i64,
    /// Finished in the period: before_due + on_due_day + late.
    pub resolved: i64,
    pub before_due: i64,
    pub on_due_day: i64,
    pub late: i64,
    /// Refused, withdrawn or stopped in the period.
    pub closed: i64,
    /// Received by the end of the period and not ended by then.
    pub in_progress: i64,
    pub in_progress_within: i64,
    pub in_progress_overdue: i64,
    /// (before_due + on_due_day) / resolved, in percent; none when nothing was resolved.
    pub on_time_pct: Option<f64>,
    /// Resolved late with an issued apology letter.
    pub late_apologised: i64,
    /// late_apologised / late, in percent; none when nothing was late.
    pub apology_pct: Option<f64>,
}

/// A number of the report: a count, or a rate in percent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Count(i64),
    Pct(Option<f64>),
}

/// How many numbers a row has (`ReportRow::numbers`).
pub const NUMBERS: usize = 17;

impl ReportRow {
    fn add(&mut self, c: &PeriodCounts) {
        self.carried += c.carried;
        self.new_total += c.new_total;
        self.new_online += c.new_online;
        self.new_direct += c.new_direct;
        self.new_postal += c.new_postal;
        self.before_due += c.before_due;
        self.on_due_day += c.on_due_day;
        self.late += c.late;
        self.late_apologised += c.late_apologised;
        self.closed += c.closed;
        self.in_progress += c.open_total;
        self.in_progress_overdue += c.open_overdue;
    }

    /// The sums and rates from the counts added.
    fn finish(mut self) -> ReportRow {
        self.received = self.carried + self.new_total;
        self.resolved = self.before_due + self.on_due_day + self.late;
        self.in_progress_within = self.in_progress - self.in_progress_overdue;
        self.on_time_pct = pct(self.before_due + self.on_due_day, self.resolved);
        self.apology_pct = pct(self.late_apologised, self.late);
        self
    }

    /// The numbers in the form's column order, after the index and the name.
    pub fn numbers(&self) -> [Num; NUMBERS] {
        use Num::{Count as C, Pct as P};
        [
            C(self.received),
            C(self.carried),
            C(self.new_total),
            C(self.new_online),
            C(self.new_direct),
            C(self.new_postal),
            C(self.resolved),
            C(self.before_due),
            C(self.on_due_day),
            C(self.late),
            C(self.closed),
            C(self.in_progress),
            C(self.in_progress_within),
            C(self.in_progress_overdue),
            P(self.on_time_pct),
            C(self.late_apologised),
            P(self.apology_pct),
        ]
    }
}

/// `part / whole` in percent, one decimal (as the KPIs round); none of nothing.
fn pct(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (1000.0 * part as f64 / whole as f64).round() / 10.0)
}

/// Rows by field, by unit (each by name, then code) and the totals.
pub(super) fn roll_up(counts: &[PeriodCounts]) -> (Vec<ReportRow>, Vec<ReportRow>, ReportRow) {
    let mut fields: BTreeMap<&str, ReportRow> = BTreeMap::new();
    let mut units: BTreeMap<&str, ReportRow> = BTreeMap::new();
    let mut total = ReportRow::default();
    for c in counts {
        for (map, code, name) in [
            (&mut fields, &c.field_code, &c.field_name),
            (&mut units, &c.unit_code, &c.unit_name),
        ] {
            let row = map.entry(code.as_str()).or_insert_with(|| ReportRow {
                code: code.clone(),
                name: name.clone(),
                ..ReportRow::default()
            });
            // A code seen under two names (renamed between syncs): one of them, always the same.
            if name > &row.name {
                row.name = name.clone();
            }
            row.add(c);
        }
        total.add(c);
    }
    let sorted = |m: BTreeMap<&str, ReportRow>| {
        let mut v: Vec<ReportRow> = m.into_values().map(ReportRow::finish).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.code.cmp(&b.code)));
        v
    };
    (sorted(fields), sorted(units), total.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(field: &str, unit: &str, n: i64) -> PeriodCounts {
        PeriodCounts {
            field_code: field.into(),
            field_name: format!("Lĩnh vực {field}"),
            unit_code: unit.into(),
            unit_name: format!("Đơn vị {unit}"),
            carried: n,
            new_total: 3 * n,
            new_online: n,
            new_direct: n,
            new_postal: n,
            before_due: n,
            on_due_day: n,
            late: n,
            late_apologised: n / 2,
            closed: 0,
            open_total: n,
            open_overdue: n / 2,
        }
    }

    #[test]
    fn rows_roll_up_by_field_and_unit_and_balance() {
        let c = [
            counts("DD", "PKT", 4),
            counts("DD", "PVH", 2),
            counts("HT", "PKT", 1),
        ];
        let (fields, units, total) = roll_up(&c);
        let names: Vec<&str> = fields.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(names, ["DD", "HT"]);
        assert_eq!(fields[0].received, 24);
        assert_eq!(fields[0].in_progress_within, 3);
        let units_carried: Vec<i64> = units.iter().map(|r| r.carried).collect();
        assert_eq!(units_carried, [5, 2]);
        assert_eq!(total.received, 28);
        assert_eq!(total.resolved, 21);
        assert_eq!(
            total.received,
            total.resolved + total.closed + total.in_progress
        );
        assert_eq!(total.on_time_pct, Some(66.7));
        // 2 + 1 + 0 of 7 late.
        assert_eq!(total.apology_pct, Some(42.9));
        for rows in [&fields, &units] {
            let sum: i64 = rows.iter().map(|r| r.in_progress_overdue).sum();
            assert_eq!(sum, total.in_progress_overdue);
        }
        let (_, _, empty) = roll_up(&[]);
        assert_eq!((empty.on_time_pct, empty.apology_pct), (None, None));
    }
}
