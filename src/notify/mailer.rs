//! Drains the outbox: SMTP (plain, STARTTLS or TLS, with authentication and
//! timeouts) or `.eml` files, and webhook events by HTTP POST (`webhook`).
//! Transient failures are retried with exponential backoff up to a cap;
//! permanent refusals are recorded with the server's reply.
//!
//! Delivery is at least once: a crash after the server accepted a message but
//! before it is marked sent sends it again on restart (with the same Message-ID,
//! so mail clients can fold the copy).

use super::attachments::Loaded;
use super::webhook::Poster;
use crate::clock::from_vn;
use crate::config::{MailSettings, MailTransport};
use crate::store::{Fence, OutboxRow, Store, StoreError};
use chrono::NaiveDateTime;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail.{key}: {message}")]
    Config { key: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Webhook(#[from] super::webhook::WebhookError),
}

pub enum Mailer {
    Smtp(super::smtp::Relay),
    File(PathBuf),
}

#[derive(Debug, PartialEq, Eq)]
pub enum SendOutcome {
    Sent(i64),
    /// Failed for now; tried again later.
    Retry(i64, String),
    /// The server did not answer at all (no connection, or no reply in
    /// time): tried again later, and the messages after it wait too.
    Unavailable(i64, String),
    /// Given up: permanent refusal or too many attempts.
    Failed(i64, String),
    /// Nothing due.
    Empty,
    /// This instance is no longer the leader: nothing sent, the message
    /// given back.
    Deposed,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct DrainSummary {
    pub sent: u64,
    pub retry: u64,
    pub failed: u64,
    /// The drain stopped because the server did not answer: what it said.
    pub server_unavailable: Option<String>,
    /// The drain stopped because this instance is no longer the leader.
    pub deposed: bool,
}

impl std::fmt::Display for DrainSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "send: {} sent, {} to retry later, {} failed",
            self.sent, self.retry, self.failed
        )?;
        if self.server_unavailable.is_some() {
            write!(
                f,
                "; the SMTP server did not answer, the other messages wait for the next drain"
            )?;
        }
        if self.deposed {
            write!(f, "; stopped: another instance leads now")?;
        }
        Ok(())
    }
}

impl Mailer {
    pub fn from_settings(m: &MailSettings) -> Result<Mailer, MailError> {
        match m.transport {
            MailTransport::File => Ok(Mailer::File(PathBuf::from(&m.file_dir))),
            MailTransport::Smtp => super::smtp::Relay::from_settings(m)
                .map(Mailer::Smtp)
                .map_err(|e| MailError::Config {
                    key: "smtp_host",
                    message: e.to_string(),
                }),
        }
    }
}

/// The email for an outbox row, with its attachments as `attachments::load`
/// resolved them.
pub fn build_message(
    row: &OutboxRow,
    attachments: Vec<Loaded>,
    from: &str,
    now: NaiveDateTime,
) -> Result<Message, String> {
    let from: Mailbox = from.parse().map_err(|e| format!("sender '{from}': {e}"))?;
    let to_addr = row
        .recipient
        .parse()
        .map_err(|e| format!("recipient '{}' is not an address: {e}", row.recipient))?;
    let to = Mailbox::new(row.recipient_name.clone(), to_addr);
    // An attachment that cannot be had as recorded (altered, or an old
    // letter's file deleted or on another instance's disk) is left out and
    // the message says so: its alerts are delivered all the same.
    let mut parts = Vec::new();
    let mut missing = Vec::new();
    for a in attachments {
        match a.bytes {
            Ok(b) => parts.push((a.name, b)),
            Err(e) => {
                tracing::warn!(id = row.id, error = %e, "an attachment is left out");
                missing.push(a.name);
            }
        }
    }
    let (mut text, mut html) = (row.text_body.clone(), row.html_body.clone());
    if !missing.is_empty() {
        let note = format!(
            "Lưu ý: không đính kèm được {} (bản lưu trên máy chủ không còn nguyên vẹn). Đề nghị liên hệ Trung tâm Phục vụ hành chính công để nhận lại dự thảo (lệnh `tthc-watch letter MÃ-HỒ-SƠ` tạo lại).",
            missing.join(", ")
        );
        text.push_str(&format!("\n\n{note}\n"));
        // The file names carry dossier codes from the source: escaped.
        let escaped = crate::text::escape_html(&note);
        let p = format!("<p><strong>{escaped}</strong></p>");
        match html.rfind("</body>") {
            Some(at) => html.insert_str(at, &p),
            None => html.push_str(&p),
        }
    }
    let alternative = MultiPart::alternative_plain_html(text, html);
    let body = if parts.is_empty() {
        alternative
    } else {
        let mut mixed = MultiPart::mixed().multipart(alternative);
        for (name, bytes) in parts {
            let ct = ContentType::parse(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            )
            .map_err(|e| e.to_string())?;
            let part: SinglePart = Attachment::new(name).body(bytes, ct);
            mixed = mixed.singlepart(part);
        }
        mixed
    };
    Message::builder()
        .from(from)
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(row.message_id.clone()))
        .date(from_vn(now).into())
        .multipart(body)
        .map_err(|e| e.to_string())
}

fn file_name(row: &OutboxRow) -> String {
    let who: String = row
        .recipient
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '@' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{:06}-{}-{who}.eml", row.id, row.kind)
}

fn backoff(m: &MailSettings, attempts: i64) -> chrono::Duration {
    let exp = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
    let secs = m
        .backoff_base_secs
        .saturating_mul(2i64.saturating_pow(exp))
        .min(m.backoff_cap_secs);
    chrono::Duration::seconds(secs)
}

/// Sends the oldest message due at `now`, if any, and records the result.
/// As the leader (`fence`), only while leadership holds: the claim is made
/// under its token, and checked again just before the message goes out.
pub async fn send_one(
    store: &Store,
    mailer: &Mailer,
    hooks: &Poster,
    m: &MailSettings,
    now: NaiveDateTime,
    fence: Option<&Fence>,
) -> Result<SendOutcome, MailError> {
    let deposed = || fence.is_some_and(|f| !f.holds());
    if deposed() {
        return Ok(SendOutcome::Deposed);
    }
    // Claimed for longer than a send can take (two phases of `timeout_secs`,
    // a late reply's grace and QUIT, see `smtp`), from now: another instance
    // does not send it meanwhile, and takes it only if this one died with it.
    let lease = chrono::Duration::seconds(2 * m.timeout_secs as i64 + 35);
    let Some(row) = store.claim_next(now, now + lease, fence).await? else {
        return Ok(SendOutcome::Empty);
    };
    let loaded = super::attachments::load(store, &row).await?;
    // The last moment to learn the lease was lost (the process was stopped
    // between the claim and here): a deposed leader sends nothing.
    if deposed() {
        store.unclaim(&row).await?;
        return Ok(SendOutcome::Deposed);
    }
    // Err: (permanent, the error, whether the server answered at all).
    let mut retry_after = None;
    let result: Result<(), (bool, String, bool)> = if let Some(name) =
        row.channel.strip_prefix("webhook:")
    {
        // A silent endpoint is retried like a refusing one: it must not
        // stop the drain for the email behind it.
        hooks
            .deliver(name, &row, now)
            .await
            .map(|_| ())
            .map_err(|f| {
                retry_after = f.retry_after;
                (f.permanent, f.message, true)
            })
    } else {
        match build_message(&row, loaded, &m.from, now) {
            Err(e) => Err((true, e, true)),
            Ok(msg) => match mailer {
                Mailer::File(dir) => {
                    let write = || -> std::io::Result<()> {
                        std::fs::create_dir_all(dir)?;
                        let path = dir.join(file_name(&row));
                        let tmp = path.with_extension("eml.tmp");
                        std::fs::write(&tmp, msg.formatted())?;
                        std::fs::rename(tmp, path)
                    };
                    write()
                        .map_err(|e| (false, format!("writing into {}: {e}", dir.display()), true))
                }
                // Bounded in two phases, see `smtp`.
                Mailer::Smtp(relay) => relay
                    .send(&msg)
                    .await
                    .map_err(|f| (f.permanent, f.message, f.answered)),
            },
        }
    };
    match result {
        Ok(()) => {
            if !store.mark_sent(&row, now).await? {
                tracing::error!(id = row.id, to = %row.recipient, "message sent after its claim ran out and another instance took it: it may arrive twice");
            }
            tracing::info!(id = row.id, to = %row.recipient, kind = %row.kind, "message sent");
            Ok(SendOutcome::Sent(row.id))
        }
        Err((permanent, error, answered)) => {
            let attempts = row.attempts + 1;
            if permanent || attempts >= i64::from(m.max_attempts) {
                tracing::error!(id = row.id, to = %row.recipient, %error, attempts, "message given up");
                store.mark_attempt_failed(&row, &error, None).await?;
                Ok(SendOutcome::Failed(row.id, error))
            } else {
                // A receiver's Retry-After is honoured up to the cap.
                let asked = chrono::Duration::seconds(
                    retry_after.unwrap_or(0).clamp(0, m.backoff_cap_secs),
                );
                let next = now + backoff(m, row.attempts).max(asked);
                tracing::warn!(id = row.id, to = %row.recipient, %error, attempts, next = %next, "delivery failed; will retry");
                store.mark_attempt_failed(&row, &error, Some(next)).await?;
                Ok(if answered {
                    SendOutcome::Retry(row.id, error)
                } else {
                    SendOutcome::Unavailable(row.id, error)
                })
            }
        }
    }
}

/// Sends everything due at `now`; a message that fails waits for its next try.
pub async fn drain(
    store: &Store,
    mailer: &Mailer,
    hooks: &Poster,
    m: &MailSettings,
    clock: &crate::clock::Clock,
    fence: Option<&Fence>,
) -> Result<DrainSummary, MailError> {
    let mut s = DrainSummary::default();
    loop {
        // Each message claimed from its own moment: a long drain's claims
        // must not start out expired.
        match send_one(store, mailer, hooks, m, clock.now_vn(), fence).await? {
            SendOutcome::Sent(_) => s.sent += 1,
            SendOutcome::Retry(..) => s.retry += 1,
            // A server that does not answer would cost every message its
            // timeout, one after another, holding up the jobs behind the drain.
            SendOutcome::Unavailable(_, error) => {
                s.retry += 1;
                s.server_unavailable = Some(error);
                return Ok(s);
            }
            SendOutcome::Deposed => {
                s.deposed = true;
                return Ok(s);
            }
            SendOutcome::Failed(..) => s.failed += 1,
            SendOutcome::Empty => return Ok(s),
        }
    }
}
