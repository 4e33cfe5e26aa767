//! The HTTP side of the service: `/healthz` (alive), `/readyz` (database
//! reachable, every source synced recently), Prometheus `/metrics`, and the
//! auditor API and dashboard (`api`). Every instance serves it, leader or not.

use crate::clock::Clock;
use crate::store::Store;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    pub source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabel {
    pub class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

/// One registry per service instance (parallel tests stay apart).
pub struct Metrics {
    registry: Registry,
    pub sync_duration: Family<SourceLabel, Gauge<f64, AtomicU64>>,
    pub sync_lag: Family<SourceLabel, Gauge<f64, AtomicU64>>,
    pub dossiers: Family<ClassLabel, Gauge>,
    pub outbox: Family<StatusLabel, Gauge>,
    pub send_failures: Counter,
    pub letters_pending: Gauge,
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("tthc");
        let m = Metrics {
            sync_duration: Family::default(),
            sync_lag: Family::default(),
            dossiers: Family::default(),
            outbox: Family::default(),
            send_failures: Counter::default(),
            letters_pending: Gauge::default(),
            leader: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "sync_duration_seconds",
            "Duration of the last sync of each source",
            m.sync_duration.clone(),
        );
        registry.register(
            "sync_lag_seconds",
            "Seconds since the last successful sync of each source",
            m.sync_lag.clone(),
        );
        registry.register(
            "dossiers",
            "Live dossiers by deadline class",
            m.dossiers.clone(),
        );
        registry.register(
            "outbox_messages",
            "Outbox messages by status",
            m.outbox.clone(),
        );
        registry.register(
            "send_failures",
            "Failed delivery attempts since start",
            m.send_failures.clone(),
        );
        registry.register(
            "letters_pending",
            "Apology drafts not yet issued",
            m.letters_pending.clone(),
        );
        registry.register(
            "leader",
            "1 when this instance runs the jobs",
            m.leader.clone(),
        );
        Metrics { registry, ..m }
    }
}

pub struct AppState {
    pub store: Store,
    pub clock: Clock,
    pub metrics: Metrics,
    /// Sources that must have synced within `stale_after_minutes` for readiness.
    pub sources: Vec<String>,
    pub stale_after_minutes: i64,
    /// Routing and calendar as last loaded; a reload (SIGHUP) replaces them.
    rules: std::sync::RwLock<Arc<ShownRules>>,
    pub kpi: crate::config::KpiSettings,
    /// Failed dashboard logins per client address, for rate limiting.
    pub logins:
        std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, (std::time::Instant, u32)>>,
}

/// What the API and dashboard show of the rules.
pub struct ShownRules {
    /// The committee's name heads the dashboard.
    pub routing: crate::routing::Routing,
    /// For the working days left or late of open dossiers, on the day asked.
    pub calendar: crate::calendar::Calendar,
}

impl AppState {
    /// The routing and calendar as last loaded, for one request.
    pub fn rules(&self) -> Arc<ShownRules> {
        // A poisoned lock still holds a whole value: it is only ever replaced.
        Arc::clone(&self.rules.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// What the API shows from now on, after the daemon reloaded its rules.
    pub fn set_rules(&self, routing: crate::routing::Routing, calendar: crate::calendar::Calendar) {
        let new = Arc::new(ShownRules { routing, calendar });
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = new;
    }

    pub fn new(
        settings: &crate::config::Settings,
        store: Store,
        clock: Clock,
        routing: crate::routing::Routing,
        calendar: crate::calendar::Calendar,
    ) -> AppState {
        AppState {
            store,
            clock,
            metrics: Metrics::default(),
            sources: settings
                .sources
                .iter()
                .filter(|(_, s)| s.enabled)
                .map(|(n, _)| n.clone())
                .collect(),
            stale_after_minutes: settings.escalation.stale_after_minutes,
            rules: std::sync::RwLock::new(Arc::new(ShownRules { routing, calendar })),
            kpi: settings.kpi.clone(),
            logins: Default::default(),
        }
    }
}

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
    let m = &s.metrics;
    // Classes that emptied must read 0, not their last value.
    for class in crate::deadline::Class::ALL {
        m.dossiers
            .get_or_create(&ClassLabel {
                class: class.as_str().into(),
            })
            .set(0);
    }
    for (class, n) in s.store.count_by_class().await? {
        m.dossiers
            .get_or_create(&ClassLabel {
                class: class.as_str().into(),
            })
            .set(n);
    }
    for (status, n) in s.store.outbox_counts().await? {
        m.outbox.get_or_create(&StatusLabel { status }).set(n);
    }
    m.letters_pending
        .set(s.store.count_pending_letters().await?);
    let now = s.clock.now_vn();
    for (source, ok, _) in s.store.sync_freshness().await? {
        if let Some(t) = ok {
            let lag = (now - t).num_milliseconds() as f64 / 1000.0;
            m.sync_lag.get_or_create(&SourceLabel { source }).set(lag);
        }
    }
    let mut out = String::new();
    encode(&mut out, &m.registry)
        .map_err(|e| crate::store::StoreError::Corrupt(format!("encoding metrics: {e}")))?;
    Ok(out)
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

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(crate::api::router(state.clone()))
        .with_state(state)
}

pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}
