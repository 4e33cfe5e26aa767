//! The state every request shares: the store, the clock, the metrics, and the
//! rules (routing and calendar) as last loaded, which a reload replaces.

use super::metrics::Metrics;
use crate::clock::Clock;
use crate::store::Store;
use std::sync::Arc;

pub struct AppState {
    pub store: Store,
    pub clock: Clock,
    pub metrics: Metrics,
    /// Sources that must not be stale for readiness.
    pub sources: Vec<String>,
    pub staleness: crate::source::Staleness,
    /// Office hours and the deadline rules, for explaining a due date.
    pub hours: crate::calendar::OfficeHours,
    pub deadline: crate::deadline::Rules,
    /// Working hours a leader has to acknowledge an alert (the KPI's bound).
    pub ack_timeout_hours: u32,
    /// The daemon's jobs, for readiness (none outside `run`).
    pub watchdog: Arc<crate::watchdog::Watchdog>,
    /// Routing and calendar as last loaded; a reload (SIGHUP) replaces them.
    rules: std::sync::RwLock<Arc<ShownRules>>,
    pub kpi: crate::config::KpiSettings,
    /// Where the periodic report's wording is (`report.template_file`).
    pub report: crate::config::ReportSettings,
    /// Failed dashboard logins per client address, for rate limiting.
    /// Unauthenticated requests, counted and sampled into the audit trail.
    pub anonymous: super::access::Anonymous,
    /// The units and fields the auditors' page offers, and when they were read.
    pub facets: tokio::sync::Mutex<Option<(std::time::Instant, crate::store::Facets)>>,
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

    /// The state of one server, showing the routing and calendar given (as
    /// loaded once in the application's `RuleSet`).
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
            staleness: crate::source::Staleness::from_settings(settings),
            watchdog: Default::default(),
            hours: crate::calendar::OfficeHours::from_settings(&settings.calendar),
            deadline: crate::deadline::Rules::from_settings(&settings.deadline),
            ack_timeout_hours: settings.escalation.ack_timeout_hours,
            rules: std::sync::RwLock::new(Arc::new(ShownRules { routing, calendar })),
            kpi: settings.kpi.clone(),
            report: settings.report.clone(),
            anonymous: Default::default(),
            facets: Default::default(),
            logins: Default::default(),
        }
    }
}
