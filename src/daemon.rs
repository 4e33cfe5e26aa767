//! `tthc-watch run`: the service as deployed. One scheduler runs the jobs in
//! turn (so no job overlaps itself or another): poll every source and then
//! evaluate and escalate on the `schedule.poll` cron, the digest on
//! `schedule.digest`, and drain the outbox every `send_every_secs`. The HTTP side
//! (`api`) runs beside it.
//!
//! Only one instance runs the jobs: on SQLite a lock file next to the database
//! refuses a second instance; on PostgreSQL an advisory lock elects a leader and
//! the others wait, retrying each poll interval, serving HTTP meanwhile.
//!
//! Shutdown is an input (a `CancellationToken`): the current job gets a few
//! seconds to finish its transaction, then is dropped (its open transaction
//! rolls back). A reload (SIGHUP in `main`) re-reads calendar, routing and
//! templates; invalid files are rejected and the old ones kept.

use crate::api::{AppState, SourceLabel};
use crate::app::check::CheckEvent;
use crate::app::{self, RuleSet};
use crate::check::Scope;
use crate::clock::{Clock, from_vn, to_vn};
use crate::config::Settings;
use crate::store::Store;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How long the running job may take to finish after a shutdown request.
const GRACE: Duration = Duration::from_secs(7);
/// Runs `job` unless shutdown; after a shutdown request it gets `GRACE` to finish.
async fn guarded<F: Future>(job: F, shutdown: &CancellationToken) -> Option<F::Output> {
    tokio::pin!(job);
    tokio::select! {
        r = &mut job => Some(r),
        _ = shutdown.cancelled() => match tokio::time::timeout(GRACE, &mut job).await {
            Ok(r) => Some(r),
            Err(_) => {
                tracing::warn!("job cut short by shutdown; its open transaction is rolled back");
                None
            }
        },
    }
}

fn next_after(cron: &croner::Cron, now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&crate::clock::VN);
    cron.find_next_occurrence(&local, false)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now + chrono::Duration::minutes(5))
}

pub struct Daemon {
    pub settings: Settings,
    pub config_path: Option<PathBuf>,
    pub clock: Clock,
    pub shutdown: CancellationToken,
    pub reload: Arc<Notify>,
}

impl Daemon {
    /// Runs until `shutdown`. Takes a SQLite database's lock first, then binds the HTTP
    /// listener, so a second instance or a port in use fails fast.
    pub async fn run(self) -> Result<()> {
        let settings = self.settings.clone();
        let mut rules = Arc::new(RuleSet::load(&settings)?);
        // SQLite: the lock first, so a second instance neither migrates nor binds.
        let early = crate::store::Store::lock_before_opening(&settings.database.url)?;
        let store = app::open_store(&settings).await?;
        if early.is_some() {
            // The only instance: messages claimed by a run that died (kill -9
            // mid-send) need not wait for their lease to run out.
            let n = store.release_claims().await?;
            if n > 0 {
                tracing::info!(messages = n, "released the outbox claims of a previous run");
            }
        }
        let listener = tokio::net::TcpListener::bind(&settings.server.listen)
            .await
            .with_context(|| format!("binding server.listen = {}", settings.server.listen))?;
        tracing::info!(addr = %settings.server.listen, "serving /healthz, /readyz, /metrics");
        let state = Arc::new(AppState::new(
            &settings,
            store.clone(),
            self.clock.clone(),
            rules.routing.clone(),
            rules.calendar.clone(),
        ));
        let http = tokio::spawn(crate::api::serve(
            listener,
            state.clone(),
            self.shutdown.clone(),
        ));

        let mut leadership = match early {
            Some(l) => Some(l),
            None => store.try_lead().await?,
        };
        let poll = settings.schedule.poll_cron().map_err(anyhow::Error::msg)?;
        let digest = settings
            .schedule
            .digest_cron()
            .map_err(anyhow::Error::msg)?;
        let send_every = chrono::Duration::seconds(settings.schedule.send_every_secs as i64);
        let now = self.clock.now_utc();
        let (mut next_poll, mut next_digest, mut next_send) = (now, next_after(&digest, now), now);
        // Each source on its own cadence (`sources.NAME.poll`, else `schedule.poll`).
        let mut sources: Vec<(String, croner::Cron, DateTime<Utc>)> = Vec::new();
        for (name, src) in settings.sources.iter().filter(|(_, s)| s.enabled) {
            let cron = match &src.poll {
                Some(expr) => crate::config::parse_cron(expr).map_err(anyhow::Error::msg)?,
                None => poll.clone(),
            };
            sources.push((name.clone(), cron, now));
        }
        if leadership.is_none() {
            tracing::info!("another instance leads; waiting to take over");
        }
        loop {
            let now = self.clock.now_utc();
            let held = match leadership.as_mut() {
                Some(l) => Some(l.still_held().await),
                None => None,
            };
            match held {
                Some(false) => {
                    tracing::error!(
                        "lost the leader lock (database connection broken); stepping down"
                    );
                    leadership = None;
                }
                None if now >= next_poll => match store.try_lead().await {
                    Ok(Some(l)) => {
                        tracing::info!("became the leader");
                        leadership = Some(l);
                    }
                    Ok(None) => next_poll = next_after(&poll, now),
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "cannot reach the leader lock; retrying at the next poll");
                        next_poll = next_after(&poll, now);
                    }
                },
                _ => {}
            }
            state.metrics.leader.set(i64::from(leadership.is_some()));
            if leadership.is_some() {
                let due: Vec<String> = sources
                    .iter()
                    .filter(|(_, _, t)| *t <= now)
                    .map(|(n, _, _)| n.clone())
                    .collect();
                if !due.is_empty() || now >= next_poll {
                    guarded(
                        self.poll_and_check(&settings, &rules, &store, &state, &due),
                        &self.shutdown,
                    )
                    .await;
                    let after = self.clock.now_utc();
                    for (name, cron, t) in sources.iter_mut() {
                        if due.contains(name) {
                            *t = next_after(cron, after);
                        }
                    }
                    next_poll = next_after(&poll, after);
                }
                if now >= next_digest && !self.shutdown.is_cancelled() {
                    match guarded(
                        app::digest::digest(&settings, &rules, &store, &self.clock, false),
                        &self.shutdown,
                    )
                    .await
                    {
                        Some(Ok(outcome)) => tracing::info!(?outcome, "digest"),
                        Some(Err(e)) => {
                            tracing::error!(error = %e, "digest failed; retrying at the next poll")
                        }
                        None => {}
                    }
                    next_digest = next_after(&digest, self.clock.now_utc());
                }
                if now >= next_send && !self.shutdown.is_cancelled() {
                    match guarded(
                        app::send::send(&settings, &store, &self.clock),
                        &self.shutdown,
                    )
                    .await
                    {
                        Some(Ok(s)) => {
                            tracing::info!("{s}");
                            state.metrics.send_failures.inc_by(s.retry + s.failed);
                        }
                        Some(Err(e)) => {
                            tracing::error!(error = %format!("{e:#}"), "sending failed")
                        }
                        None => {}
                    }
                    next_send = self.clock.now_utc() + send_every;
                }
            }
            if self.shutdown.is_cancelled() {
                break;
            }
            // What the jobs appended to the audit trail, witnessed outside it.
            if let Err(e) = store.witness_audit().await {
                tracing::warn!(error = %e, "cannot write the audit witness");
            }
            // SQLite: the jobs' writes copied into the database file (and
            // the WAL cut back), not left in a WAL that only grows until its
            // 160 MB autocheckpoint. Nothing to do on PostgreSQL.
            if let Err(e) = store.checkpoint().await {
                tracing::warn!(error = %e, "cannot checkpoint the database");
            }
            let next_source = sources
                .iter()
                .map(|(_, _, t)| *t)
                .min()
                .unwrap_or(next_poll);
            let next = next_poll.min(next_source).min(next_send).min(next_digest);
            let wait = (next - self.clock.now_utc())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_millis(50));
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                _ = self.reload.notified() => {
                    rules = self.reload_rules(rules);
                    // The API's day counts and dashboard follow the new files.
                    state.set_rules(rules.routing.clone(), rules.calendar.clone());
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
        if let Some(l) = leadership {
            l.release().await;
        }
        let _ = http.await;
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    }

    async fn poll_and_check(
        &self,
        settings: &Settings,
        rules: &RuleSet,
        store: &Store,
        state: &AppState,
        due: &[String],
    ) {
        for s in app::sync::sync_named(settings, store, &self.clock, due).await {
            state
                .metrics
                .sync_duration
                .get_or_create(&SourceLabel {
                    source: s.source.clone(),
                })
                .set(s.elapsed.as_secs_f64());
            match &s.error {
                None => tracing::info!("{s}"),
                Some(_) => tracing::error!("{s}"),
            }
        }
        let checked = app::check::check(
            settings,
            rules,
            store,
            &self.clock,
            Scope::Due,
            &mut |e| match e {
                CheckEvent::CoverageWarning(w) => tracing::warn!("{w}"),
                e => tracing::info!("{e}"),
            },
        )
        .await;
        if let Err(e) = checked {
            tracing::error!(error = %e, "check failed; retrying at the next poll");
        }
    }

    /// New calendar, routing and templates from the files; the old ones if invalid.
    fn reload_rules(&self, old: Arc<RuleSet>) -> Arc<RuleSet> {
        let loaded = Settings::load(self.config_path.as_deref())
            .map_err(anyhow::Error::from)
            .and_then(|s| Ok(RuleSet::load(&s)?));
        match loaded {
            Ok(r) => {
                tracing::info!("reloaded calendar, routing and templates");
                Arc::new(r)
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "reload rejected; keeping the previous calendar, routing and templates");
                old
            }
        }
    }
}

/// `--now` for a long-running process: start there and move with real time.
pub fn daemon_clock(now: Option<DateTime<Utc>>) -> Clock {
    match now {
        Some(t) => Clock::starting_at(from_vn(to_vn(t))),
        None => Clock::System,
    }
}
