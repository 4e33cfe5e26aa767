//! The operators' endpoints: `/healthz` (alive), `/readyz` (database
//! reachable, every source synced recently) and Prometheus `/metrics`. They sit
//! outside the audit trail that records the API and dashboard requests.

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

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
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
    for source in &s.sources {
        let last = fresh
            .iter()
            .find(|(n, _, _)| n == source)
            .and_then(|(_, ok, _)| *ok);
        match last {
            Some(t) if (now - t).num_minutes() < s.stale_after_minutes => {}
            Some(t) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("source {source}: last successful sync at {t}"),
                )
                    .into_response();
            }
            None => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("source {source}: never synced"),
                )
                    .into_response();
            }
        }
    }
    "ready".into_response()
}

/// Refreshes the gauges that live in the database, then encodes everything.
pub async fn render_metrics(s: &AppState) -> Result<String, crate::store::StoreError> {
    s.metrics.render(&s.store, &s.clock).await
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
