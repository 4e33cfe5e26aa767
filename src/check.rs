//! `check`: evaluate every dossier that needs it (new, changed since its last
//! verdict, or whose verdict's moment to move with time came: see
//! `Engine::recheck_at`) and store the verdicts that changed, in batches. A dossier the
//! engine cannot evaluate (a date outside the calendar) is counted and logged; the
//! rest go on.

use crate::deadline::{Class, DelayAttribution, Engine, StepTimes, day_counts};
use crate::escalation::{Ladder, PlannedAlert, plan_alerts, rungs};
use crate::routing::Routing;
use crate::store::{
    CheckCandidate, DelayCause, EvaluationChange, Store, StoreError, StoredEvaluation, Which,
};
use chrono::NaiveDateTime;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::Instant;
use tokio_util::task::AbortOnDropHandle;

/// Dossier ids per batch; up to three batches are in memory at once (two read
/// ahead). At 1M, 5,000 was 4% faster than 3,000 but took peak RSS from ~100
/// to ~141 MB (with one read ahead).
const BATCH: i64 = 3000;

/// Batches read at once, ahead of the one being evaluated.
const READS_AHEAD: usize = 2;

#[derive(Debug, Default)]
pub struct CheckSummary {
    pub evaluated: u64,
    pub changed: u64,
    pub class_changes: u64,
    pub by_class: BTreeMap<Class, u64>,
    pub due_mismatches: u64,
    /// Rungs reached (each stored once; repeats are ignored by the store).
    pub alerts: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// The dossiers the engine could not evaluate (read again next time).
    pub failed: Vec<i64>,
    pub elapsed: std::time::Duration,
    /// Of which storing verdicts and alerts.
    pub writing: std::time::Duration,
}

impl fmt::Display for CheckSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "check: evaluated {}, verdicts changed {}, class changes {}, source due dates disagreeing with the rules {}, errors {}, {:.2} s ({:.2} s writing)",
            self.evaluated,
            self.changed,
            self.class_changes,
            self.due_mismatches,
            self.errors,
            self.elapsed.as_secs_f64(),
            self.writing.as_secs_f64()
        )?;
        if let Some(e) = &self.first_error {
            write!(f, " (first error: {e})")?;
        }
        Ok(())
    }
}

/// Who to tell, when verdicts reach the escalation ladder.
pub struct Escalation<'a> {
    pub routing: &'a Routing,
    pub ladder: &'a Ladder,
}

/// Which dossiers a check evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// New, changed since their last verdict (queued by the sync), whose
    /// verdict's moment to move came, or that could not be evaluated.
    Due,
    /// Every stored dossier: after a calendar or rules correction, which can
    /// change finished dossiers' verdicts too.
    All,
}

pub async fn run_check(
    store: &Store,
    engine: &Engine<'_>,
    escalation: Option<&Escalation<'_>>,
    now: NaiveDateTime,
    scope: Scope,
) -> Result<CheckSummary, StoreError> {
    let started = Instant::now();
    let mut summary = CheckSummary::default();
    // Dossiers stored after this point are checked by the next run.
    let last = store.max_dossier_id().await?;
    // Set back before the last check, the clock can make any verdict differ.
    let set_back = store
        .applied_setting(CHECKED_AT)
        .await?
        .and_then(|at| crate::clock::parse_db(&at))
        .is_some_and(|at| at > now);
    // Dossiers up to `through` were all evaluated by earlier checks: of those
    // only the due verdicts, the ones the sync queued as changed and the ones
    // the engine could not evaluate are read again, by id; those stored
    // since, by ranges of ids. Without a record of it (the first check), all.
    let through: Option<i64> = store
        .applied_setting(CHECKED_THROUGH)
        .await?
        .and_then(|n| n.parse().ok());
    let all = scope == Scope::All || set_back || through.is_none();
    let through = if all {
        0
    } else {
        through.unwrap_or(0).min(last)
    };
    let queued = store.queued().await?;
    let mut again = Vec::new();
    if !all {
        again = store.due_verdicts(through, now).await?;
        // Any id: one above `through` may have a verdict already (a check
        // stopped before recording how far it got).
        again.extend(queued.iter().map(|(_, id)| *id));
        let failed = store.applied_setting(CHECK_FAILED).await?;
        again.extend(
            failed
                .and_then(|ids| serde_json::from_str::<Vec<i64>>(&ids).ok())
                .unwrap_or_default(),
        );
    }
    again.sort_unstable();
    again.dedup();
    let mut reads: VecDeque<Which> = again
        .chunks(BATCH as usize)
        .map(|ids| Which::Ids(ids.to_vec()))
        .chain(
            (through..last)
                .step_by(BATCH as usize)
                .map(|a| Which::Range(a, (a + BATCH).min(last))),
        )
        .collect();
    // Batches are read ahead on tasks of their own (SQLite's reads hold the
    // thread they run on), two at a time: reading is most of a check, and
    // two readers use both cores while this task evaluates and saves. Dropped
    // with this check (shutdown), the reads are aborted.
    let read = |which: Which| {
        let reader = store.clone();
        AbortOnDropHandle::new(tokio::spawn(async move {
            let batch = reader.check_candidates(&which, all, now).await?;
            Ok::<_, StoreError>((which, batch))
        }))
    };
    // Whose apology is issued (the top rung of the ladder waits for one).
    let apologised = match escalation {
        Some(_) => store.issued_apologies().await?,
        None => HashSet::new(),
    };
    let run = Run {
        store,
        engine,
        escalation,
        apologised: &apologised,
        now,
    };
    let mut ahead: VecDeque<_> = (0..READS_AHEAD)
        .filter_map(|_| reads.pop_front().map(read))
        .collect();
    // A batch's verdicts are saved on a task of their own while the next
    // batch is evaluated (on PostgreSQL the saving, done by the server's own
    // processes, was most of a morning's check). PostgreSQL saves two batches
    // at once on two connections (they touch different dossiers and take the
    // audit chain's lock only to append, last); SQLite has one writer at a
    // time anyway. Dropped with this check, a save in flight rolls back; a
    // failed one fails the check.
    let saves_at_once = store.concurrent_saves();
    let mut saving: VecDeque<Saving> = VecDeque::new();
    // When each save ran: `writing` is the time some save was running.
    let mut saves: Vec<(Instant, Instant)> = Vec::new();
    while let Some(reading) = ahead.pop_front() {
        let (which, mut batch) = reading
            .await
            .map_err(|e| StoreError::Task(format!("reading dossiers to check: {e}")))??;
        ahead.extend(reads.pop_front().map(read));
        if matches!(which, Which::Range(..)) {
            // Read by id already.
            batch.retain(|c| again.binary_search(&c.id).is_err());
        }
        let changes = check_batch(&run, &batch, &mut summary).await?;
        if saving.len() >= saves_at_once
            && let Some(s) = saving.pop_front()
        {
            saves.push(saved(s).await?);
        }
        if !changes.is_empty() {
            let store = store.clone();
            saving.push_back(AbortOnDropHandle::new(tokio::spawn(async move {
                let started = Instant::now();
                store.save_evaluations(&changes, now).await?;
                Ok((started, Instant::now()))
            })));
        }
    }
    while let Some(s) = saving.pop_front() {
        saves.push(saved(s).await?);
    }
    summary.writing = busy_time(saves);
    // Changes queued meanwhile stay for the next check.
    let read: Vec<i64> = queued.iter().map(|(seq, _)| *seq).collect();
    store.unqueue(&read).await?;
    let failed = serde_json::Value::from(summary.failed.clone()).to_string();
    for (name, value) in [
        (CHECKED_THROUGH, last.to_string()),
        (CHECK_FAILED, failed),
        (CHECKED_AT, crate::clock::fmt_db(now)),
    ] {
        store.set_applied_setting(name, &value).await?;
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// A batch's verdicts being saved; when the saving started and ended.
type Saving = AbortOnDropHandle<Result<(Instant, Instant), StoreError>>;

async fn saved(s: Saving) -> Result<(Instant, Instant), StoreError> {
    s.await
        .map_err(|e| StoreError::Task(format!("saving verdicts: {e}")))?
}

/// How long at least one of these spans was running.
fn busy_time(mut spans: Vec<(Instant, Instant)>) -> std::time::Duration {
    spans.sort_unstable();
    let mut total = std::time::Duration::ZERO;
    let mut current: Option<(Instant, Instant)> = None;
    for (start, end) in spans {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    total + current.map_or(std::time::Duration::ZERO, |(s, e)| e - s)
}

/// `applied_settings`: every dossier up to this id was evaluated.
const CHECKED_THROUGH: &str = "checked_through";
/// `applied_settings`: the dossiers the engine could not evaluate last time
/// (a JSON array of ids).
const CHECK_FAILED: &str = "check_failed";
/// `applied_settings`: the `now` of the last check.
const CHECKED_AT: &str = "checked_at";

/// What every batch of one check is evaluated with.
struct Run<'a> {
    store: &'a Store,
    engine: &'a Engine<'a>,
    escalation: Option<&'a Escalation<'a>>,
    /// Whose apology is issued.
    apologised: &'a HashSet<i64>,
    now: NaiveDateTime,
}

/// Evaluates one batch; the verdicts that changed, to be saved.
async fn check_batch(
    run: &Run<'_>,
    batch: &[CheckCandidate],
    summary: &mut CheckSummary,
) -> Result<Vec<EvaluationChange>, StoreError> {
    let Run {
        store,
        engine,
        escalation,
        apologised,
        now,
    } = *run;
    let late_threshold = escalation.map(|x| x.ladder.no_apology_after_days);
    let mut verdicts = Vec::with_capacity(batch.len());
    for c in batch {
        match engine.evaluate(&c.dossier, now) {
            Ok(e) => verdicts.push((c, e)),
            Err(err) => {
                summary.errors += 1;
                summary.failed.push(c.id);
                tracing::warn!(error = %err, "cannot evaluate dossier");
                summary.first_error.get_or_insert_with(|| err.to_string());
            }
        }
    }
    // Only dossiers at risk or late need their steps, for the delay cause;
    // most came with the row (their previous verdict needed them too).
    let ids: Vec<i64> = verdicts
        .iter()
        .filter(|(c, e)| e.class.has_delay_cause() && c.steps.is_none())
        .map(|(c, _)| c.id)
        .collect();
    let steps = store.steps_of(&ids).await?;
    let mut changes = Vec::new();
    for (c, e) in verdicts {
        summary.evaluated += 1;
        *summary.by_class.entry(e.class).or_default() += 1;
        summary.due_mismatches += u64::from(e.due_mismatch);
        let attribution = if e.class.has_delay_cause() {
            let json = c.steps.as_deref().or(steps.get(&c.id).map(String::as_str));
            json.and_then(|json| delay_cause(engine, c, json, now))
        } else {
            None
        };
        // A finished dossier's running step (a source's oversight)
        // changes nothing that is stored.
        let step_moves = attribution
            .as_ref()
            .and_then(|a| a.recheck_at)
            .filter(|_| e.class.is_open());
        let recheck_at = [engine.recheck_at(&e, now, late_threshold), step_moves]
            .into_iter()
            .flatten()
            .min();
        let new = StoredEvaluation::new(&e, attribution.and_then(|a| a.cause), recheck_at);
        let same = c.previous.as_ref().is_some_and(|p| p.same_as(&new));
        let previous = c.previous.as_ref().map(|p| p.class);
        if !same {
            summary.changed += 1;
            summary.class_changes += u64::from(previous != Some(new.class));
        }
        // The same verdict can reach a new rung (days late passing the
        // ladder's threshold: its moment came).
        let alerts = match escalation {
            Some(x) => new_alerts(engine, c, &new, apologised.contains(&c.id), x),
            None => Vec::new(),
        };
        summary.alerts += alerts.len() as u64;
        // Unchanged, its next moment is stored if that moved (its
        // dossier changed, or its moment came).
        let moved = c.previous.as_ref().map(|p| p.recheck_at) != Some(new.recheck_at);
        if same && alerts.is_empty() && !moved {
            continue;
        }
        changes.push(EvaluationChange {
            dossier_id: c.id,
            previous,
            evaluation: new,
            alerts,
        });
    }
    Ok(changes)
}

/// The alerts a new verdict makes. The rungs its previous verdict reached, at
/// the same class and due date, had theirs planned when it was stored: of
/// those only a rung reached since is new (days late passing the ladder's
/// threshold). Planning every rung again made each re-evaluated verdict try
/// alerts the store then found it had.
fn new_alerts(
    engine: &Engine<'_>,
    c: &CheckCandidate,
    new: &StoredEvaluation,
    apology_issued: bool,
    x: &Escalation<'_>,
) -> Vec<PlannedAlert> {
    let reached = match &c.previous {
        Some(p) if p.class == new.class && p.due_at == new.due_at => {
            // Its working days late as they were when it was made (an open
            // verdict does not store them).
            let late = match (p.due_at, p.evaluated_at) {
                (Some(due), Some(at)) if p.working_days_late.is_none() => {
                    day_counts(engine.calendar, due, at.date()).1
                }
                _ => p.working_days_late,
            };
            let p = StoredEvaluation {
                working_days_late: late,
                ..p.clone()
            };
            rungs(&p, apology_issued, x.ladder)
        }
        _ => Vec::new(),
    };
    // Most verdicts reach no new rung: nobody to look up.
    if rungs(new, apology_issued, x.ladder)
        .iter()
        .all(|r| reached.contains(r))
    {
        return Vec::new();
    }
    let mut planned = plan_alerts(&c.dossier, new, apology_issued, x.routing, x.ladder);
    planned.retain(|a| !reached.contains(&a.rung));
    planned
}

/// The step a delay is attributed to, and when that can change while the
/// dossier does not.
struct Attribution {
    cause: Option<DelayCause>,
    recheck_at: Option<NaiveDateTime>,
}

/// A stored step as the delay attribution reads it: names borrowed from the
/// stored JSON (the attribution names one step; building every step's
/// strings was a tenth of a check over 800k open dossiers).
#[derive(serde::Deserialize)]
struct StepView<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    unit: Cow<'a, str>,
    #[serde(default, borrow)]
    officer: Option<Cow<'a, str>>,
    // Not needed, but in its place: a stored step is an array in `Step`'s
    // field order (`store::dossiers::steps`).
    #[serde(rename = "started_at")]
    _started_at: serde::de::IgnoredAny,
    #[serde(default, with = "crate::clock::iso::option")]
    finished_at: Option<NaiveDateTime>,
    #[serde(default, with = "crate::clock::iso::option")]
    due_at: Option<NaiveDateTime>,
}

/// The step a dossier's delay is attributed to, from its stored steps, and
/// when a step still running can change that (`Engine::attribute_delay`).
fn delay_cause(
    engine: &Engine<'_>,
    c: &CheckCandidate,
    steps_json: &str,
    now: NaiveDateTime,
) -> Option<Attribution> {
    let code = &c.dossier.code;
    let steps: Vec<StepView> = match serde_json::from_str(steps_json) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%code, error = %e, "stored steps do not parse; no delay cause");
            return None;
        }
    };
    let times: Vec<StepTimes> = steps
        .iter()
        .map(|s| StepTimes {
            finished_at: s.finished_at,
            due_at: s.due_at,
        })
        .collect();
    // Where the calendar cannot say: no cause, looked at by every check.
    let a = engine
        .attribute_delay(code, &times, now)
        .unwrap_or(DelayAttribution {
            blamed: None,
            recheck_at: Some(now),
        });
    let cause = a.blamed.map(|b| {
        let s = &steps[b.index];
        DelayCause {
            step: s.name.clone().into_owned(),
            unit: s.unit.clone().into_owned(),
            officer: s.officer.clone().map(Cow::into_owned),
            working_days_over: b.working_days_over,
        }
    });
    let recheck_at = a.recheck_at;
    Some(Attribution { cause, recheck_at })
}

/// Counts by class with Vietnamese labels, for summaries.
pub fn class_table(counts: &[(Class, i64)]) -> String {
    let by: HashMap<Class, i64> = counts.iter().copied().collect();
    let mut out = String::new();
    for c in Class::ALL {
        if let Some(n) = by.get(&c) {
            out.push_str(&format!("  {:<44} {n:>7}\n", c.label_vi()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{StepView, busy_time};
    use crate::clock::parse_db;
    use std::time::{Duration, Instant};

    #[test]
    fn saving_time_counts_overlapping_saves_once() {
        let t = Instant::now();
        let at = |ms: u64| t + Duration::from_millis(ms);
        // 0–100 and 50–150 overlap (150 ms), 200–250 apart (50 ms).
        let spans = vec![(at(200), at(250)), (at(50), at(150)), (at(0), at(100))];
        assert_eq!(busy_time(spans), Duration::from_millis(200));
        assert_eq!(busy_time(Vec::new()), Duration::ZERO);
        // One inside another.
        assert_eq!(
            busy_time(vec![(at(0), at(300)), (at(10), at(20))]),
            Duration::from_millis(300)
        );
    }

    #[test]
    fn a_stored_step_reads_the_same_as_an_array_or_as_an_object_as_stored_before() {
        let array = r#"[["Thẩm định","Phòng Tư pháp","Lê Văn Thành","2026-07-28T09:49","2026-07-30T10:00:05",null]]"#;
        let object = r#"[{"name":"Thẩm định","unit":"Phòng Tư pháp","officer":"Lê Văn Thành","started_at":"2026-07-28T09:49:00","finished_at":"2026-07-30T10:00:05","due_at":null}]"#;
        for json in [array, object] {
            let s: Vec<StepView> = serde_json::from_str(json).unwrap();
            assert_eq!(
                (
                    s[0].name.as_ref(),
                    s[0].unit.as_ref(),
                    s[0].officer.as_deref()
                ),
                ("Thẩm định", "Phòng Tư pháp", Some("Lê Văn Thành")),
                "{json}"
            );
            assert_eq!(s[0].finished_at, parse_db("2026-07-30 10:00:05"), "{json}");
            assert_eq!(s[0].due_at, None, "{json}");
        }
    }
}
