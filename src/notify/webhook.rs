//! Webhooks, the second channel beside email: each alert that goes into an
//! email also becomes one JSON event per (endpoint, recipient, dossier), for
//! a province's Zalo OA or chat gateway. Events go through the same outbox as
//! email (channel `webhook:NAME`), so they share its claims, fences, retries,
//! backoff and once-only keys; only the last step differs, an HTTP POST.
//!
//! Signed the Standard Webhooks way (spec: `standard-webhooks/standard-webhooks`,
//! `spec/standard-webhooks.md`): headers `webhook-id` (`msg_…`, the same on
//! every attempt), `webhook-timestamp` (the attempt's Unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`,
//! the key being the base64 after `whsec_`. Status codes as the spec advises
//! (svix's rules): 2xx delivered; 410 Gone given up at once; anything else
//! (3xx not followed, 4xx, 5xx, timeouts, refused connections) retried with
//! the outbox's backoff until `mail.max_attempts`, a `Retry-After` honoured up
//! to `mail.backoff_cap_secs`.

use crate::clock::{VN, from_vn, parse_db};
use crate::config::{Role, WebhookSettings};
use crate::escalation::Rung;
use crate::privacy::Masking;
use crate::store::{DossierLine, NewEvent, OutboxRow};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// A setting that cannot be used; `key` is the full settings key.
    #[error("{key}: {message}")]
    Config { key: String, message: String },
    #[error("cannot build the HTTP client for webhooks: {0}")]
    Client(String),
}

/// The Standard Webhooks minimum (and maximum) secret length, in bytes.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// A signing key: a `whsec_…` secret, ready to sign. Never printed.
#[derive(Clone)]
pub struct Secret(Hmac<Sha256>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// `whsec_` + base64 of 24–64 bytes, as the spec serialises secrets.
    pub fn parse(s: &str) -> Result<Secret, String> {
        let Some(b64) = s.trim().strip_prefix("whsec_") else {
            return Err("a secret starts with `whsec_` (Standard Webhooks)".into());
        };
        let bytes = B64
            .decode(b64)
            .map_err(|e| format!("the part after `whsec_` is not base64: {e}"))?;
        if !SECRET_BYTES.contains(&bytes.len()) {
            return Err(format!(
                "the secret is {} bytes; Standard Webhooks wants 24–64 random bytes \
                 (e.g. `echo whsec_$(openssl rand -base64 32)`)",
                bytes.len()
            ));
        }
        <Hmac<Sha256> as Mac>::new_from_slice(&bytes)
            .map(Secret)
            .map_err(|e| e.to_string())
    }

    fn mac(&self, id: &str, timestamp: i64, body: &str) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        mac
    }
}

/// The `webhook-signature` header's value: `v1,<base64 HMAC-SHA256>`.
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &str) -> String {
    let tag = secret.mac(id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", B64.encode(tag))
}

/// Whether one of the space-separated `v1,…` signatures of `header` signs
/// (id, timestamp, body) under `secret`, compared in constant time. (The
/// timestamp's tolerance is the receiver's business.)
pub fn verify(secret: &Secret, id: &str, timestamp: i64, body: &str, header: &str) -> bool {
    header.split(' ').any(|sig| {
        sig.strip_prefix("v1,")
            .and_then(|b| B64.decode(b).ok())
            .is_some_and(|tag| secret.mac(id, timestamp, body).verify_slice(&tag).is_ok())
    })
}

/// A configured endpoint, its secret read and checked.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub name: String,
    pub url: String,
    secret: Secret,
    rungs: Vec<String>,
    roles: Vec<&'static str>,
    recipients: Vec<String>,
}

pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Chair => "chair",
        Role::ViceChair => "vice_chair",
        Role::UnitHead => "unit_head",
        Role::Centre => "centre",
    }
}

impl Endpoint {
    /// Its outbox channel.
    pub fn channel(&self) -> String {
        format!("webhook:{}", self.name)
    }

    /// Whether it hears of this recipient at all (role and address filters).
    pub fn wants_recipient(&self, role: &str, email: &str) -> bool {
        (self.roles.is_empty() || self.roles.contains(&role))
            && (self.recipients.is_empty()
                || self
                    .recipients
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(email)))
    }

    /// The most urgent of `rungs` (most urgent first) it asks for.
    pub fn rung_of(&self, rungs: &[Rung]) -> Option<Rung> {
        rungs
            .iter()
            .copied()
            .find(|r| self.rungs.is_empty() || self.rungs.iter().any(|x| x == r.as_str()))
    }
}

/// Every enabled endpoint.
#[derive(Clone, Debug, Default)]
pub struct Webhooks {
    endpoints: Vec<Endpoint>,
}

impl Webhooks {
    /// The endpoints of `[webhooks.*]`, each secret read (from its file if
    /// so set) and checked; an error names the settings key.
    pub fn from_settings(
        settings: &BTreeMap<String, WebhookSettings>,
    ) -> Result<Webhooks, WebhookError> {
        let mut endpoints = Vec::new();
        for (name, w) in settings.iter().filter(|(_, w)| w.enabled) {
            let (key, text) = if w.secret_file.is_empty() {
                (format!("webhooks.{name}.secret"), w.secret.clone())
            } else {
                let key = format!("webhooks.{name}.secret_file");
                let text =
                    std::fs::read_to_string(&w.secret_file).map_err(|e| WebhookError::Config {
                        key: key.clone(),
                        message: format!("cannot read {}: {e}", w.secret_file),
                    })?;
                (key, text)
            };
            let secret = Secret::parse(&text).map_err(|message| WebhookError::Config {
                key: key.clone(),
                message: if w.secret_file.is_empty() {
                    message
                } else {
                    format!("{} holds no valid secret: {message}", w.secret_file)
                },
            })?;
            endpoints.push(Endpoint {
                name: name.clone(),
                url: w.url.clone(),
                secret,
                rungs: w.rungs.clone(),
                roles: w.roles.iter().map(|r| role_name(*r)).collect(),
                recipients: w.recipients.clone(),
            });
        }
        Ok(Webhooks { endpoints })
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    /// Whether any endpoint hears of this recipient.
    pub fn wants_recipient(&self, role: &str, email: &str) -> bool {
        self.endpoints
            .iter()
            .any(|e| e.wants_recipient(role, email))
    }

    /// The addresses the endpoints' `recipients` filters name (checked
    /// against the routing when the rules load).
    pub fn named_recipients(&self) -> impl Iterator<Item = (&str, &str)> {
        self.endpoints
            .iter()
            .flat_map(|e| e.recipients.iter().map(|r| (e.name.as_str(), r.as_str())))
    }
}

/// The payload: `{"type", "timestamp", "data"}` as the spec shapes it.
#[derive(Debug, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub event_type: String,
    pub timestamp: String,
    pub data: EventData,
}

/// What the event says: what the recipient's email says of this dossier,
/// the applicant's name under the same masking.
#[derive(Debug, Serialize)]
pub struct EventData {
    pub source: String,
    pub code: String,
    pub procedure: String,
    pub field_code: String,
    pub field: String,
    pub unit_code: String,
    pub unit: String,
    pub officer: Option<String>,
    pub applicant: String,
    pub received_at: Option<String>,
    pub due_at: Option<String>,
    pub class: String,
    pub working_days_left: Option<i64>,
    pub working_days_late: Option<i64>,
    pub current_step: Option<String>,
    pub delay_step: Option<String>,
    /// The rung this event is for, and every rung the dossier reached in
    /// the same email (most urgent first).
    pub rung: String,
    pub rungs: Vec<String>,
    pub unrouted: bool,
    pub recipient: EventRecipient,
    /// The dossier's page on the dashboard (`routing.toml` `dashboard_url`).
    pub link: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EventRecipient {
    pub name: String,
    pub role: String,
    pub email: String,
}

/// A stored time (Vietnam local) as RFC 3339 with its offset.
pub fn rfc3339(t: NaiveDateTime) -> String {
    from_vn(t)
        .with_timezone(&VN)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The Standard Webhooks id of the event with `dedupe_key`: stable, so a
/// retry (or a second composer) carries the same id, and free of `.`.
pub fn webhook_id(dedupe_key: &str) -> String {
    format!(
        "msg_{}",
        hex::encode(&Sha256::digest(dedupe_key.as_bytes())[..16])
    )
}

/// What the events of one email are made from.
pub struct EmailAlerts<'a> {
    pub recipient: EventRecipient,
    /// Every dossier of the email, one line each at its most urgent rung, its
    /// working days set for the day (not cut to `max_listed`: a machine reads
    /// them).
    pub lines: &'a [DossierLine],
    /// The alerts the email carries: a line of any other is left for the
    /// next email.
    pub alert_ids: &'a HashSet<i64>,
    /// Every rung each dossier reached, most urgent first.
    pub rungs: &'a BTreeMap<i64, Vec<Rung>>,
    pub masking: Masking,
    pub now: NaiveDateTime,
}

/// One event per (endpoint, dossier) of an email, for the endpoints that
/// hear of its recipient and of one of the dossier's rungs. Pure.
pub fn events(
    hooks: &Webhooks,
    email: &EmailAlerts<'_>,
    link: impl Fn(&str, &str) -> Option<String>,
) -> Vec<NewEvent> {
    let r = &email.recipient;
    let mut out = Vec::new();
    for e in hooks
        .endpoints
        .iter()
        .filter(|e| e.wants_recipient(&r.role, &r.email))
    {
        for l in email.lines {
            let Some(alert_id) = l.alert_id.filter(|id| email.alert_ids.contains(id)) else {
                continue;
            };
            let top = l.rung.as_deref().and_then(Rung::parse);
            let reached = email
                .rungs
                .get(&l.dossier_id)
                .cloned()
                .unwrap_or_else(|| top.into_iter().collect());
            let Some(rung) = e.rung_of(&reached) else {
                continue;
            };
            let dedupe_key = format!("{}:{alert_id}", e.channel());
            let event = Event {
                event_type: format!("dossier.{}", rung.as_str()),
                timestamp: rfc3339(email.now),
                data: EventData {
                    source: l.source.clone(),
                    code: l.code.clone(),
                    procedure: l.procedure_name.clone(),
                    field_code: l.field_code.clone(),
                    field: l.field_name.clone(),
                    unit_code: l.unit_code.clone(),
                    unit: l.unit_name.clone(),
                    officer: l.officer.clone(),
                    applicant: email
                        .masking
                        .name(l.applicant_kind == "person", &l.applicant_name),
                    received_at: parse_db(&l.received_at).map(rfc3339),
                    due_at: l.due_at.as_deref().and_then(parse_db).map(rfc3339),
                    class: l.class.clone(),
                    working_days_left: l.working_days_left,
                    working_days_late: l.working_days_late,
                    current_step: l.current_step.clone(),
                    delay_step: l.delay_step.clone(),
                    rung: rung.as_str().to_owned(),
                    rungs: reached.iter().map(|r| r.as_str().to_owned()).collect(),
                    unrouted: l.unrouted.unwrap_or(0) != 0,
                    recipient: EventRecipient {
                        name: r.name.clone(),
                        role: r.role.clone(),
                        email: r.email.clone(),
                    },
                    link: link(&l.source, &l.code),
                },
            };
            // A struct of strings, numbers and options always serialises.
            let body = serde_json::to_string(&event).unwrap_or_default();
            out.push(NewEvent {
                channel: e.channel(),
                event_type: event.event_type,
                webhook_id: webhook_id(&dedupe_key),
                dedupe_key,
                recipient: r.email.clone(),
                recipient_name: Some(r.name.clone()),
                body,
            });
        }
    }
    out
}

/// What an attempt's HTTP status means (the spec's advice, as svix does it).
#[derive(Debug, PartialEq, Eq)]
pub enum StatusRule {
    Delivered,
    /// 410 Gone: the receiver wants no more.
    GiveUp,
    Retry,
}

pub fn status_rule(status: u16) -> StatusRule {
    match status {
        200..=299 => StatusRule::Delivered,
        410 => StatusRule::GiveUp,
        _ => StatusRule::Retry,
    }
}

/// A failed attempt.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    pub permanent: bool,
    pub message: String,
    /// Seconds the receiver asked to wait (`Retry-After`).
    pub retry_after: Option<i64>,
}

/// Sends events over HTTP, each attempt bounded like an SMTP phase.
pub struct Poster {
    client: reqwest::Client,
    pub hooks: Webhooks,
}

impl Poster {
    pub fn new(hooks: Webhooks, timeout: Duration) -> Result<Poster, WebhookError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // 3xx is a failure: following redirects hides a stale URL.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tthc-watch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WebhookError::Client(e.to_string()))?;
        Ok(Poster { client, hooks })
    }

    /// One attempt of the event in `row` to endpoint `name`, stamped `now`.
    pub async fn deliver(
        &self,
        name: &str,
        row: &OutboxRow,
        now: NaiveDateTime,
    ) -> Result<u16, Failure> {
        let Some(e) = self.hooks.endpoint(name) else {
            // Its events would otherwise stay at the head of the outbox forever.
            return Err(Failure {
                permanent: true,
                message: format!("webhook endpoint `{name}` is no longer configured or enabled"),
                retry_after: None,
            });
        };
        let timestamp = from_vn(now).timestamp();
        let id = &row.message_id;
        let body = &row.text_body;
        let reply = self
            .client
            .post(&e.url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", sign(&e.secret, id, timestamp, body))
            .body(body.clone())
            .send()
            .await
            .map_err(|err| Failure {
                permanent: false,
                // Without the URL: its query may hold a token.
                message: format!("webhook `{name}`: {}", err.without_url()),
                retry_after: None,
            })?;
        let status = reply.status().as_u16();
        let retry_after = reply
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        match status_rule(status) {
            StatusRule::Delivered => Ok(status),
            rule => {
                let text = reply.text().await.unwrap_or_default();
                let snippet: String = text.chars().take(200).collect();
                Err(Failure {
                    permanent: rule == StatusRule::GiveUp,
                    message: format!("webhook `{name}` answered HTTP {status}: {snippet}"),
                    retry_after,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The spec's libraries share this vector: libraries/python/tests/test_webhooks.py
    // (`test_sign_function`) in github.com/standard-webhooks/standard-webhooks.
    const KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &str = r#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_spec_test_vector() {
        let s = Secret::parse(KEY).unwrap();
        assert_eq!(sign(&s, ID, TS, BODY), SIG);
        assert!(verify(&s, ID, TS, BODY, SIG));
        // One of several space-separated signatures (key rotation).
        assert!(verify(&s, ID, TS, BODY, &format!("v1,bm90IGl0 {SIG}")));
    }

    #[test]
    fn a_tampered_body_id_or_timestamp_fails() {
        let s = Secret::parse(KEY).unwrap();
        assert!(!verify(&s, ID, TS, r#"{"test": 2432232315}"#, SIG));
        assert!(!verify(&s, "msg_other", TS, BODY, SIG));
        assert!(!verify(&s, ID, TS + 1, BODY, SIG));
        assert!(!verify(
            &s,
            ID,
            TS,
            BODY,
            "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        ));
        let other = Secret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert!(!verify(&other, ID, TS, BODY, SIG));
    }

    #[test]
    fn secrets_must_be_whsec_and_long_enough() {
        assert!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(Secret::parse("whsec_").is_err());
        // 16 bytes: too short.
        let short = Secret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAA==").unwrap_err();
        assert!(short.contains("16 bytes"), "{short}");
        assert!(Secret::parse("whsec_not base64!").is_err());
        assert!(!format!("{:?}", Secret::parse(KEY).unwrap()).contains("MfKQ"));
    }

    #[test]
    fn status_codes_follow_the_spec() {
        assert_eq!(status_rule(200), StatusRule::Delivered);
        assert_eq!(status_rule(204), StatusRule::Delivered);
        assert_eq!(status_rule(301), StatusRule::Retry);
        assert_eq!(status_rule(400), StatusRule::Retry);
        assert_eq!(status_rule(429), StatusRule::Retry);
        assert_eq!(status_rule(410), StatusRule::GiveUp);
        assert_eq!(status_rule(500), StatusRule::Retry);
    }

    #[test]
    fn ids_are_stable_and_dot_free() {
        let a = webhook_id("webhook:zalo:42");
        assert_eq!(a, webhook_id("webhook:zalo:42"));
        assert_ne!(a, webhook_id("webhook:zalo:43"));
        assert!(a.starts_with("msg_") && !a.contains('.'));
    }

    #[test]
    fn times_carry_vietnams_offset() {
        let t = NaiveDateTime::parse_from_str("2026-11-25 08:00", "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(rfc3339(t), "2026-11-25T08:00:00+07:00");
    }
}
