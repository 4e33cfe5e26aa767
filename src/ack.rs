//! Acknowledgement links (pure): what a leader's one-tap link grants —
//! acknowledging a dossier's alert ("Đã nắm, sẽ chỉ đạo") or assigning it to a
//! unit with a target date — signed with HMAC-SHA256 over the recipient, the
//! dossier, its due date, the rung and the expiry, so that a link needs no
//! login and cannot be altered. Single use is the store's (`acknowledgements`,
//! unique by the token's hash); opening a link never records anything, only
//! the confirmation posted from its page does (mail scanners open links).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a link is for: one purpose each, so an acknowledgement link cannot
/// be used to assign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// "Đã nắm, sẽ chỉ đạo".
    Ack,
    /// "Giao … xử lý trước <ngày>": a unit, a target date, a note.
    Assign,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Ack => "ack",
            Purpose::Assign => "assign",
        }
    }
}

/// What a link grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    #[serde(rename = "p")]
    pub purpose: Purpose,
    /// The recipient's address: who acknowledges.
    #[serde(rename = "r")]
    pub recipient: String,
    #[serde(rename = "s")]
    pub source: String,
    #[serde(rename = "c")]
    pub code: String,
    /// The due date the alert was about (a later due date is a new question).
    #[serde(rename = "d")]
    pub due_at: Option<NaiveDateTime>,
    #[serde(rename = "g")]
    pub rung: String,
    /// After this (Vietnam time) the link is refused.
    #[serde(rename = "x")]
    pub expires_at: NaiveDateTime,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AckError {
    #[error("the link is not one of ours (malformed)")]
    Malformed,
    #[error("the link was altered: its signature does not match")]
    Tampered,
    #[error("the link expired at {0}")]
    Expired(NaiveDateTime),
}

/// Signs and checks links with the installation's key (`store::Store::ack_key`).
pub struct Signer {
    key: Vec<u8>,
}

const VERSION: &str = "v1";

impl Signer {
    pub fn new(key: impl Into<Vec<u8>>) -> Signer {
        Signer { key: key.into() }
    }

    fn mac(&self, payload: &str) -> Vec<u8> {
        // HMAC takes a key of any length.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        m.update(VERSION.as_bytes());
        m.update(b".");
        m.update(payload.as_bytes());
        m.finalize().into_bytes().to_vec()
    }

    /// The link's token: `v1.<payload>.<signature>`, URL-safe.
    pub fn sign(&self, g: &Grant) -> String {
        let payload = B64.encode(serde_json::to_vec(g).unwrap_or_default());
        let sig = B64.encode(self.mac(&payload));
        format!("{VERSION}.{payload}.{sig}")
    }

    /// The grant of a token signed with this key and not expired at `now`.
    pub fn verify(&self, token: &str, now: NaiveDateTime) -> Result<Grant, AckError> {
        let mut parts = token.split('.');
        let (Some(VERSION), Some(payload), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AckError::Malformed);
        };
        let sig = B64.decode(sig).map_err(|_| AckError::Malformed)?;
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        m.update(VERSION.as_bytes());
        m.update(b".");
        m.update(payload.as_bytes());
        // Constant-time comparison.
        m.verify_slice(&sig).map_err(|_| AckError::Tampered)?;
        let bytes = B64.decode(payload).map_err(|_| AckError::Malformed)?;
        let g: Grant = serde_json::from_slice(&bytes).map_err(|_| AckError::Malformed)?;
        if now > g.expires_at {
            return Err(AckError::Expired(g.expires_at));
        }
        Ok(g)
    }
}

/// A token's fingerprint, stored to refuse a second use.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn grant() -> Grant {
        Grant {
            purpose: Purpose::Ack,
            recipient: "pct.kinhte@ninhhoa.gov.vn".into(),
            source: "tinh".into(),
            code: "000.00.12.H47-261120-0001".into(),
            due_at: Some(t("2026-11-25 17:00")),
            rung: "overdue".into(),
            expires_at: t("2026-12-02 17:00"),
        }
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let token = s.sign(&grant());
        assert!(token.starts_with("v1."));
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
            "{token}"
        );
        assert_eq!(s.verify(&token, t("2026-11-26 08:00")), Ok(grant()));
        assert_eq!(
            s.verify(&token, t("2026-12-02 17:01")),
            Err(AckError::Expired(t("2026-12-02 17:00")))
        );
    }

    #[test]
    fn any_change_is_refused() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let token = s.sign(&grant());
        let now = t("2026-11-26 08:00");
        // Another dossier, purpose or expiry in the payload, same signature.
        for changed in [
            Grant {
                code: "000.00.12.H47-261120-0002".into(),
                ..grant()
            },
            Grant {
                purpose: Purpose::Assign,
                ..grant()
            },
            Grant {
                expires_at: t("2027-12-02 17:00"),
                ..grant()
            },
        ] {
            let other = s.sign(&changed);
            let forged = format!(
                "v1.{}.{}",
                other.split('.').nth(1).unwrap(),
                token.split('.').nth(2).unwrap()
            );
            assert_eq!(s.verify(&forged, now), Err(AckError::Tampered));
        }
        // Another key.
        let other = Signer::new(b"another key, just as long as the first".to_vec());
        assert_eq!(other.verify(&token, now), Err(AckError::Tampered));
        for bad in ["", "v1", "v1.a.b.c", "v2.a.b", "v1.!!.??"] {
            assert_eq!(s.verify(bad, now), Err(AckError::Malformed), "{bad}");
        }
    }
}
