//! The periodic report (báo cáo tình hình, kết quả giải quyết TTHC): for a
//! period (`period`), the dossiers received (carried over, new by channel),
//! resolved (before, on, after the due day), closed without a result and
//! still in progress at its end (within time, overdue), by field and by
//! unit, with the on-time and apology rates (`rows`); as an XLSX laid out
//! like the form centres send upward (`xlsx`), its wording in
//! `config/report.toml` (`template`), or as text: a short table, CSV (`text`).
//!
//! Pure: the counts come from `Store::period_counts`, read by the caller.
//! What each number means is said once, in `store::period_report` and
//! README's "Periodic report".

pub mod period;
mod rows;
pub mod template;
mod text;
mod xlsx;

pub use period::{Period, PeriodKind};
pub use rows::{Num, ReportRow};
pub use template::ReportTemplate;
pub use text::{text_table, to_csv};
pub use xlsx::to_xlsx;

use chrono::{Days, NaiveDateTime, NaiveTime};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("period '{input}': {reason}; {}", period::ACCEPTED)]
    Period { input: String, reason: String },
    #[error("cannot read report template {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("report template {origin}: {message}")]
    Toml { origin: String, message: String },
    #[error("report template {origin}: key `{key}`: {message}")]
    Template {
        origin: String,
        key: String,
        message: String,
    },
    #[error("writing the report's XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("writing the report's CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// A period as the report shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PeriodInfo {
    pub kind: PeriodKind,
    /// First day (YYYY-MM-DD).
    pub from: String,
    /// Last day, included (YYYY-MM-DD).
    pub to: String,
    /// "Quý III năm 2026".
    pub label: String,
    /// "2026-Q3", as in the file name.
    pub slug: String,
}

impl From<&Period> for PeriodInfo {
    fn from(p: &Period) -> PeriodInfo {
        PeriodInfo {
            kind: p.kind,
            from: p.first.to_string(),
            to: p.last.to_string(),
            label: p.label_vi(),
            slug: p.slug(),
        }
    }
}

/// Who reports: the committee's header lines and its place (for the date line).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Reporter {
    pub lines: Vec<String>,
    pub place: String,
}

impl Reporter {
    /// From the routing's committee, as its letters head it.
    pub fn from_routing(r: &crate::routing::Routing) -> Reporter {
        let c = &r.committee;
        let lines = if c.letter_header.is_empty() {
            vec![c.name.clone()]
        } else {
            c.letter_header.clone()
        };
        Reporter {
            lines,
            place: c.place.clone(),
        }
    }
}

/// The whole report: one row per field, one per unit, and the totals.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PeriodReport {
    pub reporter: Reporter,
    pub period: PeriodInfo,
    /// The period whose in-progress dossiers are carried over.
    pub previous: PeriodInfo,
    /// When the figures were taken (YYYY-MM-DD HH:MM:SS, Vietnam time); a
    /// period not over yet is counted up to then.
    pub as_of: String,
    pub by_field: Vec<ReportRow>,
    pub by_unit: Vec<ReportRow>,
    /// "Tổng cộng": the sum of either list.
    pub total: ReportRow,
}

/// Before which instant an open dossier's due date makes it overdue at the
/// end of `p` looked at `now`: the day after the period's last (a dossier
/// due on the last day and still open when it ends is late, as the deadline
/// engine judges it the next morning), or today when the period is not over.
pub fn overdue_before(p: &Period, now: NaiveDateTime) -> NaiveDateTime {
    let after = p.last.checked_add_days(Days::new(1)).unwrap_or(p.last);
    after.min(now.date()).and_time(NaiveTime::MIN)
}

/// The report from the store's counts of `p`.
pub fn build(
    p: &Period,
    counts: &[crate::store::PeriodCounts],
    reporter: Reporter,
    as_of: NaiveDateTime,
) -> PeriodReport {
    let (by_field, by_unit, total) = rows::roll_up(counts);
    PeriodReport {
        reporter,
        period: p.into(),
        previous: (&p.previous()).into(),
        as_of: crate::clock::fmt_db(as_of),
        by_field,
        by_unit,
        total,
    }
}

/// The XLSX's file name: `bao-cao-tthc-2026-Q3.xlsx`.
pub fn file_name(p: &Period) -> String {
    format!("bao-cao-tthc-{}.xlsx", p.slug())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn overdue_is_judged_the_morning_after_the_period_or_today() {
        let q3 = Period::parse("2026-Q3").unwrap();
        assert_eq!(
            overdue_before(&q3, at("2026-11-25 08:00")),
            at("2026-10-01 00:00")
        );
        // Not over yet: due before today.
        assert_eq!(
            overdue_before(&q3, at("2026-08-12 15:30")),
            at("2026-08-12 00:00")
        );
        assert_eq!(file_name(&q3), "bao-cao-tthc-2026-Q3.xlsx");
    }
}
