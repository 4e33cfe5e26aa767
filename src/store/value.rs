//! How values are stored, each backend its own way. SQLite keeps times as
//! Vietnam local text (`YYYY-MM-DD HH:MM:SS`), flags as 0/1 and JSON as text;
//! PostgreSQL has `timestamptz`, `date`, `boolean` and `jsonb`, so that
//! auditors' and BI tools' queries get types rather than strings. The
//! newtypes here bind and read those in the backend's own form (sqlx sends
//! parameters in binary: a string bound to a `timestamptz` is refused), so
//! that the SQL both backends share stays one text. `Val` is a stored
//! column's value as the bulk writers take it, borrowed from the columns made
//! off the writing thread.

use crate::clock::{fmt_db, parse_db};
use chrono::{NaiveDate, NaiveDateTime};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{
    PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueFormat, PgValueRef, Postgres,
};
use sqlx::sqlite::{Sqlite, SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Type, ValueRef};
use std::borrow::Cow;

/// One stored column's value.
#[derive(Clone, Copy, Debug, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum Val<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}

// PostgreSQL's own type numbers (`pg_type.oid`), fixed for built-in types.
const TIMESTAMPTZ: Oid = Oid(1184);
const TIMESTAMPTZ_ARRAY: Oid = Oid(1185);
const DATE: Oid = Oid(1082);
const JSON: Oid = Oid(114);
const JSONB: Oid = Oid(3802);

/// Vietnam is UTC+7 with no daylight saving (and no change of offset since
/// 1975, the time zone database agrees): local time to an instant is a
/// fixed shift, as in `clock::from_vn`.
const VN_OFFSET_SECS: i64 = 7 * 3600;

/// PostgreSQL's epoch for binary times and dates: 2000-01-01 (checked when
/// compiled).
const PG_EPOCH: NaiveDateTime = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => NaiveDateTime::new(d, chrono::NaiveTime::MIN),
    None => panic!("2000-01-01 is a date"),
};

fn pg_epoch() -> NaiveDateTime {
    PG_EPOCH
}

/// A Vietnam local time: SQLite text, PostgreSQL `timestamptz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DbTime(pub NaiveDateTime);

impl DbTime {
    pub(crate) fn opt(t: Option<NaiveDateTime>) -> Option<DbTime> {
        t.map(DbTime)
    }

    /// Microseconds since PostgreSQL's epoch, in UTC.
    pub(in crate::store) fn pg_micros(self) -> Result<i64, BoxDynError> {
        let utc = self.0 - chrono::Duration::seconds(VN_OFFSET_SECS);
        (utc - pg_epoch())
            .num_microseconds()
            .ok_or_else(|| format!("{} is out of range", self.0).into())
    }

    fn from_pg_micros(us: i64) -> Result<DbTime, BoxDynError> {
        // ±infinity (i64::MAX/MIN) and the like are not times of ours.
        let local = pg_epoch()
            .checked_add_signed(chrono::Duration::microseconds(us))
            .and_then(|t| t.checked_add_signed(chrono::Duration::seconds(VN_OFFSET_SECS)))
            .ok_or_else(|| format!("stored time {us} µs after 2000 is out of range"))?;
        Ok(DbTime(local))
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <&str as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <&str as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for DbTime {
    fn encode_by_ref(
        &self,
        args: &mut Vec<SqliteArgumentValue<'q>>,
    ) -> Result<IsNull, BoxDynError> {
        args.push(SqliteArgumentValue::Text(Cow::Owned(fmt_db(self.0))));
        Ok(IsNull::No)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<DbTime, BoxDynError> {
        let s = <&str as Decode<Sqlite>>::decode(value)?;
        parse_db(s)
            .map(DbTime)
            .ok_or_else(|| format!("'{s}' is not a stored time").into())
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(TIMESTAMPTZ)
    }
}

impl PgHasArrayType for DbTime {
    fn array_type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(TIMESTAMPTZ_ARRAY)
    }
}

impl Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        buf.extend_from_slice(&self.pg_micros()?.to_be_bytes());
        Ok(IsNull::No)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<DbTime, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => {
                let bytes: [u8; 8] = value.as_bytes()?.try_into()?;
                DbTime::from_pg_micros(i64::from_be_bytes(bytes))
            }
            // Only the simple-query protocol sends text: `2026-11-25 08:00:00+07`.
            PgValueFormat::Text => {
                let s = value.as_str()?;
                let t = chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z")?;
                Ok(DbTime(crate::clock::to_vn(t.to_utc())))
            }
        }
    }
}

impl rusqlite::types::FromSql for DbTime {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let s = v.as_str()?;
        parse_db(s).map(DbTime).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("'{s}' is not a stored time").into())
        })
    }
}

impl<'de> serde::Deserialize<'de> for DbTime {
    /// As PostgreSQL writes a `timestamp` in JSON (`2026-11-25T08:00:00`).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DbTime, D::Error> {
        crate::clock::iso::deserialize(d).map(DbTime)
    }
}

/// A plain day: SQLite text `YYYY-MM-DD`, PostgreSQL `date`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DbDate(pub NaiveDate);

impl Type<Sqlite> for DbDate {
    fn type_info() -> SqliteTypeInfo {
        <&str as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <&str as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for DbDate {
    fn encode_by_ref(
        &self,
        args: &mut Vec<SqliteArgumentValue<'q>>,
    ) -> Result<IsNull, BoxDynError> {
        let day = self.0.format("%Y-%m-%d").to_string();
        args.push(SqliteArgumentValue::Text(Cow::Owned(day)));
        Ok(IsNull::No)
    }
}

impl Type<Postgres> for DbDate {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(DATE)
    }
}

impl Encode<'_, Postgres> for DbDate {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let days = i32::try_from((self.0 - pg_epoch().date()).num_days())?;
        buf.extend_from_slice(&days.to_be_bytes());
        Ok(IsNull::No)
    }
}

impl<'r> Decode<'r, Sqlite> for DbDate {
    fn decode(value: SqliteValueRef<'r>) -> Result<DbDate, BoxDynError> {
        let s = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(DbDate(NaiveDate::parse_from_str(s, "%Y-%m-%d")?))
    }
}

impl<'r> Decode<'r, Postgres> for DbDate {
    fn decode(value: PgValueRef<'r>) -> Result<DbDate, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => {
                let bytes: [u8; 4] = value.as_bytes()?.try_into()?;
                let days = chrono::Duration::days(i64::from(i32::from_be_bytes(bytes)));
                pg_epoch()
                    .date()
                    .checked_add_signed(days)
                    .map(DbDate)
                    .ok_or_else(|| "stored day out of range".into())
            }
            PgValueFormat::Text => Ok(DbDate(NaiveDate::parse_from_str(
                value.as_str()?,
                "%Y-%m-%d",
            )?)),
        }
    }
}

/// JSON text to store: SQLite text, PostgreSQL `jsonb` (parsed by the server).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Json<'a>(pub &'a str);

/// JSON text stored exactly as given: SQLite text, PostgreSQL `json` (the
/// audit trail's details, whose hash chain covers their exact text; `jsonb`
/// would reorder keys and spaces).
#[derive(Clone, Copy, Debug)]
pub(crate) struct JsonExact<'a>(pub &'a str);

macro_rules! json_type {
    ($t:ident, $oid:expr, $version:expr) => {
        impl Type<Sqlite> for $t<'_> {
            fn type_info() -> SqliteTypeInfo {
                <&str as Type<Sqlite>>::type_info()
            }
        }

        impl<'q, 'a: 'q> Encode<'q, Sqlite> for $t<'a> {
            fn encode_by_ref(
                &self,
                args: &mut Vec<SqliteArgumentValue<'q>>,
            ) -> Result<IsNull, BoxDynError> {
                args.push(SqliteArgumentValue::Text(Cow::Borrowed(self.0)));
                Ok(IsNull::No)
            }
        }

        impl Type<Postgres> for $t<'_> {
            fn type_info() -> PgTypeInfo {
                PgTypeInfo::with_oid($oid)
            }
        }

        impl Encode<'_, Postgres> for $t<'_> {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                // `jsonb`'s binary form: a format version, then the text.
                buf.extend_from_slice($version);
                buf.extend_from_slice(self.0.as_bytes());
                Ok(IsNull::No)
            }
        }
    };
}

json_type!(Json, JSONB, &[1u8]);
json_type!(JsonExact, JSON, &[]);

/// Stored JSON read back as text (`json`, `jsonb` or SQLite text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JsonText(pub String);

impl Type<Sqlite> for JsonText {
    fn type_info() -> SqliteTypeInfo {
        <&str as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <&str as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for JsonText {
    fn decode(value: SqliteValueRef<'r>) -> Result<JsonText, BoxDynError> {
        <String as Decode<Sqlite>>::decode(value).map(JsonText)
    }
}

impl Type<Postgres> for JsonText {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(JSONB)
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        matches!(ty.oid(), Some(JSONB | JSON))
    }
}

impl<'r> Decode<'r, Postgres> for JsonText {
    fn decode(value: PgValueRef<'r>) -> Result<JsonText, BoxDynError> {
        let jsonb = value.type_info().oid() == Some(JSONB);
        let mut bytes = value.as_bytes()?;
        if jsonb && value.format() == PgValueFormat::Binary {
            // The format version first; 1 is the only one.
            match bytes.split_first() {
                Some((1, rest)) => bytes = rest,
                _ => return Err("unknown jsonb format version".into()),
            }
        }
        Ok(JsonText(std::str::from_utf8(bytes)?.to_owned()))
    }
}

impl From<JsonText> for String {
    fn from(j: JsonText) -> String {
        j.0
    }
}

impl rusqlite::types::FromSql for JsonText {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        v.as_str().map(|s| JsonText(s.to_owned()))
    }
}

/// Rows the API shows keep times as text in the stored form
/// (`YYYY-MM-DD HH:MM:SS`) and flags as 0/1, whichever backend: these read
/// them so (`#[sqlx(try_from = …)]`).
impl From<DbTime> for String {
    fn from(t: DbTime) -> String {
        fmt_db(t.0)
    }
}

/// A time that may be NULL, as text (see `From<DbTime> for String`).
pub(crate) struct OptTime(Option<DbTime>);

impl From<OptTime> for Option<String> {
    fn from(t: OptTime) -> Option<String> {
        t.0.map(String::from)
    }
}

/// A flag that may be NULL (a left join), as 0/1.
pub(crate) struct OptFlag(Option<bool>);

impl From<OptFlag> for Option<i64> {
    fn from(f: OptFlag) -> Option<i64> {
        f.0.map(i64::from)
    }
}

/// Decoding of these wrappers: as their inner `Option`, whichever backend.
macro_rules! wrapped {
    ($t:ident, $inner:ty) => {
        impl<DB: sqlx::Database> Type<DB> for $t
        where
            $inner: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <$inner as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <$inner as Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> Decode<'r, DB> for $t
        where
            Option<$inner>: Decode<'r, DB>,
        {
            fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<$t, BoxDynError> {
                <Option<$inner> as Decode<'r, DB>>::decode(value).map($t)
            }
        }
    };
}

wrapped!(OptTime, DbTime);
wrapped!(OptFlag, bool);

/// Any value of a row as text, the way SQLite holds it (times as
/// `YYYY-MM-DD HH:MM:SS` Vietnam time, days as `YYYY-MM-DD`, flags as 0/1),
/// so that both backends answer a query alike (`Store::fetch_text`).
pub(crate) trait AsText {
    fn text(&self, i: usize) -> Result<Option<String>, sqlx::Error>;
}

impl AsText for sqlx::sqlite::SqliteRow {
    fn text(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
        use sqlx::{Row, TypeInfo};
        let raw = self.try_get_raw(i)?;
        if raw.is_null() {
            return Ok(None);
        }
        Ok(Some(match raw.type_info().name() {
            "INTEGER" => self.try_get::<i64, _>(i)?.to_string(),
            "REAL" => self.try_get::<f64, _>(i)?.to_string(),
            _ => self.try_get::<String, _>(i)?,
        }))
    }
}

impl AsText for sqlx::postgres::PgRow {
    fn text(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
        use sqlx::{Row, TypeInfo};
        let raw = self.try_get_raw(i)?;
        if raw.is_null() {
            return Ok(None);
        }
        Ok(Some(match raw.type_info().name() {
            "TIMESTAMPTZ" => fmt_db(self.try_get::<DbTime, _>(i)?.0),
            "DATE" => self
                .try_get::<DbDate, _>(i)?
                .0
                .format("%Y-%m-%d")
                .to_string(),
            "BOOL" => i64::from(self.try_get::<bool, _>(i)?).to_string(),
            "INT8" => self.try_get::<i64, _>(i)?.to_string(),
            "INT4" => self.try_get::<i32, _>(i)?.to_string(),
            "INT2" => self.try_get::<i16, _>(i)?.to_string(),
            "FLOAT8" => self.try_get::<f64, _>(i)?.to_string(),
            "FLOAT4" => self.try_get::<f32, _>(i)?.to_string(),
            "JSON" | "JSONB" => self.try_get::<JsonText, _>(i)?.0,
            _ => self.try_get::<String, _>(i)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_times_are_instants_seven_hours_ahead_of_utc() {
        let t = |s: &str| parse_db(s).unwrap();
        // 2000-01-01 07:00 in Vietnam is PostgreSQL's epoch, midnight UTC.
        assert_eq!(DbTime(t("2000-01-01 07:00:00")).pg_micros().unwrap(), 0);
        let local = DbTime(t("2026-11-25 08:00:00"));
        let us = local.pg_micros().unwrap();
        // PostgreSQL: '2026-11-25 08:00:00+07' - '2000-01-01 00:00:00+00'.
        assert_eq!(us, 848_883_600 * 1_000_000);
        assert_eq!(DbTime::from_pg_micros(us).unwrap(), local);
        assert!(DbTime::from_pg_micros(i64::MAX).is_err());
    }
}
