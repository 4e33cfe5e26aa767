//! From alerts to messages: one email per recipient per run, listing each of
//! that recipient's dossiers once, at its most urgent new rung (the others as
//! tags), under a summary a leader reads on one phone screen (counts by unit,
//! the one request with the earliest due date); and the stale-data alert of
//! each source. While data is stale, every message opens with when it was
//! last updated.

use super::templates::Templates;
use super::{CommitteeCtx, vn_datetime};
use crate::clock::parse_db;
use crate::escalation::Rung;
use crate::privacy::Masking;
use crate::routing::Routing;
use crate::source::Staleness;
use crate::store::{AlertBrief, DossierLine, NewMessage, SourceFreshness, Store};
use chrono::{NaiveDateTime, NaiveTime};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Template(#[from] super::templates::TemplateError),
}

/// Settings for composing messages.
pub struct Composer<'a> {
    pub routing: &'a Routing,
    /// For the working days left or late of each line, on the day it is sent.
    pub calendar: &'a crate::calendar::Calendar,
    pub templates: &'a Templates,
    pub mask_applicant: bool,
    /// Domain of Message-IDs (the sender's).
    pub domain: String,
    /// Dossiers listed per message or digest section (the rest are counted).
    pub max_items: usize,
    /// When a source's data counts as stale (the red first line).
    pub staleness: Staleness,
    /// The enabled sources: a disabled or renamed one's old state is not news.
    pub sources: Vec<String>,
    /// Days an acknowledgement link stays usable.
    pub ack_link_days: u32,
    /// Office hours, for quiet hours.
    pub hours: &'a crate::calendar::OfficeHours,
    /// Hold non-urgent messages made outside office hours to the next
    /// working morning (`escalation.quiet_hours`).
    pub quiet_hours: bool,
    /// The chair's weekly reminder, when configured.
    pub reminder: Option<ReminderRule>,
    /// Webhook endpoints that also hear of alerts (`notify::webhook`).
    pub webhooks: &'a super::webhook::Webhooks,
}

#[derive(Serialize)]
pub struct Item {
    pub rung: String,
    pub rung_label: String,
    pub code: String,
    pub procedure: String,
    pub applicant: String,
    pub unit: String,
    pub officer: Option<String>,
    pub received: String,
    pub due: String,
    pub days_left: Option<i64>,
    pub days_late: Option<i64>,
    pub step: Option<String>,
    pub step_since: Option<String>,
    pub delay_step: Option<String>,
    pub delay_unit: Option<String>,
    pub delay_days: Option<i64>,
    pub link: Option<String>,
    pub unrouted: bool,
    /// The other rungs the dossier reached in this message (short labels).
    pub tags: Vec<&'static str>,
    /// The apology draft is attached to this message.
    pub letter_attached: bool,
    /// Who signs the apology ("Phó Chủ tịch UBND phường Lê Văn Thành"): the
    /// unit head submits the draft to them (trình ký), never signs it.
    pub signer: String,
    /// One-tap links: "Đã nắm, sẽ chỉ đạo", and for a vice-chair "Giao …
    /// xử lý" (`ack`); none without the dashboard's address.
    pub ack_link: Option<String>,
    pub assign_link: Option<String>,
    /// A climb (`no_ack`): who was told and has not acknowledged.
    pub silent: Vec<String>,
}

/// When and what the reminder lists (`[escalation]`).
#[derive(Clone, Copy, Debug)]
pub struct ReminderRule {
    /// Listed: overdue more than this many working days.
    pub overdue_days: i64,
    /// Made from this time of the week's first working day.
    pub at: NaiveTime,
}

/// What every one-tap link of a message shares.
struct AckLinks<'a> {
    signer: &'a crate::ack::Signer,
    recipient: &'a str,
    expires_at: NaiveDateTime,
    /// The vice-chair also assigns.
    assign: bool,
}

/// A unit's dossiers in one message, each counted once at its most urgent rung.
#[derive(Serialize, Default, Debug, PartialEq, Eq)]
pub struct UnitCount {
    pub name: String,
    pub total: usize,
    pub overdue: usize,
    pub due_today: usize,
    pub due_soon: usize,
}

/// What a recipient's message counts: dossiers, not rungs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub total: usize,
    /// Late (overdue, with or without the no-apology rung).
    pub overdue: usize,
    pub due_today: usize,
    pub due_soon: usize,
    /// Late dossiers that reached the no-apology rung.
    pub no_apology: usize,
    pub unrouted: usize,
    /// Most late first, then most at risk, then by name.
    pub by_unit: Vec<UnitCount>,
    /// The earliest due date of the dossiers not yet late (stored form).
    pub earliest_due: Option<String>,
    /// Every rung each dossier reached, most urgent first.
    pub rungs: BTreeMap<i64, Vec<Rung>>,
}

impl Tally {
    pub fn of(briefs: &[AlertBrief]) -> Tally {
        let mut rungs: BTreeMap<i64, Vec<Rung>> = BTreeMap::new();
        let mut first: BTreeMap<i64, &AlertBrief> = BTreeMap::new();
        let mut unrouted = HashSet::new();
        for b in briefs {
            let rung = Rung::parse(&b.rung).unwrap_or(Rung::DueSoon);
            let v = rungs.entry(b.dossier_id).or_default();
            if !v.contains(&rung) {
                v.push(rung);
            }
            first.entry(b.dossier_id).or_insert(b);
            if b.unrouted.unwrap_or(0) != 0 {
                unrouted.insert(b.dossier_id);
            }
        }
        let mut t = Tally {
            total: rungs.len(),
            unrouted: unrouted.len(),
            ..Tally::default()
        };
        let mut units: BTreeMap<&str, UnitCount> = BTreeMap::new();
        for (id, v) in &mut rungs {
            v.sort_by_key(|r| r.urgency());
            let Some(b) = first.get(id) else { continue };
            let u = units
                .entry(b.unit_name.as_str())
                .or_insert_with(|| UnitCount {
                    name: b.unit_name.clone(),
                    ..UnitCount::default()
                });
            u.total += 1;
            // A climb is as urgent as its dossier.
            let top = match v.first().copied().unwrap_or(Rung::DueSoon) {
                Rung::NoAck if b.class == "overdue" => Rung::Overdue,
                Rung::NoAck => Rung::DueToday,
                r => r,
            };
            match top {
                Rung::NoApology | Rung::Overdue | Rung::NoAck => {
                    t.overdue += 1;
                    u.overdue += 1;
                }
                Rung::DueToday | Rung::DueSoon => {
                    if v.contains(&Rung::DueToday) {
                        t.due_today += 1;
                        u.due_today += 1;
                    } else {
                        t.due_soon += 1;
                        u.due_soon += 1;
                    }
                    // Stored times sort as text.
                    if let Some(due) = &b.due_at
                        && t.earliest_due.as_ref().is_none_or(|e| due < e)
                    {
                        t.earliest_due = Some(due.clone());
                    }
                }
            }
            if v.contains(&Rung::NoApology) {
                t.no_apology += 1;
            }
        }
        let mut by_unit: Vec<UnitCount> = units.into_values().collect();
        by_unit.sort_by(|a, b| {
            (b.overdue, b.due_today, b.total)
                .cmp(&(a.overdue, a.due_today, a.total))
                .then(a.name.cmp(&b.name))
        });
        t.by_unit = by_unit;
        t.rungs = rungs;
        t
    }
}

/// The red first line of every alert and digest while a source is stale:
/// when the data was last updated, from the last successful sync (never from
/// the clock). None while every source is fresh.
pub fn stale_line(
    freshness: &[SourceFreshness],
    staleness: &Staleness,
    now: NaiveDateTime,
) -> Option<String> {
    let stale: Vec<&SourceFreshness> = freshness
        .iter()
        .filter(|f| staleness.is_stale(f, now))
        .collect();
    let oldest = stale
        .iter()
        .filter_map(|f| f.last_success.map(|t| (t, f.source.as_str())))
        .min();
    let never: Vec<&str> = stale
        .iter()
        .filter(|f| f.last_success.is_none())
        .map(|f| f.source.as_str())
        .collect();
    let mut line = match oldest {
        Some((t, source)) => {
            let minutes = (now - t).num_minutes().max(0);
            let ago = if minutes < 60 {
                format!("{minutes} phút")
            } else {
                format!("{} giờ", minutes / 60)
            };
            format!(
                "Số liệu cập nhật lần cuối lúc {} ({ago} trước, nguồn {source})",
                vn_datetime(t)
            )
        }
        None if never.is_empty() => return None,
        None => format!(
            "Số liệu chưa được cập nhật lần nào từ nguồn {}",
            never.join(", ")
        ),
    };
    if oldest.is_some() && !never.is_empty() {
        line.push_str(&format!(
            "; nguồn {} chưa đồng bộ được lần nào",
            never.join(", ")
        ));
    }
    line.push_str(": hồ sơ mới và thay đổi sau thời điểm đó chưa có trong thư này.");
    Some(line)
}

fn fmt_opt(s: Option<&str>) -> String {
    s.and_then(parse_db)
        .map(vn_datetime)
        .unwrap_or_else(|| "……".into())
}

impl Composer<'_> {
    /// How recently each enabled source synced (every source that ever
    /// synced when none is configured: a one-off run on `--source-url`).
    pub async fn freshness(&self, store: &Store) -> Result<Vec<SourceFreshness>, ComposeError> {
        let mut all = store.sync_freshness().await?;
        if !self.sources.is_empty() {
            all.retain(|f| self.sources.contains(&f.source));
        }
        Ok(all)
    }

    /// One line of a message sent on `today`.
    pub fn item(&self, l: &DossierLine, rung: Option<Rung>, today: chrono::NaiveDate) -> Item {
        let mut l = l.clone();
        l.days_on(self.calendar, today);
        let applicant =
            Masking::new(self.mask_applicant).name(l.applicant_kind == "person", &l.applicant_name);
        let unrouted = l
            .unrouted
            .map(|u| u != 0)
            .unwrap_or_else(|| self.unrouted(&l.field_code, &l.unit_code));
        Item {
            rung: rung.map_or(l.class.clone(), |r| r.as_str().to_owned()),
            rung_label: rung.map_or_else(String::new, |r| r.label_vi().to_owned()),
            code: l.code.clone(),
            procedure: l.procedure_name.clone(),
            applicant,
            unit: l.unit_name.clone(),
            officer: l.officer.clone(),
            received: fmt_opt(Some(&l.received_at)),
            due: fmt_opt(l.due_at.as_deref()),
            days_left: l.working_days_left,
            days_late: l.working_days_late,
            step: l.current_step.clone(),
            step_since: l.step_since.as_deref().and_then(parse_db).map(vn_datetime),
            delay_step: l.delay_step.clone(),
            delay_unit: l.delay_unit.clone(),
            delay_days: l.delay_days,
            link: self.routing.dossier_link(&l.source, &l.code),
            unrouted,
            tags: Vec::new(),
            letter_attached: false,
            signer: self.routing.signer(&l.field_code, &l.unit_code),
            ack_link: None,
            assign_link: None,
            silent: Vec::new(),
        }
    }

    /// The field has no vice-chair or the unit no head in routing.
    /// When a non-urgent message made at `now` may go: the next working
    /// opening when `now` is outside office hours or on a day off (with
    /// `escalation.quiet_hours`), else at once (None).
    fn quiet_until(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        if !self.quiet_hours {
            return None;
        }
        self.calendar
            .effective_start(self.hours, now)
            .ok()
            .filter(|t| *t > now)
    }

    /// A dossier's one-tap links for the message's recipient.
    fn ack_links(
        &self,
        links: &AckLinks<'_>,
        l: &DossierLine,
        rung: Rung,
    ) -> (Option<String>, Option<String>) {
        use crate::ack::{Grant, Purpose};
        let grant = |purpose| Grant {
            purpose,
            recipient: links.recipient.to_owned(),
            source: l.source.clone(),
            code: l.code.clone(),
            due_at: l.due_at.as_deref().and_then(parse_db),
            rung: rung.as_str().to_owned(),
            expires_at: links.expires_at,
        };
        let link = |p| self.routing.ack_link(&links.signer.sign(&grant(p)));
        (
            link(Purpose::Ack),
            links.assign.then(|| link(Purpose::Assign)).flatten(),
        )
    }

    pub fn unrouted(&self, field_code: &str, unit_code: &str) -> bool {
        self.routing.vice_chair(field_code).is_none() || self.routing.unit(unit_code).is_none()
    }

    pub fn message_id(&self, kind: &str, dedupe_key: &str) -> String {
        let h = hex::encode(&Sha256::digest(dedupe_key.as_bytes())[..12]);
        format!("<{kind}.{h}@{}>", self.domain)
    }

    /// Turns every alert not yet in a message into one message per recipient.
    pub async fn compose_alerts(
        &self,
        store: &Store,
        now: NaiveDateTime,
    ) -> Result<u64, ComposeError> {
        let recipients = store.unsent_alert_recipients().await?;
        if recipients.is_empty() {
            return Ok(0);
        }
        let stale = stale_line(&self.freshness(store).await?, &self.staleness, now);
        let signer = crate::ack::Signer::new(store.ack_key(now).await?);
        let mut made = 0;
        for recipient in recipients {
            let unsent = store
                .unsent_alerts(&recipient, self.max_items as i64)
                .await?;
            let lines = &unsent.lines;
            let Some(first) = lines.first() else { continue };
            let tally = Tally::of(&unsent.briefs);
            let rungs_of = |l: &DossierLine| -> Vec<Rung> {
                tally
                    .rungs
                    .get(&l.dossier_id)
                    .cloned()
                    .unwrap_or_else(|| vec![Rung::DueSoon])
            };
            let mut items = Vec::with_capacity(lines.len());
            let links = AckLinks {
                signer: &signer,
                recipient: &recipient,
                expires_at: now + chrono::Duration::days(i64::from(self.ack_link_days)),
                assign: first.recipient_role.as_deref() == Some("vice_chair"),
            };
            // The unit head gets the apology draft of each dossier that went
            // late in this message, ready to submit for signing.
            let mut attachments = Vec::new();
            for l in lines {
                let rungs = rungs_of(l);
                let top = rungs.first().copied().unwrap_or(Rung::DueSoon);
                let mut item = self.item(l, Some(top), now.date());
                item.tags = rungs.iter().skip(1).map(|r| r.tag_vi()).collect();
                if rungs.contains(&Rung::NoAck) {
                    item.silent = store.silent_on(l.dossier_id).await?;
                }
                if l.recipient_role.as_deref() != Some("centre") {
                    (item.ack_link, item.assign_link) = self.ack_links(&links, l, top);
                }
                if l.recipient_role.as_deref() == Some("unit_head")
                    && rungs.contains(&Rung::Overdue)
                    && let Some(letter) = store.latest_letter(l.dossier_id).await?
                {
                    item.letter_attached = true;
                    // The mailer takes the letter from the database by its id;
                    // `path` is for rows read by an older mailer.
                    attachments.push(serde_json::json!({
                        "letter_id": letter.id,
                        "path": letter.path,
                        "sha256": letter.sha256,
                        "name": format!("van-ban-xin-loi-{}-v{}.docx", l.code, letter.version),
                    }));
                }
                items.push(item);
            }
            let role = first.recipient_role.clone().unwrap_or_default();
            let name = if role == "centre" {
                self.routing.centre.name.clone()
            } else {
                first
                    .recipient_name
                    .clone()
                    .unwrap_or_else(|| recipient.clone())
            };
            let ctx = serde_json::json!({
                "committee": CommitteeCtx::from(self.routing),
                "stale": stale,
                "recipient": {
                    "name": name,
                    "email": recipient,
                    "role": role,
                    "title": self.routing.title_of(&role, &recipient),
                },
                "total": tally.total,
                "counts": {
                    "overdue": tally.overdue,
                    "due_today": tally.due_today,
                    "due_soon": tally.due_soon,
                    "no_apology": tally.no_apology,
                },
                "by_unit": tally.by_unit,
                "earliest_due": tally.earliest_due.as_deref().and_then(parse_db).map(vn_datetime),
                "items": items,
                "more": tally.total.saturating_sub(lines.len()),
                "unrouted": tally.unrouted,
            });
            let rendered = self.templates.render("alert", &ctx)?;
            let ids = &unsent.ids;
            // Webhook hook: the same alerts as events, queued with the email.
            let events = self
                .webhook_events(store, &recipient, &role, &name, ids, &tally, now)
                .await?;
            let key = format!(
                "alert:{recipient}:{}",
                ids.first().copied().unwrap_or_default()
            );
            // Quiet hours: only a dossier due today is worth a message at night.
            let urgent = tally.due_today > 0;
            let not_before = (!urgent).then(|| self.quiet_until(now)).flatten();
            let m = NewMessage {
                not_before,
                kind: "alert".into(),
                message_id: self.message_id("alert", &key),
                dedupe_key: key,
                recipient: recipient.clone(),
                recipient_name: Some(name),
                subject: rendered.subject,
                text: rendered.text,
                html: rendered.html,
                attachments: serde_json::Value::Array(attachments).to_string(),
            };
            if store.enqueue_with_events(&m, &events, ids, now).await? {
                made += 1;
            }
        }
        Ok(made)
    }

    /// The webhook events of a recipient's email: every dossier it counts
    /// (not only those it lists), for the endpoints that hear of them.
    #[allow(clippy::too_many_arguments)]
    async fn webhook_events(
        &self,
        store: &Store,
        recipient: &str,
        role: &str,
        name: &str,
        alert_ids: &[i64],
        tally: &Tally,
        now: NaiveDateTime,
    ) -> Result<Vec<crate::store::NewEvent>, ComposeError> {
        use super::webhook::{EmailAlerts, EventRecipient, events};
        if !self.webhooks.wants_recipient(role, recipient) {
            return Ok(Vec::new());
        }
        let mut lines = store.unsent_alerts(recipient, i64::MAX).await?.lines;
        for l in &mut lines {
            l.days_on(self.calendar, now.date());
        }
        let alert_ids: HashSet<i64> = alert_ids.iter().copied().collect();
        let email = EmailAlerts {
            recipient: EventRecipient {
                name: name.to_owned(),
                role: role.to_owned(),
                email: recipient.to_owned(),
            },
            lines: &lines,
            alert_ids: &alert_ids,
            rungs: &tally.rungs,
            masking: Masking::new(self.mask_applicant),
            now,
        };
        Ok(events(self.webhooks, &email, |source, code| {
            self.routing.dossier_link(source, code)
        }))
    }

    /// "Data is stale" to the centre once per outage of a source, and once when it
    /// recovers. An outage is named by the last success before it ("never" if none).
    pub async fn compose_stale(
        &self,
        store: &Store,
        now: NaiveDateTime,
    ) -> Result<u64, ComposeError> {
        let known: HashSet<String> = store.outbox_keys("stale:").await?.into_iter().collect();
        let recovered: HashSet<String> =
            store.outbox_keys("recovered:").await?.into_iter().collect();
        let mut made = 0;
        let freshness = self.freshness(store).await?;
        let stale_now = stale_line(&freshness, &self.staleness, now);
        for f in freshness {
            let stale = self.staleness.is_stale(&f, now);
            let SourceFreshness {
                source,
                last_success,
                last_error,
                ..
            } = f;
            let current = last_success.map_or_else(|| "never".to_owned(), crate::clock::fmt_db);
            // (key, recovered?, outage)
            let mut todo: Vec<(String, bool, String)> = Vec::new();
            if stale {
                for to in self.routing.centre_recipients() {
                    todo.push((
                        format!("stale:{source}:{current}:{}", to.email),
                        false,
                        current.clone(),
                    ));
                }
            } else {
                let prefix = format!("stale:{source}:");
                for key in known.iter().filter_map(|k| k.strip_prefix(&prefix)) {
                    let Some((outage, email)) = key.rsplit_once(':') else {
                        continue;
                    };
                    if outage != current {
                        todo.push((
                            format!("recovered:{source}:{outage}:{email}"),
                            true,
                            outage.to_owned(),
                        ));
                    }
                }
            }
            for (key, is_recovery, outage) in todo {
                if known.contains(&key) || recovered.contains(&key) {
                    continue;
                }
                let Some(email) = key.rsplit_once(':').map(|x| x.1.to_owned()) else {
                    continue;
                };
                let ctx = serde_json::json!({
                    "committee": CommitteeCtx::from(self.routing),
                    "stale": stale_now,
                    "centre": self.routing.centre.name,
                    "source": source,
                    "recovered": is_recovery,
                    "outage_since": parse_db(&outage).map_or_else(|| "khi bắt đầu chạy".to_owned(), vn_datetime),
                    "last_success": last_success.map(vn_datetime),
                    "minutes": last_success.map(|t| (now - t).num_minutes()),
                    "last_error": last_error,
                });
                let r = self.templates.render("stale", &ctx)?;
                let m = NewMessage {
                    not_before: self.quiet_until(now),
                    kind: if is_recovery {
                        "recovered".into()
                    } else {
                        "stale".into()
                    },
                    message_id: self.message_id("stale", &key),
                    dedupe_key: key,
                    recipient: email,
                    recipient_name: Some(self.routing.centre.name.clone()),
                    subject: r.subject,
                    text: r.text,
                    html: r.html,
                    attachments: "[]".into(),
                };
                if store.enqueue(&m, &[], now).await? {
                    made += 1;
                }
            }
        }
        Ok(made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn brief(id: i64, rung: &str, unit: &str, due: &str) -> AlertBrief {
        AlertBrief {
            dossier_id: id,
            code: format!("C{id}"),
            rung: rung.into(),
            unrouted: Some(0),
            unit_name: unit.into(),
            due_at: Some(due.into()),
            class: rung.replace("no_apology", "overdue"),
        }
    }

    #[test]
    fn a_tally_counts_dossiers_not_rungs() {
        let t = Tally::of(&[
            brief(1, "overdue", "A", "2026-11-17 08:00:00"),
            brief(1, "no_apology", "A", "2026-11-17 08:00:00"),
            brief(2, "due_soon", "A", "2026-11-26 08:00:00"),
            brief(3, "due_today", "B", "2026-11-23 16:00:00"),
        ]);
        assert_eq!(
            (t.total, t.overdue, t.due_today, t.due_soon, t.no_apology),
            (3, 1, 1, 1, 1)
        );
        assert_eq!(t.rungs[&1], [Rung::NoApology, Rung::Overdue]);
        // The earliest due date of those not yet late, not of the late one.
        assert_eq!(t.earliest_due.as_deref(), Some("2026-11-23 16:00:00"));
        let units: Vec<(&str, usize, usize)> = t
            .by_unit
            .iter()
            .map(|u| (u.name.as_str(), u.total, u.overdue))
            .collect();
        assert_eq!(units, [("A", 2, 1), ("B", 1, 0)]);
    }

    #[test]
    fn the_stale_line_dates_data_by_the_last_successful_sync() {
        let rule = Staleness {
            after_minutes: 60,
            first_sync_grace_minutes: 60,
            ..Staleness::default()
        };
        let f = |source: &str, ok: Option<&str>| SourceFreshness {
            source: source.into(),
            last_success: ok.map(t),
            last_error: Some("503".into()),
            first_attempt: Some(t("2026-11-01 08:00")),
        };
        let now = t("2026-11-23 07:30");
        assert_eq!(
            stale_line(&[f("tinh", Some("2026-11-23 07:00"))], &rule, now),
            None
        );
        let line = stale_line(
            &[
                f("tinh", Some("2026-11-20 08:00")),
                f("so", Some("2026-11-22 08:00")),
            ],
            &rule,
            now,
        )
        .unwrap();
        assert!(
            line.starts_with(
                "Số liệu cập nhật lần cuối lúc 08:00 20/11/2026 (71 giờ trước, nguồn tinh)"
            ),
            "{line}"
        );
        let never = stale_line(&[f("tinh", None)], &rule, now).unwrap();
        assert!(
            never.contains("chưa được cập nhật lần nào từ nguồn tinh"),
            "{never}"
        );
    }
}
