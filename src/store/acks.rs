//! Leaders' acknowledgements (`ack`): the key that signs their links, each
//! use of a link (once: the token's hash is unique), in the audit trail, and
//! the reads that show them.

use super::audit::audit_append;
use super::value::DbTime;
use super::{Context, Store, StoreError};
use crate::ack::{Grant, Purpose};
use crate::clock::fmt_db;
use chrono::NaiveDateTime;

/// What a leader set when confirming a link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AckDetails {
    /// Assignments: the unit asked to handle the dossier, the day it is
    /// wanted by (YYYY-MM-DD), a note.
    pub assigned_unit: Option<String>,
    pub target_date: Option<String>,
    pub note: Option<String>,
    /// Where the confirmation came from (the client's address).
    pub client: Option<String>,
}

/// What became of a confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckOutcome {
    Recorded {
        at: NaiveDateTime,
    },
    /// The link had been used already, at that time: nothing changed.
    Replayed {
        at: NaiveDateTime,
    },
    /// The dossier is no longer stored (deleted at the source).
    NoDossier,
}

/// One acknowledgement, as the dossier page and the API show it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AckRecord {
    pub kind: String,
    pub recipient: String,
    pub rung: String,
    pub due_at: Option<String>,
    pub assigned_unit: Option<String>,
    pub target_date: Option<String>,
    pub note: Option<String>,
    pub at: String,
}

/// A due-today or overdue alert sent to a vice-chair or unit head that
/// nobody acknowledged: the dossier still due today or overdue, on the same
/// due date.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Unacknowledged {
    pub dossier_id: i64,
    pub field_code: String,
    #[sqlx(try_from = "super::value::OptTime")]
    pub due_at: Option<String>,
    pub recipient: String,
    pub recipient_name: Option<String>,
    pub recipient_role: String,
}

/// A due-today or overdue alert a leader was sent, and when that leader
/// first acknowledged its dossier (for the per-leader KPI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderAlert {
    pub recipient: String,
    pub recipient_name: Option<String>,
    pub recipient_role: String,
    pub sent_at: NaiveDateTime,
    pub acknowledged_at: Option<NaiveDateTime>,
}

/// One climb: who is told (`escalation::climb_to`) of whose silence.
#[derive(Clone, Debug)]
pub struct Climb {
    pub dossier_id: i64,
    pub due_at: Option<NaiveDateTime>,
    pub to: crate::routing::Recipient,
}

impl Store {
    /// The installation's key for signing acknowledgement links, made (32
    /// random bytes) the first time it is asked for.
    pub async fn ack_key(&self, now: NaiveDateTime) -> Result<Vec<u8>, StoreError> {
        const READ: &str = "SELECT key FROM ack_key WHERE id = 1";
        // Read first: every email composed and every link opened asks, and
        // only the first ever needs to write.
        let found: Option<(String,)> = with_pool!(self, pool => {
            sqlx::query_as(READ).fetch_optional(pool).await.ctx("reading the links' key")?
        });
        let key = match found {
            Some((k,)) => k,
            None => {
                use rand::RngCore;
                let mut fresh = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut fresh);
                // Two instances may race: the first key stored wins.
                let (k,): (String,) = with_pool!(self, pool => {
                    sqlx::query("INSERT INTO ack_key (id, key, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
                        .bind(hex::encode(fresh)).bind(DbTime(now)).execute(pool).await.ctx("making the links' key")?;
                    sqlx::query_as(READ).fetch_one(pool).await.ctx("reading the links' key")?
                });
                k
            }
        };
        hex::decode(key).map_err(|e| StoreError::Corrupt(format!("the links' key is not hex: {e}")))
    }

    /// Records the use of a link (once per token), with the audit entry.
    pub async fn record_ack(
        &self,
        g: &Grant,
        token_hash: &str,
        details: &AckDetails,
        now: NaiveDateTime,
    ) -> Result<AckOutcome, StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting an acknowledgement")?;
            let id: Option<(i64,)> = sqlx::query_as("SELECT id FROM dossiers WHERE source = $1 AND code = $2 AND NOT deleted")
                .bind(&g.source).bind(&g.code).fetch_optional(&mut *tx).await.ctx("finding the acknowledged dossier")?;
            let Some((dossier_id,)) = id else {
                return Ok(AckOutcome::NoDossier);
            };
            let done = sqlx::query("INSERT INTO acknowledgements (dossier_id, kind, recipient, rung, due_at, assigned_unit, target_date, note, at, client, token_sha256) \
                                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (token_sha256) DO NOTHING")
                .bind(dossier_id).bind(g.purpose.as_str()).bind(&g.recipient).bind(&g.rung).bind(g.due_at.map(DbTime))
                .bind(details.assigned_unit.as_deref()).bind(details.target_date.as_deref()).bind(details.note.as_deref())
                .bind(DbTime(now)).bind(details.client.as_deref()).bind(token_hash)
                .execute(&mut *tx).await.ctx("recording an acknowledgement")?
                .rows_affected() == 1;
            if !done {
                let (at,): (DbTime,) = sqlx::query_as("SELECT at FROM acknowledgements WHERE token_sha256 = $1")
                    .bind(token_hash).fetch_one(&mut *tx).await.ctx("reading an acknowledgement")?;
                return Ok(AckOutcome::Replayed { at: at.0 });
            }
            let detail = serde_json::json!({
                "dossier_id": dossier_id, "source": g.source, "code": g.code, "kind": g.purpose.as_str(),
                "rung": g.rung, "due_at": g.due_at.map(fmt_db), "unit": details.assigned_unit,
                "target_date": details.target_date, "note": details.note, "client": details.client,
            });
            let kind = match g.purpose {
                Purpose::Ack => "alert_acknowledged",
                Purpose::Assign => "dossier_assigned",
            };
            audit_append!(tx, self.seal, now, kind, g.recipient.clone(), detail.to_string());
            tx.commit().await.ctx("committing an acknowledgement")?;
            Ok(AckOutcome::Recorded { at: now })
        })
    }

    /// The due-today and overdue alerts sent to the chair, vice-chairs and
    /// unit heads from `from` to `to` (whole days), each with its
    /// recipient's first acknowledgement of the dossier.
    pub async fn leader_alerts(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<LeaderAlert>, StoreError> {
        type Row = (String, Option<String>, String, DbTime, Option<DbTime>);
        let (a, b) = (super::filter::day_start(from), super::filter::day_end(to));
        let rows: Vec<Row> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT a.recipient, a.recipient_name, a.recipient_role, o.sent_at, \
                 (SELECT MIN(k.at) FROM acknowledgements k WHERE k.dossier_id = a.dossier_id AND k.recipient = a.recipient) \
                 FROM alerts a JOIN outbox o ON o.id = a.outbox_id \
                 WHERE a.rung IN ('due_today', 'overdue') AND a.recipient_role IN ('chair', 'vice_chair', 'unit_head') \
                 AND o.status = 'sent' AND o.sent_at >= $1 AND o.sent_at <= $2 ORDER BY a.id")
                .bind(a).bind(b).fetch_all(pool).await.ctx("reading leaders' alerts")?
        });
        Ok(rows
            .into_iter()
            .map(
                |(recipient, recipient_name, recipient_role, sent, acked)| LeaderAlert {
                    recipient,
                    recipient_name,
                    recipient_role,
                    sent_at: sent.0,
                    acknowledged_at: acked.map(|t| t.0),
                },
            )
            .collect())
    }

    /// When a link (by its token's hash) was used, if it was.
    pub async fn ack_used(&self, token_hash: &str) -> Result<Option<NaiveDateTime>, StoreError> {
        let at: Option<(DbTime,)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT at FROM acknowledgements WHERE token_sha256 = $1")
                .bind(token_hash).fetch_optional(pool).await.ctx("reading an acknowledgement")?
        });
        Ok(at.map(|(t,)| t.0))
    }

    /// The due-today and overdue alerts to vice-chairs and unit heads sent
    /// before `sent_before` that nobody acknowledged (for that due date) and
    /// whose dossier is still due today or overdue on it.
    pub async fn unacknowledged(
        &self,
        sent_before: NaiveDateTime,
    ) -> Result<Vec<Unacknowledged>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT DISTINCT a.dossier_id, d.field_code, a.due_at, a.recipient, a.recipient_name, a.recipient_role \
                 FROM alerts a JOIN outbox o ON o.id = a.outbox_id JOIN dossiers d ON d.id = a.dossier_id \
                 JOIN evaluations e ON e.dossier_id = a.dossier_id \
                 WHERE a.rung IN ('due_today', 'overdue') AND a.recipient_role IN ('vice_chair', 'unit_head') \
                 AND o.status = 'sent' AND o.sent_at <= $1 AND NOT d.deleted \
                 AND e.class IN ('due_today', 'overdue') AND e.due_at = a.due_at \
                 AND NOT EXISTS (SELECT 1 FROM acknowledgements k WHERE k.dossier_id = a.dossier_id \
                                 AND (k.due_at = a.due_at OR k.due_at IS NULL)) \
                 ORDER BY a.dossier_id, a.recipient")
                .bind(DbTime(sent_before)).fetch_all(pool).await.ctx("reading unacknowledged alerts")
        })
    }

    /// Records climbs as alerts of rung `no_ack` (once per dossier, due date
    /// and recipient: the alerts' unique key), for the next messages; returns
    /// how many were new.
    pub async fn record_climbs(
        &self,
        climbs: &[Climb],
        now: NaiveDateTime,
    ) -> Result<u64, StoreError> {
        if climbs.is_empty() {
            return Ok(0);
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting climbs")?;
            let mut new = Vec::new();
            for c in climbs {
                let done = sqlx::query("INSERT INTO alerts (dossier_id, rung, due_at, recipient, recipient_name, recipient_role, unrouted, created_at) \
                                        VALUES ($1, 'no_ack', $2, $3, $4, $5, FALSE, $6) ON CONFLICT DO NOTHING")
                    .bind(c.dossier_id).bind(c.due_at.map(DbTime)).bind(&c.to.email).bind(&c.to.name).bind(c.to.role)
                    .bind(DbTime(now))
                    .execute(&mut *tx).await.ctx("recording a climb")?
                    .rows_affected() == 1;
                if done {
                    new.push(serde_json::json!([c.dossier_id, c.to.email]));
                }
            }
            if !new.is_empty() {
                let detail = serde_json::json!({ "climbs": new });
                audit_append!(tx, self.seal, now, "alerts_climbed", "check".to_owned(), detail.to_string());
            }
            tx.commit().await.ctx("committing climbs")?;
            Ok(new.len() as u64)
        })
    }

    /// Who was told of a dossier (for its due date) and has not acknowledged
    /// it: the names a climb's email gives.
    pub async fn silent_on(&self, dossier_id: i64) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(Option<String>, String)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT DISTINCT a.recipient_name, a.recipient FROM alerts a \
                 WHERE a.dossier_id = $1 AND a.rung IN ('due_today', 'overdue') AND a.recipient_role IN ('vice_chair', 'unit_head') \
                 AND NOT EXISTS (SELECT 1 FROM acknowledgements k WHERE k.dossier_id = a.dossier_id AND k.recipient = a.recipient) \
                 ORDER BY a.recipient")
                .bind(dossier_id).fetch_all(pool).await.ctx("reading who was told")?
        });
        Ok(rows
            .into_iter()
            .map(|(name, email)| name.unwrap_or(email))
            .collect())
    }

    /// A dossier's acknowledgements, oldest first.
    pub async fn acks_of(&self, dossier_id: i64) -> Result<Vec<AckRecord>, StoreError> {
        type Row = (
            String,
            String,
            String,
            Option<DbTime>,
            Option<String>,
            Option<String>,
            Option<String>,
            DbTime,
        );
        let rows: Vec<Row> = with_pool!(self, pool => {
            sqlx::query_as("SELECT kind, recipient, rung, due_at, assigned_unit, target_date, note, at FROM acknowledgements \
                            WHERE dossier_id = $1 ORDER BY id")
                .bind(dossier_id).fetch_all(pool).await.ctx("reading acknowledgements")?
        });
        Ok(rows
            .into_iter()
            .map(
                |(kind, recipient, rung, due, unit, target, note, at)| AckRecord {
                    kind,
                    recipient,
                    rung,
                    due_at: due.map(|t| fmt_db(t.0)),
                    assigned_unit: unit,
                    target_date: target,
                    note,
                    at: fmt_db(at.0),
                },
            )
            .collect())
    }
}
