//! Reads for auditors and leaders: filtered dossier lists with cursor paging,
//! one dossier's timeline, KPI aggregates, API tokens.

use super::audit::audit_append;
use super::dossiers::{DUE_DATES_SQL, HISTORY_SQL};
use super::filter::{Arg, DossierFilter, bind_args, day_end, day_start};
use super::value::{DbTime, JsonText, OptFlag, OptTime};
use super::{Context, Store, StoreError, month_of, placeholders};
use crate::clock::fmt_db;
use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct ListRow {
    /// Cursor position (internal id).
    pub id: i64,
    pub source: String,
    pub code: String,
    pub procedure_name: String,
    pub field_code: String,
    pub field_name: String,
    pub unit_code: String,
    pub unit_name: String,
    pub officer: Option<String>,
    pub applicant_name: String,
    pub applicant_kind: String,
    pub applicant_id_no: Option<String>,
    pub applicant_phone: Option<String>,
    pub status: String,
    #[sqlx(try_from = "DbTime")]
    pub received_at: String,
    #[sqlx(try_from = "OptTime")]
    pub due_at: Option<String>,
    #[sqlx(try_from = "OptTime")]
    pub original_due_at: Option<String>,
    #[sqlx(try_from = "OptTime")]
    pub finished_at: Option<String>,
    pub class: Option<String>,
    pub working_days_left: Option<i64>,
    pub working_days_late: Option<i64>,
    #[sqlx(try_from = "OptFlag")]
    pub due_mismatch: Option<i64>,
    pub delay_step: Option<String>,
    pub delay_unit: Option<String>,
    pub delay_days: Option<i64>,
    /// Its apology letter: "issued" once one was issued, "draft" while only
    /// drafted, none without one.
    pub letter: Option<String>,
    /// Who last acknowledged or assigned it from an alert's link.
    pub acknowledged_by: Option<String>,
    /// The day the latest assignment wants it done by (YYYY-MM-DD).
    pub target_date: Option<String>,
}

impl ListRow {
    /// Sets the working days left or late on `today` (an open verdict does
    /// not store them).
    pub fn days_on(&mut self, calendar: &crate::calendar::Calendar, today: NaiveDate) {
        (self.working_days_left, self.working_days_late) = super::days_on(
            self.class.as_deref(),
            self.due_at.as_deref(),
            (self.working_days_left, self.working_days_late),
            calendar,
            today,
        );
    }
}

/// What the auditors' filters offer: `(code, name)` of each unit and field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facets {
    pub units: Vec<(String, String)>,
    pub fields: Vec<(String, String)>,
}

/// The dossiers a filter matches, counted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FilterTotals {
    pub dossiers: i64,
    /// Dossiers per class today ("unevaluated": not checked yet).
    pub by_class: std::collections::BTreeMap<String, i64>,
    /// Late (finished late or overdue) with an issued apology letter.
    pub late_apologised: i64,
    /// (before + on the due day) / finished, in percent; none when nothing finished.
    pub on_time_pct: Option<f64>,
    /// `late_apologised` / late, in percent; none when nothing is late.
    pub apology_pct: Option<f64>,
}

/// KPI aggregates for one group (a unit, field, officer or month).
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KpiRow {
    pub group: String,
    pub received: i64,
    pub finished: i64,
    pub before_due: i64,
    pub on_due_day: i64,
    pub late: i64,
    /// (before + on the due day) / finished, in percent; none when nothing finished.
    pub on_time_pct: Option<f64>,
    pub late_apologised: i64,
    /// Late dossiers with an issued apology / late dossiers, in percent.
    pub apology_pct: Option<f64>,
    pub avg_working_days_late: Option<f64>,
    /// The steps that caused most delays: "step @ unit (n)".
    pub top_delay_steps: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KpiGroup {
    Unit,
    Field,
    Officer,
    Month,
    All,
}

impl KpiGroup {
    pub fn parse(s: &str) -> Option<KpiGroup> {
        match s {
            "unit" => Some(KpiGroup::Unit),
            "field" => Some(KpiGroup::Field),
            "officer" => Some(KpiGroup::Officer),
            "month" => Some(KpiGroup::Month),
            "all" => Some(KpiGroup::All),
            _ => None,
        }
    }

    /// SQL for the group's key; `month` is the month of the time column it
    /// is taken from.
    fn key(self, month: String) -> String {
        match self {
            KpiGroup::Unit => "d.unit_name".into(),
            KpiGroup::Field => "d.field_name".into(),
            // The handling officer: the first one at the handling unit.
            KpiGroup::Officer => "COALESCE(d.handling_officer, '(chưa rõ)')".into(),
            KpiGroup::Month => month,
            KpiGroup::All => "'all'".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

type TokenRow = (i64, String, String, DbTime, Option<DbTime>);

pub(super) fn token_info((id, name, role, created_at, revoked_at): TokenRow) -> TokenInfo {
    TokenInfo {
        id,
        name,
        role,
        created_at: fmt_db(created_at.0),
        revoked_at: revoked_at.map(|t| fmt_db(t.0)),
    }
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

const LIST_COLS: &str = "d.id, d.source, d.code, d.procedure_name, d.field_code, d.field_name, d.unit_code, d.unit_name, \
     d.officer, d.applicant_name, d.applicant_kind, d.applicant_id_no, d.applicant_phone, d.status, d.received_at, \
     d.due_at, d.original_due_at, COALESCE(d.finished_at, d.returned_at) AS finished_at, e.class, e.working_days_left, \
     e.working_days_late, e.due_mismatch, e.delay_step, e.delay_unit, e.delay_days, \
     (SELECT MAX(l.status) FROM letters l WHERE l.dossier_id = d.id) AS letter, \
     (SELECT k.recipient FROM acknowledgements k WHERE k.dossier_id = d.id ORDER BY k.id DESC LIMIT 1) AS acknowledged_by, \
     (SELECT k.target_date FROM acknowledgements k WHERE k.dossier_id = d.id AND k.kind = 'assign' ORDER BY k.id DESC LIMIT 1) AS target_date";

impl Store {
    /// Up to `limit` dossiers after id `after` matching `f`, by id.
    pub async fn list_dossiers(
        &self,
        f: &DossierFilter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ListRow>, StoreError> {
        let (conditions, args) = f.conditions(2);
        let sql = format!(
            "SELECT {LIST_COLS} FROM dossiers d LEFT JOIN evaluations e ON e.dossier_id = d.id \
             WHERE NOT d.deleted AND d.id > $1{conditions} ORDER BY d.id LIMIT ${}",
            args.len() + 2
        );
        with_pool!(self, pool => {
            let q = bind_args!(sqlx::query_as::<_, ListRow>(&sql).bind(after), &args);
            q.bind(limit).fetch_all(pool).await.ctx("listing dossiers")
        })
    }

    /// How many dossiers match `f`, by class, and how many of the late ones
    /// (finished late or overdue) were apologised for with an issued letter.
    pub async fn filtered_totals(&self, f: &DossierFilter) -> Result<FilterTotals, StoreError> {
        let (conditions, args) = f.conditions(1);
        let sql = format!(
            "SELECT e.class, COUNT(*), SUM(CASE WHEN e.class IN ('late', 'overdue') AND EXISTS \
             (SELECT 1 FROM letters l WHERE l.dossier_id = d.id AND l.status = 'issued') THEN 1 ELSE 0 END) \
             FROM dossiers d LEFT JOIN evaluations e ON e.dossier_id = d.id \
             WHERE NOT d.deleted{conditions} GROUP BY e.class"
        );
        let rows: Vec<(Option<String>, i64, Option<i64>)> = with_pool!(self, pool => {
            bind_args!(sqlx::query_as(&sql), &args)
                .fetch_all(pool).await.ctx("counting the filtered dossiers")?
        });
        let mut t = FilterTotals::default();
        for (class, n, apologised) in rows {
            t.dossiers += n;
            t.late_apologised += apologised.unwrap_or(0);
            *t.by_class
                .entry(class.unwrap_or_else(|| "unevaluated".into()))
                .or_default() += n;
        }
        let n = |c: &str| t.by_class.get(c).copied().unwrap_or(0);
        let finished = n("before_due") + n("on_due_day") + n("late");
        t.on_time_pct = (finished > 0)
            .then(|| round1(100.0 * (n("before_due") + n("on_due_day")) as f64 / finished as f64));
        let late = n("late") + n("overdue");
        t.apology_pct = (late > 0).then(|| round1(100.0 * t.late_apologised as f64 / late as f64));
        Ok(t)
    }

    /// The units and fields dossiers are filed under, `(code, name)` by name,
    /// for the auditors' filters.
    pub async fn facets(&self) -> Result<Facets, StoreError> {
        type Pairs = Vec<(String, Option<String>)>;
        let (units, fields): (Pairs, Pairs) = with_pool!(self, pool => {
            // Each code's latest dossier names it: the codes come from an
            // index alone, then one row is read per code.
            let u = sqlx::query_as("SELECT unit_code, unit_name FROM dossiers WHERE id IN \
                                    (SELECT MAX(id) FROM dossiers GROUP BY unit_code)")
                .fetch_all(pool).await.ctx("listing units")?;
            let f = sqlx::query_as("SELECT field_code, field_name FROM dossiers WHERE id IN \
                                    (SELECT MAX(id) FROM dossiers GROUP BY field_code)")
                .fetch_all(pool).await.ctx("listing fields")?;
            (u, f)
        });
        let sorted = |v: Pairs| {
            let mut v: Vec<(String, String)> = v
                .into_iter()
                .map(|(c, n)| (c, n.unwrap_or_default()))
                .collect();
            v.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
            v
        };
        Ok(Facets {
            units: sorted(units),
            fields: sorted(fields),
        })
    }

    /// KPIs per group over a period: received in it, finished in it.
    pub async fn kpis(
        &self,
        group: KpiGroup,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<KpiRow>, StoreError> {
        let (a, b) = (day_start(from), day_end(to));
        type Fin = (
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        type Rows = (
            Vec<(Option<String>, i64)>,
            Vec<Fin>,
            Vec<(Option<String>, Option<String>, i64)>,
        );
        let (received, finished, steps): Rows = with_pool!(self, pool => {
            let [received_sql, finished_sql, steps_sql] = kpi_sql(group, |c| month_of(pool, c));
            let r = sqlx::query_as(&received_sql).bind(a).bind(b).fetch_all(pool).await.ctx("counting received dossiers")?;
            let f = sqlx::query_as(&finished_sql).bind(a).bind(b).fetch_all(pool).await.ctx("counting finished dossiers")?;
            let s = sqlx::query_as(&steps_sql).bind(a).bind(b).fetch_all(pool).await.ctx("counting delaying steps")?;
            (r, f, s)
        });
        let mut rows: std::collections::BTreeMap<String, KpiRow> = Default::default();
        let row = |rows: &mut std::collections::BTreeMap<String, KpiRow>, g: Option<String>| {
            let g = g.unwrap_or_default();
            rows.entry(g.clone())
                .or_insert_with(|| KpiRow {
                    group: g,
                    ..KpiRow::default()
                })
                .clone()
        };
        for (g, n) in received {
            let mut r = row(&mut rows, g);
            r.received = n;
            rows.insert(r.group.clone(), r);
        }
        for (g, before, on_day, late, apologised, days_late) in finished {
            let mut r = row(&mut rows, g);
            r.before_due = before.unwrap_or(0);
            r.on_due_day = on_day.unwrap_or(0);
            r.late = late.unwrap_or(0);
            r.finished = r.before_due + r.on_due_day + r.late;
            r.late_apologised = apologised.unwrap_or(0);
            r.on_time_pct = (r.finished > 0)
                .then(|| round1(100.0 * (r.before_due + r.on_due_day) as f64 / r.finished as f64));
            r.apology_pct =
                (r.late > 0).then(|| round1(100.0 * r.late_apologised as f64 / r.late as f64));
            r.avg_working_days_late =
                (r.late > 0).then(|| round1(days_late.unwrap_or(0) as f64 / r.late as f64));
            rows.insert(r.group.clone(), r);
        }
        let mut by_group: std::collections::BTreeMap<String, Vec<(String, i64)>> =
            Default::default();
        for (g, step, n) in steps {
            by_group
                .entry(g.unwrap_or_default())
                .or_default()
                .push((step.unwrap_or_default(), n));
        }
        for (g, mut v) in by_group {
            v.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
            if let Some(r) = rows.get_mut(&g) {
                r.top_delay_steps = v
                    .into_iter()
                    .take(3)
                    .map(|(s, n)| format!("{s} ({n})"))
                    .collect();
            }
        }
        Ok(rows.into_values().collect())
    }

    pub async fn create_token(
        &self,
        name: &str,
        role: &str,
        now: NaiveDateTime,
    ) -> Result<(i64, String), StoreError> {
        use rand::RngCore;
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = format!("tw_{}", hex::encode(bytes));
        let hash = token_hash(&token);
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting a token transaction")?;
            let (id,): (i64,) = sqlx::query_as("INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                .bind(name).bind(role).bind(&hash).bind(DbTime(now)).fetch_one(&mut *tx).await.ctx("creating a token")?;
            audit_append!(tx, self.seal, now, "token_created", name.to_owned(), serde_json::json!({ "id": id, "role": role }).to_string());
            tx.commit().await.ctx("committing a token")?;
            Ok((id, token))
        })
    }

    /// The live token matching `token`.
    pub async fn find_token(&self, token: &str) -> Result<Option<TokenInfo>, StoreError> {
        let row: Option<TokenRow> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, name, role, created_at, revoked_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
                .bind(token_hash(token)).fetch_optional(pool).await.ctx("checking a token")?
        });
        Ok(row.map(token_info))
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows: Vec<TokenRow> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY id").fetch_all(pool).await.ctx("listing tokens")?
        });
        Ok(rows.into_iter().map(token_info).collect())
    }

    /// True when a live token was revoked.
    pub async fn revoke_token(&self, id: i64, now: NaiveDateTime) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting a token transaction")?;
            let r = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(DbTime(now)).bind(id).execute(&mut *tx).await.ctx("revoking a token")?;
            let done = r.rows_affected() == 1;
            if done {
                audit_append!(tx, self.seal, now, "token_revoked", id.to_string(), "{}".to_owned());
            }
            tx.commit().await.ctx("committing a token")?;
            Ok(done)
        })
    }

    /// Steps, history, due dates, class changes, alerts and letters of one dossier.
    pub async fn timeline(&self, dossier_id: i64) -> Result<serde_json::Value, StoreError> {
        type Hist = (DbTime, String, JsonText);
        type Due = (Option<DbTime>, DbTime, String);
        type Cls = (DbTime, Option<String>, String, Option<DbTime>);
        type Alert = (
            String,
            String,
            Option<String>,
            String,
            DbTime,
            Option<i64>,
            Option<String>,
            Option<DbTime>,
        );
        // Times shown as stored text, whichever backend.
        let t = |t: DbTime| fmt_db(t.0);
        let o = |t: Option<DbTime>| t.map(|t| fmt_db(t.0));
        let (history, dues, classes, alerts): (Vec<Hist>, Vec<Due>, Vec<Cls>, Vec<Alert>) = with_pool!(self, pool => {
            let h = sqlx::query_as(HISTORY_SQL)
                .bind(dossier_id).fetch_all(pool).await.ctx("reading history")?;
            let d = sqlx::query_as(DUE_DATES_SQL)
                .bind(dossier_id).fetch_all(pool).await.ctx("reading due dates")?;
            let c = sqlx::query_as("SELECT at, from_class, to_class, due_at FROM classification_history WHERE dossier_id = $1 ORDER BY id")
                .bind(dossier_id).fetch_all(pool).await.ctx("reading class changes")?;
            let a = sqlx::query_as("SELECT a.rung, a.recipient, a.recipient_name, a.recipient_role, a.created_at, a.outbox_id, o.status, o.sent_at \
                                    FROM alerts a LEFT JOIN outbox o ON o.id = a.outbox_id WHERE a.dossier_id = $1 ORDER BY a.id")
                .bind(dossier_id).fetch_all(pool).await.ctx("reading alerts")?;
            (h, d, c, a)
        });
        let letters = self.letters_of(dossier_id).await?;
        let acknowledgements = self.acks_of(dossier_id).await?;
        Ok(serde_json::json!({
            "acknowledgements": acknowledgements,
            "history": history.into_iter().map(|(at, kind, changes)| serde_json::json!({
                "observed_at": t(at), "kind": kind, "changes": serde_json::from_str::<serde_json::Value>(&changes.0).unwrap_or_default() })).collect::<Vec<_>>(),
            "due_dates": dues.into_iter().map(|(due, at, reason)| serde_json::json!({ "due_at": o(due), "observed_at": t(at), "reason": reason })).collect::<Vec<_>>(),
            "classes": classes.into_iter().map(|(at, from, to, due)| serde_json::json!({ "at": t(at), "from": from, "to": to, "due_at": o(due) })).collect::<Vec<_>>(),
            "alerts": alerts.into_iter().map(|(rung, to, name, role, at, outbox, status, sent)| serde_json::json!({
                "rung": rung, "recipient": to, "recipient_name": name, "role": role, "fired_at": t(at),
                "message": outbox, "status": status, "sent_at": o(sent) })).collect::<Vec<_>>(),
            "letters": letters.into_iter().map(|l| serde_json::json!({
                "version": l.version, "status": l.status, "generated_at": fmt_db(l.generated_at), "sha256": l.sha256,
                "issued_at": l.issued_at.map(fmt_db), "doc_number": l.doc_number, "due_at": l.due_at.map(fmt_db) })).collect::<Vec<_>>(),
        }))
    }

    /// Latest drafts not yet issued: (code, version, generated_at, unit).
    pub async fn pending_letters(&self, limit: i64) -> Result<Vec<PendingLetter>, StoreError> {
        let rows: Vec<(String, String, i64, DbTime, String)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT d.source, d.code, l.version, l.generated_at, d.unit_name FROM letters l JOIN dossiers d ON d.id = l.dossier_id \
                            WHERE l.status = 'draft' AND l.version = (SELECT MAX(version) FROM letters m WHERE m.dossier_id = l.dossier_id) \
                            ORDER BY l.generated_at LIMIT $1")
                .bind(limit).fetch_all(pool).await.ctx("reading pending letters")?
        });
        Ok(rows
            .into_iter()
            .map(|(source, code, version, g, unit)| PendingLetter {
                source,
                code,
                version,
                generated_at: g.0,
                unit,
            })
            .collect())
    }
}

/// The KPI queries (received, finished, delaying steps) of `group`, with
/// `month` the backend's SQL for a time column's month; $1 and $2 bound the
/// period.
fn kpi_sql(group: KpiGroup, month: impl Fn(&str) -> String) -> [String; 3] {
    let rkey = group.key(month("d.received_at"));
    let fkey = group.key(month("COALESCE(d.finished_at, d.returned_at)"));
    let received_sql = format!(
        "SELECT {rkey} AS g, COUNT(*) FROM dossiers d WHERE NOT d.deleted AND d.received_at >= $1 AND d.received_at <= $2 GROUP BY g"
    );
    let finished_sql = format!(
        "SELECT {fkey} AS g, \
         SUM(CASE WHEN e.class = 'before_due' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN e.class = 'on_due_day' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN e.class = 'late' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN e.class = 'late' AND EXISTS (SELECT 1 FROM letters l WHERE l.dossier_id = d.id AND l.status = 'issued') THEN 1 ELSE 0 END), \
         CAST(SUM(CASE WHEN e.class = 'late' THEN e.working_days_late ELSE 0 END) AS BIGINT) \
         FROM dossiers d JOIN evaluations e ON e.dossier_id = d.id \
         WHERE NOT d.deleted AND e.class IN ('before_due', 'on_due_day', 'late') \
         AND COALESCE(d.finished_at, d.returned_at) >= $1 AND COALESCE(d.finished_at, d.returned_at) <= $2 GROUP BY g"
    );
    let steps_sql = format!(
        "SELECT {fkey} AS g, e.delay_step || ' @ ' || e.delay_unit, COUNT(*) FROM dossiers d JOIN evaluations e ON e.dossier_id = d.id \
         WHERE NOT d.deleted AND e.class = 'late' AND e.delay_step IS NOT NULL \
         AND COALESCE(d.finished_at, d.returned_at) >= $1 AND COALESCE(d.finished_at, d.returned_at) <= $2 \
         GROUP BY g, e.delay_step, e.delay_unit"
    );
    [received_sql, finished_sql, steps_sql]
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A dossier's latest apology draft, not yet issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingLetter {
    pub source: String,
    pub code: String,
    pub version: i64,
    pub generated_at: NaiveDateTime,
    pub unit: String,
}

/// What a retention run removes (or would remove).
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Retention {
    pub dossiers: i64,
    pub letters: i64,
}

impl Store {
    /// Removes dossiers that were finished or closed before `before`, with their
    /// steps, history, verdicts, alerts and letter records, in one transaction,
    /// recorded in the audit trail. With `apply = false` only counts them.
    /// Never called by the daemon: retention is an explicit admin decision.
    pub async fn retention(
        &self,
        before: NaiveDate,
        apply: bool,
        now: NaiveDateTime,
    ) -> Result<Retention, StoreError> {
        let cut = day_start(before);
        let which = "SELECT d.id FROM dossiers d JOIN evaluations e ON e.dossier_id = d.id \
                     WHERE e.class IN ('before_due', 'on_due_day', 'late', 'closed') \
                     AND COALESCE(d.finished_at, d.returned_at, d.source_updated_at) < $1";
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting a retention transaction")?;
            let ids: Vec<(i64,)> = sqlx::query_as(which).bind(cut).fetch_all(&mut *tx).await.ctx("selecting old dossiers")?;
            let ids: Vec<i64> = ids.into_iter().map(|(i,)| i).collect();
            let mut out = Retention { dossiers: ids.len() as i64, letters: 0 };
            for chunk in ids.chunks(500) {
                let sql = format!("SELECT COUNT(*) FROM letters WHERE dossier_id IN ({})", placeholders(1, chunk.len()));
                let mut q = sqlx::query_as::<_, (i64,)>(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                out.letters += q.fetch_one(&mut *tx).await.ctx("counting old letters")?.0;
            }
            if !apply {
                return Ok(out);
            }
            for chunk in ids.chunks(500) {
                let list = placeholders(1, chunk.len());
                for (table, col) in [
                    ("dossier_history", "dossier_id"), ("due_date_history", "dossier_id"),
                    ("classification_history", "dossier_id"), ("alerts", "dossier_id"), ("letters", "dossier_id"),
                    ("evaluations", "dossier_id"), ("dossiers", "id"),
                ] {
                    let sql = format!("DELETE FROM {table} WHERE {col} IN ({list})");
                    let mut q = sqlx::query(&sql);
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    q.execute(&mut *tx).await.ctx("removing old records")?;
                }
            }
            let detail = serde_json::json!({ "before": before.to_string(), "dossiers": out.dossiers, "letters": out.letters });
            audit_append!(tx, self.seal, now, "retention", "admin".to_owned(), detail.to_string());
            tx.commit().await.ctx("committing the retention")?;
            Ok(out)
        })
    }
}
