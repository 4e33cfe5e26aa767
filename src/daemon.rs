//! `tthc-watch run`: the service as deployed. Each job is a task of its own,
//! so one stuck dependency holds up only its own job:
//!
//! - a poll per source, on `sources.NAME.poll` (else `schedule.poll`);
//! - the check (evaluate, escalate, draft letters) after each poll, and at
//!   the latest a minute after a `schedule.poll` tick whose polls hang;
//! - the digest on `schedule.digest`, once the check of its moment is done;
//! - the outbox drain every `send_every_secs` and after each check.
//!
//! Every job reports to a watchdog (`watchdog`) that `/readyz` reads: a job
//! past `schedule.job_limit_secs`, or a drain the SMTP server did not answer,
//! makes the instance unready with the reason. The HTTP side (`api`) runs
//! beside them.
//!
//! Only the leader runs jobs (`store::leader`): on SQLite a lock file next to
//! the database refuses a second instance; on PostgreSQL a lease renewed every
//! third of `schedule.lease_secs` elects one, and the others take over when it
//! stops renewing. A job starts only while leadership holds and is dropped the
//! moment it is lost; the send path checks it again before every message.
//!
//! Shutdown is an input (a `CancellationToken`): running jobs get a few
//! seconds to finish their transaction, then are dropped (their open
//! transactions roll back). A reload (SIGHUP in `main`) re-reads calendar,
//! routing and templates; invalid files are rejected and the old ones kept.

use crate::api::{AppState, SourceLabel};
use crate::app::check::CheckEvent;
use crate::app::{self, RuleSet};
use crate::check::Scope;
use crate::clock::{Clock, from_vn, to_vn};
use crate::config::Settings;
use crate::store::{Fence, FileLock, Leader, Renewal, Store};
use crate::watchdog::Watchdog;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

/// How long a running job may take to finish after a shutdown request.
const GRACE: Duration = Duration::from_secs(7);
/// How long after a `schedule.poll` tick the check runs even if a poll of
/// that tick has not finished (a source that hangs must not stop the
/// alerts on what is already stored).
const CHECK_FALLBACK: Duration = Duration::from_secs(60);
/// How long the digest waits for the check of its moment.
const DIGEST_WAIT: Duration = Duration::from_secs(300);
/// How long after its time an instance that becomes the leader still makes
/// the day's digest (it was due while another instance led and died).
const DIGEST_CATCH_UP: Duration = Duration::from_secs(4 * 3600);

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

/// What every job task shares.
struct Shared {
    settings: Settings,
    clock: Clock,
    store: Store,
    state: Arc<AppState>,
    rules: RwLock<Arc<RuleSet>>,
    watchdog: Arc<Watchdog>,
    limit: Duration,
    shutdown: CancellationToken,
    /// The current leadership's fence; None while another instance leads.
    term: watch::Receiver<Option<Fence>>,
    /// Counts finished polls (the check follows them).
    polled: watch::Sender<u64>,
    /// Counts finished checks (the digest and the drain follow them).
    checked: watch::Sender<u64>,
    /// One housekeeping (witness, checkpoint) at a time.
    housekeeping: tokio::sync::Mutex<()>,
}

impl Shared {
    fn rules(&self) -> Arc<RuleSet> {
        // A poisoned lock still holds a whole value: it is only ever replaced.
        Arc::clone(&self.rules.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The fence of the leadership this instance holds, if it does.
    fn leading(&self) -> Option<Fence> {
        let fence = self.term.borrow().clone()?;
        (fence.holds() && !self.shutdown.is_cancelled()).then_some(fence)
    }

    /// Runs `work` as `name` under `fence`'s leadership and the watchdog;
    /// drops it the moment leadership is lost (unless `stops_itself`: the
    /// drain checks the fence before each message, and must record the one
    /// in flight), and after `GRACE` once shutdown is asked. None when it did
    /// not run to the end.
    async fn run_job<Fut: Future>(
        &self,
        name: &str,
        fence: &Fence,
        stops_itself: bool,
        work: Fut,
    ) -> Option<Fut::Output> {
        let running = self.watchdog.start(name, self.limit);
        tokio::pin!(work);
        let lost = async {
            if stops_itself {
                std::future::pending::<()>().await
            }
            fence.lost().await
        };
        let out = tokio::select! {
            r = &mut work => Some(r),
            _ = lost => {
                tracing::warn!(job = name, "leadership lost: job stopped");
                None
            }
            _ = self.shutdown.cancelled() => match tokio::time::timeout(GRACE, &mut work).await {
                Ok(r) => Some(r),
                Err(_) => {
                    tracing::warn!(job = name, "job cut short by shutdown; its open transaction is rolled back");
                    None
                }
            },
        };
        drop(running);
        self.housekeeping().await;
        out
    }

    /// A finished job's result into the log and the watchdog: a failure (a
    /// full disk, the database gone) makes the instance unready, with the
    /// reason, until the job next succeeds. Its value when it succeeded.
    fn outcome<T, E: std::fmt::Display>(&self, job: &str, ran: Option<Result<T, E>>) -> Option<T> {
        match ran? {
            Ok(v) => {
                self.watchdog.trouble(job, None);
                Some(v)
            }
            Err(e) => {
                tracing::error!(error = %e, job, "job failed; it runs again at its next time");
                self.watchdog.trouble(job, Some(format!("failed: {e}")));
                None
            }
        }
    }

    /// After a job: what it appended to the audit trail, witnessed outside
    /// it; on SQLite its writes copied into the database file and the WAL cut
    /// back (nothing to do on PostgreSQL).
    async fn housekeeping(&self) {
        let _one = self.housekeeping.lock().await;
        if let Err(e) = self.store.witness_audit().await {
            tracing::warn!(error = %e, "cannot write the audit witness");
        }
        if let Err(e) = self.store.checkpoint().await {
            tracing::warn!(error = %e, "cannot checkpoint the database");
        }
    }

    /// Sleeps until `at` (false: shutdown came first).
    async fn sleep_until(&self, at: DateTime<Utc>) -> bool {
        let wait = (at - self.clock.now_utc())
            .to_std()
            .unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = self.shutdown.cancelled() => false,
            _ = tokio::time::sleep(wait) => true,
        }
    }
}

impl Daemon {
    /// Runs until `shutdown`. Takes a SQLite database's lock first, then binds the HTTP
    /// listener, so a second instance or a port in use fails fast.
    pub async fn run(self) -> Result<()> {
        let settings = self.settings.clone();
        let rules = Arc::new(RuleSet::load(&settings)?);
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
        let lease = Duration::from_secs(settings.schedule.lease_secs);
        let first = store.try_lead(early, lease).await?;
        let (term_tx, term) = watch::channel(first.as_ref().map(Leader::fence));
        if first.is_none() {
            tracing::info!("another instance leads; waiting to take over");
        }
        let shared = Arc::new(Shared {
            clock: self.clock.clone(),
            store: store.clone(),
            state: state.clone(),
            rules: RwLock::new(rules),
            watchdog: state.watchdog.clone(),
            limit: Duration::from_secs(settings.schedule.job_limit_secs),
            shutdown: self.shutdown.clone(),
            term,
            polled: watch::channel(0).0,
            checked: watch::channel(0).0,
            housekeeping: Default::default(),
            settings,
        });
        let leadership = tokio::spawn(lead(shared.clone(), first, term_tx, lease));
        // Concurrent futures of this one task rather than spawned tasks: they
        // wait on I/O and timers, and need not be `Send`.
        let mut jobs: Vec<Pin<Box<dyn Future<Output = ()>>>> = Vec::new();
        let poll = shared
            .settings
            .schedule
            .poll_cron()
            .map_err(anyhow::Error::msg)?;
        for (name, src) in shared.settings.sources.iter().filter(|(_, s)| s.enabled) {
            let cron = match &src.poll {
                Some(expr) => crate::config::parse_cron(expr).map_err(anyhow::Error::msg)?,
                None => poll.clone(),
            };
            jobs.push(Box::pin(poll_source(shared.clone(), name.clone(), cron)));
        }
        jobs.push(Box::pin(check(shared.clone(), poll)));
        let digest_cron = shared
            .settings
            .schedule
            .digest_cron()
            .map_err(anyhow::Error::msg)?;
        jobs.push(Box::pin(digest(shared.clone(), digest_cron)));
        jobs.push(Box::pin(send(shared.clone())));
        let reload = async {
            loop {
                tokio::select! {
                    _ = self.shutdown.cancelled() => break,
                    _ = self.reload.notified() => {
                        let rules = self.reload_rules(shared.rules());
                        // The API's day counts and dashboard follow the new files.
                        state.set_rules(rules.routing.clone(), rules.calendar.clone());
                        *shared.rules.write().unwrap_or_else(|p| p.into_inner()) = rules;
                    }
                }
            }
        };
        jobs.push(Box::pin(reload));
        // Until shutdown; jobs finish (within their grace) while leadership
        // is still held.
        futures_util::future::join_all(jobs).await;
        if let Ok(Some(l)) = leadership.await {
            l.release().await;
        }
        let _ = http.await;
        store.close().await;
        tracing::info!("stopped");
        Ok(())
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

/// Keeps leadership: renews it every third of the lease, or, while another
/// instance leads, tries to take it over as often. Publishes each change to
/// the jobs. Returns the leadership held at shutdown, to be released once
/// the jobs have finished.
async fn lead(
    s: Arc<Shared>,
    mut leader: Option<Leader>,
    term: watch::Sender<Option<Fence>>,
    lease: Duration,
) -> Option<Leader> {
    let mut unreachable_logged = false;
    loop {
        let mut wait = lease / 3;
        match leader.as_mut() {
            Some(l) => match l.renew().await {
                Renewal::Renewed => {}
                // Within the lease still: again in a second, not a third of it.
                Renewal::Failed => wait = Duration::from_secs(1),
                Renewal::Lost => {
                    tracing::error!("lost the leadership; stepping down");
                    leader = None;
                    term.send_replace(None);
                    // What its jobs left wrong is the new leader's to report.
                    s.watchdog.clear_troubles();
                }
            },
            None => match s.store.try_lead(None::<FileLock>, lease).await {
                Ok(Some(l)) => {
                    tracing::info!(generation = l.fence().generation(), "became the leader");
                    term.send_replace(Some(l.fence()));
                    leader = Some(l);
                    unreachable_logged = false;
                }
                Ok(None) => unreachable_logged = false,
                Err(e) => {
                    if !unreachable_logged {
                        tracing::warn!(error = %e, "cannot reach the leader lease; retrying");
                        unreachable_logged = true;
                    }
                }
            },
        }
        s.state.metrics.leader.set(i64::from(leader.is_some()));
        tokio::select! {
            _ = s.shutdown.cancelled() => return leader,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Waits for `at`, or for this instance to become the leader (then at once:
/// a new leader picks up where the old one stopped). False on shutdown.
async fn wait_for(
    s: &Shared,
    at: DateTime<Utc>,
    term: &mut watch::Receiver<Option<Fence>>,
) -> bool {
    tokio::select! {
        r = s.sleep_until(at) => r,
        changed = term.changed() => changed.is_ok() && !s.shutdown.is_cancelled(),
    }
}

/// One source's polls.
async fn poll_source(s: Arc<Shared>, name: String, cron: croner::Cron) {
    let mut term = s.term.clone();
    let mut next = s.clock.now_utc();
    let job = format!("poll {name}");
    while wait_for(&s, next, &mut term).await {
        let Some(fence) = s.leading() else {
            next = next_after(&cron, s.clock.now_utc());
            continue;
        };
        let work =
            app::sync::sync_named(&s.settings, &s.store, &s.clock, std::slice::from_ref(&name));
        let done = s.run_job(&job, &fence, false, work).await;
        for summary in done.into_iter().flatten() {
            s.state
                .metrics
                .sync_duration
                .get_or_create(&SourceLabel {
                    source: summary.source.clone(),
                })
                .set(summary.elapsed.as_secs_f64());
            match &summary.error {
                None => tracing::info!("{summary}"),
                Some(_) => tracing::error!("{summary}"),
            }
            s.polled.send_modify(|n| *n += 1);
        }
        next = next_after(&cron, s.clock.now_utc());
    }
}

/// Evaluation and escalation after each poll, and at the latest
/// `CHECK_FALLBACK` after a poll tick.
async fn check(s: Arc<Shared>, poll: croner::Cron) {
    let mut polled = s.polled.subscribe();
    let mut last = s.clock.now_utc();
    loop {
        let fallback = next_after(&poll, last)
            + chrono::Duration::from_std(CHECK_FALLBACK).unwrap_or_default();
        tokio::select! {
            _ = s.shutdown.cancelled() => return,
            r = polled.changed() => if r.is_err() { return },
            _ = s.sleep_until(fallback) => {}
        }
        polled.borrow_and_update();
        last = s.clock.now_utc();
        let Some(fence) = s.leading() else { continue };
        let rules = s.rules();
        let mut log = |e: CheckEvent<'_>| match e {
            CheckEvent::CoverageWarning(w) => tracing::warn!("{w}"),
            e => tracing::info!("{e}"),
        };
        let work = app::check::check(
            &s.settings,
            &rules,
            &s.store,
            &s.clock,
            Scope::Due,
            &mut log,
        );
        let checked = s.run_job("check", &fence, false, work).await;
        if s.outcome("check", checked).is_some() {
            s.checked.send_modify(|n| *n += 1);
        }
    }
}

/// The centre's morning digest.
async fn digest(s: Arc<Shared>, cron: croner::Cron) {
    loop {
        if !s.sleep_until(next_after(&cron, s.clock.now_utc())).await {
            return;
        }
        // On what the check of this moment found, unless it does not come.
        let mut checked = s.checked.subscribe();
        checked.borrow_and_update();
        tokio::select! {
            _ = s.shutdown.cancelled() => return,
            _ = tokio::time::timeout(DIGEST_WAIT, checked.changed()) => {}
        }
        // Another instance leads: if it fails over later in the day, this
        // one makes the day's digest once it leads (one per day is kept).
        let mut term = s.term.clone();
        let until =
            s.clock.now_utc() + chrono::Duration::from_std(DIGEST_CATCH_UP).unwrap_or_default();
        let fence = loop {
            if let Some(f) = s.leading() {
                break Some(f);
            }
            if s.clock.now_utc() >= until {
                break None;
            }
            if !wait_for(&s, until, &mut term).await {
                return;
            }
        };
        let Some(fence) = fence else { continue };
        let rules = s.rules();
        let work = app::digest::digest(&s.settings, &rules, &s.store, &s.clock, false);
        let made = s.run_job("digest", &fence, false, work).await;
        if let Some(outcome) = s.outcome("digest", made) {
            tracing::info!(?outcome, "digest");
        }
    }
}

/// The outbox drain: every `send_every_secs`, and after each check.
async fn send(s: Arc<Shared>) {
    let every = Duration::from_secs(s.settings.schedule.send_every_secs);
    let mut term = s.term.clone();
    let mut checked = s.checked.subscribe();
    loop {
        let sent = match s.leading() {
            Some(fence) => {
                let work = app::send::send_as_leader(&s.settings, &s.store, &s.clock, &fence);
                s.run_job("send", &fence, true, work).await
            }
            None => None,
        };
        match sent {
            Some(Ok(summary)) => {
                tracing::info!("{summary}");
                s.state
                    .metrics
                    .send_failures
                    .inc_by(summary.retry + summary.failed);
                // Unready while the server does not answer; ready again at
                // the first drain it answers.
                s.watchdog.trouble(
                    "send",
                    summary
                        .server_unavailable
                        .map(|e| format!("the mail server did not answer: {e}")),
                );
            }
            Some(Err(e)) => {
                tracing::error!(error = %format!("{e:#}"), "sending failed");
                s.watchdog
                    .trouble("send", Some(format!("sending failed: {e}")));
            }
            None => {}
        }
        tokio::select! {
            _ = s.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
            r = checked.changed() => if r.is_err() { return },
            r = term.changed() => if r.is_err() { return },
        }
        checked.borrow_and_update();
    }
}

/// `--now` for a long-running process: start there and move with real time.
pub fn daemon_clock(now: Option<DateTime<Utc>>) -> Clock {
    match now {
        Some(t) => Clock::starting_at(from_vn(to_vn(t))),
        None => Clock::System,
    }
}
