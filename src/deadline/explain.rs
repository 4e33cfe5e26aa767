//! How a dossier's due date was computed, day by day, for the people who
//! must answer for it (the dossier page): when handling started and why, each
//! calendar day from there to the due date counted or skipped with its reason
//! (a weekend, a named holiday, a make-up Saturday worked), then what pauses
//! and an extension did. It follows `Engine::computed_due` step for step and
//! ends on the same instant.

use super::{DeadlineError, Engine, SupplementRule};
use crate::dossier::{Dossier, Duration, PauseKind};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};
use serde::Serialize;

/// One calendar day between the start of handling and the due date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DayLine {
    pub date: NaiveDate,
    /// "Thứ Hai" … "Chủ nhật".
    pub weekday: &'static str,
    /// Working minutes counted that day (0: skipped).
    pub minutes: i64,
    /// Working time counted so far ("2 ngày", "1 ngày 4 giờ").
    pub running: String,
    /// Why it counts or not: "ngày làm việc", "Thứ Bảy", "Tết Nguyên đán",
    /// "Thứ Bảy làm bù (làm việc)".
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub received_at: NaiveDateTime,
    /// When handling started (the receipt time, or the next opening).
    pub start: NaiveDateTime,
    pub start_note: String,
    /// "5 ngày làm việc", "8 giờ làm việc".
    pub duration: String,
    /// Start + duration, before pauses and extension.
    pub base_due: NaiveDateTime,
    pub days: Vec<DayLine>,
    /// What each pause and an extension did to the due date, in order.
    pub changes: Vec<String>,
    /// The due date by the rules (`Engine::computed_due`).
    pub due: NaiveDateTime,
    /// Where the calendar came from and the years it covers.
    pub calendar: String,
}

fn weekday_vi(d: NaiveDate) -> &'static str {
    match d.weekday() {
        Weekday::Mon => "Thứ Hai",
        Weekday::Tue => "Thứ Ba",
        Weekday::Wed => "Thứ Tư",
        Weekday::Thu => "Thứ Năm",
        Weekday::Fri => "Thứ Sáu",
        Weekday::Sat => "Thứ Bảy",
        Weekday::Sun => "Chủ nhật",
    }
}

fn at(t: NaiveDateTime) -> String {
    t.format("%H:%M %d/%m/%Y").to_string()
}

/// Working time as people say it: "2 ngày", "1 ngày 4 giờ", "2 giờ".
fn days_text(minutes: i64, per_day: i64) -> String {
    match (minutes / per_day, minutes % per_day) {
        (d, 0) => format!("{d} ngày"),
        (0, rest) => hours_text(rest),
        (d, rest) => format!("{d} ngày {}", hours_text(rest)),
    }
}

fn hours_text(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (h, 0) => format!("{h} giờ"),
        (0, m) => format!("{m} phút"),
        (h, m) => format!("{h} giờ {m} phút"),
    }
}

impl Engine<'_> {
    /// The due date of `d` explained; None when its procedure has no duration
    /// (then only an extension sets one).
    pub fn explain(&self, d: &Dossier) -> Result<Option<Explanation>, DeadlineError> {
        let Some(duration) = d.duration else {
            return Ok(None);
        };
        let Some(due) = self.computed_due(d)? else {
            return Ok(None);
        };
        let (cal, h) = (self.calendar, self.hours);
        let e = Self::err(d);
        let per_day = h.minutes_per_day();
        let total = duration.working_minutes(per_day);
        let start = cal.effective_start(h, d.received_at).map_err(&e)?;
        let base_due = cal.add_working_minutes(h, start, total).map_err(&e)?;
        let start_note = if start == d.received_at {
            "tiếp nhận trong giờ làm việc: tính từ lúc tiếp nhận".to_owned()
        } else if start.date() == d.received_at.date() {
            "tiếp nhận ngoài giờ làm việc: tính từ giờ mở cửa kế tiếp trong ngày".to_owned()
        } else {
            "tiếp nhận sau giờ làm việc hoặc ngày nghỉ: tính từ đầu ngày làm việc kế tiếp"
                .to_owned()
        };
        let mut days = Vec::new();
        let mut counted = 0;
        let mut day = start.date();
        while day <= base_due.date() {
            let working = cal.is_working_day(day).map_err(&e)?;
            let (minutes, note) = if working {
                let open = day.and_time(h.morning_start).max(start);
                let close = day.and_time(h.afternoon_end).min(base_due);
                let m = cal.working_minutes_between(h, open, close).map_err(&e)?;
                let note = if cal.is_make_up_day(day) {
                    format!("{} làm bù (làm việc)", weekday_vi(day))
                } else if m == per_day {
                    "ngày làm việc".to_owned()
                } else {
                    format!("ngày làm việc, tính {}", hours_text(m))
                };
                (m, note)
            } else {
                let note = cal
                    .day_off_name(day)
                    .map_or_else(|| weekday_vi(day).to_owned(), str::to_owned);
                (0, format!("nghỉ: {note}"))
            };
            counted += minutes;
            days.push(DayLine {
                date: day,
                weekday: weekday_vi(day),
                minutes,
                running: days_text(counted, per_day),
                note,
            });
            day = day.succ_opt().unwrap_or(day);
            if day == base_due.date() && day == start.date() {
                break;
            }
        }
        let mut changes = Vec::new();
        let mut pauses: Vec<_> = d.pauses.iter().collect();
        pauses.sort_by_key(|p| p.started_at);
        let mut current = base_due;
        for p in pauses {
            let Some(end) = p.ended_at else {
                changes.push(format!(
                    "đang tạm dừng từ {} ({}): hạn tính lại khi tiếp tục",
                    at(p.started_at),
                    pause_label(p.kind)
                ));
                continue;
            };
            let restart =
                p.kind == PauseKind::Supplement && self.rules.supplement == SupplementRule::Restart;
            current = if restart {
                let next = cal.add_working_minutes(h, end, total).map_err(&e)?;
                changes.push(format!(
                    "{} từ {} đến {}: thời hạn tính lại từ đầu khi nhận đủ hồ sơ, hạn mới {}",
                    pause_label(p.kind),
                    at(p.started_at),
                    at(end),
                    at(next)
                ));
                next
            } else {
                let paused = cal
                    .working_minutes_between(h, p.started_at, end)
                    .map_err(&e)?;
                let next = cal.add_working_minutes(h, current, paused).map_err(&e)?;
                changes.push(format!(
                    "{} từ {} đến {}: cộng thêm {} làm việc, hạn mới {}",
                    pause_label(p.kind),
                    at(p.started_at),
                    at(end),
                    hours_text(paused),
                    at(next)
                ));
                next
            };
        }
        if let Some(x) = &d.extension {
            changes.push(format!(
                "gia hạn lúc {}: hạn mới {}{}",
                at(x.at),
                at(x.due_after),
                x.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
        }
        Ok(Some(Explanation {
            received_at: d.received_at,
            start,
            start_note,
            duration: match duration {
                Duration::WorkingDays(n) => format!("{n} ngày làm việc"),
                Duration::WorkingHours(n) => format!("{n} giờ làm việc"),
            },
            base_due,
            days,
            changes,
            due,
            calendar: format!(
                "{} ({}–{})",
                cal.origin(),
                cal.years().start(),
                cal.years().end()
            ),
        }))
    }
}

fn pause_label(k: PauseKind) -> &'static str {
    match k {
        PauseKind::Supplement => "tạm dừng chờ bổ sung hồ sơ",
        PauseKind::Fee => "tạm dừng chờ nộp phí, lệ phí",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_time_is_written_as_people_say_it() {
        assert_eq!(days_text(960, 480), "2 ngày");
        assert_eq!(days_text(720, 480), "1 ngày 4 giờ");
        assert_eq!(days_text(120, 480), "2 giờ");
        assert_eq!(hours_text(90), "1 giờ 30 phút");
    }
}
