//! The centre's morning digest: what is due soon, due today and late, by unit
//! and field; what changed since the previous digest (none in the first: there
//! is nothing to compare with); data freshness, dated by the last successful
//! sync and not by the clock, in a red first line while stale; source due dates
//! that disagree with the rules; mail that could not be delivered.

use super::compose::{ComposeError, Composer, Item, stale_line};
use super::{CommitteeCtx, vn_date, vn_datetime};
use crate::calendar::Calendar;
use crate::store::{NewMessage, Store};
use chrono::NaiveDateTime;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, PartialEq, Eq)]
pub enum DigestOutcome {
    /// Messages queued for the centre.
    Queued {
        messages: u64,
        overdue: usize,
        due_today: usize,
        due_soon: usize,
    },
    /// Today already has a digest.
    AlreadyDone,
    /// Not a working day (and not forced).
    DayOff,
}

#[derive(Serialize, Default)]
struct Row {
    name: String,
    overdue: usize,
    due_today: usize,
    due_soon: usize,
}

#[derive(Serialize)]
struct Section {
    title: &'static str,
    /// The first `DigestLimits::max_items`, most urgent first.
    items: Vec<Item>,
    /// All of the section's dossiers, listed or not.
    total: usize,
    /// How many are not listed.
    more: usize,
}

/// What the digest shows.
pub struct DigestLimits {
    /// "Sắp đến hạn" means at most this many working days left.
    pub warning_days: i64,
    /// Dossiers listed per section; the rest are counted.
    pub max_items: usize,
}

fn tally(rows: &mut BTreeMap<String, Row>, name: &str, class: &str, n: usize) {
    let r = rows.entry(name.to_owned()).or_insert_with(|| Row {
        name: name.to_owned(),
        ..Row::default()
    });
    match class {
        "overdue" => r.overdue += n,
        "due_today" => r.due_today += n,
        _ => r.due_soon += n,
    }
}

fn sorted(rows: BTreeMap<String, Row>) -> Vec<Row> {
    let mut v: Vec<Row> = rows.into_values().collect();
    v.sort_by(|a, b| {
        (b.overdue, b.due_today, b.due_soon)
            .cmp(&(a.overdue, a.due_today, a.due_soon))
            .then(a.name.cmp(&b.name))
    });
    v
}

/// Builds today's digest and queues it for every centre address, once per day.
pub async fn make_digest(
    composer: &Composer<'_>,
    store: &Store,
    calendar: &Calendar,
    limits: &DigestLimits,
    now: NaiveDateTime,
    force: bool,
) -> Result<DigestOutcome, ComposeError> {
    let warning_days = limits.warning_days;
    let today = now.date();
    if !force && !calendar.is_working_day(today).unwrap_or(true) {
        return Ok(DigestOutcome::DayOff);
    }
    let date_key = today.format("%Y-%m-%d").to_string();
    if store.digest_exists(&date_key).await? {
        return Ok(DigestOutcome::AlreadyDone);
    }
    // The first digest has no previous one to compare with.
    let since = store.last_digest_at().await?;
    let lines = store.at_risk_lines(limits.max_items as i64).await?;
    let (mut by_unit, mut by_field) = (BTreeMap::new(), BTreeMap::new());
    let mut sections = [
        Section {
            title: "Hồ sơ quá hạn",
            items: vec![],
            total: 0,
            more: 0,
        },
        Section {
            title: "Hồ sơ đến hạn hôm nay",
            items: vec![],
            total: 0,
            more: 0,
        },
        Section {
            title: "Hồ sơ sắp đến hạn",
            items: vec![],
            total: 0,
            more: 0,
        },
    ];
    let section = |class: &str| match class {
        "overdue" => 0,
        "due_today" => 1,
        _ => 2,
    };
    let mut unrouted = 0;
    for (field_code, field, unit_code, unit, class, n) in store.at_risk_counts().await? {
        let n = n as usize;
        tally(&mut by_unit, &unit, &class, n);
        tally(&mut by_field, &field, &class, n);
        sections[section(&class)].total += n;
        if composer.unrouted(&field_code, &unit_code) {
            unrouted += n;
        }
    }
    for l in &lines {
        sections[section(&l.class)]
            .items
            .push(composer.item(l, None, today));
    }
    for s in &mut sections {
        s.more = s.total.saturating_sub(s.items.len());
    }
    let changes = match since {
        Some(since) => Some(store.class_changes_since(since).await?),
        None => None,
    };
    let n = |changes: &[(String, i64)], classes: &[&str]| -> i64 {
        changes
            .iter()
            .filter(|(c, _)| classes.contains(&c.as_str()))
            .map(|(_, k)| k)
            .sum()
    };
    let changes = changes.map(|c| {
        serde_json::json!({
            "newly_at_risk": n(&c, &["due_soon", "due_today"]),
            "newly_late": n(&c, &["overdue"]),
            "finished": n(&c, &["before_due", "on_due_day", "late"]),
            "finished_late": n(&c, &["late"]),
        })
    });
    let mismatches: Vec<serde_json::Value> = store
        .open_mismatches(50)
        .await?
        .into_iter()
        .map(|l| {
            let f = |s: Option<String>| s.as_deref().and_then(crate::clock::parse_db).map_or_else(|| "……".into(), vn_datetime);
            serde_json::json!({ "code": l.code, "source_due": f(l.due_at), "computed_due": f(l.computed_due_at) })
        })
        .collect();
    let freshness = composer.freshness(store).await?;
    let stale = stale_line(&freshness, &composer.staleness, now);
    // What the figures are as of: the oldest source's last successful sync.
    let data_as_of = freshness.iter().filter_map(|f| f.last_success).min();
    let sources: Vec<serde_json::Value> = freshness
        .into_iter()
        .map(|f| {
            let stale = composer.staleness.is_stale(&f, now);
            serde_json::json!({ "name": f.source, "last_success": f.last_success.map(vn_datetime), "stale": stale, "last_error": f.last_error })
        })
        .collect();
    let failed: Vec<serde_json::Value> = store
        .failed_messages()
        .await?
        .into_iter()
        .map(|(r, s, e)| serde_json::json!({ "recipient": r, "subject": s, "error": e.unwrap_or_default() }))
        .collect();
    let counts = (sections[0].total, sections[1].total, sections[2].total);
    let ctx = serde_json::json!({
        "committee": CommitteeCtx::from(composer.routing),
        "centre": composer.routing.centre.name,
        "stale": stale,
        "date": vn_date(now),
        "generated": vn_datetime(now),
        "data_as_of": data_as_of.map(vn_datetime),
        "since": since.map(vn_datetime),
        "warning_days": warning_days,
        "counts": { "overdue": counts.0, "due_today": counts.1, "due_soon": counts.2 },
        "unrouted": unrouted,
        "changes": changes,
        "by_unit": sorted(by_unit),
        "by_field": sorted(by_field),
        "sections": sections,
        "mismatches": mismatches,
        "sources": sources,
        "failed_mail": failed,
        "calendar_warning": calendar.coverage_warning(today),
    });
    let r = composer.templates.render("digest", &ctx)?;
    // Queue first (idempotent by key), then record the day: a crash in between
    // neither loses nor repeats the digest.
    let mut messages = 0;
    for to in composer.routing.centre_recipients() {
        let key = format!("digest:{date_key}:{}", to.email);
        let m = NewMessage {
            // The digest is made on its working morning.
            not_before: None,
            kind: "digest".into(),
            message_id: composer.message_id("digest", &key),
            dedupe_key: key,
            recipient: to.email.clone(),
            recipient_name: Some(to.name.clone()),
            subject: r.subject.clone(),
            text: r.text.clone(),
            html: r.html.clone(),
            attachments: "[]".into(),
        };
        if store.enqueue(&m, &[], now).await? {
            messages += 1;
        }
    }
    store.record_digest(&date_key, &r.subject, now).await?;
    Ok(DigestOutcome::Queued {
        messages,
        overdue: counts.0,
        due_today: counts.1,
        due_soon: counts.2,
    })
}
