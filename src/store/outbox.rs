//! The outbox (one row per email or webhook event), the ladder's alerts,
//! digests and the reads that fill messages.

use super::audit::audit_append;
use super::value::{DbDate, DbTime, Json, JsonText, OptFlag, OptTime};
use super::{Context, Fence, Store, StoreError, placeholders, skip_locked};
use chrono::NaiveDateTime;
use std::collections::HashSet;

/// A message to put in the outbox.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// Not sent before this (quiet hours: a non-urgent message made at
    /// night waits for the next working morning); None: at once.
    pub not_before: Option<NaiveDateTime>,
    pub kind: String,
    pub dedupe_key: String,
    pub recipient: String,
    pub recipient_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// JSON list of `{"letter_id", "sha256", "name", "path"}` (see
    /// `notify::attachments`).
    pub attachments: String,
    pub message_id: String,
}

/// A webhook event to queue beside an email (`enqueue_with_events`): the
/// same outbox, claims, retries and once-only rules.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// `webhook:NAME`.
    pub channel: String,
    /// The event type (`dossier.overdue`), kept as the row's kind and subject.
    pub event_type: String,
    pub dedupe_key: String,
    /// The person the event is about (the email's recipient).
    pub recipient: String,
    pub recipient_name: Option<String>,
    /// The JSON payload, exactly the bytes signed and sent.
    pub body: String,
    /// The Standard Webhooks id (`msg_…`), the same on every attempt.
    pub webhook_id: String,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub dedupe_key: String,
    pub recipient: String,
    pub recipient_name: Option<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    #[sqlx(try_from = "JsonText")]
    pub attachments: String,
    pub message_id: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// Who claimed it to send it (`instance#generation`), while claimed.
    pub claimed_by: Option<String>,
    /// `email`, or `webhook:NAME` (`notify::webhook`).
    pub channel: String,
}

/// One dossier line of an alert or a digest. Its working days left or late,
/// read as stored, are set for the day it is shown by `days_on`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DossierLine {
    pub alert_id: Option<i64>,
    pub recipient: Option<String>,
    pub recipient_name: Option<String>,
    pub recipient_role: Option<String>,
    pub rung: Option<String>,
    #[sqlx(try_from = "OptFlag")]
    pub unrouted: Option<i64>,
    pub dossier_id: i64,
    /// The source the dossier came from: its code is unique only there.
    pub source: String,
    pub code: String,
    pub procedure_name: String,
    pub applicant_name: String,
    pub applicant_kind: String,
    pub field_code: String,
    pub field_name: String,
    pub unit_code: String,
    pub unit_name: String,
    pub officer: Option<String>,
    #[sqlx(try_from = "DbTime")]
    pub received_at: String,
    pub class: String,
    #[sqlx(try_from = "OptTime")]
    pub due_at: Option<String>,
    #[sqlx(try_from = "OptTime")]
    pub computed_due_at: Option<String>,
    pub working_days_left: Option<i64>,
    pub working_days_late: Option<i64>,
    pub current_step: Option<String>,
    #[sqlx(try_from = "OptTime")]
    pub step_since: Option<String>,
    pub delay_step: Option<String>,
    pub delay_unit: Option<String>,
    pub delay_days: Option<i64>,
}

impl DossierLine {
    /// Sets the working days left or late on `today` (an open verdict does
    /// not store them).
    pub fn days_on(&mut self, calendar: &crate::calendar::Calendar, today: chrono::NaiveDate) {
        (self.working_days_left, self.working_days_late) = super::days_on(
            Some(&self.class),
            self.due_at.as_deref(),
            (self.working_days_left, self.working_days_late),
            calendar,
            today,
        );
    }
}

const LINE_COLS: &str = "d.id AS dossier_id, d.source, d.code, d.procedure_name, d.applicant_name, d.applicant_kind, d.field_code, \
     d.field_name, d.unit_code, d.unit_name, d.officer, d.received_at, e.class, e.due_at, e.computed_due_at, \
     e.working_days_left, e.working_days_late, d.current_step, \
     d.step_since, \
     e.delay_step, e.delay_unit, e.delay_days";

/// A recipient's alerts not yet in a message.
pub struct UnsentAlerts {
    /// Every one, oldest first.
    pub ids: Vec<i64>,
    /// Every one in brief, by dossier code then rung: enough to count
    /// dossiers (not rungs) by unit and find the earliest due date without
    /// reading every line.
    pub briefs: Vec<AlertBrief>,
    /// One line per dossier at its most urgent rung, the most urgent first.
    pub lines: Vec<DossierLine>,
}

/// One unsent alert in brief.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AlertBrief {
    pub dossier_id: i64,
    pub code: String,
    pub rung: String,
    #[sqlx(try_from = "OptFlag")]
    pub unrouted: Option<i64>,
    pub unit_name: String,
    #[sqlx(try_from = "OptTime")]
    pub due_at: Option<String>,
    /// The dossier's class now (a climb's is due today or overdue).
    pub class: String,
}

/// `(field code, field name, unit code, unit name, class, dossiers)`.
pub type AtRiskCount = (String, String, String, String, String, i64);

/// How recently a source synced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFreshness {
    pub source: String,
    pub last_success: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    /// Its first poll (the grace of a source never synced counts from it).
    pub first_attempt: Option<NaiveDateTime>,
}

impl Store {
    /// Dossiers with an issued apology letter. Read once per check: a few
    /// per late dossier at most, where asking batch by batch (in lists of 500
    /// ids) cost a statement per 500 overdue dossiers.
    pub async fn issued_apologies(&self) -> Result<HashSet<i64>, StoreError> {
        let rows: Vec<(i64,)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT DISTINCT dossier_id FROM letters WHERE status = 'issued'")
                .fetch_all(pool)
                .await
                .ctx("reading issued letters")?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Alerts not yet put into a message, with their dossier.
    /// Who has alerts not yet in a message.
    pub async fn unsent_alert_recipients(&self) -> Result<Vec<String>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_scalar("SELECT DISTINCT recipient FROM alerts WHERE outbox_id IS NULL ORDER BY recipient")
                .fetch_all(pool)
                .await
                .ctx("reading unsent alerts")
        })
    }

    /// One recipient's unsent alerts: every id, each in brief, and the lines
    /// of the most urgent `limit` dossiers, one per dossier at its most urgent
    /// rung (rung, then the earliest due date: the most days late or fewest
    /// left, then code). A dossier can reach two rungs in one run (overdue and
    /// no apology yet); its reader must see it once.
    pub async fn unsent_alerts(
        &self,
        recipient: &str,
        limit: i64,
    ) -> Result<UnsentAlerts, StoreError> {
        // As `escalation::Rung::urgency`.
        const URGENCY: &str = "CASE a.rung WHEN 'no_apology' THEN 0 WHEN 'overdue' THEN 1 WHEN 'no_ack' THEN 2 WHEN 'due_today' THEN 3 ELSE 4 END";
        let sql = format!(
            "SELECT * FROM (SELECT a.id AS alert_id, a.recipient, a.recipient_name, a.recipient_role, a.rung, a.unrouted, {LINE_COLS}, \
             {URGENCY} AS urgency, ROW_NUMBER() OVER (PARTITION BY a.dossier_id ORDER BY {URGENCY}, a.id) AS rn \
             FROM alerts a JOIN dossiers d ON d.id = a.dossier_id JOIN evaluations e ON e.dossier_id = d.id \
             WHERE a.outbox_id IS NULL AND a.recipient = $1) AS t \
             WHERE rn = 1 ORDER BY urgency, due_at, code LIMIT $2"
        );
        with_pool!(self, pool => {
            let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM alerts WHERE outbox_id IS NULL AND recipient = $1 ORDER BY id")
                .bind(recipient)
                .fetch_all(pool)
                .await
                .ctx("reading unsent alerts")?;
            let briefs: Vec<AlertBrief> = sqlx::query_as(
                "SELECT a.dossier_id, d.code, a.rung, a.unrouted, d.unit_name, e.due_at, e.class \
                 FROM alerts a JOIN dossiers d ON d.id = a.dossier_id JOIN evaluations e ON e.dossier_id = d.id \
                 WHERE a.outbox_id IS NULL AND a.recipient = $1 ORDER BY d.code, d.source, a.rung")
                .bind(recipient)
                .fetch_all(pool)
                .await
                .ctx("reading unsent alerts")?;
            let lines = sqlx::query_as(&sql)
                .bind(recipient)
                .bind(limit)
                .fetch_all(pool)
                .await
                .ctx("reading unsent alerts")?;
            Ok(UnsentAlerts { ids, briefs, lines })
        })
    }

    /// Open dossiers at risk or late (for the digest), most urgent first.
    pub async fn at_risk_lines(&self, per_class: i64) -> Result<Vec<DossierLine>, StoreError> {
        // The most urgent `per_class` of each class: lists for people, who
        // cannot read tens of thousands of lines (counts come from `at_risk_counts`).
        let sql = format!(
            "SELECT * FROM (SELECT NULL AS alert_id, NULL AS recipient, NULL AS recipient_name, NULL AS recipient_role, NULL AS rung, NULL AS unrouted, {LINE_COLS}, \
             ROW_NUMBER() OVER (PARTITION BY e.class ORDER BY e.due_at, d.code) AS rn \
             FROM dossiers d JOIN evaluations e ON e.dossier_id = d.id \
             WHERE NOT d.deleted AND e.class IN ('overdue', 'due_today', 'due_soon')) AS t \
             WHERE rn <= $1 ORDER BY due_at, code"
        );
        with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(per_class).fetch_all(pool).await.ctx("reading dossiers at risk")
        })
    }

    /// Dossiers at risk counted by (field code, field, unit code, unit, class).
    pub async fn at_risk_counts(&self) -> Result<Vec<AtRiskCount>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT d.field_code, d.field_name, d.unit_code, d.unit_name, e.class, COUNT(*) \
                 FROM dossiers d JOIN evaluations e ON e.dossier_id = d.id \
                 WHERE NOT d.deleted AND e.class IN ('overdue', 'due_today', 'due_soon') \
                 GROUP BY d.field_code, d.field_name, d.unit_code, d.unit_name, e.class",
            )
            .fetch_all(pool)
            .await
            .ctx("counting dossiers at risk")
        })
    }

    /// Open dossiers whose source due date disagrees with the rules.
    pub async fn open_mismatches(&self, limit: i64) -> Result<Vec<DossierLine>, StoreError> {
        let sql = format!(
            "SELECT NULL AS alert_id, NULL AS recipient, NULL AS recipient_name, NULL AS recipient_role, NULL AS rung, NULL AS unrouted, {LINE_COLS} \
             FROM dossiers d JOIN evaluations e ON e.dossier_id = d.id \
             WHERE NOT d.deleted AND e.due_mismatch AND e.class IN ('overdue', 'due_today', 'due_soon', 'not_yet_due') \
             ORDER BY e.due_at, d.code LIMIT $1"
        );
        with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(limit).fetch_all(pool).await.ctx("reading due-date mismatches")
        })
    }

    /// `(to_class, count)` of class changes after `since`.
    pub async fn class_changes_since(
        &self,
        since: NaiveDateTime,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_as("SELECT to_class, COUNT(*) FROM classification_history WHERE at > $1 AND from_class IS NOT NULL GROUP BY to_class")
                .bind(DbTime(since)).fetch_all(pool).await.ctx("reading class changes")
        })
    }

    pub async fn sync_freshness(&self) -> Result<Vec<SourceFreshness>, StoreError> {
        type Row = (String, Option<DbTime>, Option<String>, Option<DbTime>);
        let rows: Vec<Row> = with_pool!(self, pool => {
            sqlx::query_as("SELECT source, last_success_at, last_error, first_attempt_at FROM sync_state ORDER BY source")
                .fetch_all(pool).await.ctx("reading sync state")?
        });
        Ok(rows
            .into_iter()
            .map(|(source, ok, last_error, first)| SourceFreshness {
                source,
                last_success: ok.map(|t| t.0),
                last_error,
                first_attempt: first.map(|t| t.0),
            })
            .collect())
    }

    /// Puts a message in the outbox unless one with its dedupe key exists, and
    /// links `alert_ids` to it, in one transaction. True when it was new.
    pub async fn enqueue(
        &self,
        m: &NewMessage,
        alert_ids: &[i64],
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        self.enqueue_with_events(m, &[], alert_ids, now).await
    }

    /// As `enqueue`, with the webhook events of the same alerts in the same
    /// transaction: once the alerts are linked to the email they are never
    /// read as unsent again, so events queued apart could be lost in a crash.
    /// An event whose key exists already is skipped.
    pub async fn enqueue_with_events(
        &self,
        m: &NewMessage,
        events: &[NewEvent],
        alert_ids: &[i64],
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting an outbox transaction")?;
            let inserted: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO outbox (kind, dedupe_key, recipient, recipient_name, subject, text_body, html_body, attachments, \
                 message_id, status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $11, $10) \
                 ON CONFLICT (dedupe_key) DO NOTHING RETURNING id")
                .bind(m.kind.clone())
                .bind(m.dedupe_key.clone())
                .bind(m.recipient.clone())
                .bind(m.recipient_name.clone())
                .bind(m.subject.clone())
                .bind(m.text.clone())
                .bind(m.html.clone())
                .bind(Json(&m.attachments))
                .bind(m.message_id.clone())
                .bind(DbTime(now))
                .bind(DbTime(m.not_before.unwrap_or(now).max(now)))
                .fetch_optional(&mut *tx)
                .await
                .ctx("adding a message to the outbox")?;
            let Some((id,)) = inserted else { return Ok(false) };
            for chunk in alert_ids.chunks(500) {
                let sql = format!("UPDATE alerts SET outbox_id = $1 WHERE id IN ({})", placeholders(2, chunk.len()));
                let mut q = sqlx::query(&sql).bind(id);
                for a in chunk {
                    q = q.bind(*a);
                }
                q.execute(&mut *tx).await.ctx("linking alerts to their message")?;
            }
            for e in events {
                let event: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO outbox (kind, dedupe_key, recipient, recipient_name, subject, text_body, html_body, attachments, \
                     message_id, status, attempts, next_attempt_at, created_at, channel) \
                     VALUES ($1, $2, $3, $4, $1, $5, '', $6, $7, 'pending', 0, $10, $8, $9) \
                     ON CONFLICT (dedupe_key) DO NOTHING RETURNING id")
                    .bind(e.event_type.clone())
                    .bind(e.dedupe_key.clone())
                    .bind(e.recipient.clone())
                    .bind(e.recipient_name.clone())
                    .bind(e.body.clone())
                    .bind(Json("[]"))
                    .bind(e.webhook_id.clone())
                    .bind(DbTime(now))
                    .bind(e.channel.clone())
                    // Held with their email.
                    .bind(DbTime(m.not_before.unwrap_or(now).max(now)))
                    .fetch_optional(&mut *tx)
                    .await
                    .ctx("adding a webhook event to the outbox")?;
                if let Some((event_id,)) = event {
                    let detail = serde_json::json!({ "outbox_id": event_id, "channel": e.channel, "type": e.event_type, "dedupe_key": e.dedupe_key, "webhook_id": e.webhook_id });
                    audit_append!(tx, self.seal, now, "event_queued", e.recipient.clone(), detail.to_string());
                }
            }
            let detail = serde_json::json!({ "outbox_id": id, "kind": m.kind, "dedupe_key": m.dedupe_key, "subject": m.subject, "message_id": m.message_id, "alerts": alert_ids });
            audit_append!(tx, self.seal, now, "message_queued", m.recipient.clone(), detail.to_string());
            tx.commit().await.ctx("committing the outbox")?;
            Ok(true)
        })
    }

    /// Claims the oldest message due at `now` until `lease_until`: no other
    /// instance takes it meanwhile (a new leader while the old one is still
    /// sending it). A claim whose lease ran out (its claimant died) is taken
    /// again. With a `fence`, the claim is made under its token and refused
    /// (None) once another instance has taken leadership over; without one
    /// (a one-off `tthc-watch send`), under this store's name.
    pub async fn claim_next(
        &self,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        fence: Option<&Fence>,
    ) -> Result<Option<OutboxRow>, StoreError> {
        const CLAIMABLE: &str = "status = 'pending' AND next_attempt_at <= $3 AND (claimed_until IS NULL OR claimed_until <= $3)";
        let claimant = fence.map_or(self.instance.as_ref(), Fence::claimant);
        let fenced = match fence {
            Some(_) => {
                "AND EXISTS (SELECT 1 FROM leader_lease WHERE id = 1 AND generation = $4 AND holder = $1)"
            }
            None => "AND $4 = $4",
        };
        let generation = fence.map_or(0, Fence::generation);
        with_pool!(self, pool => {
            // PostgreSQL: a message another instance is claiming is skipped,
            // not waited for. SQLite has one writer at a time anyway.
            let sql = format!(
                "UPDATE outbox SET claimed_by = $1, claimed_until = $2 \
                 WHERE id = (SELECT id FROM outbox WHERE {CLAIMABLE} ORDER BY next_attempt_at, id LIMIT 1{skip}) \
                   AND {CLAIMABLE} {fenced} \
                 RETURNING id, kind, dedupe_key, recipient, recipient_name, subject, text_body, html_body, attachments, \
                 message_id, status, attempts, last_error, claimed_by, channel",
                skip = skip_locked(pool),
            );
            sqlx::query_as(&sql)
                .bind(claimant).bind(DbTime(lease_until)).bind(DbTime(now)).bind(generation)
                .fetch_optional(pool).await.ctx("claiming a message")
        })
    }

    /// Gives a claim back unsent (its leader was deposed before sending).
    pub async fn unclaim(&self, row: &OutboxRow) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE id = $1 AND status = 'pending' AND claimed_by = $2")
                .bind(row.id).bind(row.claimed_by.as_deref()).execute(pool).await.ctx("giving a claim back")?;
            Ok(())
        })
    }

    /// Frees every claim: for an instance that knows no other one can be
    /// sending (SQLite's lock file is held), the claims left by a process
    /// that died. Returns how many there were.
    pub async fn release_claims(&self) -> Result<u64, StoreError> {
        with_pool!(self, pool => {
            let r = sqlx::query("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE status = 'pending' AND claimed_by IS NOT NULL")
                .execute(pool).await.ctx("releasing claims on the outbox")?;
            Ok(r.rows_affected())
        })
    }

    /// Marks a message claimed as `row` says (`claim_next`) as sent; false
    /// (and nothing changed) when that claim was lost meanwhile (its lease ran
    /// out and another instance took it).
    pub async fn mark_sent(&self, row: &OutboxRow, now: NaiveDateTime) -> Result<bool, StoreError> {
        let id = row.id;
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting a delivery transaction")?;
            let row: Option<(String,)> = sqlx::query_as("UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, last_error = NULL, \
                                                        claimed_by = NULL, claimed_until = NULL \
                                                        WHERE id = $2 AND status = 'pending' AND claimed_by = $3 RETURNING recipient")
                .bind(DbTime(now)).bind(id).bind(row.claimed_by.as_deref()).fetch_optional(&mut *tx).await.ctx("marking a message sent")?;
            let Some((recipient,)) = row else { return Ok(false) };
            audit_append!(tx, self.seal, now, "message_sent", recipient, serde_json::json!({ "outbox_id": id }).to_string());
            tx.commit().await.ctx("committing a delivery")?;
            Ok(true)
        })
    }

    /// A failed attempt of a message claimed as `row` says: retry at `next`
    /// (when given) or give up.
    pub async fn mark_attempt_failed(
        &self,
        row: &OutboxRow,
        error: &str,
        next: Option<NaiveDateTime>,
    ) -> Result<(), StoreError> {
        let (status, next_at) = match next {
            Some(t) => ("pending", Some(DbTime(t))),
            None => ("failed", None),
        };
        with_pool!(self, pool => {
            sqlx::query("UPDATE outbox SET status = $1, attempts = attempts + 1, last_error = $2, \
                         next_attempt_at = COALESCE($3, next_attempt_at), claimed_by = NULL, claimed_until = NULL \
                         WHERE id = $4 AND status = 'pending' AND claimed_by = $5")
                .bind(status).bind(error).bind(next_at).bind(row.id).bind(row.claimed_by.as_deref())
                .execute(pool).await.ctx("recording a failed delivery")?;
            Ok(())
        })
    }

    /// `(status, count)` of the outbox.
    pub async fn outbox_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status")
                .fetch_all(pool).await.ctx("counting the outbox")
        })
    }

    /// Messages given up on: `(recipient, subject, server reply)`.
    pub async fn failed_messages(
        &self,
    ) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_as("SELECT recipient, subject, last_error FROM outbox WHERE status = 'failed' ORDER BY id")
                .fetch_all(pool).await.ctx("reading failed messages")
        })
    }

    /// Every message, oldest first (tests, the demo summary).
    pub async fn outbox(&self) -> Result<Vec<OutboxRow>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_as("SELECT id, kind, dedupe_key, recipient, recipient_name, subject, text_body, html_body, attachments, \
                            message_id, status, attempts, last_error, claimed_by, channel FROM outbox ORDER BY id")
                .fetch_all(pool).await.ctx("reading the outbox")
        })
    }

    /// Dedupe keys of messages whose key starts with `prefix`.
    pub async fn outbox_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT dedupe_key FROM outbox WHERE dedupe_key LIKE $1")
                .bind(format!("{prefix}%")).fetch_all(pool).await.ctx("reading outbox keys")?
        });
        // LIKE treats _ and % as wildcards: keep exact prefixes only.
        Ok(rows
            .into_iter()
            .map(|(k,)| k)
            .filter(|k| k.starts_with(prefix))
            .collect())
    }

    /// When the last digest was made.
    pub async fn last_digest_at(&self) -> Result<Option<NaiveDateTime>, StoreError> {
        let row: Option<(DbTime,)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT created_at FROM digests ORDER BY created_at DESC LIMIT 1")
                .fetch_optional(pool).await.ctx("reading digests")?
        });
        Ok(row.map(|(t,)| t.0))
    }

    pub async fn digest_exists(&self, for_date: &str) -> Result<bool, StoreError> {
        let day = digest_day(for_date)?;
        let n: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM digests WHERE for_date = $1")
                .bind(day).fetch_one(pool).await.ctx("reading digests")?
        });
        Ok(n > 0)
    }

    /// Records the digest of a day; false if that day already has one.
    pub async fn record_digest(
        &self,
        for_date: &str,
        summary: &str,
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let day = digest_day(for_date)?;
        with_pool!(self, pool => {
            let r = sqlx::query("INSERT INTO digests (for_date, created_at, summary) VALUES ($1, $2, $3) ON CONFLICT (for_date) DO NOTHING")
                .bind(day).bind(DbTime(now)).bind(summary).execute(pool).await.ctx("recording a digest")?;
            Ok(r.rows_affected() == 1)
        })
    }
}

/// A digest's day (`YYYY-MM-DD`), as the digest names it.
fn digest_day(for_date: &str) -> Result<DbDate, StoreError> {
    chrono::NaiveDate::parse_from_str(for_date, "%Y-%m-%d")
        .map(DbDate)
        .map_err(|_| StoreError::Corrupt(format!("'{for_date}' is not a day")))
}
