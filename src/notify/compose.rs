//! From alerts to messages: one email per recipient per run, listing all of that
//! recipient's new alerts by urgency; and the stale-data alert of each source.

use super::templates::Templates;
use super::{CommitteeCtx, vn_datetime};
use crate::clock::parse_db;
use crate::escalation::Rung;
use crate::privacy::Masking;
use crate::routing::Routing;
use crate::store::{DossierLine, NewMessage, SourceFreshness, Store};
use chrono::NaiveDateTime;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashSet;

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
    /// The apology draft is attached to this message.
    pub letter_attached: bool,
}

fn fmt_opt(s: Option<&str>) -> String {
    s.and_then(parse_db)
        .map(vn_datetime)
        .unwrap_or_else(|| "……".into())
}

impl Composer<'_> {
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
            link: self.routing.dossier_link(&l.code),
            unrouted,
            letter_attached: false,
        }
    }

    /// The field has no vice-chair or the unit no head in routing.
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
        let mut made = 0;
        for recipient in store.unsent_alert_recipients().await? {
            let unsent = store
                .unsent_alerts(&recipient, self.max_items as i64)
                .await?;
            let lines = &unsent.lines;
            let Some(first) = lines.first() else { continue };
            let rung = |l: &DossierLine| {
                l.rung
                    .as_deref()
                    .and_then(Rung::parse)
                    .unwrap_or(Rung::DueSoon)
            };
            let mut items: Vec<Item> = lines
                .iter()
                .map(|l| self.item(l, Some(rung(l)), now.date()))
                .collect();
            // The unit head gets the apology draft of each late dossier, ready to sign.
            let mut attachments = Vec::new();
            for (l, item) in lines.iter().zip(items.iter_mut()) {
                if l.recipient_role.as_deref() == Some("unit_head")
                    && rung(l) == Rung::Overdue
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
            }
            let count = |r: Rung| -> i64 {
                unsent
                    .by_rung
                    .iter()
                    .filter(|(name, _, _)| Rung::parse(name) == Some(r))
                    .map(|(_, n, _)| n)
                    .sum()
            };
            let total = unsent.ids.len();
            let name = first
                .recipient_name
                .clone()
                .unwrap_or_else(|| recipient.clone());
            let ctx = serde_json::json!({
                "committee": CommitteeCtx::from(self.routing),
                "recipient": { "name": name, "email": recipient },
                "total": total,
                "counts": {
                    "overdue": count(Rung::Overdue) + count(Rung::NoApology),
                    "due_today": count(Rung::DueToday),
                    "due_soon": count(Rung::DueSoon),
                    "no_apology": count(Rung::NoApology),
                },
                "items": items,
                "more": total.saturating_sub(lines.len()),
                "unrouted": unsent.by_rung.iter().map(|(_, _, u)| u).sum::<i64>(),
            });
            let rendered = self.templates.render("alert", &ctx)?;
            let ids = &unsent.ids;
            let key = format!(
                "alert:{recipient}:{}",
                ids.first().copied().unwrap_or_default()
            );
            let m = NewMessage {
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
            if store.enqueue(&m, ids, now).await? {
                made += 1;
            }
        }
        Ok(made)
    }

    /// "Data is stale" to the centre once per outage of a source, and once when it
    /// recovers. An outage is named by the last success before it ("never" if none).
    pub async fn compose_stale(
        &self,
        store: &Store,
        staleness: crate::source::Staleness,
        now: NaiveDateTime,
    ) -> Result<u64, ComposeError> {
        let known: HashSet<String> = store.outbox_keys("stale:").await?.into_iter().collect();
        let recovered: HashSet<String> =
            store.outbox_keys("recovered:").await?.into_iter().collect();
        let mut made = 0;
        for f in store.sync_freshness().await? {
            let stale = staleness.is_stale(&f, now);
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
