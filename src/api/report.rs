//! `/api/v1/report`: the periodic report (báo cáo tình hình, kết quả giải
//! quyết TTHC) of a period, as JSON, CSV or the form's XLSX
//! (`bao-cao-tthc-2026-Q3.xlsx`). Every role reads it, as the KPIs; it holds
//! counts only, no personal data.

use super::handlers::ErrorBody;
use super::params::{Format, Params};
use super::state::AppState;
use super::{ApiError, Caller};
use crate::report::{self, Period, PeriodReport, ReportTemplate, Reporter};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// json (default), csv (one line per field, unit and the totals) or xlsx (the form).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ReportFormat {
    Json,
    Csv,
    Xlsx,
}

/// Parameters of `/api/v1/report`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ReportParams {
    /// 2026-10 (month), 2026-Q3 (quarter), 2026-H1 or 2026-H2 (six months),
    /// 2026 (year) or 2026-07-01..2026-09-30 (both days included, also
    /// accepted); default (or empty) this year, counted up to now.
    #[param(pattern = "^(20[0-9]{2}(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?)?$")]
    period: Option<String>,
    format: Option<ReportFormat>,
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The periodic report by field and by unit, with the totals.
#[utoipa::path(get, path = "/api/v1/report", params(ReportParams),
    responses(
        (status = 200, description = "The report (or its XLSX)", content(
            (PeriodReport = "application/json"),
            (String = "text/csv"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "A bad parameter, named", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody)))]
pub async fn report(
    State(s): State<Arc<AppState>>,
    _caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let p = Params(q);
    p.only(&["period", "format"])?;
    let now = s.clock.now_vn();
    let period = p.text("period").unwrap_or_else(|| now.year().to_string());
    let period =
        Period::parse(&period).map_err(|e| ApiError::bad(format!("parameter 'period': {e}")))?;
    let format = p.format()?;
    let counts = s
        .store
        .period_counts(
            period.first,
            period.last,
            report::overdue_before(&period, now),
        )
        .await?;
    let reporter = Reporter::from_routing(&s.rules().routing);
    let r = report::build(&period, &counts, reporter, now);
    if format == Format::Json {
        return Ok(Json(r).into_response());
    }
    // Read on each request, so an edited template shows without a restart;
    // it was checked at start (`RuleSet`).
    let template = ReportTemplate::from_settings(&s.report).map_err(ApiError::internal)?;
    let name = report::file_name(&period);
    let (bytes, mime, name) = if format == Format::Csv {
        let csv = report::to_csv(&r, &template).map_err(ApiError::internal)?;
        (
            csv,
            "text/csv; charset=utf-8",
            name.replace(".xlsx", ".csv"),
        )
    } else {
        let xlsx = report::to_xlsx(&r, &template).map_err(ApiError::internal)?;
        (xlsx, XLSX, name)
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
