//! The chair's weekly reminder: every dossier overdue more than
//! `escalation.reminder_overdue_days` working days, oldest first, with who
//! acknowledged it and the target date set (passed ones marked). Made once
//! a week, by the first check from `escalation.reminder_at` on the week's
//! first working day; a dossier leaves it the day it is finished.

use super::compose::{ComposeError, Composer, ReminderRule};
use super::{CommitteeCtx, vn_date, vn_datetime};
use crate::clock::parse_db;
use crate::store::{AckRecord, NewMessage, Store};
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::Serialize;

#[derive(Serialize)]
struct Line {
    code: String,
    link: Option<String>,
    procedure: String,
    unit: String,
    due: String,
    days_late: i64,
    /// "Đã nắm: …", "Giao … trước …" (latest first), or nothing.
    acks: Vec<String>,
    /// A target date set and already passed.
    target_passed: bool,
}

/// Whether `now` is the moment of the week's reminder: the week's first
/// working day, from the rule's time on.
pub fn due_now(
    calendar: &crate::calendar::Calendar,
    rule: ReminderRule,
    now: NaiveDateTime,
) -> bool {
    let today = now.date();
    let monday = today - chrono::Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let first = monday
        .iter_days()
        .take(7)
        .find(|d| calendar.is_working_day(*d).unwrap_or(false));
    first == Some(today) && now.time() >= rule.at
}

fn ack_text(a: &AckRecord, today: NaiveDate) -> (String, bool) {
    let when = parse_db(&a.at).map(vn_datetime).unwrap_or_default();
    match (a.kind.as_str(), &a.target_date) {
        ("assign", Some(t)) => {
            let target = NaiveDate::parse_from_str(t, "%Y-%m-%d").ok();
            let passed = target.is_some_and(|t| t < today);
            let day = target.map_or_else(|| t.clone(), |t| t.format("%d/%m/%Y").to_string());
            (
                format!(
                    "{} giao {} xử lý trước {day}{} ({when})",
                    a.recipient,
                    a.assigned_unit.as_deref().unwrap_or_default(),
                    if passed {
                        " – ĐÃ QUÁ NGÀY GIAO"
                    } else {
                        ""
                    }
                ),
                passed,
            )
        }
        _ => (
            format!("{} đã nắm, sẽ chỉ đạo ({when})", a.recipient),
            false,
        ),
    }
}

impl Composer<'_> {
    /// The week's reminder to the chair, when it is due and not made yet;
    /// 1 when queued.
    pub async fn compose_reminder(
        &self,
        store: &Store,
        now: NaiveDateTime,
    ) -> Result<u64, ComposeError> {
        let Some(rule) = self.reminder else {
            return Ok(0);
        };
        if !due_now(self.calendar, rule, now) {
            return Ok(0);
        }
        let today = now.date();
        let chair = self.routing.chair_recipient();
        let week = today.iso_week();
        let key = format!(
            "reminder:{}-W{:02}:{}",
            week.year(),
            week.week(),
            chair.email
        );
        // Every check of that morning comes here: made once, not rebuilt.
        if store.outbox_keys(&key).await?.contains(&key) {
            return Ok(0);
        }
        let mut lines = Vec::new();
        let mut overdue = store.at_risk_lines(self.max_items as i64).await?;
        overdue.retain(|l| l.class == "overdue");
        for mut l in overdue {
            l.days_on(self.calendar, today);
            let days = l.working_days_late.unwrap_or(0);
            if days <= rule.overdue_days {
                continue;
            }
            let mut acks: Vec<(String, bool)> = store
                .acks_of(l.dossier_id)
                .await?
                .iter()
                .map(|a| ack_text(a, today))
                .collect();
            acks.reverse();
            lines.push(Line {
                link: self.routing.dossier_link(&l.source, &l.code),
                procedure: l.procedure_name.clone(),
                unit: l.unit_name.clone(),
                due: l
                    .due_at
                    .as_deref()
                    .and_then(parse_db)
                    .map(vn_datetime)
                    .unwrap_or_default(),
                days_late: days,
                target_passed: acks.first().is_some_and(|(_, p)| *p),
                acks: acks.into_iter().map(|(t, _)| t).collect(),
                code: l.code,
            });
        }
        // Nothing long overdue: no message (a weekly "nothing to report"
        // would teach the chair to skip it).
        if lines.is_empty() {
            return Ok(0);
        }
        // Oldest first: the longest overdue.
        lines.sort_by(|a, b| b.days_late.cmp(&a.days_late).then(a.code.cmp(&b.code)));
        let ctx = serde_json::json!({
            "committee": CommitteeCtx::from(self.routing),
            "recipient": { "name": chair.name, "title": self.routing.chair.title },
            "day": vn_date(now),
            "overdue_days": rule.overdue_days,
            "lines": lines,
            "unacknowledged": lines.iter().filter(|l| l.acks.is_empty()).count(),
            "targets_passed": lines.iter().filter(|l| l.target_passed).count(),
            "listed_limit": self.max_items,
        });
        let rendered = self.templates.render("reminder", &ctx)?;
        let m = NewMessage {
            not_before: None,
            kind: "reminder".into(),
            message_id: self.message_id("reminder", &key),
            dedupe_key: key,
            recipient: chair.email.clone(),
            recipient_name: Some(chair.name.clone()),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            attachments: "[]".into(),
        };
        Ok(u64::from(store.enqueue(&m, &[], now).await?))
    }
}
