//! The simulated province: a deterministic plan for every dossier (from the seed
//! and its index), and a global, time-ordered list of the moments at which any
//! dossier changes. What a client sees at simulated time T is the plan folded up
//! to T; revision numbers are positions in that list, so keyset paging over them
//! never misses or repeats a change.

use super::catalog::{self, FIELDS, PROCEDURES, UNITS};
use crate::calendar::{Calendar, OfficeHours};
use crate::dossier::{ApplicantKind, Channel, Dossier, Extension, Pause, PauseKind, Status, Step};
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Minutes since 2000-01-01 00:00 Vietnam time: compact event times.
pub type Minute = i32;

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap_or_default()
        .and_time(NaiveTime::MIN)
}

pub fn to_minute(t: NaiveDateTime) -> Minute {
    (t - epoch()).num_minutes() as Minute
}

pub fn from_minute(m: Minute) -> NaiveDateTime {
    epoch() + chrono::Duration::minutes(i64::from(m))
}

/// Everything that will ever happen to one dossier.
#[derive(Clone, Debug)]
pub struct Plan {
    pub index: u32,
    pub code: String,
    pub procedure: usize,
    pub unit: usize,
    pub officer: &'static str,
    pub desk_officer: &'static str,
    pub leader: &'static str,
    pub applicant_name: String,
    pub applicant_kind: ApplicantKind,
    pub applicant_id_no: String,
    pub applicant_phone: String,
    pub applicant_email: Option<String>,
    pub summary: String,
    pub channel: Channel,
    pub submitted_at: Option<NaiveDateTime>,
    pub received_at: NaiveDateTime,
    /// The due date as first promised (None: procedure without due date).
    pub due_at: Option<NaiveDateTime>,
    /// The source's own due date is wrong (calendar days instead of working days).
    pub bad_source_due: bool,
    /// Every step as it will be; `finished_at` is hidden until it has happened.
    pub steps: Vec<Step>,
    pub pauses: Vec<Pause>,
    pub extension: Option<Extension>,
    pub finished_at: Option<NaiveDateTime>,
    pub returned_at: Option<NaiveDateTime>,
    pub refused_at: Option<NaiveDateTime>,
    pub withdrawn_at: Option<NaiveDateTime>,
    pub deleted_at: Option<NaiveDateTime>,
}

/// What the plan looks like at one moment: a record, a deletion, or nothing yet.
pub enum View {
    NotYet,
    Deleted,
    Record(Box<Dossier>),
}

impl Plan {
    /// Every moment the record changes, ascending, deduplicated.
    pub fn moments(&self) -> Vec<NaiveDateTime> {
        let mut m = vec![
            self.submitted_at.unwrap_or(self.received_at),
            self.received_at,
        ];
        for s in &self.steps {
            m.push(s.started_at);
            m.extend(s.finished_at);
        }
        for p in &self.pauses {
            m.push(p.started_at);
            m.extend(p.ended_at);
        }
        m.extend(self.extension.as_ref().map(|e| e.at));
        m.extend(self.finished_at);
        m.extend(self.returned_at);
        m.extend(self.refused_at);
        m.extend(self.withdrawn_at);
        m.extend(self.deleted_at);
        m.sort();
        m.dedup();
        m
    }

    pub fn view(&self, t: NaiveDateTime) -> View {
        let first = self.submitted_at.unwrap_or(self.received_at);
        if t < first {
            return View::NotYet;
        }
        if self.deleted_at.is_some_and(|d| d <= t) {
            return View::Deleted;
        }
        let seen = |x: Option<NaiveDateTime>| x.filter(|x| *x <= t);
        let received = self.received_at <= t;
        let procedure = &PROCEDURES[self.procedure];
        let field = &FIELDS[procedure.field];
        let unit = &UNITS[self.unit];
        let steps: Vec<Step> = if received {
            self.steps
                .iter()
                .filter(|s| s.started_at <= t)
                .map(|s| Step {
                    finished_at: seen(s.finished_at),
                    ..s.clone()
                })
                .collect()
        } else {
            Vec::new()
        };
        let pauses: Vec<Pause> = self
            .pauses
            .iter()
            .filter(|p| p.started_at <= t)
            .map(|p| {
                let ended = seen(p.ended_at);
                Pause {
                    ended_at: ended,
                    due_after: if ended.is_some() { p.due_after } else { None },
                    ..p.clone()
                }
            })
            .collect();
        let extension = self.extension.clone().filter(|e| e.at <= t);
        // The source overwrites its due date in place on every change.
        let mut due = self.due_at;
        if self.bad_source_due {
            // Calendar time where working time was meant: a classic data bug.
            due = due.map(|d| trunc_minute(self.received_at + (d - self.received_at) * 5 / 7));
        }
        for p in &pauses {
            if let Some(after) = p.due_after {
                due = Some(after);
            }
        }
        if let Some(e) = &extension {
            due = Some(e.due_after);
        }
        let open_pause = pauses.iter().find(|p| p.ended_at.is_none());
        let status = if seen(self.refused_at).is_some() {
            Status::Refused
        } else if seen(self.withdrawn_at).is_some() {
            Status::Withdrawn
        } else if seen(self.returned_at).is_some() {
            Status::Returned
        } else if seen(self.finished_at).is_some() {
            Status::Finished
        } else if let Some(p) = open_pause {
            match p.kind {
                PauseKind::Supplement => Status::SupplementRequested,
                PauseKind::Fee => Status::FeeRequested,
            }
        } else if !received {
            Status::Submitted
        } else if steps.len() >= 2 {
            Status::Processing
        } else {
            Status::Received
        };
        let updated_at = self
            .moments()
            .into_iter()
            .filter(|m| *m <= t)
            .max()
            .unwrap_or(first);
        let officer = steps
            .iter()
            .rev()
            .find(|s| s.finished_at.is_none())
            .and_then(|s| s.officer.clone());
        View::Record(Box::new(Dossier {
            code: self.code.clone(),
            procedure_code: Some(procedure.code.to_string()),
            procedure_name: procedure.name.to_string(),
            field_code: field.code.to_string(),
            field_name: field.name.to_string(),
            unit_code: unit.code.to_string(),
            unit_name: unit.name.to_string(),
            officer,
            applicant_name: self.applicant_name.clone(),
            applicant_kind: self.applicant_kind,
            applicant_id_no: Some(self.applicant_id_no.clone()),
            applicant_phone: Some(self.applicant_phone.clone()),
            applicant_email: self.applicant_email.clone(),
            applicant_address: super::shapes::address_of(Some(&self.summary)),
            summary: Some(self.summary.clone()),
            channel: self.channel,
            status,
            submitted_at: self.submitted_at,
            received_at: self.received_at,
            due_at: due,
            finished_at: seen(self.finished_at),
            returned_at: seen(self.returned_at),
            duration: procedure.duration,
            steps,
            pauses,
            extension,
            updated_at,
        }))
    }
}

/// Parameters of a simulated province.
#[derive(Clone, Debug)]
pub struct WorldSpec {
    pub dossiers: u32,
    pub seed: u64,
    /// Simulated "now" when the world starts: receipts spread before and after it.
    pub now: NaiveDateTime,
    pub history_days: i64,
    pub future_days: i64,
}

/// Days of receipts before "now" unless asked otherwise: enough for every class, small enough
/// to build quickly.
pub const DEFAULT_HISTORY_DAYS: i64 = 120;

impl WorldSpec {
    pub fn new(dossiers: u32, seed: u64, now: NaiveDateTime) -> WorldSpec {
        WorldSpec {
            dossiers,
            seed,
            now,
            history_days: DEFAULT_HISTORY_DAYS,
            future_days: 30,
        }
    }
}

pub struct World {
    pub spec: WorldSpec,
    calendar: Calendar,
    hours: OfficeHours,
    /// Every change moment of every dossier, ordered by (time, dossier).
    pub events: Vec<(Minute, u32)>,
    /// For dossier i, its positions in `events`: `positions[offsets[i]..offsets[i+1]]`.
    offsets: Vec<u32>,
    positions: Vec<u32>,
}

impl World {
    pub fn build(spec: WorldSpec, calendar: Calendar, hours: OfficeHours) -> World {
        let mut events: Vec<(Minute, u32)> = Vec::with_capacity(spec.dossiers as usize * 8);
        let mut world = World {
            spec,
            calendar,
            hours,
            events: Vec::new(),
            offsets: Vec::new(),
            positions: Vec::new(),
        };
        for i in 0..world.spec.dossiers {
            if let Some(plan) = world.plan(i) {
                events.extend(plan.moments().into_iter().map(|m| (to_minute(m), i)));
            }
        }
        events.sort_unstable();
        let n = world.spec.dossiers as usize;
        let mut counts = vec![0u32; n + 1];
        for (_, d) in &events {
            counts[*d as usize + 1] += 1;
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut positions = vec![0u32; events.len()];
        for (pos, (_, d)) in events.iter().enumerate() {
            let slot = &mut fill[*d as usize];
            positions[*slot as usize] = pos as u32;
            *slot += 1;
        }
        world.events = events;
        world.offsets = counts;
        world.positions = positions;
        world
    }

    /// Number of events visible at `t` (revisions 1..=that number exist).
    pub fn visible(&self, t: NaiveDateTime) -> usize {
        let m = to_minute(t);
        self.events.partition_point(|(at, _)| *at <= m)
    }

    /// Whether event `pos` is its dossier's latest among the first `visible`.
    pub fn is_latest(&self, pos: usize, visible: usize) -> bool {
        let d = self.events[pos].1 as usize;
        let mine = &self.positions[self.offsets[d] as usize..self.offsets[d + 1] as usize];
        let k = mine.partition_point(|p| (*p as usize) < visible);
        k > 0 && mine[k - 1] as usize == pos
    }

    /// Position of dossier `d`'s first event: its creation.
    pub fn first(&self, d: u32) -> Option<usize> {
        let d = d as usize;
        let (a, b) = (*self.offsets.get(d)?, *self.offsets.get(d + 1)?);
        (a < b).then(|| self.positions[a as usize] as usize)
    }

    /// Position of dossier `d`'s latest event among the first `visible`.
    pub fn latest(&self, d: u32, visible: usize) -> Option<usize> {
        let d = d as usize;
        let mine = self
            .positions
            .get(self.offsets[d] as usize..self.offsets[d + 1] as usize)?;
        let k = mine.partition_point(|p| (*p as usize) < visible);
        (k > 0).then(|| mine[k - 1] as usize)
    }

    pub fn dossier_index(&self, code: &str) -> Option<u32> {
        let n: u32 = code.rsplit('-').next()?.parse().ok()?;
        (n >= 1 && n <= self.spec.dossiers).then_some(n - 1)
    }

    /// The plan of dossier `i`, regenerated from the seed (cheap, deterministic).
    pub fn plan(&self, i: u32) -> Option<Plan> {
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.spec.seed ^ (u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        );
        let cal = &self.calendar;
        let hours = &self.hours;
        let weights: u32 = FIELDS.iter().map(|f| f.weight).sum();
        let mut pick = rng.gen_range(0..weights);
        let mut field = 0;
        for (k, f) in FIELDS.iter().enumerate() {
            if pick < f.weight {
                field = k;
                break;
            }
            pick -= f.weight;
        }
        let procs: Vec<usize> = (0..PROCEDURES.len())
            .filter(|p| PROCEDURES[*p].field == field)
            .collect();
        let procedure = procs[rng.gen_range(0..procs.len())];
        let f = &FIELDS[field];
        let unit = f.unit;
        let officers = UNITS[unit].officers;
        let officer = officers[rng.gen_range(0..officers.len())];

        // Receipt: mostly office hours on working days; online ones at any hour.
        let span = self.spec.history_days + self.spec.future_days;
        let day = self.spec.now.date() - chrono::Duration::days(self.spec.history_days)
            + chrono::Duration::days(rng.gen_range(0..span.max(1)));
        let channel = match rng.gen_range(0..100) {
            0..=54 => Channel::Direct,
            55..=94 => Channel::Online,
            _ => Channel::Postal,
        };
        let raw = if channel == Channel::Direct {
            let d = if cal.is_working_day(day).ok()? {
                day
            } else {
                cal.next_working_day(day).ok()?
            };
            let minute = rng.gen_range(0..480);
            let t = if minute < 270 {
                7 * 60 + minute
            } else {
                13 * 60 + 30 + minute - 270
            };
            d.and_hms_opt(t / 60, t % 60, 0)?
        } else {
            day.and_hms_opt(rng.gen_range(0..24), rng.gen_range(0..60), 0)?
        };
        let start = cal.effective_start(hours, raw).ok()?;
        let submitted_at = (channel == Channel::Online).then_some(raw);
        let received_at = if channel == Channel::Online {
            start
        } else {
            raw
        };
        let duration = PROCEDURES[procedure].duration;
        let day_min = hours.minutes_per_day();
        let total = duration.map_or(5 * day_min, |d| d.working_minutes(day_min));
        let add = |t: NaiveDateTime, m: i64| cal.add_working_minutes(hours, t, m).ok();
        let due_at = match duration {
            Some(_) => Some(add(start, total)?),
            None => None,
        };

        let (applicant_kind, applicant_name, applicant_id_no) =
            if PROCEDURES[procedure].field == 3 && rng.gen_bool(0.5) {
                let name = format!(
                    "{} {}",
                    catalog::COMPANY_KINDS[rng.gen_range(0..catalog::COMPANY_KINDS.len())],
                    catalog::COMPANY_NAMES[rng.gen_range(0..catalog::COMPANY_NAMES.len())]
                );
                (
                    ApplicantKind::Organisation,
                    name,
                    format!("{:010}", rng.gen_range(4_200_000_000u64..4_299_999_999)),
                )
            } else {
                let name = format!(
                    "{} {} {}",
                    catalog::FAMILY_NAMES[rng.gen_range(0..catalog::FAMILY_NAMES.len())],
                    catalog::MIDDLE_NAMES[rng.gen_range(0..catalog::MIDDLE_NAMES.len())],
                    catalog::GIVEN_NAMES[rng.gen_range(0..catalog::GIVEN_NAMES.len())]
                );
                (
                    ApplicantKind::Person,
                    name,
                    format!("0{:011}", rng.gen_range(56_000_000_000u64..56_999_999_999)),
                )
            };
        let applicant_phone = format!("09{:08}", rng.gen_range(0..100_000_000u32));
        let applicant_email = rng
            .gen_bool(0.3)
            .then(|| format!("congdan{}@example.vn", i + 1));
        let summary = format!(
            "{} – {}, số {} đường {}",
            PROCEDURES[procedure].name,
            applicant_name,
            rng.gen_range(1..300),
            catalog::STREETS[rng.gen_range(0..catalog::STREETS.len())]
        );
        let code = format!(
            "000.00.12.H56-{:02}{:02}{:02}-{:07}",
            received_at.year() % 100,
            received_at.month(),
            received_at.day(),
            i + 1
        );
        let desk_officer = catalog::DESK_OFFICERS[rng.gen_range(0..catalog::DESK_OFFICERS.len())];
        let leader = catalog::LEADERS[rng.gen_range(0..catalog::LEADERS.len())];

        let mut plan = Plan {
            index: i,
            code,
            procedure,
            unit,
            officer,
            desk_officer,
            leader,
            applicant_name,
            applicant_kind,
            applicant_id_no,
            applicant_phone,
            applicant_email,
            summary,
            channel,
            submitted_at,
            received_at,
            due_at,
            bad_source_due: due_at.is_some() && rng.gen_bool(0.01),
            steps: Vec::new(),
            pauses: Vec::new(),
            extension: None,
            finished_at: None,
            returned_at: None,
            refused_at: None,
            withdrawn_at: None,
            deleted_at: None,
        };

        let fate = rng.gen_range(0..1000);
        if fate < 10 {
            // Refused at reception.
            plan.refused_at = Some(add(start, 60)?);
            plan.steps.push(step(
                "Tiếp nhận hồ sơ",
                catalog::DESK,
                desk_officer,
                received_at,
                plan.refused_at,
                None,
            ));
            return Some(plan);
        }

        // The working-time budget of each step, as a share of the total.
        let desk_due = add(start, total / 10)?;
        // Supplementation: the clock restarts from the complete dossier.
        let mut clock_start = start;
        let mut due = due_at;
        let mut handle_start = desk_due;
        if duration.is_some() && rng.gen_bool(0.08) {
            let asked = add(start, (total * 3 / 10).max(30))?;
            let back = cal
                .add_working_minutes(
                    hours,
                    asked,
                    rng.gen_range(1..8) * day_min + rng.gen_range(0..day_min),
                )
                .ok()?;
            let new_due = add(back, total)?;
            plan.pauses.push(Pause {
                kind: PauseKind::Supplement,
                started_at: asked,
                ended_at: Some(back),
                due_before: due,
                due_after: Some(new_due),
            });
            clock_start = back;
            due = Some(new_due);
            handle_start = back;
        } else if duration.is_some() && rng.gen_bool(0.04) {
            // Fee pause: the due date moves by the paused working time.
            let asked = add(start, (total / 2).max(30))?;
            let paused = rng.gen_range(1..4) * day_min;
            let paid = add(asked, paused)?;
            let new_due = due.and_then(|d| add(d, paused));
            plan.pauses.push(Pause {
                kind: PauseKind::Fee,
                started_at: asked,
                ended_at: Some(paid),
                due_before: due,
                due_after: new_due,
            });
            due = new_due;
        }
        let budget_end = due.unwrap_or(add(clock_start, total)?);
        let budget = cal
            .working_minutes_between(hours, clock_start, budget_end)
            .ok()?
            .max(1);
        let handle_due = add(clock_start, budget * 8 / 10)?;
        let sign_due = add(clock_start, budget * 95 / 100)?;

        let on_time = rng.gen_bool(f.on_time);
        // How much of the budget is really used, and which step overruns when late.
        let used = if on_time {
            if rng.gen_bool(0.15) {
                budget
            } else {
                budget * rng.gen_range(30..95) / 100
            }
        } else {
            budget + rng.gen_range(1..8) * day_min + rng.gen_range(0..day_min)
        };
        let late_in_signing = !on_time && rng.gen_bool(0.3);
        let handle_end = if late_in_signing {
            add(clock_start, budget * 85 / 100)?
        } else {
            add(clock_start, (used * 85 / 100).max(1))?
        };
        let handle_end = handle_end.max(handle_start);
        let finish = add(clock_start, used)?.max(handle_end);
        let sign_end = finish;
        let desk_end = desk_due.min(handle_start);
        plan.steps.push(step(
            "Tiếp nhận hồ sơ",
            catalog::DESK,
            desk_officer,
            received_at,
            Some(desk_end),
            Some(desk_due),
        ));
        plan.steps.push(step(
            "Thẩm định, xử lý hồ sơ",
            UNITS[unit].name,
            officer,
            desk_end,
            Some(handle_end),
            Some(handle_due),
        ));
        plan.steps.push(step(
            "Lãnh đạo ký duyệt",
            "UBND",
            leader,
            handle_end,
            Some(sign_end),
            Some(sign_due),
        ));
        let returned = cal
            .add_working_minutes(hours, finish, rng.gen_range(0..2 * day_min))
            .ok()?;
        plan.steps.push(step(
            "Trả kết quả",
            catalog::DESK,
            desk_officer,
            finish,
            Some(returned),
            due,
        ));
        plan.finished_at = Some(finish);
        plan.returned_at = Some(returned);

        // A third of the late ones apologise and extend before the due date.
        if let Some(d) = due.filter(|_| !on_time && rng.gen_bool(0.33)) {
            let at = cal
                .add_working_minutes(hours, d, -day_min)
                .ok()?
                .max(received_at);
            let after = add(finish, day_min)?;
            plan.extension = Some(Extension {
                at,
                due_before: d,
                due_after: after,
                reason: Some("Cần xác minh thêm thông tin thực địa".into()),
            });
        }
        // The wrong-due-date quirk only where nothing overwrites the due date later.
        plan.bad_source_due &= plan.pauses.is_empty() && plan.extension.is_none();
        if fate < 20 {
            // Withdrawn by the applicant half-way.
            let w = add(clock_start, budget / 2)?;
            plan.withdrawn_at = Some(w);
            plan.finished_at = None;
            plan.returned_at = None;
            plan.extension = None;
            plan.steps.retain(|s| s.started_at < w);
            if let Some(last) = plan.steps.last_mut() {
                last.finished_at = Some(w);
            }
        } else if fate < 23 {
            // Entered by mistake and deleted from the source.
            plan.deleted_at = Some(add(received_at, rng.gen_range(60..3 * day_min))?);
        }
        Some(plan)
    }
}

fn step(
    name: &str,
    unit: &str,
    officer: &str,
    started_at: NaiveDateTime,
    finished_at: Option<NaiveDateTime>,
    due_at: Option<NaiveDateTime>,
) -> Step {
    Step {
        name: name.into(),
        unit: unit.into(),
        officer: Some(officer.into()),
        started_at,
        finished_at,
        due_at,
    }
}

/// Rounds down to the minute.
pub fn trunc_minute(t: NaiveDateTime) -> NaiveDateTime {
    t.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}
