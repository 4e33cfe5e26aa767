//! A dossier's steps as stored in its row: a JSON array with one array per
//! step — name, unit, officer, started, finished, due — and times to the
//! minute when their seconds are zero. An object per step spent half of the
//! column on its keys (the steps were over half of a stored dossier).
//!
//! Read back with `Step`'s own `Deserialize`: serde takes a struct from an
//! array in field order as well as from an object, so rows written before,
//! with an object per step, read as they did.

use crate::dossier::Step;
use chrono::NaiveDateTime;
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Serialize, Serializer};

/// The stored form of `steps`.
pub(in crate::store) fn encode(steps: &[Step]) -> String {
    // Sized for a usual step (~150 bytes) so that the buffer is not grown
    // and copied as it fills (2% of a 1M initial sync's samples).
    let mut out = Vec::with_capacity(16 + steps.len() * 192);
    // Serialising plain strings and times cannot fail; JSON is UTF-8.
    match serde_json::to_writer(&mut out, &Stored(steps)) {
        Ok(()) => String::from_utf8(out).unwrap_or_else(|_| "[]".into()),
        Err(_) => "[]".into(),
    }
}

struct Stored<'a>(&'a [Step]);

impl Serialize for Stored<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for step in self.0 {
            seq.serialize_element(&StoredStep(step))?;
        }
        seq.end()
    }
}

/// One step in `Step`'s field order (what its `Deserialize` expects).
struct StoredStep<'a>(&'a Step);

impl Serialize for StoredStep<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Step {
            name,
            unit,
            officer,
            started_at,
            finished_at,
            due_at,
        } = self.0;
        let mut t = s.serialize_tuple(6)?;
        t.serialize_element(name)?;
        t.serialize_element(unit)?;
        t.serialize_element(officer)?;
        t.serialize_element(&Time(*started_at))?;
        t.serialize_element(&finished_at.map(Time))?;
        t.serialize_element(&due_at.map(Time))?;
        t.end()
    }
}

struct Time(NaiveDateTime);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::clock::iso_short::serialize(&self.0, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_db;

    fn step(name: &str, officer: Option<&str>, times: [Option<&str>; 3]) -> Step {
        let t = |s: Option<&str>| s.map(|s| parse_db(s).unwrap());
        Step {
            name: name.into(),
            unit: "Phòng Tài chính – Kế hoạch".into(),
            officer: officer.map(Into::into),
            started_at: t(times[0]).unwrap(),
            finished_at: t(times[1]),
            due_at: t(times[2]),
        }
    }

    #[test]
    fn steps_are_stored_as_arrays_and_read_back_as_they_were() {
        let steps = vec![
            step(
                "Tiếp nhận hồ sơ",
                Some("Trương Công Danh"),
                [
                    Some("2026-07-28 09:49:00"),
                    Some("2026-07-28 15:49:00"),
                    Some("2026-07-28 15:49:00"),
                ],
            ),
            // Seconds, a quote and a backslash, no officer, still running.
            step(
                "Thẩm định \"lại\" \\ bổ sung",
                None,
                [
                    Some("2026-07-29 08:00:07"),
                    None,
                    Some("2026-08-03 17:00:00"),
                ],
            ),
            step(
                "Trả kết quả",
                Some("Lê Văn Thành"),
                [Some("2026-07-30 10:00:00"), None, None],
            ),
        ];
        let stored = encode(&steps);
        assert_eq!(
            stored,
            r#"[["Tiếp nhận hồ sơ","Phòng Tài chính – Kế hoạch","Trương Công Danh","2026-07-28T09:49","2026-07-28T15:49","2026-07-28T15:49"],["Thẩm định \"lại\" \\ bổ sung","Phòng Tài chính – Kế hoạch",null,"2026-07-29T08:00:07",null,"2026-08-03T17:00"],["Trả kết quả","Phòng Tài chính – Kế hoạch","Lê Văn Thành","2026-07-30T10:00",null,null]]"#
        );
        assert_eq!(serde_json::from_str::<Vec<Step>>(&stored).unwrap(), steps);
        assert_eq!(encode(&[]), "[]");
        // Rows written before this form hold an object per step.
        let objects = serde_json::to_string(&steps).unwrap();
        assert!(
            objects.starts_with(r#"[{"name":"Tiếp nhận hồ sơ","#),
            "{objects}"
        );
        assert_eq!(serde_json::from_str::<Vec<Step>>(&objects).unwrap(), steps);
        assert!(stored.len() * 10 < objects.len() * 7, "{stored}");
        // Trailing optional fields may be absent (a field added to `Step`
        // later reads as its default from rows stored before it).
        let short: Vec<Step> =
            serde_json::from_str(r#"[["Trả kết quả","UBND",null,"2026-07-30T10:00"]]"#).unwrap();
        assert_eq!((short[0].finished_at, short[0].due_at), (None, None));
    }
}
