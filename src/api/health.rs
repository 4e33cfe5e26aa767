//! The operators' endpoints: `/healthz` (alive), `/readyz` (database
//! reachable, no job overrunning or stuck on a dependency, no source stale) and Prometheus `/metrics`. They sit
//! outside the audit trail that records the API and dashboard requests, and
//! answer within a bound whatever the database does: a load balancer or
//! Prometheus waiting 10 s on a stopped database learns nothing in time.

use super::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

async fn healthz() -> &'static str {
    "ok"
}

/// The longest `/readyz` waits for the database before answering unready.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(800);
/// The longest `/metrics` waits for the database's gauges before answering
/// with the others (and `tthc_metrics_database_ok 0`).
const METRICS_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    match tokio::time::timeout(READY_WITHIN, ready(&s)).await {
        Ok(r) => r,
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "database did not answer within {} ms",
                READY_WITHIN.as_millis()
            ),
        )
            .into_response(),
    }
}

async fn ready(s: &AppState) -> Response {
    let problems = s.watchdog.problems();
    if !problems.is_empty() {
        return (StatusCode::SERVICE_UNAVAILABLE, problems.join("\n")).into_response();
    }
    if let Err(e) = s.store.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("database unreachable: {e}"),
        )
            .into_response();
    }
    let now = s.clock.now_vn();
    let fresh = match s.store.sync_freshness().await {
        Ok(f) => f,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    for f in fresh.iter().filter(|f| s.sources.contains(&f.source)) {
        if let Some(why) = s.staleness.why_stale(f, now) {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("source {}: {why}", f.source),
            )
                .into_response();
        }
    }
    "ready".into_response()
}

/// Refreshes the gauges that live in the database (within `METRICS_WITHIN`;
/// else they keep their last values and `tthc_metrics_database_ok` reads 0),
/// then encodes everything.
pub async fn render_metrics(s: &AppState) -> Result<String, crate::store::StoreError> {
    let refreshed =
        tokio::time::timeout(METRICS_WITHIN, s.metrics.refresh(&s.store, &s.clock)).await;
    let ok = match refreshed {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: the database's gauges were not refreshed");
            false
        }
        Err(_) => {
            tracing::warn!(
                "metrics: the database did not answer in time; its gauges keep their last values"
            );
            false
        }
    };
    s.metrics.database_ok.set(i64::from(ok));
    s.metrics.encode()
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    match render_metrics(&s).await {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}
