//! An overview of what is stored (the demo prints it after each cycle), and
//! the periodic report (`tthc-watch report`).

use super::AppError;
use crate::deadline::Class;
use crate::report::{self, Period, PeriodReport};
use crate::store::Store;
use chrono::NaiveDateTime;
use std::path::Path;

/// Counts of what is stored.
#[derive(Debug)]
pub struct Overview {
    /// `(status code, n)`.
    pub by_status: Vec<(String, i64)>,
    /// `(field name, n)`.
    pub by_field: Vec<(String, i64)>,
    pub by_class: Vec<(Class, i64)>,
    pub due_mismatches: i64,
    pub quarantined: i64,
    /// `(outbox status, n)`.
    pub outbox: Vec<(String, i64)>,
}

pub async fn overview(store: &Store) -> Result<Overview, AppError> {
    Ok(Overview {
        by_status: store.count_by("status").await?,
        by_field: store.count_by("field_name").await?,
        by_class: store.count_by_class().await?,
        due_mismatches: store.count_due_mismatches().await?,
        quarantined: store.count_rows("quarantine").await?,
        outbox: store.outbox_counts().await?,
    })
}

/// Open and finished dossiers per class, as stored.
pub async fn classes(store: &Store) -> Result<Vec<(Class, i64)>, AppError> {
    Ok(store.count_by_class().await?)
}

/// Late and overdue dossiers' delays, by unit and by officer: `(who, n, days)`.
pub async fn delays(store: &Store) -> Result<[Vec<(String, i64, i64)>; 2], AppError> {
    Ok([
        store.delay_summary(false).await?,
        store.delay_summary(true).await?,
    ])
}

/// The periodic report of `period` (báo cáo tình hình, kết quả giải quyết
/// TTHC), counted in the store as of `now` and rolled up by field and unit;
/// the committee heading it from `routing`.
pub async fn period_report(
    store: &Store,
    routing: &crate::routing::Routing,
    period: &Period,
    now: NaiveDateTime,
) -> Result<PeriodReport, AppError> {
    let counts = store
        .period_counts(
            period.first,
            period.last,
            report::overdue_before(period, now),
        )
        .await?;
    Ok(report::build(
        period,
        &counts,
        report::Reporter::from_routing(routing),
        now,
    ))
}

/// The report as the form's XLSX, written to `out`.
pub fn write_period_xlsx(
    r: &PeriodReport,
    template: &report::ReportTemplate,
    out: &Path,
) -> Result<(), AppError> {
    let bytes = report::to_xlsx(r, template)?;
    std::fs::write(out, bytes).map_err(|error| AppError::Write {
        path: out.to_path_buf(),
        error,
    })
}
