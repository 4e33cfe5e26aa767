//! An overview of what is stored: the demo prints it after each cycle.

use super::AppError;
use crate::deadline::Class;
use crate::store::Store;

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
