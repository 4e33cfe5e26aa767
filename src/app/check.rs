//! One evaluation and escalation: verdicts, alerts, apology drafts, messages,
//! stale-data alerts. Stages are reported as they finish (the command line
//! prints each at once; the daemon logs it).

use super::{AppError, RuleSet};
use crate::check::{CheckSummary, Escalation, Scope, run_check};
use crate::clock::Clock;
use crate::config::Settings;
use crate::deadline::Engine;
use crate::letters::drafts::DraftSummary;
use crate::store::Store;

/// The `applied_settings` entry of the calendar and rules a check applied.
const RULES_APPLIED: &str = "check_rules";

/// A stage of a check, reported when it is done.
#[derive(Debug)]
pub enum CheckEvent<'a> {
    /// The calendar does not cover the days ahead well enough.
    CoverageWarning(&'a str),
    /// The rules changed since the last check: every dossier is evaluated.
    RulesChanged,
    Evaluated(&'a CheckSummary),
    Drafted {
        summary: &'a DraftSummary,
        dir: &'a str,
    },
    Queued {
        /// Alerts nobody acknowledged, climbed to the next level.
        climbed: u64,
        alerts: u64,
        stale: u64,
    },
}

/// What a check did.
#[derive(Debug)]
pub struct CheckReport {
    pub summary: CheckSummary,
    pub letters: DraftSummary,
    pub alerts: u64,
    pub stale: u64,
}

/// Evaluates every dossier of `scope` at the clock's time, fires the ladder,
/// drafts the apologies the alerts attach and queues the messages.
pub async fn check(
    settings: &Settings,
    rules: &RuleSet,
    store: &Store,
    clock: &Clock,
    scope: Scope,
    report: &mut (dyn FnMut(CheckEvent<'_>) + Send),
) -> Result<CheckReport, AppError> {
    let now = clock.now_vn();
    if let Some(w) = rules.calendar.coverage_warning(now.date()) {
        report(CheckEvent::CoverageWarning(&w));
    }
    let engine = Engine::new(&rules.calendar, &rules.hours, &rules.deadline);
    let escalation = Escalation {
        routing: &rules.routing,
        ladder: &rules.ladder,
    };
    // A check looks again only at verdicts that can have changed; a changed
    // calendar, office hours or rule can change any of them.
    let applied = rules.fingerprint();
    let scope = if store.applied_setting(RULES_APPLIED).await?.as_deref() == Some(&applied) {
        scope
    } else {
        report(CheckEvent::RulesChanged);
        Scope::All
    };
    let summary = run_check(store, &engine, Some(&escalation), now, scope)
        .await
        .map_err(AppError::Check)?;
    store.set_applied_setting(RULES_APPLIED, &applied).await?;
    report(CheckEvent::Evaluated(&summary));
    let letters = draft_letters(settings, rules, store, clock).await?;
    report(CheckEvent::Drafted {
        summary: &letters,
        dir: &settings.letters.dir,
    });
    let climbed = climb(settings, rules, store, now).await?;
    let composer = rules.composer(settings);
    let alerts = composer
        .compose_alerts(store, now)
        .await
        .map_err(|error| AppError::Compose {
            what: "alert messages",
            error,
        })?;
    let reminders = composer
        .compose_reminder(store, now)
        .await
        .map_err(|error| AppError::Compose {
            what: "the weekly reminder",
            error,
        })?;
    let stale = composer
        .compose_stale(store, now)
        .await
        .map_err(|error| AppError::Compose {
            what: "stale-data alerts",
            error,
        })?;
    report(CheckEvent::Queued {
        climbed,
        alerts: alerts + reminders,
        stale,
    });
    Ok(CheckReport {
        summary,
        letters,
        alerts: alerts + reminders,
        stale,
    })
}

/// The due-today and overdue alerts nobody acknowledged within
/// `escalation.ack_timeout_hours` working hours of being sent, told to the
/// next level up, once (`escalation::climb_to`).
async fn climb(
    settings: &Settings,
    rules: &RuleSet,
    store: &Store,
    now: chrono::NaiveDateTime,
) -> Result<u64, AppError> {
    let minutes = i64::from(settings.escalation.ack_timeout_hours) * 60;
    let Ok(sent_before) = rules
        .calendar
        .add_working_minutes(&rules.hours, now, -minutes)
    else {
        // Before the calendar's first year: nothing was sent that long ago.
        return Ok(0);
    };
    let climbs: Vec<crate::store::Climb> = store
        .unacknowledged(sent_before)
        .await?
        .into_iter()
        .filter_map(|u| {
            let to = crate::escalation::climb_to(&u.recipient_role, &u.field_code, &rules.routing)?;
            Some(crate::store::Climb {
                dossier_id: u.dossier_id,
                due_at: u.due_at.as_deref().and_then(crate::clock::parse_db),
                to,
            })
        })
        .collect();
    Ok(store.record_climbs(&climbs, now).await?)
}

/// Apology drafts for every dossier that needs one (before the alerts that attach them).
pub async fn draft_letters(
    settings: &Settings,
    rules: &RuleSet,
    store: &Store,
    clock: &Clock,
) -> Result<DraftSummary, AppError> {
    Ok(rules
        .drafter(settings, store)
        .draft_all(clock.now_vn())
        .await?)
}

impl std::fmt::Display for CheckEvent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckEvent::CoverageWarning(w) => write!(f, "WARNING: {w}"),
            CheckEvent::RulesChanged => write!(
                f,
                "the calendar or the rules changed since the last check: every dossier is evaluated again"
            ),
            CheckEvent::Evaluated(s) => write!(f, "{s}"),
            CheckEvent::Drafted { summary: s, dir } => write!(
                f,
                "letters: {} new drafts, {} up to date, {} errors (in {dir})",
                s.drafted, s.up_to_date, s.errors
            ),
            CheckEvent::Queued {
                climbed,
                alerts,
                stale,
            } => write!(
                f,
                "escalation: {climbed} unacknowledged alerts climbed, {alerts} alert messages queued, {stale} data-freshness messages queued"
            ),
        }
    }
}
