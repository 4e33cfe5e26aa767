//! One SMTP delivery, in two bounded phases. lettre's transport bounds only
//! the TCP connect, and one deadline over the whole exchange cuts a message
//! short after the server has stored it whenever the greeting came late (a
//! server that resumes after hanging; a client process that was stopped), so
//! the next try sends it twice. Here:
//!
//! 1. connect, greeting, EHLO, STARTTLS, AUTH within `mail.timeout_secs`:
//!    nothing of the message has been sent, so giving up is always safe;
//! 2. MAIL, RCPT, DATA and the server's reply within a fresh
//!    `mail.timeout_secs`, plus a short grace for a reply already received
//!    (a process resumed after a stop finds its timer expired and the reply
//!    waiting).

use crate::config::{MailSettings, SmtpSecurity};
use lettre::Message;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use std::time::Duration;

/// How long a reply already on its way may still take once the timeout ran.
const LATE_REPLY: Duration = Duration::from_secs(1);

/// Where and how to deliver.
pub struct Relay {
    host: String,
    port: u16,
    security: SmtpSecurity,
    tls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
}

/// Why a delivery failed.
#[derive(Debug)]
pub struct Failure {
    /// The server refused it for good (5xx).
    pub permanent: bool,
    pub message: String,
    /// Whether the server answered at all (a refusal, not silence).
    pub answered: bool,
}

impl Failure {
    fn from_lettre(e: lettre::transport::smtp::Error) -> Failure {
        Failure {
            permanent: e.is_permanent(),
            answered: e.status().is_some(),
            message: e.to_string(),
        }
    }

    fn silent(message: String) -> Failure {
        Failure {
            permanent: false,
            message,
            answered: false,
        }
    }
}

impl Relay {
    /// Err: TLS cannot be set up for `mail.smtp_host`.
    pub fn from_settings(m: &MailSettings) -> Result<Relay, lettre::transport::smtp::Error> {
        let tls = match m.smtp_security {
            SmtpSecurity::None => None,
            SmtpSecurity::Starttls | SmtpSecurity::Tls => {
                Some(TlsParameters::new(m.smtp_host.clone())?)
            }
        };
        if !m.smtp_username.is_empty() && m.smtp_security == SmtpSecurity::None {
            // Once per process: the relay is built for every drain.
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    host = %m.smtp_host,
                    "mail.smtp_security = \"none\" with mail.smtp_username set: the SMTP password goes over the network in clear; use \"starttls\" or \"tls\""
                );
            });
        }
        Ok(Relay {
            host: m.smtp_host.clone(),
            port: m.smtp_port,
            security: m.smtp_security,
            tls,
            credentials: (!m.smtp_username.is_empty())
                .then(|| Credentials::new(m.smtp_username.clone(), m.smtp_password.clone())),
            hello: ClientId::default(),
            timeout: Duration::from_secs(m.timeout_secs),
        })
    }

    /// A session ready for a message: connected, greeted, secured, logged in.
    async fn open(&self) -> Result<AsyncSmtpConnection, lettre::transport::smtp::Error> {
        let wrapper = match self.security {
            SmtpSecurity::Tls => self.tls.clone(),
            _ => None,
        };
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &self.hello,
            wrapper,
            None,
        )
        .await?;
        if let (SmtpSecurity::Starttls, Some(tls)) = (self.security, &self.tls) {
            conn.starttls(tls.clone(), &self.hello).await?;
        }
        if let Some(c) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c).await?;
        }
        Ok(conn)
    }

    pub async fn send(&self, msg: &Message) -> Result<(), Failure> {
        let secs = self.timeout.as_secs();
        let mut conn = match tokio::time::timeout(self.timeout, self.open()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(Failure::from_lettre(e)),
            Err(_) => {
                return Err(Failure::silent(format!(
                    "the SMTP server did not greet within {secs} s (mail.timeout_secs)"
                )));
            }
        };
        let bytes = msg.formatted();
        let result = {
            let tx = conn.send(msg.envelope(), &bytes);
            tokio::pin!(tx);
            match tokio::time::timeout(self.timeout, &mut tx).await {
                Ok(r) => Some(r),
                Err(_) => tokio::time::timeout(LATE_REPLY, &mut tx).await.ok(),
            }
        };
        // QUIT, briefly: the message's fate is already known.
        let _ = tokio::time::timeout(Duration::from_secs(2), conn.quit()).await;
        match result {
            Some(r) => r.map(|_| ()).map_err(Failure::from_lettre),
            None => Err(Failure::silent(format!(
                "the SMTP server did not finish within {secs} s (mail.timeout_secs)"
            ))),
        }
    }
}
