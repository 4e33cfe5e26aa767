//! The auditors' dossier filter: one WHERE clause, written once, that the
//! list, its totals and its exports share, so what is counted is what is
//! listed and what is downloaded.

use super::period_report::END_OR_OPEN;
use super::value::DbTime;
use chrono::{NaiveDate, NaiveTime};

/// Which of a dossier's dates a period applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DateBasis {
    /// The day the dossier was received (the default).
    #[default]
    Received,
    /// Its due date, as the source states it.
    Due,
    /// The day it was finished (or returned, for those without a finish).
    Finished,
}

impl DateBasis {
    pub const ALL: [DateBasis; 3] = [DateBasis::Received, DateBasis::Due, DateBasis::Finished];

    pub fn as_str(self) -> &'static str {
        match self {
            DateBasis::Received => "received",
            DateBasis::Due => "due",
            DateBasis::Finished => "finished",
        }
    }

    pub fn parse(s: &str) -> Option<DateBasis> {
        DateBasis::ALL.into_iter().find(|b| b.as_str() == s)
    }

    /// What the period is of, as the dashboard names it.
    pub fn label_vi(self) -> &'static str {
        match self {
            DateBasis::Received => "Ngày tiếp nhận",
            DateBasis::Due => "Hạn trả kết quả",
            DateBasis::Finished => "Ngày có kết quả",
        }
    }

    /// The column the period bounds; the same times the list shows.
    fn column(self) -> &'static str {
        match self {
            DateBasis::Received => "d.received_at",
            DateBasis::Due => "d.due_at",
            DateBasis::Finished => FINISHED,
        }
    }
}

/// When a dossier was finished, as the KPIs and the list count it.
const FINISHED: &str = "COALESCE(d.finished_at, d.returned_at)";

/// Filters of the dossier list; every value is bound, never spliced.
#[derive(Clone, Debug, Default)]
pub struct DossierFilter {
    /// The period's first day (included).
    pub from: Option<NaiveDate>,
    /// The period's last day (included).
    pub to: Option<NaiveDate>,
    /// Which date `from` and `to` bound.
    pub dates: DateBasis,
    /// Today's class.
    pub class: Option<String>,
    /// Only dossiers that were past their due date and not ended at some
    /// moment of the period (see `conditions`); then `from` and `to` bound
    /// that moment instead of `dates`.
    pub late_in_period: bool,
    pub unit: Option<String>,
    pub field: Option<String>,
    pub officer: Option<String>,
    pub source: Option<String>,
}

/// `$q` with `$args` (`Arg`s) bound in order, on either backend.
macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Text(t) => q.bind(t.as_str()),
                Arg::Time(t) => q.bind(*t),
            };
        }
        q
    }};
}
pub(super) use bind_args;

/// A value the dossier list is filtered by.
pub(super) enum Arg {
    Text(String),
    Time(DbTime),
}

pub(super) fn day_start(d: NaiveDate) -> DbTime {
    DbTime(d.and_time(NaiveTime::MIN))
}

pub(super) fn day_end(d: NaiveDate) -> DbTime {
    DbTime(d.and_hms_opt(23, 59, 59).unwrap_or_default())
}

/// Conditions being written: their SQL and the values bound to them.
struct Conditions {
    sql: String,
    args: Vec<Arg>,
    first: usize,
}

impl Conditions {
    /// Binds `v`; returns its placeholder.
    fn bind(&mut self, v: Arg) -> String {
        self.args.push(v);
        format!("${}", self.first + self.args.len() - 1)
    }

    fn and(&mut self, cond: &str) {
        self.sql.push_str(" AND ");
        self.sql.push_str(cond);
    }
}

impl DossierFilter {
    /// `expr` within the period's days, for the bounds it has.
    fn within(&self, c: &mut Conditions, expr: &str) {
        if let Some(d) = self.from {
            let p = c.bind(Arg::Time(day_start(d)));
            c.and(&format!("{expr} >= {p}"));
        }
        if let Some(d) = self.to {
            let p = c.bind(Arg::Time(day_end(d)));
            c.and(&format!("{expr} <= {p}"));
        }
    }

    /// The conditions (each starting with " AND "), their placeholders
    /// numbered from `$first`, over `dossiers d LEFT JOIN evaluations e`.
    pub(super) fn conditions(&self, first: usize) -> (String, Vec<Arg>) {
        let mut c = Conditions {
            sql: String::new(),
            args: Vec::new(),
            first,
        };
        if self.late_in_period {
            // Late in the period: judged late at some time (a class change to
            // overdue or late) with a due date before the period ends, and
            // not ended (finished or closed) before it starts. The class history says *that*
            // it was late; the due date it recorded and the finish say *when*
            // (a check's own time is not when the lateness began: the first
            // check of an imported history records it years after).
            let mut late = String::from(
                "EXISTS (SELECT 1 FROM classification_history c WHERE c.dossier_id = d.id \
                 AND c.to_class IN ('overdue', 'late')",
            );
            if let Some(to) = self.to {
                let p = c.bind(Arg::Time(day_end(to)));
                late.push_str(&format!(" AND c.due_at < {p}"));
            }
            late.push(')');
            c.and(&late);
            if let Some(from) = self.from {
                // Ended on or after the period's first day, or still open.
                let p = c.bind(Arg::Time(day_start(from)));
                c.and(&format!("{END_OR_OPEN} >= {p}"));
            }
        } else {
            if self.dates == DateBasis::Finished {
                // The same bounds on when the dossier ended, which an index
                // holds (a finished dossier ends when it finished): the
                // period's dossiers are then found, not searched for.
                self.within(&mut c, END_OR_OPEN);
            }
            self.within(&mut c, self.dates.column());
        }
        for (col, v) in [
            ("e.class", &self.class),
            ("d.unit_code", &self.unit),
            ("d.field_code", &self.field),
            ("d.officer", &self.officer),
            ("d.source", &self.source),
        ] {
            if let Some(v) = v {
                let p = c.bind(Arg::Text(v.clone()));
                c.and(&format!("{col} = {p}"));
            }
        }
        (c.sql, c.args)
    }
}
