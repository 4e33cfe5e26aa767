//! Follow-up requests: what a real system's list leaves out is asked for
//! separately, and cached. A dossier's detail (one-door: its field and finish
//! time; OpenCPS: its last-change time) is fetched when its list record is
//! new or changed, and kept keyed by that record's content; a catalogue
//! (procedure → field, field code → name) is read whole and again after its
//! `refresh_hours`. The replies are laid into the record under `$detail` and
//! `$catalog/NAME`, where the mapping's pointers read them.

use super::mapping::{Catalog, Detail, Paging, lookup, text};
use super::record::{map_value, nfc_value};
use super::rest::RestSource;
use super::{Page, PageRecords, Parsed, SourceError};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// Each catalogue's entries by key.
pub(super) type Catalogs = BTreeMap<String, HashMap<String, Value>>;

/// The most pages one catalogue is read to (a province's procedure list is
/// a few thousand entries).
const MAX_CATALOG_PAGES: u64 = 200;

const DETAIL: &str = "detail";
/// A cached detail the source refused: `{"$refused": "why"}`.
const REFUSED: &str = "$refused";
/// Details in a row that fail after their retries before the poll stops:
/// one dossier the source cannot show is left out, a source down is not.
const MAX_FAILING_DETAILS: u32 = 3;

impl RestSource {
    /// The page's records with their follow-up replies laid in, mapped.
    pub(super) async fn follow_up(&mut self, page: Page) -> Result<Page, SourceError> {
        let records = page.records.wait(&self.name).await?;
        let (mut pending, mut at) = (Vec::new(), Vec::new());
        let mut out: Vec<Option<Parsed>> = Vec::with_capacity(records.len());
        for r in records {
            match r {
                Parsed::Pending(v) => {
                    at.push(out.len());
                    out.push(None);
                    pending.push(*v);
                }
                other => out.push(Some(other)),
            }
        }
        let warnings = self.augment(&mut pending).await?;
        for ((rec, warning), i) in pending.into_iter().zip(warnings).zip(at) {
            let mut parsed = map_value(&self.mapping, rec);
            if let (Some(w), Parsed::Dossier(_, warnings)) = (warning, &mut parsed) {
                warnings.push(w);
            }
            out[i] = Some(parsed);
        }
        Ok(Page {
            records: PageRecords::ready(out.into_iter().flatten().collect()),
            ..page
        })
    }

    /// Lays each record's follow-up replies into it (`$detail`,
    /// `$catalog/NAME`); per record, a warning when its detail could not be read.
    pub(super) async fn augment(
        &mut self,
        records: &mut [Value],
    ) -> Result<Vec<Option<String>>, SourceError> {
        if self.catalogs.is_none() {
            let loaded = self.load_catalogs().await?;
            self.catalogs = Some(std::sync::Arc::new(loaded));
        }
        let details = match self.mapping.detail.clone() {
            Some(d) => {
                // Another committee's dossiers need no detail: they are skipped.
                let refs: Vec<&Value> = records.iter().filter(|r| self.is_ours(r)).collect();
                self.details(&d, &refs).await?
            }
            None => HashMap::new(),
        };
        let catalogs = self.catalogs.clone().unwrap_or_default();
        let mut warnings = Vec::with_capacity(records.len());
        for rec in records.iter_mut() {
            let mut warning = None;
            if let Some(d) = &self.mapping.detail {
                let key = lookup(rec, &d.key).and_then(text).unwrap_or_default();
                match details.get(&key) {
                    Some(Ok(reply)) => set(rec, "$detail", reply.clone()),
                    Some(Err(e)) => warning = Some(format!("detail not read: {e}")),
                    None => {}
                }
            }
            lay_catalogs(rec, &self.mapping.catalogs, &catalogs);
            warnings.push(warning);
        }
        Ok(warnings)
    }

    /// Whether a list record may be this committee's (`agencies`), as far as
    /// the list tells (a unit read from the detail cannot be judged yet).
    fn is_ours(&self, rec: &Value) -> bool {
        let m = &self.mapping;
        if m.agencies.is_empty() {
            return true;
        }
        let Some(spec) = m.fields.get("unit_code") else {
            return true;
        };
        if spec.pointers().iter().any(|p| p.starts_with("/$")) {
            return true;
        }
        let unit = spec.get(rec).and_then(|r| r.text()).unwrap_or_default();
        m.agencies.contains(&unit)
    }

    /// Each record's detail reply by the record's key: from the cache when
    /// the list record did not change (a refusal for a day), else asked for
    /// (and cached). A detail the source refuses (a per-dossier permission)
    /// or cannot give (an error each retry) is left out for that record
    /// alone; refused credentials, or several details in a row failing,
    /// fail the poll.
    async fn details(
        &mut self,
        d: &Detail,
        records: &[&Value],
    ) -> Result<HashMap<String, Result<Value, String>>, SourceError> {
        // The stamp covers the list record and the detail's settings: a
        // corrected `[detail]` asks again.
        let settings = serde_json::to_string(d).unwrap_or_default();
        let wanted: Vec<(String, String, &Value)> = records
            .iter()
            .filter_map(|r| {
                let key = lookup(r, &d.key).and_then(text)?;
                Some((key, stamp(r, &d.ignore, &settings), *r))
            })
            .collect();
        let keys: Vec<String> = wanted.iter().map(|(k, _, _)| k.clone()).collect();
        let (cached, now) = match &self.cache {
            Some((store, clock)) => (
                store
                    .cache_get(&self.name, DETAIL, &keys)
                    .await
                    .map_err(|e| self.cache_error(e))?,
                Some(clock.now_vn()),
            ),
            None => (HashMap::new(), None),
        };
        let mut out = HashMap::new();
        let mut fresh = Vec::new();
        let mut failing_in_a_row = 0;
        for (key, stamp, rec) in wanted {
            if let Some(c) = cached.get(&key).filter(|c| c.stamp == stamp)
                && let Ok(v) = serde_json::from_str::<Value>(&c.body)
            {
                let got = match v.get(REFUSED).and_then(Value::as_str) {
                    // A refusal is remembered for a day (permissions change).
                    Some(_)
                        if now.is_some_and(|n| n - c.fetched_at > chrono::Duration::hours(24)) =>
                    {
                        None
                    }
                    Some(e) => Some(Err(e.to_owned())),
                    None => Some(Ok(v)),
                };
                if let Some(got) = got {
                    out.insert(key, got);
                    continue;
                }
            }
            let path = template(&d.path, rec, true);
            let query: Vec<(String, String)> = d
                .query
                .iter()
                .map(|(k, v)| (k.clone(), template(v, rec, false)))
                .collect();
            let refused = |e: String| serde_json::json!({ REFUSED: e }).to_string();
            match self.get_json(&path, &query).await {
                Ok(mut reply) => {
                    failing_in_a_row = 0;
                    nfc_value(&mut reply);
                    let part = if d.record.is_empty() {
                        Some(reply)
                    } else {
                        lookup(&reply, &d.record).cloned()
                    };
                    match part {
                        Some(v) => {
                            fresh.push((key.clone(), stamp, v.to_string()));
                            out.insert(key, Ok(v));
                        }
                        None => {
                            let e = format!("the reply of {path} has nothing at {}", d.record);
                            fresh.push((key.clone(), stamp, refused(e.clone())));
                            out.insert(key, Err(e));
                        }
                    }
                }
                // Refused for this dossier alone (403, 404).
                Err(SourceError::Unauthorized { status: 403, .. }) => {
                    failing_in_a_row = 0;
                    let e = "the source refused it (HTTP 403): the account may not read this dossier's detail".to_owned();
                    fresh.push((key.clone(), stamp, refused(e.clone())));
                    out.insert(key, Err(e));
                }
                Err(SourceError::Rejected { message, .. }) => {
                    failing_in_a_row = 0;
                    let e = format!("{path}: {message}");
                    fresh.push((key.clone(), stamp, refused(e.clone())));
                    out.insert(key, Err(e));
                }
                // An error at the source for this one detail, retried: left
                // out (not cached), unless the source seems down.
                Err(e) if e.is_transient() => {
                    failing_in_a_row += 1;
                    if failing_in_a_row >= MAX_FAILING_DETAILS {
                        self.save_details(&fresh).await?;
                        return Err(SourceError::Transient {
                            source_name: self.name.clone(),
                            message: format!(
                                "{MAX_FAILING_DETAILS} dossier details in a row could not be read, the last {path} (dossier {key}): {e}"
                            ),
                        });
                    }
                    out.insert(key, Err(format!("{path}: {e}")));
                }
                // Credentials refused even after a fresh login (401, or
                // OpenCPS's 203): the poll fails, nothing is cached.
                Err(e) => {
                    self.save_details(&fresh).await?;
                    return Err(e);
                }
            }
        }
        self.save_details(&fresh).await?;
        Ok(out)
    }

    async fn save_details(&self, fresh: &[(String, String, String)]) -> Result<(), SourceError> {
        if let Some((store, clock)) = &self.cache
            && !fresh.is_empty()
        {
            store
                .cache_put(&self.name, DETAIL, fresh, clock.now_vn())
                .await
                .map_err(|e| self.cache_error(e))?;
        }
        Ok(())
    }

    /// Every catalogue: from the cache while younger than its
    /// `refresh_hours`, else read whole from the source (and cached). A
    /// catalogue the source does not give leaves its pointers empty, said in
    /// the log: the dossiers are still stored.
    async fn load_catalogs(&mut self) -> Result<Catalogs, SourceError> {
        let mut out = Catalogs::new();
        for (name, c) in self.mapping.catalogs.clone() {
            let kind = format!("catalog:{name}");
            if let Some((store, clock)) = &self.cache {
                let oldest = store
                    .cache_oldest(&self.name, &kind)
                    .await
                    .map_err(|e| self.cache_error(e))?;
                let age = oldest.map(|t| clock.now_vn() - t);
                if age.is_some_and(|a| a < chrono::Duration::hours(i64::from(c.refresh_hours))) {
                    let entries = store
                        .cache_all(&self.name, &kind)
                        .await
                        .map_err(|e| self.cache_error(e))?;
                    let map = entries
                        .into_iter()
                        .filter_map(|(k, e)| Some((k, serde_json::from_str(&e.body).ok()?)))
                        .collect();
                    out.insert(name, map);
                    continue;
                }
            }
            match self.read_catalog(&c).await {
                Ok(map) => {
                    if let Some((store, clock)) = &self.cache {
                        let entries: Vec<(String, String, String)> = map
                            .iter()
                            .map(|(k, v)| (k.clone(), String::new(), v.to_string()))
                            .collect();
                        store
                            .cache_replace_kind(&self.name, &kind, &entries, clock.now_vn())
                            .await
                            .map_err(|e| self.cache_error(e))?;
                    }
                    out.insert(name, map);
                }
                Err(e) if !e.is_transient() => {
                    tracing::warn!(source = %self.name, catalog = %name, error = %e, "catalogue not read; its values stay empty");
                    out.insert(name, HashMap::new());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// One catalogue, page by page with the list's paging parameters.
    async fn read_catalog(&mut self, c: &Catalog) -> Result<HashMap<String, Value>, SourceError> {
        let size = u64::from(self.settings_page_size());
        let mut map = HashMap::new();
        for n in 0..MAX_CATALOG_PAGES {
            let mut query: Vec<(String, String)> = c
                .query
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            // A keyset source's catalogue is read in one request.
            query.extend(
                self.mapping
                    .paging
                    .page_params(n, size)
                    .into_iter()
                    .flatten(),
            );
            let mut reply = self.get_json(&c.path, &query).await?;
            nfc_value(&mut reply);
            let items = lookup(&reply, &c.items)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            // Until a page brings nothing new: a server may cap the page
            // size below the one asked for, so a short page is no end.
            let before = map.len();
            for item in items {
                if let Some(k) = lookup(&item, &c.key).and_then(text) {
                    map.insert(k, item);
                }
            }
            if map.len() == before || matches!(self.mapping.paging, Paging::Keyset { .. }) {
                break;
            }
        }
        Ok(map)
    }

    fn cache_error(&self, e: crate::store::StoreError) -> SourceError {
        SourceError::Rejected {
            source_name: self.name.clone(),
            message: format!("the follow-up cache: {e}"),
        }
    }
}

/// Lays each catalogue's entry for the record under `$catalog/NAME`. A
/// catalogue may be matched through another (a field code found in the
/// procedure catalogue): passes repeat until nothing more is found.
fn lay_catalogs(rec: &mut Value, specs: &BTreeMap<String, Catalog>, catalogs: &Catalogs) {
    for _ in 0..specs.len() {
        let mut found = false;
        for (name, c) in specs {
            if rec.pointer(&format!("/$catalog/{name}")).is_some() {
                continue;
            }
            let entry = c
                .matches
                .iter()
                .filter_map(|p| lookup(rec, p).and_then(text))
                .find_map(|k| catalogs.get(name)?.get(&k));
            if let Some(e) = entry {
                let e = e.clone();
                if rec.get("$catalog").is_none() {
                    set(rec, "$catalog", Value::Object(Default::default()));
                }
                if let Some(Value::Object(m)) = rec.get_mut("$catalog") {
                    m.insert(name.clone(), e);
                }
                found = true;
            }
        }
        if !found {
            break;
        }
    }
}

fn set(rec: &mut Value, key: &str, v: Value) {
    if let Value::Object(m) = rec {
        m.insert(key.to_owned(), v);
    }
}

/// The list record's content without its `ignore`d members: what decides
/// whether its detail is asked again.
fn stamp(rec: &Value, ignore: &[String], settings: &str) -> String {
    let mut r = rec.clone();
    if let Value::Object(m) = &mut r {
        for k in ignore {
            m.remove(k.trim_start_matches('/'));
        }
    }
    let mut h = Sha256::new();
    h.update(settings.as_bytes());
    h.update([0]);
    h.update(r.to_string().as_bytes());
    format!("{:x}", h.finalize())
}

/// `{/pointer}` in `t` replaced by the record's value there (percent-encoded
/// in a path).
fn template(t: &str, rec: &Value, in_path: bool) -> String {
    let mut out = String::new();
    let mut rest = t;
    while let Some(start) = rest.find("{/") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let ptr = &rest[start + 1..start + len];
        let v = lookup(rec, ptr).and_then(text).unwrap_or_default();
        if in_path {
            out.extend(url::form_urlencoded::byte_serialize(v.as_bytes()));
        } else {
            out.push_str(&v);
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_take_the_records_values() {
        let rec = json!({"dossierId": 101201, "id": "a b"});
        assert_eq!(
            template("/o/rest/v2/dossiers/{/dossierId}", &rec, true),
            "/o/rest/v2/dossiers/101201"
        );
        assert_eq!(template("{/id}", &rec, false), "a b");
        assert_eq!(template("/x/{/id}", &rec, true), "/x/a+b");
    }

    #[test]
    fn catalogues_chain_through_each_other() {
        let specs: BTreeMap<String, Catalog> = serde_json::from_value(json!({
            "fields": {"path": "/f", "key": "/ma", "matches": ["/$detail/maLinhVuc", "/$catalog/procedures/maLinhVucChinh"]},
            "procedures": {"path": "/p", "key": "/maTTHC", "matches": ["/maTTHC"]}
        }))
        .unwrap();
        let mut catalogs = Catalogs::new();
        catalogs.insert(
            "procedures".into(),
            [("1.999001".to_owned(), json!({"maLinhVucChinh": "HT"}))].into(),
        );
        catalogs.insert(
            "fields".into(),
            [("HT".to_owned(), json!({"ten": "Hộ tịch"}))].into(),
        );
        let mut rec = json!({"maTTHC": "1.999001"});
        lay_catalogs(&mut rec, &specs, &catalogs);
        assert_eq!(rec.pointer("/$catalog/fields/ten"), Some(&json!("Hộ tịch")));
    }

    #[test]
    fn ignored_members_do_not_change_the_stamp() {
        let a = json!({"x": 1, "stepDuedate": "a"});
        let b = json!({"x": 1, "stepDuedate": "b"});
        let ignore = vec!["/stepDuedate".to_owned()];
        assert_eq!(stamp(&a, &ignore, "d"), stamp(&b, &ignore, "d"));
        assert_ne!(stamp(&a, &[], "d"), stamp(&b, &[], "d"));
        // A corrected `[detail]` asks again.
        assert_ne!(stamp(&a, &ignore, "d"), stamp(&a, &ignore, "e"));
    }
}
