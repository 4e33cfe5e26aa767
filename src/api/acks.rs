//! `/api/v1/acks`: how fast each leader acknowledges — per recipient of
//! due-today and overdue alerts in a period, how many were sent, how many
//! acknowledged, and how many within `escalation.ack_timeout_hours` working
//! hours of being sent (counted in office hours on the calendar); as JSON,
//! CSV or XLSX. The auditors' page shows the same table.

use super::export::{Cell, Table};
use super::handlers::{ErrorBody, download};
use super::params::{Format, Params};
use super::state::AppState;
use super::{ApiError, Caller};
use crate::store::LeaderAlert;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// One leader's acknowledgements.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct AckKpi {
    pub name: String,
    pub email: String,
    /// chair, vice_chair or unit_head.
    pub role: String,
    /// Due-today and overdue alerts sent in the period.
    pub alerts: i64,
    pub acknowledged: i64,
    /// Acknowledged within the timeout, in working hours.
    pub within_timeout: i64,
    /// `within_timeout` / `alerts`, in percent; none without alerts.
    pub within_timeout_pct: Option<f64>,
}

/// Parameters of `/api/v1/acks`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AckParams {
    /// Alerts sent on or after (YYYY-MM-DD), default 1 January of this year.
    from: Option<NaiveDate>,
    /// Sent on or before (YYYY-MM-DD), default today.
    to: Option<NaiveDate>,
    /// json (default), csv or xlsx.
    format: Option<super::handlers::ExportFormat>,
}

/// Per leader, from the alerts sent and their first acknowledgements.
pub fn ack_kpis(
    alerts: &[LeaderAlert],
    calendar: &crate::calendar::Calendar,
    hours: &crate::calendar::OfficeHours,
    timeout_hours: u32,
) -> Vec<AckKpi> {
    let mut by: BTreeMap<(String, String), AckKpi> = BTreeMap::new();
    for a in alerts {
        let k = by
            .entry((a.recipient_role.clone(), a.recipient.clone()))
            .or_insert_with(|| AckKpi {
                name: a
                    .recipient_name
                    .clone()
                    .unwrap_or_else(|| a.recipient.clone()),
                email: a.recipient.clone(),
                role: a.recipient_role.clone(),
                ..AckKpi::default()
            });
        k.alerts += 1;
        if let Some(at) = a.acknowledged_at {
            k.acknowledged += 1;
            // Acknowledged before the alert was sent (an earlier alert's
            // link) counts as in time.
            let minutes = calendar
                .working_minutes_between(hours, a.sent_at, at)
                .unwrap_or(i64::MAX);
            if minutes <= i64::from(timeout_hours) * 60 {
                k.within_timeout += 1;
            }
        }
    }
    by.into_values()
        .map(|mut k| {
            k.within_timeout_pct = (k.alerts > 0)
                .then(|| (1000.0 * k.within_timeout as f64 / k.alerts as f64).round() / 10.0);
            k
        })
        .collect()
}

fn role_vi(role: &str) -> &str {
    match role {
        "chair" => "Chủ tịch",
        "vice_chair" => "Phó Chủ tịch",
        "unit_head" => "Thủ trưởng đơn vị",
        other => other,
    }
}

fn table(rows: &[AckKpi]) -> Table {
    Table {
        sheet: "Xác nhận".into(),
        headers: vec![
            "Lãnh đạo",
            "Email",
            "Vai trò",
            "Cảnh báo đến hạn, quá hạn",
            "Đã xác nhận",
            "Xác nhận trong thời hạn (giờ làm việc)",
            "Tỷ lệ xác nhận trong thời hạn (%)",
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::text(&r.name),
                    Cell::text(&r.email),
                    Cell::text(role_vi(&r.role)),
                    Cell::Number(r.alerts as f64),
                    Cell::Number(r.acknowledged as f64),
                    Cell::Number(r.within_timeout as f64),
                    Cell::opt_num(r.within_timeout_pct),
                ]
            })
            .collect(),
    }
}

/// The period's per-leader figures (the API's and the auditors' page's).
pub(super) async fn kpis_of(
    s: &AppState,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<AckKpi>, ApiError> {
    let alerts = s.store.leader_alerts(from, to).await?;
    Ok(ack_kpis(
        &alerts,
        &s.rules().calendar,
        &s.hours,
        s.ack_timeout_hours,
    ))
}

/// How fast each leader acknowledges the due-today and overdue alerts sent
/// to them.
#[utoipa::path(get, path = "/api/v1/acks", params(AckParams),
    responses(
        (status = 200, description = "Per leader (or the export)", content(
            (Vec<AckKpi> = "application/json"),
            (String = "text/csv"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "A bad parameter, named", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody)))]
pub async fn acks(
    State(s): State<Arc<AppState>>,
    _caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let p = Params(q);
    p.only(&["from", "to", "format"])?;
    let (from, to) = p.period_or_this_year(s.clock.now_vn().date())?;
    let format = p.format()?;
    let rows = kpis_of(&s, from, to).await?;
    if format == Format::Json {
        return Ok(Json(rows).into_response());
    }
    download(
        &table(&rows),
        format,
        &format!("lanh-dao-xac-nhan-{from}_{to}"),
    )
}
