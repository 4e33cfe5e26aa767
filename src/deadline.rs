//! The deadline engine: pure functions from a dossier, the calendar and "now" to
//! its class (not yet due, due soon, due today, overdue; or, once finished, before
//! due, on the due day, late), the working days left or late, the due date
//! recomputed from the rules (to check the source's), and which step caused a delay.
//!
//! Days are counted on the working-day calendar with the semantics of
//! [`Calendar::count`]: the working days d with today < d ≤ due date.

use crate::calendar::{Calendar, CalendarError, OfficeHours};
use crate::dossier::{Dossier, PauseKind, Status};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// A setting (`deadline.supplement`) and a rule of the engine alike.
pub use crate::config::SupplementRule;

#[derive(Debug, thiserror::Error)]
pub enum DeadlineError {
    #[error("dossier {code}: {source}")]
    Calendar {
        code: String,
        source: Box<CalendarError>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// "Due soon" = this many working days or fewer left.
    pub warning_days: i64,
    pub supplement: SupplementRule,
    /// Source and recomputed due dates closer than this are taken to agree (some
    /// systems round due times to the quarter hour).
    pub mismatch_tolerance_minutes: i64,
}

impl Rules {
    /// The rules `[deadline]` configures.
    pub fn from_settings(s: &crate::config::DeadlineSettings) -> Rules {
        Rules {
            warning_days: i64::from(s.warning_days),
            supplement: s.supplement,
            mismatch_tolerance_minutes: s.mismatch_tolerance_minutes,
        }
    }
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            warning_days: 3,
            supplement: SupplementRule::Restart,
            mismatch_tolerance_minutes: 15,
        }
    }
}

/// Every class any report uses, open and finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    // Open, from the most urgent.
    Overdue,
    DueToday,
    DueSoon,
    NotYetDue,
    /// The clock is stopped (supplementation or fee payment requested).
    Paused,
    /// The procedure has no due date.
    NoDueDate,
    // Finished.
    Late,
    OnDueDay,
    BeforeDue,
    /// Refused, withdrawn or stopped: no result is owed.
    Closed,
}

impl Class {
    pub const ALL: [Class; 10] = [
        Class::Overdue,
        Class::DueToday,
        Class::DueSoon,
        Class::NotYetDue,
        Class::Paused,
        Class::NoDueDate,
        Class::Late,
        Class::OnDueDay,
        Class::BeforeDue,
        Class::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Overdue => "overdue",
            Class::DueToday => "due_today",
            Class::DueSoon => "due_soon",
            Class::NotYetDue => "not_yet_due",
            Class::Paused => "paused",
            Class::NoDueDate => "no_due_date",
            Class::Late => "late",
            Class::OnDueDay => "on_due_day",
            Class::BeforeDue => "before_due",
            Class::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Class::Overdue => "Quá hạn",
            Class::DueToday => "Đến hạn hôm nay",
            Class::DueSoon => "Sắp đến hạn",
            Class::NotYetDue => "Trong hạn",
            Class::Paused => "Tạm dừng (chờ bổ sung / nghĩa vụ tài chính)",
            Class::NoDueDate => "Không quy định thời hạn",
            Class::Late => "Hoàn thành trễ hạn",
            Class::OnDueDay => "Hoàn thành đúng hạn",
            Class::BeforeDue => "Hoàn thành trước hạn",
            Class::Closed => "Không giải quyết (từ chối, rút, dừng)",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(
            self,
            Class::Overdue
                | Class::DueToday
                | Class::DueSoon
                | Class::NotYetDue
                | Class::Paused
                | Class::NoDueDate
        )
    }

    /// Needs someone's attention: at risk or already late.
    pub fn is_at_risk(self) -> bool {
        matches!(self, Class::Overdue | Class::DueToday | Class::DueSoon)
    }

    /// A verdict of this class names the step that caused the delay.
    pub fn has_delay_cause(self) -> bool {
        self.is_at_risk() || self == Class::Late
    }

    /// Open and judged against a due date: its working days left or late
    /// move every working day, so they are not stored with the verdict but
    /// derived when read (`day_counts`).
    pub fn counts_move(self) -> bool {
        matches!(
            self,
            Class::Overdue | Class::DueToday | Class::DueSoon | Class::NotYetDue
        )
    }
}

/// Working days `(left, late)` of an open dossier due at `due`, on `today`:
/// left up to the due date (0 on the due day), or late once past it (at least
/// 1), as `Engine::evaluate` counts them. None where the calendar does not
/// cover the dates.
pub fn day_counts(
    cal: &Calendar,
    due: NaiveDateTime,
    today: NaiveDate,
) -> (Option<i64>, Option<i64>) {
    let dd = due.date();
    if today > dd {
        (None, cal.count(dd, today).ok().map(|n| n.max(1)))
    } else {
        (cal.count(today, dd).ok(), None)
    }
}

/// What the engine says of one dossier at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub class: Class,
    /// The due date the class is computed against: the source's (what the citizen
    /// was promised, updated on extension), or the recomputed one when the source has none.
    pub due_at: Option<NaiveDateTime>,
    /// Received time + duration, moved by pauses and extension, per the rules.
    pub computed_due_at: Option<NaiveDateTime>,
    /// The source's due date disagrees with the rules.
    pub due_mismatch: bool,
    /// Open: working days after today up to the due date (0 on the due day).
    pub working_days_left: Option<i64>,
    /// Due today: working minutes left before the due time.
    pub minutes_left_today: Option<i64>,
    /// Overdue or late: working days past the due date.
    pub working_days_late: Option<i64>,
}

/// What the delay attribution reads of a step: when it ended (None: still
/// running) and when it was due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepTimes {
    pub finished_at: Option<NaiveDateTime>,
    pub due_at: Option<NaiveDateTime>,
}

impl From<&crate::dossier::Step> for StepTimes {
    fn from(s: &crate::dossier::Step) -> StepTimes {
        StepTimes {
            finished_at: s.finished_at,
            due_at: s.due_at,
        }
    }
}

/// A step that added lateness, by position, and how much.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blamed {
    pub index: usize,
    pub working_minutes_over: i64,
    /// At least 1 once past its due time.
    pub working_days_over: i64,
}

/// The step a delay is attributed to, and when that can next change while
/// the dossier does not (`Engine::attribute_delay`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayAttribution {
    pub blamed: Option<Blamed>,
    /// None: only a change of the dossier can change it.
    pub recheck_at: Option<NaiveDateTime>,
}

/// One step that took longer than its own legal time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepDelay {
    pub step: String,
    pub unit: String,
    pub officer: Option<String>,
    pub due_at: NaiveDateTime,
    /// When it ended, or None if it is still running.
    pub finished_at: Option<NaiveDateTime>,
    /// Working days past the step's due date (at least 1 once past it).
    pub working_days_over: i64,
    pub working_minutes_over: i64,
}

pub struct Engine<'a> {
    pub calendar: &'a Calendar,
    pub hours: &'a OfficeHours,
    pub rules: &'a Rules,
}

impl<'a> Engine<'a> {
    pub fn new(calendar: &'a Calendar, hours: &'a OfficeHours, rules: &'a Rules) -> Engine<'a> {
        Engine {
            calendar,
            hours,
            rules,
        }
    }

    fn err(d: &Dossier) -> impl Fn(CalendarError) -> DeadlineError + '_ {
        Self::err_for(&d.code)
    }

    fn err_for(code: &str) -> impl Fn(CalendarError) -> DeadlineError + '_ {
        move |source| DeadlineError::Calendar {
            code: code.to_owned(),
            source: Box::new(source),
        }
    }

    /// The due date by the rules: handling starts at the effective receipt time
    /// (after hours → next working morning), runs for the procedure's duration,
    /// restarts after a supplementation (or shifts, per the rules), shifts by fee
    /// pauses; an extension replaces it. None when the procedure has no duration.
    pub fn computed_due(&self, d: &Dossier) -> Result<Option<NaiveDateTime>, DeadlineError> {
        let Some(duration) = d.duration else {
            return Ok(d.extension.as_ref().map(|e| e.due_after));
        };
        let (cal, h) = (self.calendar, self.hours);
        let e = Self::err(d);
        let total = duration.working_minutes(h.minutes_per_day());
        let start = cal.effective_start(h, d.received_at).map_err(&e)?;
        let mut due = cal.add_working_minutes(h, start, total).map_err(&e)?;
        let mut pauses: Vec<_> = d.pauses.iter().collect();
        pauses.sort_by_key(|p| p.started_at);
        for p in pauses {
            let Some(end) = p.ended_at else { continue };
            let restart =
                p.kind == PauseKind::Supplement && self.rules.supplement == SupplementRule::Restart;
            due = if restart {
                cal.add_working_minutes(h, end, total).map_err(&e)?
            } else {
                let paused = cal
                    .working_minutes_between(h, p.started_at, end)
                    .map_err(&e)?;
                cal.add_working_minutes(h, due, paused).map_err(&e)?
            };
        }
        if let Some(x) = &d.extension {
            due = x.due_after;
        }
        Ok(Some(due))
    }

    pub fn evaluate(&self, d: &Dossier, now: NaiveDateTime) -> Result<Evaluation, DeadlineError> {
        let e = Self::err(d);
        let cal = self.calendar;
        let computed = self.computed_due(d)?;
        let due = d.due_at.or(computed);
        let due_mismatch = match (d.due_at, computed) {
            (Some(s), Some(c)) => {
                (s - c).num_minutes().abs() > self.rules.mismatch_tolerance_minutes
            }
            _ => false,
        };
        let mut ev = Evaluation {
            class: Class::NoDueDate,
            due_at: due,
            computed_due_at: computed,
            due_mismatch,
            working_days_left: None,
            minutes_left_today: None,
            working_days_late: None,
        };
        if matches!(
            d.status,
            Status::Refused | Status::Withdrawn | Status::Stopped
        ) {
            ev.class = Class::Closed;
            return Ok(ev);
        }
        // A finished dossier without a finish time is judged by its last change.
        let finished = matches!(d.status, Status::Finished | Status::Returned)
            .then(|| d.finished_at.or(d.returned_at).unwrap_or(d.updated_at));
        let Some(due) = due else {
            ev.class = if finished.is_some() {
                Class::BeforeDue
            } else {
                Class::NoDueDate
            };
            return Ok(ev);
        };
        if let Some(f) = finished {
            let (fd, dd) = (f.date(), due.date());
            ev.class = if fd < dd {
                Class::BeforeDue
            } else if fd == dd {
                Class::OnDueDay
            } else {
                ev.working_days_late = Some(cal.count(dd, fd).map_err(&e)?.max(1));
                Class::Late
            };
            return Ok(ev);
        }
        if matches!(d.status, Status::SupplementRequested | Status::FeeRequested)
            || d.pauses.iter().any(|p| p.ended_at.is_none())
        {
            ev.class = Class::Paused;
            return Ok(ev);
        }
        let (today, dd) = (now.date(), due.date());
        if today > dd {
            ev.class = Class::Overdue;
            ev.working_days_late = Some(cal.count(dd, today).map_err(&e)?.max(1));
        } else if today == dd {
            ev.class = Class::DueToday;
            ev.working_days_left = Some(0);
            ev.minutes_left_today = Some(
                cal.working_minutes_between(self.hours, now, due)
                    .map_err(&e)?,
            );
        } else {
            let left = cal.count(today, dd).map_err(&e)?;
            ev.working_days_left = Some(left);
            ev.class = if left <= self.rules.warning_days {
                Class::DueSoon
            } else {
                Class::NotYetDue
            };
        }
        Ok(ev)
    }

    /// Steps that made the dossier later than it already was when they started
    /// (finished past their own due time, or still running past it at `now`),
    /// with the lateness each added, the worst first.
    pub fn step_delays(
        &self,
        d: &Dossier,
        now: NaiveDateTime,
    ) -> Result<Vec<StepDelay>, DeadlineError> {
        let times: Vec<StepTimes> = d.steps.iter().map(StepTimes::from).collect();
        let added = self.added_lateness(&d.code, &times, now)?;
        let mut out: Vec<StepDelay> = self
            .delays_by_position(&times, &added, now)
            .into_iter()
            .map(|b| {
                let s = &d.steps[b.index];
                StepDelay {
                    step: s.name.clone(),
                    unit: s.unit.clone(),
                    officer: s.officer.clone(),
                    // Set: only a step with a due time adds lateness.
                    due_at: s.due_at.unwrap_or(now),
                    finished_at: s.finished_at,
                    working_days_over: b.working_days_over,
                    working_minutes_over: b.working_minutes_over,
                }
            })
            .collect();
        out.sort_by_key(|d| std::cmp::Reverse(d.working_minutes_over));
        Ok(out)
    }

    /// The step a delay is attributed to (`step_delays`' first, by its
    /// position among `steps` of dossier `code`, without building the others),
    /// and when that can next change while the dossier does not: a step still
    /// running adds lateness with every working minute, so it can overtake the
    /// step blamed (or start being one), or, blamed itself, reach one more
    /// working day over. Where the calendar cannot say when, the moment is
    /// `now` (looked at by every check).
    pub fn attribute_delay(
        &self,
        code: &str,
        steps: &[StepTimes],
        now: NaiveDateTime,
    ) -> Result<DelayAttribution, DeadlineError> {
        let added = self.added_lateness(code, steps, now)?;
        // Ties go to the earlier step, as `step_delays` sorts them.
        let blamed = self
            .delays_by_position(steps, &added, now)
            .into_iter()
            .reduce(|w, b| {
                if b.working_minutes_over > w.working_minutes_over {
                    b
                } else {
                    w
                }
            });
        let mut running = steps
            .iter()
            .zip(&added)
            .enumerate()
            .filter_map(|(i, (s, a))| s.finished_at.is_none().then_some((i, (*a)?)));
        let recheck_at = match (running.next(), running.next()) {
            (None, _) => None,
            // Steps running side by side inherit from each other as they
            // go: looked at by every check.
            (Some(_), Some(_)) => Some(now),
            (Some((index, cur)), None) => {
                let per_day = self.hours.minutes_per_day();
                let target = match blamed {
                    // Its working days over, at least 1, grow at each full day.
                    Some(b) if b.index == index => (cur / per_day + 1).max(2) * per_day,
                    Some(b) => b.working_minutes_over + 1,
                    None => 1,
                };
                Some(
                    self.calendar
                        .add_working_minutes(self.hours, now, target - cur)
                        .unwrap_or(now),
                )
            }
        };
        Ok(DelayAttribution { blamed, recheck_at })
    }

    /// The steps that added lateness at `now` (finished past their own due
    /// time, or still running past it), in step order, from `added_lateness`.
    fn delays_by_position(
        &self,
        steps: &[StepTimes],
        added: &[Option<i64>],
        now: NaiveDateTime,
    ) -> Vec<Blamed> {
        let per_day = self.hours.minutes_per_day();
        steps
            .iter()
            .zip(added)
            .enumerate()
            .filter_map(|(index, (s, added))| {
                let (due, added) = (s.due_at?, (*added)?);
                (added > 0 && s.finished_at.unwrap_or(now) > due).then_some(Blamed {
                    index,
                    working_minutes_over: added,
                    working_days_over: (added / per_day).max(1),
                })
            })
            .collect()
    }

    /// The working minutes of lateness each step added at `now` (None without
    /// a due time; negative: it ended, or is still running, that long before
    /// the lateness it inherited).
    fn added_lateness(
        &self,
        code: &str,
        steps: &[StepTimes],
        now: NaiveDateTime,
    ) -> Result<Vec<Option<i64>>, DeadlineError> {
        let e = Self::err_for(code);
        // Lateness a step inherited from the steps before it is not its fault:
        // each step is charged only with the lateness it added.
        let mut inherited = 0i64;
        steps
            .iter()
            .map(|s| {
                let Some(due) = s.due_at else { return Ok(None) };
                let end = s.finished_at.unwrap_or(now);
                let over = if end > due {
                    self.calendar
                        .working_minutes_between(self.hours, due, end)
                        .map_err(&e)?
                } else {
                    -self
                        .calendar
                        .working_minutes_between(self.hours, end, due)
                        .map_err(&e)?
                };
                let added = over - inherited;
                inherited = over.max(0);
                Ok(Some(added))
            })
            .collect()
    }

    /// When the verdict `ev` (made at `now`) can next change while its dossier
    /// does not: the moment its class moves (due soon, due today, overdue),
    /// or, overdue, the day its working days late reach `late_threshold` (a
    /// rung of the escalation ladder). None when only a change of the dossier
    /// can change it. A check looks again only at verdicts whose moment has
    /// come, so that its cost grows with what changes, not with what is open.
    pub fn recheck_at(
        &self,
        ev: &Evaluation,
        now: NaiveDateTime,
        late_threshold: Option<i64>,
    ) -> Option<NaiveDateTime> {
        let due = ev.due_at?.date();
        let tomorrow = now.date().succ_opt()?;
        let cal = self.calendar;
        let day = match ev.class {
            // The first day with no more than the warning window left (a day
            // the calendar does not cover counts as reached: looked at early).
            Class::NotYetDue => first_day(tomorrow, due, |d| {
                cal.count(d, due)
                    .map_or(true, |n| n <= self.rules.warning_days)
            }),
            Class::DueSoon => Some(due),
            Class::DueToday => due.succ_opt(),
            Class::Overdue => match (late_threshold, ev.working_days_late) {
                (Some(t), Some(late)) if late < t => Some(cal.add(due, t).unwrap_or(tomorrow)),
                _ => None,
            },
            _ => None,
        }?;
        Some(day.max(tomorrow).and_time(chrono::NaiveTime::MIN))
    }
}

/// The first day in `lo ..= hi` for which `pred` holds, `pred` being false
/// and then true over the range (a binary search); `hi` when it never holds
/// before it.
fn first_day(lo: NaiveDate, hi: NaiveDate, pred: impl Fn(NaiveDate) -> bool) -> Option<NaiveDate> {
    if lo > hi {
        return Some(hi);
    }
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = lo + chrono::Duration::days((hi - lo).num_days() / 2);
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid.succ_opt()?;
        }
    }
    Some(lo)
}

/// Delay totals per unit or per officer: (name, dossiers delayed, working days over).
pub fn summarise_delays<'a>(
    delays: impl IntoIterator<Item = &'a StepDelay>,
    by_officer: bool,
) -> Vec<(String, u64, i64)> {
    let mut m: std::collections::BTreeMap<String, (u64, i64)> = Default::default();
    for d in delays {
        let key = if by_officer {
            d.officer.clone().unwrap_or_else(|| "(chưa rõ)".into())
        } else {
            d.unit.clone()
        };
        let e = m.entry(key).or_default();
        e.0 += 1;
        e.1 += d.working_days_over;
    }
    let mut v: Vec<_> = m.into_iter().map(|(k, (n, days))| (k, n, days)).collect();
    v.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    v
}

/// The step a delay is attributed to (the one furthest past its own due time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelayCause {
    pub step: String,
    pub unit: String,
    pub officer: Option<String>,
    pub working_days_over: i64,
}

impl From<&StepDelay> for DelayCause {
    fn from(d: &StepDelay) -> DelayCause {
        DelayCause {
            step: d.step.clone(),
            unit: d.unit.clone(),
            officer: d.officer.clone(),
            working_days_over: d.working_days_over,
        }
    }
}

/// A verdict on a dossier as kept between checks: the evaluation, the delay
/// cause when there is one, and when it can next change.
///
/// The working days left or late of an open verdict (`Class::counts_move`)
/// move every working day: they are not stored (read back as None) but
/// derived when read (`deadline::day_counts`), so that a verdict is written
/// again only when it changes. A new verdict holds them as evaluated, for
/// the classification history and the escalation ladder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub class: Class,
    pub due_at: Option<NaiveDateTime>,
    pub computed_due_at: Option<NaiveDateTime>,
    pub due_mismatch: bool,
    pub working_days_left: Option<i64>,
    pub working_days_late: Option<i64>,
    pub delay: Option<DelayCause>,
    /// When it can next change while the dossier does not
    /// (`Engine::recheck_at`); None: only with the dossier.
    pub recheck_at: Option<NaiveDateTime>,
    pub class_since: Option<NaiveDateTime>,
    pub evaluated_at: Option<NaiveDateTime>,
}

impl Verdict {
    pub fn new(
        e: &Evaluation,
        delay: Option<DelayCause>,
        recheck_at: Option<NaiveDateTime>,
    ) -> Verdict {
        Verdict {
            class: e.class,
            due_at: e.due_at,
            computed_due_at: e.computed_due_at,
            due_mismatch: e.due_mismatch,
            working_days_left: e.working_days_left,
            working_days_late: e.working_days_late,
            delay,
            recheck_at,
            class_since: None,
            evaluated_at: None,
        }
    }

    /// The working days `(left, late)` that do not move with time: none for
    /// an open verdict (`Class::counts_move`), whose counts are derived when
    /// shown; the ones evaluated otherwise. What is stored.
    pub fn fixed_days(&self) -> (Option<i64>, Option<i64>) {
        if self.class.counts_move() {
            (None, None)
        } else {
            (self.working_days_left, self.working_days_late)
        }
    }

    /// Same verdict as stored, ignoring since when, when it was made and when
    /// it is to be looked at again.
    pub fn same_as(&self, other: &Verdict) -> bool {
        let key = |e: &Verdict| {
            let (left, late) = e.fixed_days();
            Verdict {
                working_days_left: left,
                working_days_late: late,
                recheck_at: None,
                class_since: None,
                evaluated_at: None,
                ..e.clone()
            }
        };
        key(self) == key(other)
    }
}

mod explain;
pub use explain::{DayLine, Explanation};

#[cfg(test)]
mod tests;
