//! The REST connector: one HTTP client per source, with its authentication
//! (refreshed before it expires), retries with backoff on transient errors, and
//! the source's field mapping.

use super::mapping::{Mapping, Paging};
use super::record::{not_utf8, parse_record};
use super::{Cursor, Page, PageRecords, Parsed, SourceError};
use crate::source::{AuthSettings, SourceSettings};
use crate::store::QuarantineRecord;
use reqwest::StatusCode;
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct RestSource {
    pub name: String,
    settings: SourceSettings,
    /// Shared with the blocking thread that parses pages.
    pub mapping: Arc<Mapping>,
    client: reqwest::Client,
    session: Option<(String, Instant)>,
    /// First retry delay; doubles up to `MAX_BACKOFF`.
    pub retry_base: Duration,
    /// How many transient failures this source met (reported in the sync summary).
    pub retries: u64,
    /// The earliest receipt date asked for (a windowed poll), or None.
    pub window_from: Option<chrono::NaiveDate>,
    /// Where follow-up replies are cached (none: kept for this poll only).
    pub(super) cache: Option<(crate::store::Store, crate::clock::Clock)>,
    /// Catalogues, read once per poll (from the cache while fresh).
    pub(super) catalogs: Option<Arc<BTreeMap<String, HashMap<String, Value>>>>,
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The most a page's announced `Content-Length` reserves up front (a wrong
/// header must not make the sync allocate gigabytes before reading a byte).
const MAX_SIZE_HINT: u64 = 64 << 20;
/// The largest page read (a page of 1,000 dossiers is ~1.6 MB): a source
/// that sends more is refused rather than let fill the memory.
const MAX_PAGE_BYTES: usize = 128 << 20;
/// How much of an error answer's body is kept (in the log and the source's
/// last error): a 2 MB HTML error page was stored whole on every poll.
const MAX_ERROR_BODY_CHARS: usize = 300;

/// The start of an error answer's body, on one line, cut with a mark.
fn error_excerpt(body: &str) -> String {
    let one_line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MAX_ERROR_BODY_CHARS) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

impl RestSource {
    pub fn new(name: &str, settings: &SourceSettings) -> Result<RestSource, SourceError> {
        let mapping = Mapping::from_settings(settings).map_err(|e| SourceError::Config {
            source_name: name.to_owned(),
            message: format!("sources.{name}.mapping: {e}"),
        })?;
        // A redirect to another host is not followed: reqwest drops
        // `Authorization` there but would send the custom headers (`Token`,
        // `groupId`, a key) to whoever the source points at.
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first().map(|u| {
                (
                    u.scheme().to_owned(),
                    u.host_str().map(str::to_owned),
                    u.port_or_known_default(),
                )
            });
            let here = (
                attempt.url().scheme().to_owned(),
                attempt.url().host_str().map(str::to_owned),
                attempt.url().port_or_known_default(),
            );
            if attempt.previous().len() > 5 {
                attempt.error("more than 5 redirects")
            } else if first.is_some_and(|f| f != here) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let client = reqwest::Client::builder()
            .redirect(redirects)
            .timeout(Duration::from_secs(settings.timeout_secs))
            .connect_timeout(Duration::from_secs(settings.timeout_secs.min(10)))
            .user_agent(concat!("tthc-watch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SourceError::Config {
                source_name: name.to_owned(),
                message: e.to_string(),
            })?;
        Ok(RestSource {
            name: name.to_owned(),
            settings: settings.clone(),
            mapping: Arc::new(mapping),
            client,
            session: None,
            retry_base: Duration::from_millis(200),
            retries: 0,
            window_from: None,
            cache: None,
            catalogs: None,
        })
    }

    /// Follow-up replies (details, catalogues) are cached in `store`, so a
    /// dossier's detail is asked again only when its list record changed.
    pub fn with_cache(mut self, store: crate::store::Store, clock: crate::clock::Clock) -> Self {
        self.cache = Some((store, clock));
        self
    }

    pub(super) fn settings_page_size(&self) -> u32 {
        self.settings.page_size
    }

    /// The source's URL with `path` appended to its path; a query in the
    /// configured URL (some systems take a key there) stays a query.
    fn url(&self, path: &str) -> String {
        let base = &self.settings.url;
        match url::Url::parse(base) {
            Ok(mut u) => {
                let joined = format!("{}{path}", u.path().trim_end_matches('/'));
                u.set_path(&joined);
                u.to_string()
            }
            Err(_) => format!("{}{path}", base.trim_end_matches('/')),
        }
    }

    /// A session token, fetched or refreshed when less than a fifth of its life is left.
    async fn session_token(&mut self, force: bool) -> Result<Option<String>, SourceError> {
        let AuthSettings::TokenEndpoint {
            token_url,
            form,
            json,
            token_pointer,
            expires_pointer,
            lifetime_secs,
        } = &self.settings.auth
        else {
            return Ok(None);
        };
        if let Some((t, exp)) = &self.session
            && !force
            && *exp > Instant::now()
        {
            return Ok(Some(t.clone()));
        }
        // A path is on the source's own address (one-door `/api/tokens`).
        let token_url = if token_url.starts_with('/') {
            self.url(token_url)
        } else {
            token_url.clone()
        };
        let req = self.client.post(&token_url);
        let req = match json {
            Some(j) => req.json(j),
            None => req.form(form),
        };
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport("token request", e))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| self.transport("token response", e))?;
        let shown = crate::redact::redact_url(&token_url);
        if !status.is_success() {
            return Err(SourceError::Auth {
                source_name: self.name.clone(),
                message: format!(
                    "token endpoint {shown} answered {status}: {}",
                    error_excerpt(&text)
                ),
            });
        }
        let body: Value = serde_json::from_str(&text).map_err(|e| SourceError::Auth {
            source_name: self.name.clone(),
            message: format!("token endpoint {shown} did not answer JSON: {e}"),
        })?;
        let pointers: Vec<&str> = match token_pointer {
            Some(p) => vec![p.as_str()],
            None => vec!["/access_token", "/token", "/data/token"],
        };
        let token = pointers
            .iter()
            .find_map(|p| body.pointer(p).and_then(Value::as_str))
            .ok_or_else(|| SourceError::Auth {
                source_name: self.name.clone(),
                message: format!(
                    "token endpoint reply has no token at {}; set sources.{}.auth.token_pointer",
                    pointers.join(" or "),
                    self.name
                ),
            })?;
        let ttl = body
            .pointer(expires_pointer)
            .and_then(Value::as_f64)
            .unwrap_or(*lifetime_secs as f64);
        // Refresh once four fifths of the lifetime have passed.
        let refresh_in = Duration::from_secs_f64((ttl * 0.8).max(0.0));
        self.session = Some((token.to_owned(), Instant::now() + refresh_in));
        Ok(Some(token.to_owned()))
    }

    fn transport(&self, what: &str, e: reqwest::Error) -> SourceError {
        SourceError::Transient {
            source_name: self.name.clone(),
            message: format!("{what}: {e}"),
        }
    }

    /// One GET of `path` on the source, authenticated, its body read whole
    /// (up to `MAX_PAGE_BYTES`); error answers become the matching error.
    async fn get_once(
        &mut self,
        path: &str,
        query: &[(String, String)],
        force_auth: bool,
    ) -> Result<bytes::Bytes, SourceError> {
        let session = self.session_token(force_auth).await?;
        let mut req = self.client.get(self.url(path)).query(query);
        match (&self.settings.auth, session) {
            (_, Some(t)) => req = req.bearer_auth(t),
            (AuthSettings::Bearer { token }, None) => req = req.bearer_auth(token),
            (AuthSettings::Headers { headers }, None) => {
                for (k, v) in headers {
                    req = req.header(k, v);
                }
            }
            (
                AuthSettings::Basic {
                    user,
                    password,
                    headers,
                },
                None,
            ) => {
                req = req.basic_auth(user, Some(password));
                for (k, v) in headers {
                    req = req.header(k, v);
                }
            }
            _ => {}
        }
        let mut resp = req.send().await.map_err(|e| self.transport("request", e))?;
        let status = resp.status();
        // OpenCPS answers a request it did not authenticate 203 with a body.
        if status == StatusCode::UNAUTHORIZED
            || status == StatusCode::FORBIDDEN
            || status == StatusCode::NON_AUTHORITATIVE_INFORMATION
        {
            return Err(SourceError::Unauthorized {
                source_name: self.name.clone(),
                status: status.as_u16(),
            });
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1);
            return Err(SourceError::RateLimited {
                source_name: self.name.clone(),
                retry_after: Duration::from_secs(wait.min(60)),
            });
        }
        if status.is_server_error() {
            return Err(SourceError::Transient {
                source_name: self.name.clone(),
                message: format!("server answered {status}"),
            });
        }
        if status.is_redirection() {
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(crate::redact::redact_url)
                .unwrap_or_default();
            return Err(SourceError::Rejected {
                source_name: self.name.clone(),
                message: format!(
                    "the source redirects to another address ({to}), not followed so that its credentials go nowhere else; set sources.{}.url to it if it is the source's new address",
                    self.name
                ),
            });
        }
        if !status.is_success() {
            // Only the start of the body is read (and kept).
            let mut start = Vec::new();
            while start.len() < 16 * 1024
                && let Ok(Some(chunk)) = resp.chunk().await
            {
                start.extend_from_slice(&chunk);
            }
            return Err(SourceError::Rejected {
                source_name: self.name.clone(),
                message: format!(
                    "server answered {status}: {}",
                    error_excerpt(&String::from_utf8_lossy(&start))
                ),
            });
        }
        // Read into one buffer of the announced size: `bytes()` grew its
        // buffer by doubling, copying a 1.6 MB page about twice and faulting
        // in fresh memory each time (3% of a 1M initial sync's samples). The
        // size is only a hint: a body longer or shorter still reads whole.
        let hint = resp.content_length().unwrap_or(0).min(MAX_SIZE_HINT) as usize;
        let mut body = Vec::with_capacity(hint);
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.transport("reading the page", e))?
        {
            if body.len() + chunk.len() > MAX_PAGE_BYTES {
                return Err(SourceError::Rejected {
                    source_name: self.name.clone(),
                    message: format!(
                        "a page is larger than {} MiB; lower sources.{}.page_size",
                        MAX_PAGE_BYTES >> 20,
                        self.name
                    ),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.into())
    }

    /// GET `path` and hand the body to `parse`, with retries: transient
    /// errors (a cut-off page among them) back off exponentially, 429 waits
    /// as told, a refused session token logs in again once.
    pub(super) async fn get_with<T, F>(
        &mut self,
        path: &str,
        query: &[(String, String)],
        parse: F,
    ) -> Result<T, SourceError>
    where
        F: AsyncFn(&Self, bytes::Bytes) -> Result<T, SourceError>,
    {
        let mut attempt = 0u32;
        let mut reauthed = false;
        loop {
            let got = match self.get_once(path, query, false).await {
                Ok(body) => parse(self, body).await,
                Err(e) => Err(e),
            };
            match got {
                Ok(p) => return Ok(p),
                // 401: the session expired. (403 is a refusal of this one
                // thing, e.g. a dossier's detail the account may not see.)
                Err(SourceError::Unauthorized { status: 401, .. })
                    if !reauthed
                        && matches!(self.settings.auth, AuthSettings::TokenEndpoint { .. }) =>
                {
                    reauthed = true;
                    self.session = None;
                    tracing::info!(source = %self.name, "session token rejected; logging in again");
                }
                Err(e) if e.is_transient() && attempt < self.settings.max_retries => {
                    attempt += 1;
                    self.retries += 1;
                    let wait = match &e {
                        SourceError::RateLimited { retry_after, .. } => *retry_after,
                        _ => (self.retry_base * 2u32.saturating_pow(attempt - 1)).min(MAX_BACKOFF),
                    };
                    tracing::warn!(source = %self.name, attempt, wait_ms = wait.as_millis() as u64, error = %e, "transient error; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A follow-up JSON document (a dossier's detail, a catalogue page).
    pub(super) async fn get_json(
        &mut self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Value, SourceError> {
        self.get_with(path, query, async |s: &Self, body: bytes::Bytes| {
            serde_json::from_slice(&body).map_err(|e| SourceError::Transient {
                source_name: s.name.clone(),
                message: format!("{path}: reply is not valid JSON ({e})"),
            })
        })
        .await
    }

    /// The query of the list page at `cursor`.
    pub(super) fn page_query(&self, cursor: &Cursor) -> Result<Vec<(String, String)>, SourceError> {
        let size = self.settings.page_size as u64;
        let mut query: Vec<(String, String)> = self
            .mapping
            .query
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let params = match (&self.mapping.paging, cursor) {
            (
                Paging::Keyset {
                    cursor_param,
                    limit_param,
                    ..
                },
                Cursor::Revision(r),
            ) => Some([
                (cursor_param.clone(), r.to_string()),
                (limit_param.clone(), size.to_string()),
            ]),
            (paging, Cursor::Page(n)) => paging.page_params(*n, size),
            _ => None,
        }
        .ok_or_else(|| SourceError::Config {
            source_name: self.name.clone(),
            message: "paging kind does not match the stored watermark".into(),
        })?;
        query.extend(params);
        // One agency of a province-wide system: the source filters itself
        // (the mapping still checks each record).
        if let (Some(p), [agency]) = (&self.mapping.agency_param, self.mapping.agencies.as_slice())
        {
            query.push((p.clone(), agency.clone()));
        }
        if let Some(from) = self.window_from
            && let Some(w) = &self.mapping.polling.window
        {
            query.push((w.param.clone(), from.format(&w.format).to_string()));
        }
        Ok(query)
    }

    /// Fetches one page at `cursor`.
    pub async fn fetch(&mut self, cursor: &Cursor) -> Result<Page, SourceError> {
        let query = self.page_query(cursor)?;
        let path = self.mapping.list_path.clone();
        let page = self
            .get_with(&path, &query, async |s: &Self, body: bytes::Bytes| {
                s.parse(body, cursor).await
            })
            .await?;
        if self.mapping.has_follow_ups() {
            return self.follow_up(page).await;
        }
        Ok(page)
    }

    /// Parsing is the CPU-heavy part of a sync: it runs on blocking threads,
    /// beside the database writing the previous page. Only the page's
    /// outline (the cursor to the next page) is awaited here; its records are
    /// parsed while the next page is fetched.
    async fn parse(&self, body: bytes::Bytes, cursor: &Cursor) -> Result<Page, SourceError> {
        let mapping = Arc::clone(&self.mapping);
        let name = self.name.clone();
        let cursor = cursor.clone();
        tokio::task::spawn_blocking(move || parse_page(mapping, &name, body, &cursor))
            .await
            .map_err(|e| SourceError::Rejected {
                source_name: self.name.clone(),
                message: format!("parsing a page failed: {e}"),
            })?
    }
}

/// The value at a JSON pointer, found without building the values around it;
/// `root` is the page's top-level object, already split into its members.
fn pointer<'a>(
    root: &HashMap<String, &'a RawValue>,
    whole: Option<&'a RawValue>,
    ptr: &str,
) -> Option<&'a RawValue> {
    let mut segs = ptr
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"));
    let Some(first) = segs.next() else {
        return whole;
    };
    let mut cur = *root.get(&first)?;
    for seg in segs {
        cur = match serde_json::from_str::<HashMap<String, &'a RawValue>>(cur.get()) {
            Ok(mut map) => map.remove(&seg)?,
            Err(_) => {
                let list = serde_json::from_str::<Vec<&'a RawValue>>(cur.get()).ok()?;
                *list.get(seg.parse::<usize>().ok()?)?
            }
        };
    }
    Some(cur)
}

/// A page's top-level members, its record array split into records in the
/// same pass: the page is skimmed once before its records are parsed.
struct Outline<'a> {
    members: HashMap<String, &'a RawValue>,
    items: Vec<&'a RawValue>,
}

impl<'a> Outline<'a> {
    /// None unless the page is an object with an array at `items`, a
    /// pointer to one of its members.
    fn read(text: &'a str, items: &str) -> Option<Self> {
        let key = items
            .strip_prefix('/')
            .filter(|k| !k.contains(['/', '~']))?;
        let mut de = serde_json::Deserializer::from_str(text);
        let outline = serde::de::DeserializeSeed::deserialize(OutlineSeed(key), &mut de).ok()?;
        de.end().ok()?;
        outline
    }
}

struct OutlineSeed<'k>(&'k str);

impl<'de> serde::de::DeserializeSeed<'de> for OutlineSeed<'_> {
    type Value = Option<Outline<'de>>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for OutlineSeed<'_> {
    type Value = Option<Outline<'de>>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut members, mut items) = (HashMap::new(), None);
        while let Some(key) = map.next_key::<String>()? {
            if key == self.0 {
                // `null` where the records should be: an empty page (one-door
                // answers a page past the end with `data: null`).
                items = Some(
                    map.next_value::<Option<Vec<&'de RawValue>>>()?
                        .unwrap_or_default(),
                );
            } else {
                members.insert(key, map.next_value::<&'de RawValue>()?);
            }
        }
        Ok(items.map(|items| Outline { members, items }))
    }
}

/// One page's records and where to read next.
fn parse_page(
    mapping: Arc<Mapping>,
    name: &str,
    body: bytes::Bytes,
    cursor: &Cursor,
) -> Result<Page, SourceError> {
    let rejected = |message: String| SourceError::Rejected {
        source_name: name.to_owned(),
        message,
    };
    let transient = |message: String| SourceError::Transient {
        source_name: name.to_owned(),
        message,
    };
    let len = body.len();
    // A page with bytes that are not UTF-8 (a record in a legacy TCVN3 or VNI
    // encoding) is read with those bytes replaced: the records that hold
    // them are quarantined, their neighbours stored. (A body cut off mid-way
    // is still caught below: it is not whole JSON.)
    let valid = simdutf8::basic::from_utf8(&body).ok();
    let lossy: Option<Arc<str>> = match valid {
        Some(_) => None,
        None => Some(String::from_utf8_lossy(&body).into()),
    };
    let text: &str = valid.or(lossy.as_deref()).unwrap_or_default();
    let not_json = |e: serde_json::Error| {
        transient(format!(
            "page is not valid JSON ({e}); {len} bytes received"
        ))
    };
    // One pass over the page finds its records when they are a top-level
    // member (every shape's are); otherwise, or when that member is no array,
    // the members are split first and the pointer followed.
    let (root, whole, items) = match Outline::read(text, &mapping.items) {
        Some(Outline { members, items }) => (members, None, items),
        None => {
            // Top-level members (a page that is a bare array has none).
            let (root, whole) = match serde_json::from_str(text) {
                Ok(root) => (root, None),
                Err(_) => (
                    HashMap::new(),
                    Some(serde_json::from_str::<&RawValue>(text).map_err(not_json)?),
                ),
            };
            let items: Vec<&RawValue> = pointer(&root, whole, &mapping.items)
                .and_then(|v| serde_json::from_str::<Option<Vec<&RawValue>>>(v.get()).ok())
                .ok_or_else(|| rejected(format!("page has no array at {}", mapping.items)))?
                .unwrap_or_default();
            (root, whole, items)
        }
    };
    // Where each record lies in the body, to parse them on another thread.
    let ranges: Vec<std::ops::Range<usize>> = items
        .iter()
        .map(|r| {
            let start = r.get().as_ptr() as usize - text.as_ptr() as usize;
            start..start + r.get().len()
        })
        .collect();
    let (next, more) = match (&mapping.paging, cursor) {
        (
            Paging::Keyset {
                next_cursor,
                has_more,
                ..
            },
            _,
        ) => {
            let next = pointer(&root, whole, next_cursor)
                .and_then(|v| serde_json::from_str::<u64>(v.get()).ok())
                .ok_or_else(|| rejected(format!("page has no number at {next_cursor}")))?;
            let more = pointer(&root, whole, has_more)
                .and_then(|v| serde_json::from_str::<bool>(v.get()).ok())
                .unwrap_or(false);
            (Cursor::Revision(next), more)
        }
        // Until an empty page: a server may cap the page size below the one
        // asked for, so a short page is no end.
        (_, Cursor::Page(n)) => (Cursor::Page(n + 1), !items.is_empty()),
        _ => (cursor.clone(), false),
    };
    let fetched = ranges.len() as u64;
    let records = PageRecords::parse(move || {
        ranges
            .into_iter()
            .map(|r| match &lossy {
                Some(l) if l[r.clone()].contains(char::REPLACEMENT_CHARACTER) => {
                    not_utf8(&mapping, &l[r])
                }
                Some(l) => parse_record(&mapping, &l[r]),
                None => match simdutf8::basic::from_utf8(&body[r]) {
                    Ok(raw) => parse_record(&mapping, raw),
                    // Checked with the whole page above; kept total all the same.
                    Err(e) => Parsed::Bad(QuarantineRecord {
                        code: None,
                        reason: format!("record is not valid UTF-8: {e}"),
                        raw: String::new(),
                    }),
                },
            })
            .collect()
    });
    Ok(Page {
        records,
        next,
        more,
        fetched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Shape;
    use serde_json::json;

    /// Tombstones and a bad record: parsed without a full dossier each.
    const RECORDS: &str =
        r#"[{"code":"A","deleted":true},{"code":"Bé","deleted":true},{"deleted":true}]"#;

    /// A page's records, next cursor and whether more follow, fetched at `at`.
    async fn parse(
        mapping: Value,
        body: impl Into<bytes::Bytes>,
        at: Cursor,
    ) -> Result<(Vec<Parsed>, Cursor, bool), SourceError> {
        let m = Arc::new(Mapping::resolve(Shape::Native, Some(&mapping)).unwrap());
        let page = parse_page(m, "s", body.into(), &at)?;
        Ok((page.records.wait("s").await?, page.next, page.more))
    }

    fn codes(records: &[Parsed]) -> Vec<String> {
        records
            .iter()
            .map(|r| match r {
                Parsed::Deleted(c) => c.clone(),
                Parsed::Bad(q) => format!("bad: {}", q.reason),
                Parsed::Dossier(d, _) => d.dossier.code.clone(),
                Parsed::Skipped(_, why) => format!("skipped: {why}"),
                Parsed::Pending(_) => "pending".into(),
            })
            .collect()
    }

    #[tokio::test]
    async fn records_are_found_wherever_the_pointer_says() {
        let want = ["A", "Bé", "bad: field code is missing or empty"];
        // A top-level member (every shape's): read in one pass.
        let (records, next, more) = parse(
            json!({}),
            format!(r#"{{"has_more":true,"items":{RECORDS},"next_rev":7}}"#),
            Cursor::Revision(0),
        )
        .await
        .unwrap();
        assert_eq!(codes(&records), want);
        assert_eq!((next, more), (Cursor::Revision(7), true));
        // Nested members, and a member not first.
        let nested = json!({"items": "/result/items", "paging": {"next_cursor": "/result/next", "has_more": "/result/more"}});
        let (records, next, more) = parse(
            nested,
            format!(r#"{{"result":{{"next":9,"items":{RECORDS},"more":false}}}}"#),
            Cursor::Revision(0),
        )
        .await
        .unwrap();
        assert_eq!(codes(&records), want);
        assert_eq!((next, more), (Cursor::Revision(9), false));
        // A page that is the array itself.
        let bare = json!({"items": "", "paging": {"kind": "page", "page_param": "p", "size_param": "n", "first_page": 1}});
        let (records, next, more) = parse(bare, RECORDS, Cursor::Page(0)).await.unwrap();
        assert_eq!(codes(&records), want);
        assert_eq!((next, more), (Cursor::Page(1), true));
    }

    #[tokio::test]
    async fn a_page_without_its_records_or_cut_off_says_so() {
        let e = parse(
            json!({}),
            r#"{"items":{"a":1},"next_rev":1}"#,
            Cursor::Revision(0),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&e, SourceError::Rejected { message, .. } if message == "page has no array at /items"),
            "{e}"
        );
        let cut = format!(r#"{{"items":{RECORDS},"next_rev":1}}"#);
        let e = parse(
            json!({}),
            cut[..cut.len() - 5].to_owned(),
            Cursor::Revision(0),
        )
        .await
        .unwrap_err();
        assert!(
            e.is_transient() && e.to_string().contains("not valid JSON"),
            "{e}"
        );
        // Cut inside a two-byte character: still a page cut off, asked again.
        let at = cut.find('é').unwrap() + 1;
        let body = bytes::Bytes::from(cut.into_bytes()).slice(..at);
        let e = parse(json!({}), body, Cursor::Revision(0))
            .await
            .unwrap_err();
        assert!(
            e.is_transient() && e.to_string().contains("not valid JSON"),
            "{e}"
        );
    }

    /// A whole native record, with `over` laid on top.
    fn record(code: &str, over: Value) -> String {
        let mut r = json!({
            "code": code, "procedure_code": null, "procedure_name": "Cấp phép xây dựng",
            "field_code": "XD", "field_name": "Xây dựng", "unit_code": "PKT", "unit_name": "Phòng Kinh tế",
            "officer": null, "applicant_name": "Nguyễn Văn An", "applicant_kind": "person",
            "applicant_id_no": null, "applicant_phone": null, "applicant_email": null, "summary": null,
            "channel": "online", "status": "processing", "submitted_at": null,
            "received_at": "2026-10-26T07:00:00", "due_at": "2026-11-20T17:00:00",
            "finished_at": null, "returned_at": null,
            "duration": {"unit": "working_days", "value": 20}, "pauses": [], "extension": null,
            "steps": [], "updated_at": "2026-11-20T09:18:00"
        });
        for (k, v) in over.as_object().unwrap() {
            r[k] = v.clone();
        }
        r.to_string()
    }

    fn page_of(records: &[String]) -> Vec<u8> {
        format!(
            r#"{{"has_more":false,"items":[{}],"next_rev":3}}"#,
            records.join(",")
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn a_record_in_a_legacy_encoding_is_quarantined_and_its_neighbours_stored() {
        // "Nguyễn" in TCVN3 has bytes that are no UTF-8.
        let mut body = page_of(&[
            record("A", json!({})),
            record("B", json!({"applicant_name": "@@"})),
            record("C", json!({})),
        ]);
        let at = body.windows(2).position(|w| w == b"@@").unwrap();
        body[at] = 0xA7;
        body[at + 1] = 0xE9;
        let (records, next, _) = parse(json!({}), body, Cursor::Revision(0)).await.unwrap();
        assert_eq!(next, Cursor::Revision(3));
        let c = codes(&records);
        assert_eq!((c[0].as_str(), c[2].as_str()), ("A", "C"));
        let Parsed::Bad(q) = &records[1] else {
            panic!("{c:?}")
        };
        assert_eq!(q.code.as_deref(), Some("B"));
        assert!(
            q.reason
                .starts_with("field /applicant_name: text is not UTF-8"),
            "{}",
            q.reason
        );
    }

    #[tokio::test]
    async fn implausible_records_are_quarantined_with_the_field_named() {
        let cases = [
            (record("D1", json!({"deleted": true})), "D1".to_owned()),
            (record("  ", json!({})), "bad: field code is missing or empty".into()),
            (
                record("D3", json!({"due_at": "9999-12-31T00:00:00"})),
                "bad: field due_at: 9999-12-31 00:00:00 is more than 5 years after received_at 2026-10-26 07:00:00".into(),
            ),
            (
                record("D4", json!({"duration": {"unit": "working_days", "value": 4_000_000_000u32}})),
                "bad: field duration: 4000000000 working days is not plausible (at most 365)".into(),
            ),
            (
                record("D5", json!({"pauses": [{"kind": "supplement", "started_at": "2026-11-02T08:00:00", "ended_at": "2026-11-01T08:00:00"}]})),
                "bad: field pauses/0: ends 2026-11-01 08:00:00 before it starts 2026-11-02 08:00:00".into(),
            ),
        ];
        let body = page_of(&cases.iter().map(|c| c.0.clone()).collect::<Vec<_>>());
        let (records, _, _) = parse(json!({}), body, Cursor::Revision(0)).await.unwrap();
        let got = codes(&records);
        // A record saying it is deleted, in full form, is a deletion.
        assert!(matches!(records[0], Parsed::Deleted(_)));
        for (g, (_, want)) in got.iter().zip(&cases) {
            assert_eq!(g, want);
        }
    }

    #[test]
    fn an_error_page_is_kept_short() {
        let html = format!(
            "<html>\n<body>{}</body></html>",
            "Lỗi máy chủ ".repeat(200_000)
        );
        let e = error_excerpt(&html);
        assert!(e.chars().count() <= MAX_ERROR_BODY_CHARS + 1, "{}", e.len());
        assert!(e.starts_with("<html> <body>Lỗi máy chủ") && e.ends_with('…'));
    }

    #[test]
    fn a_query_in_the_source_url_stays_a_query() {
        let settings: SourceSettings =
            toml::from_str(r#"url = "https://mc.example.vn/api/?key=abc""#).unwrap();
        let src = RestSource::new("s", &settings).unwrap();
        assert_eq!(
            src.url("/api/v1/dossiers"),
            "https://mc.example.vn/api/api/v1/dossiers?key=abc"
        );
    }
}
