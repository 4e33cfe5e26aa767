//! The Prometheus metrics of one instance: the registry, its label types, and
//! the refresh of the gauges that live in the database before each scrape. The
//! daemon sets the sync gauges as it goes; `/metrics` (in `health`) encodes it.

use crate::clock::Clock;
use crate::store::{Store, StoreError};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

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
    pub unauthenticated: Counter,
    pub letters_pending: Gauge,
    pub leader: Gauge,
    /// 1 when the last scrape read the database's gauges, 0 when it could not.
    pub database_ok: Gauge,
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
            unauthenticated: Counter::default(),
            letters_pending: Gauge::default(),
            leader: Gauge::default(),
            database_ok: Gauge::default(),
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
            "api_unauthenticated_requests",
            "API and dashboard requests nobody authenticated, since start (sampled into the audit trail)",
            m.unauthenticated.clone(),
        );
        registry.register(
            "metrics_database_ok",
            "Whether the last scrape could read the gauges kept in the database",
            m.database_ok.clone(),
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

impl Metrics {
    /// Refreshes the gauges that live in the database, then encodes everything.
    /// The gauges that live in the database, read again.
    pub async fn refresh(&self, store: &Store, clock: &Clock) -> Result<(), StoreError> {
        // Classes that emptied must read 0, not their last value.
        for class in crate::deadline::Class::ALL {
            self.dossiers
                .get_or_create(&ClassLabel {
                    class: class.as_str().into(),
                })
                .set(0);
        }
        for (class, n) in store.count_by_class().await? {
            self.dossiers
                .get_or_create(&ClassLabel {
                    class: class.as_str().into(),
                })
                .set(n);
        }
        for (status, n) in store.outbox_counts().await? {
            self.outbox.get_or_create(&StatusLabel { status }).set(n);
        }
        self.letters_pending
            .set(store.count_pending_letters().await?);
        let now = clock.now_vn();
        for f in store.sync_freshness().await? {
            let source = f.source;
            if let Some(t) = f.last_success {
                let lag = (now - t).num_milliseconds() as f64 / 1000.0;
                self.sync_lag
                    .get_or_create(&SourceLabel { source })
                    .set(lag);
            }
        }
        Ok(())
    }

    /// Everything, as Prometheus reads it.
    pub fn encode(&self) -> Result<String, StoreError> {
        let mut out = String::new();
        encode(&mut out, &self.registry)
            .map_err(|e| StoreError::Corrupt(format!("encoding metrics: {e}")))?;
        Ok(out)
    }
}
