//! Notifications: the outbox and what fills it (ladder alerts, the morning
//! digest, stale-data alerts), the templates, and the mailer that drains it
//! (email, and webhook events through `webhook`).

pub mod attachments;
pub mod compose;
pub mod digest;
pub mod mailer;
pub mod reminder;
pub mod smtp;
pub mod templates;
pub mod webhook;

use crate::routing::Routing;
use chrono::NaiveDateTime;
use serde::Serialize;

/// How people read dates in messages.
pub fn vn_datetime(t: NaiveDateTime) -> String {
    t.format("%H:%M %d/%m/%Y").to_string()
}

pub fn vn_date(t: NaiveDateTime) -> String {
    t.format("%d/%m/%Y").to_string()
}

#[derive(Serialize)]
pub struct CommitteeCtx {
    pub name: String,
    pub place: String,
}

impl From<&Routing> for CommitteeCtx {
    fn from(r: &Routing) -> CommitteeCtx {
        CommitteeCtx {
            name: r.committee.name.clone(),
            place: r.committee.place.clone(),
        }
    }
}
