//! Where a mapped value comes from in a source's record: a JSON pointer
//! that may select a list element by one of its members
//! (`/sector/name/[languageId=228]/name`), a list of them (the first present
//! wins), a join of several, a condition on another member, or `false`
//! (switched off). Real records need each: translation lists, a step's end
//! only once it is no longer current, a status made of two members.

use serde::Deserialize;
use serde_json::Value;

/// A value's source, as written in a shape's `[fields]`, `[steps]` or
/// `[pauses]` table.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Spec {
    /// `false`: switched off (a preset's pointer that a source lacks).
    Off(bool),
    /// One pointer.
    Pointer(String),
    /// The first of these pointers that holds a value.
    FirstOf(Vec<String>),
    Rule(Rule),
}

/// The general form: `{ from = [..], join = "+", when = "/x", is = ["0"] }`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub from: OneOrMany,
    /// Join the texts of every `from` pointer with this separator (absent
    /// ones count as empty) instead of taking the first present.
    #[serde(default)]
    pub join: Option<String>,
    /// The value applies only when this pointer's text is one of `is` (or,
    /// with `is_not`, none of those).
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub is: Vec<String>,
    #[serde(default)]
    pub is_not: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn as_slice(&self) -> &[String] {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }
}

impl Spec {
    /// Every pointer the spec names (for checks and `source test`).
    pub fn pointers(&self) -> Vec<&str> {
        match self {
            Spec::Off(_) => Vec::new(),
            Spec::Pointer(p) => vec![p],
            Spec::FirstOf(v) => v.iter().map(String::as_str).collect(),
            Spec::Rule(r) => r
                .from
                .as_slice()
                .iter()
                .map(String::as_str)
                .chain(r.when.as_deref())
                .collect(),
        }
    }

    /// A problem with how the spec is written, or None.
    pub fn problem(&self) -> Option<String> {
        if let Spec::Off(true) = self {
            return Some(
                "true is not a source; give a JSON pointer, or false to switch it off".into(),
            );
        }
        if let Spec::Rule(r) = self
            && r.from.as_slice().is_empty()
        {
            return Some("from lists no pointer".into());
        }
        if let Spec::FirstOf(v) = self
            && v.is_empty()
        {
            return Some("the list names no pointer".into());
        }
        self.pointers().into_iter().find_map(|p| {
            if p.is_empty() {
                Some("'' is not a JSON pointer; write false to switch the value off".into())
            } else if !p.starts_with('/') {
                Some(format!(
                    "'{p}' is not a JSON pointer (it must start with /)"
                ))
            } else {
                None
            }
        })
    }

    /// The value in `rec`, or None. Empty strings count as absent.
    pub fn get<'a>(&self, rec: &'a Value) -> Option<Resolved<'a>> {
        match self {
            Spec::Off(_) => None,
            Spec::Pointer(p) => lookup(rec, p).map(Resolved::Value),
            Spec::FirstOf(v) => first_of(rec, v).map(Resolved::Value),
            Spec::Rule(r) => {
                if let Some(w) = &r.when {
                    let t = lookup(rec, w).and_then(text).unwrap_or_default();
                    if !r.is.is_empty() && !r.is.contains(&t) {
                        return None;
                    }
                    if r.is_not.contains(&t) {
                        return None;
                    }
                }
                let from = r.from.as_slice();
                match &r.join {
                    Some(sep) => {
                        let parts: Vec<String> = from
                            .iter()
                            .map(|p| lookup(rec, p).and_then(text).unwrap_or_default())
                            .collect();
                        if parts.iter().all(String::is_empty) {
                            None
                        } else {
                            Some(Resolved::Text(parts.join(sep)))
                        }
                    }
                    None => first_of(rec, from).map(Resolved::Value),
                }
            }
        }
    }
}

/// The first pointer's value that is a scalar (a name given as a string at
/// one site and as a translation list at another), else the first present.
fn first_of<'a>(rec: &'a Value, ptrs: &[String]) -> Option<&'a Value> {
    let found: Vec<&Value> = ptrs.iter().filter_map(|p| lookup(rec, p)).collect();
    found
        .iter()
        .find(|v| !v.is_array() && !v.is_object())
        .or(found.first())
        .copied()
}

/// A resolved value: a part of the record, or text made from several.
#[derive(Debug, PartialEq)]
pub enum Resolved<'a> {
    Value(&'a Value),
    Text(String),
}

impl Resolved<'_> {
    pub fn text(&self) -> Option<String> {
        match self {
            Resolved::Value(v) => text(v),
            Resolved::Text(t) => Some(t.clone()),
        }
    }
    pub fn value(&self) -> Value {
        match self {
            Resolved::Value(v) => (*v).clone(),
            Resolved::Text(t) => Value::String(t.clone()),
        }
    }
}

/// The value at `ptr`: JSON pointer segments, where a segment `[k=v]` on a
/// list selects its first element whose member `k` reads `v`. Null and
/// empty (or blank) strings are absent.
pub fn lookup<'a>(rec: &'a Value, ptr: &str) -> Option<&'a Value> {
    let mut cur = rec;
    for raw in ptr.split('/').skip(1) {
        cur = if let Some(filter) = raw.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let (k, v) = filter.split_once('=')?;
            cur.as_array()?
                .iter()
                .find(|item| item.get(k).and_then(text).as_deref() == Some(v))?
        } else {
            let seg = raw.replace("~1", "/").replace("~0", "~");
            match cur {
                Value::Object(m) => m.get(&seg)?,
                Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            }
        };
    }
    match cur {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        // The .NET default date, written for "unset".
        Value::String(s) if s.starts_with("0001-01-01") => None,
        v => Some(v),
    }
}

/// A scalar as text: strings as they are, numbers and booleans written out.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> Spec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_list_element_is_picked_by_its_member() {
        let rec = json!({"sector": {"name": [
            {"languageId": 46, "name": "Road"},
            {"languageId": 228, "name": "Đường bộ"}
        ]}});
        assert_eq!(
            lookup(&rec, "/sector/name/[languageId=228]/name"),
            Some(&json!("Đường bộ"))
        );
        assert_eq!(lookup(&rec, "/sector/name/0/name"), Some(&json!("Road")));
        assert_eq!(lookup(&rec, "/sector/name/[languageId=1]/name"), None);
    }

    #[test]
    fn empty_strings_and_nulls_are_absent() {
        let rec = json!({"a": "", "b": null, "c": "  ", "d": "x", "e": "0001-01-01T00:00:00"});
        for p in ["/a", "/b", "/c", "/e", "/missing"] {
            assert_eq!(lookup(&rec, p), None, "{p}");
        }
        let first = spec(json!(["/a", "/b", "/e", "/d"]));
        assert_eq!(first.get(&rec).and_then(|r| r.text()), Some("x".into()));
    }

    #[test]
    fn conditions_joins_and_switching_off() {
        let task = json!({"isCurrent": 0, "updatedDate": "T1", "s": "processing", "l": "PAUSE"});
        let end = spec(json!({"from": "/updatedDate", "when": "/isCurrent", "is": ["0"]}));
        assert_eq!(end.get(&task).and_then(|r| r.text()), Some("T1".into()));
        let running = json!({"isCurrent": 1, "updatedDate": "T1"});
        assert_eq!(end.get(&running), None);
        let joined = spec(json!({"from": ["/s", "/l"], "join": "+"}));
        assert_eq!(
            joined.get(&task).and_then(|r| r.text()),
            Some("processing+PAUSE".into())
        );
        assert_eq!(spec(json!(false)).get(&task), None);
        assert!(spec(json!("")).problem().unwrap().contains("false"));
        assert!(
            spec(json!("code"))
                .problem()
                .unwrap()
                .contains("must start with /")
        );
        assert_eq!(spec(json!("/code")).problem(), None);
    }
}
