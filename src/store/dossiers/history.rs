//! What a dossier went through: the append-only history of observed changes
//! (the fields that changed, old and new) and every due date it has had, with
//! why it moved. A dossier's first sighting is implied by its own row.

use super::StoredDossier;
use crate::dossier::Dossier;
use crate::store::value::DbTime;
use crate::store::{Context, Store, StoreError};
use chrono::NaiveDateTime;
use serde_json::{Map, Value};

/// Why a dossier has its first due date. A dossier first seen with a due date
/// has no stored row for it, nor a "created" history row: both are implied by
/// its own row (`first_seen_at`, `original_due_at`), so a new dossier costs
/// one row. One first seen without a due date keeps an explicit row (NULL):
/// its `original_due_at` is the first due date it got later.
pub(in crate::store) const FIRST_SEEN: &str = "first seen";

/// A dossier's observed changes `(observed_at, kind, changes)`, oldest first,
/// the implied "created" entry first; $1 is the dossier's id.
pub(in crate::store) const HISTORY_SQL: &str = "SELECT observed_at, kind, changes FROM (\
     SELECT 0 AS id, first_seen_at AS observed_at, 'created' AS kind, '{}' AS changes FROM dossiers WHERE id = $1 \
     UNION ALL SELECT id, observed_at, kind, changes FROM dossier_history WHERE dossier_id = $1) AS h ORDER BY id";

/// Every due date a dossier has had `(due_at, observed_at, reason)`, oldest
/// first, the implied first one included (see `FIRST_SEEN`); $1 is its id.
pub(in crate::store) const DUE_DATES_SQL: &str = "SELECT due_at, observed_at, reason FROM (\
     SELECT 0 AS id, original_due_at AS due_at, first_seen_at AS observed_at, 'first seen' AS reason FROM dossiers \
     WHERE id = $1 AND original_due_at IS NOT NULL \
     AND NOT EXISTS (SELECT 1 FROM due_date_history f WHERE f.dossier_id = $1 AND f.reason = 'first seen') \
     UNION ALL SELECT id, due_at, observed_at, reason FROM due_date_history WHERE dossier_id = $1) AS h ORDER BY id";

/// Fields that differ between two versions, as `{field: [old, new]}` (values
/// as the dossier serialises them). Compared field by field: only what
/// changed is converted to JSON.
fn diff(old: &Dossier, new: &Dossier) -> Value {
    let mut out = Map::new();
    macro_rules! fields {
        ($($f:ident),* $(,)?) => {
            // Every field is listed: a field added to `Dossier` and not here
            // does not compile.
            let Dossier { $($f: _),* } = new;
            $(
                if old.$f != new.$f {
                    out.insert(stringify!($f).to_owned(), serde_json::json!([old.$f, new.$f]));
                }
            )*
        };
    }
    fields!(
        code,
        procedure_code,
        procedure_name,
        field_code,
        field_name,
        unit_code,
        unit_name,
        officer,
        applicant_name,
        applicant_kind,
        applicant_id_no,
        applicant_phone,
        applicant_email,
        applicant_address,
        summary,
        channel,
        status,
        submitted_at,
        received_at,
        due_at,
        finished_at,
        returned_at,
        duration,
        steps,
        pauses,
        extension,
        updated_at,
    );
    Value::Object(out)
}

/// Whether a dossier whose hash differs has in fact not changed (its stored
/// hash is of an older form): only the hash is rewritten, nothing recorded.
pub(in crate::store) fn is_rehash(old: &StoredDossier, d: &Dossier) -> bool {
    !old.deleted && old.dossier == *d
}

/// What a change of a stored dossier records: the history kind, the fields
/// that changed (`{field: [old, new]}`), and why the due date moved, if it did.
pub(in crate::store) fn change_entry(
    old: &StoredDossier,
    d: &Dossier,
) -> (&'static str, String, Option<&'static str>) {
    let kind = if old.deleted { "restored" } else { "changed" };
    let due_reason = (old.dossier.due_at != d.due_at).then(|| {
        if d.extension.is_some() && old.dossier.extension.is_none() {
            "extension"
        } else if d.pauses.len() != old.dossier.pauses.len()
            || d.pauses.last() != old.dossier.pauses.last()
        {
            "pause"
        } else {
            "changed in source"
        }
    });
    (kind, diff(&old.dossier, d).to_string(), due_reason)
}

impl Store {
    /// `(due_at, reason)` of every due date a dossier has had, oldest first.
    pub async fn due_date_history(
        &self,
        dossier_id: i64,
    ) -> Result<Vec<(Option<NaiveDateTime>, String)>, StoreError> {
        let rows: Vec<(Option<DbTime>, DbTime, String)> = with_pool!(self, pool => {
            sqlx::query_as(DUE_DATES_SQL)
                .bind(dossier_id)
                .fetch_all(pool)
                .await
                .ctx("reading a due-date history")?
        });
        Ok(rows
            .into_iter()
            .map(|(d, _, r)| (d.map(|t| t.0), r))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dossier::{ApplicantKind, Channel, Duration, Pause, PauseKind, Status, Step};

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    /// The definition: both versions as JSON objects, compared key by key.
    fn diff_by_json(old: &Dossier, new: &Dossier) -> Value {
        let (Value::Object(a), Value::Object(b)) = (
            serde_json::to_value(old).unwrap(),
            serde_json::to_value(new).unwrap(),
        ) else {
            unreachable!()
        };
        let mut out = Map::new();
        for (k, nv) in &b {
            if a[k] != *nv {
                out.insert(k.clone(), Value::Array(vec![a[k].clone(), nv.clone()]));
            }
        }
        Value::Object(out)
    }

    #[test]
    fn diff_names_exactly_the_changed_fields_with_both_values() {
        let old = Dossier {
            code: "H56-260728-0001".into(),
            procedure_code: Some("1.004227".into()),
            procedure_name: "Đăng ký biến động đất đai".into(),
            field_code: "DD".into(),
            field_name: "Đất đai".into(),
            unit_code: "PKT".into(),
            unit_name: "Phòng Kinh tế".into(),
            officer: Some("Mai Thị Ngọc".into()),
            applicant_name: "Lý Thị Bình".into(),
            applicant_kind: ApplicantKind::Person,
            applicant_id_no: None,
            applicant_phone: Some("0968565711".into()),
            applicant_email: None,
            applicant_address: None,
            summary: None,
            channel: Channel::Online,
            status: Status::Processing,
            submitted_at: None,
            received_at: t("2026-07-28 07:00"),
            due_at: Some(t("2026-08-10 17:00")),
            finished_at: None,
            returned_at: None,
            duration: Some(Duration::WorkingDays(10)),
            steps: vec![Step {
                name: "Tiếp nhận hồ sơ".into(),
                unit: "Trung tâm Phục vụ hành chính công".into(),
                officer: None,
                started_at: t("2026-07-28 07:00"),
                finished_at: None,
                due_at: None,
            }],
            pauses: vec![],
            extension: None,
            updated_at: t("2026-07-28 08:00"),
        };
        assert_eq!(diff(&old, &old), serde_json::json!({}));
        let mut new = old.clone();
        new.status = Status::Finished;
        new.officer = None;
        new.due_at = Some(t("2026-08-12 17:00"));
        new.finished_at = Some(t("2026-08-11 10:30"));
        new.steps[0].finished_at = Some(t("2026-07-28 08:00"));
        new.pauses.push(Pause {
            kind: PauseKind::Fee,
            started_at: t("2026-07-29 09:00"),
            ended_at: Some(t("2026-07-30 09:00")),
            due_before: old.due_at,
            due_after: new.due_at,
        });
        new.updated_at = t("2026-08-11 10:30");
        let d = diff(&old, &new);
        assert_eq!(d, diff_by_json(&old, &new));
        assert_eq!(d["status"], serde_json::json!(["processing", "finished"]));
        assert_eq!(
            d["due_at"],
            serde_json::json!(["2026-08-10T17:00:00", "2026-08-12T17:00:00"])
        );
        assert_eq!(d.as_object().unwrap().len(), 7);
    }
}
