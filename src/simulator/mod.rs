//! A stand-in for a provincial TTHC system, served over real HTTP: the demo, the
//! tests and the benchmarks poll it exactly as they would poll the real thing.
//! It lives beside `source/` rather than inside it because it is a server, not a
//! connector: `tthc-watch simulate` runs it alone.
//!
//! Time moves (`--now` plus elapsed time times `--speed`, or `POST /admin/advance`),
//! so dossiers progress, finish, go late and arrive between polls. Faults are
//! injected on demand and counted (`GET /admin/stats`).

// Handlers return early with a ready `Response`, the axum idiom; its size is fine here.
#![allow(clippy::result_large_err)]

pub mod catalog;
mod faults;
pub mod shapes;
pub mod world;

pub use faults::{FaultStats, Faults};

use crate::calendar::{Calendar, OfficeHours};
use crate::source::Shape;
use crate::text::nfc;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDateTime;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use unicode_normalization::UnicodeNormalization;
use world::{View, World, WorldSpec};

#[derive(Clone, Debug)]
pub struct SimulatorOptions {
    pub dossiers: u32,
    pub seed: u64,
    pub now: NaiveDateTime,
    /// Simulated seconds per real second.
    pub speed: f64,
    pub shape: Shape,
    pub token: String,
    pub faults: Faults,
}

struct SimClock {
    base: NaiveDateTime,
    started: Instant,
    speed: f64,
    advanced: chrono::Duration,
}

impl SimClock {
    fn now(&self) -> NaiveDateTime {
        let real = self.started.elapsed().as_secs_f64() * self.speed;
        world::trunc_minute(self.base + self.advanced)
            + chrono::Duration::milliseconds((real * 1000.0) as i64)
    }
}

/// A record's bytes and the event position they were rendered at.
type Rendered = (usize, Arc<[u8]>);

pub struct Simulator {
    world: World,
    shape: Shape,
    token: String,
    faults: Mutex<Faults>,
    clock: Mutex<SimClock>,
    pub stats: FaultStats,
    requests: AtomicU64,
    /// Issued session tokens and when they expire (igate, onedoor).
    sessions: Mutex<HashMap<String, Instant>>,
    /// Native records as rendered at their latest event, by dossier: a record
    /// changes only at its own events, so its bytes serve every page until the
    /// next one. Without this the simulator, not the connector under test,
    /// limits every benchmark.
    rendered: Vec<Mutex<Option<Rendered>>>,
}

impl Simulator {
    pub fn new(opts: SimulatorOptions, calendar: Calendar, hours: OfficeHours) -> Simulator {
        let spec = WorldSpec::new(opts.dossiers, opts.seed, opts.now);
        let world = World::build(spec, calendar, hours);
        Simulator {
            world,
            shape: opts.shape,
            token: opts.token,
            faults: Mutex::new(opts.faults),
            clock: Mutex::new(SimClock {
                base: opts.now,
                started: Instant::now(),
                speed: opts.speed,
                advanced: chrono::Duration::zero(),
            }),
            stats: FaultStats::default(),
            requests: AtomicU64::new(0),
            sessions: Mutex::new(HashMap::new()),
            rendered: (0..opts.dossiers).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Renders every record visible now into the cache, on all cores, so a
    /// benchmark measures serving rather than first rendering.
    pub fn prerender(&self) {
        let now = self.now();
        let visible = self.world.visible(now);
        let faults = self.faults();
        let n = self.world.spec.dossiers;
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get()) as u32;
        let per = n.div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            for start in (0..n).step_by(per as usize) {
                let faults = &faults;
                scope.spawn(move || {
                    for d in start..(start + per).min(n) {
                        if let Some(pos) = self.world.latest(d, visible) {
                            self.native_record(d, pos, now, faults);
                        }
                    }
                });
            }
        });
    }

    pub fn now(&self) -> NaiveDateTime {
        self.clock.lock().map(|c| c.now()).unwrap_or_default()
    }

    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut c) = self.clock.lock() {
            c.advanced += by;
        }
    }

    pub fn set_faults(&self, f: Faults) {
        if let Ok(mut g) = self.faults.lock() {
            *g = f;
        }
    }

    fn faults(&self) -> Faults {
        self.faults.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Every dossier visible now, in the native shape (tests compare with it).
    pub fn snapshot(&self) -> Vec<crate::dossier::Dossier> {
        let now = self.now();
        (0..self.world.spec.dossiers)
            .filter_map(|i| self.world.plan(i))
            .filter_map(|p| match p.view(now) {
                View::Record(d) => Some(*d),
                _ => None,
            })
            .collect()
    }

    fn render_record(&self, d: &crate::dossier::Dossier, rev: u64, faults: &Faults) -> Value {
        let mut v = shapes::render(self.shape, d, rev);
        let h = faults::unit_hash(&d.code, self.world.spec.seed);
        if h < faults.malformed {
            self.stats.malformed.fetch_add(1, Ordering::Relaxed);
            faults::break_record(&mut v, self.shape, h < faults.malformed / 2.0);
        } else if h < faults.malformed + faults.nfd {
            self.stats.nfd.fetch_add(1, Ordering::Relaxed);
            to_nfd(&mut v);
        }
        v
    }

    /// Dossier `d` in the native shape as of its event `pos` (revision pos + 1).
    fn native_record(
        &self,
        d: u32,
        pos: usize,
        now: NaiveDateTime,
        faults: &Faults,
    ) -> Option<Arc<[u8]>> {
        // Faulty records are counted as they are served: never cached.
        let cacheable = faults.malformed <= 0.0 && faults.nfd <= 0.0;
        let slot = self.rendered.get(d as usize)?;
        if cacheable
            && let Ok(guard) = slot.lock()
            && let Some((at, bytes)) = guard.as_ref()
            && *at == pos
        {
            return Some(bytes.clone());
        }
        let plan = self.world.plan(d)?;
        let rev = pos as u64 + 1;
        let value = match plan.view(now) {
            View::Record(r) => self.render_record(&r, rev, faults),
            View::Deleted => shapes::native_tombstone(&plan.code, rev),
            View::NotYet => return None,
        };
        let bytes: Arc<[u8]> = serde_json::to_vec(&value).ok()?.into();
        if cacheable && let Ok(mut guard) = slot.lock() {
            *guard = Some((pos, bytes.clone()));
        }
        Some(bytes)
    }

    /// One keyset page, written straight from the rendered records (keys in
    /// sorted order, as `serde_json` would write them).
    fn native_page(&self, since: u64, limit: usize, faults: &Faults) -> Vec<u8> {
        let now = self.now();
        let visible = self.world.visible(now);
        let mut pos = (since as usize).min(visible);
        let mut body = Vec::with_capacity(limit * 1200 + 64);
        body.extend_from_slice(b"{\"has_more\":");
        let mark = body.len();
        body.extend_from_slice(b"false,\"items\":[");
        let mut items = 0;
        while pos < visible && items < limit {
            if self.world.is_latest(pos, visible)
                && let Some(bytes) = self.native_record(self.world.events[pos].1, pos, now, faults)
            {
                if items > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(&bytes);
                items += 1;
            }
            pos += 1;
        }
        if pos < visible {
            body.splice(mark..mark + 5, b"true".iter().copied());
        }
        body.extend_from_slice(format!("],\"next_rev\":{pos}}}").as_bytes());
        body
    }

    /// Live records newest-first, as the compatibility shapes list them:
    /// `skip` records skipped, at most `take` returned, and the total.
    fn desc_page(&self, skip: usize, take: usize, faults: &Faults) -> (Vec<Value>, usize) {
        let now = self.now();
        let visible = self.world.visible(now);
        let mut items = Vec::new();
        let mut total = 0usize;
        let mut previous: Option<Value> = None;
        for pos in (0..visible).rev() {
            if !self.world.is_latest(pos, visible) {
                continue;
            }
            let Some(plan) = self.world.plan(self.world.events[pos].1) else {
                continue;
            };
            let View::Record(r) = plan.view(now) else {
                continue;
            };
            if total + 1 == skip {
                previous = Some(self.render_record(&r, pos as u64 + 1, faults));
            }
            if total >= skip && total < skip + take {
                items.push(self.render_record(&r, pos as u64 + 1, faults));
            }
            total += 1;
        }
        // A record repeated across pages (seen in real systems when sorting is unstable).
        if let Some(prev) = previous
            && !items.is_empty()
            && self.roll(Fault::Repeat, faults.repeat)
        {
            self.stats.repeated.fetch_add(1, Ordering::Relaxed);
            items.insert(0, prev);
        }
        (items, total)
    }

    fn roll(&self, fault: Fault, p: f64) -> bool {
        let n = self.requests.load(Ordering::Relaxed);
        roll(self.world.spec.seed, n, fault, p)
    }

    fn check_auth(&self, headers: &HeaderMap) -> Result<(), Response> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let ok = match self.shape {
            Shape::Native => bearer.as_deref() == Some(self.token.as_str()),
            Shape::Opencps => {
                headers.get("Token").and_then(|v| v.to_str().ok()) == Some(self.token.as_str())
                    && headers.contains_key("groupId")
            }
            Shape::Igate | Shape::Onedoor => {
                let Some(b) = bearer else {
                    return Err(unauthorized("missing bearer token"));
                };
                let sessions = self.sessions.lock().map_err(|_| unauthorized("busy"))?;
                match sessions.get(&b) {
                    Some(exp) if *exp > Instant::now() => true,
                    Some(_) => {
                        self.stats.token_expired.fetch_add(1, Ordering::Relaxed);
                        return Err(unauthorized("token expired"));
                    }
                    None => false,
                }
            }
        };
        if ok {
            Ok(())
        } else {
            Err(unauthorized("invalid token"))
        }
    }

    /// Every listing's preamble: authentication, then the request-level faults.
    async fn admit(&self, headers: &HeaderMap) -> Result<Faults, Response> {
        self.check_auth(headers)?;
        let faults = self.faults();
        self.request_faults(&faults).await?;
        Ok(faults)
    }

    fn issue_session(&self) -> (String, u64) {
        let ttl = self.faults().token_ttl_secs.unwrap_or(300);
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        self.stats.tokens_issued.fetch_add(1, Ordering::Relaxed);
        let token = format!("sess-{}-{n}", self.world.spec.seed);
        if let Ok(mut s) = self.sessions.lock() {
            s.insert(
                token.clone(),
                Instant::now() + std::time::Duration::from_secs(ttl),
            );
        }
        (token, ttl)
    }

    /// Request-level faults: latency, timeouts, 500s and 429s. `Err` is the response to send.
    async fn request_faults(&self, faults: &Faults) -> Result<(), Response> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(ms) = faults.latency_ms {
            self.stats.latency.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        if self.roll(Fault::Timeout, faults.timeout) {
            self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(std::time::Duration::from_secs(faults.timeout_secs)).await;
        }
        if self.roll(Fault::Error, faults.error) {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            return Err(
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
            );
        }
        if self.roll(Fault::RateLimit, faults.rate_limit) {
            self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Err(r);
        }
        Ok(())
    }

    fn body(&self, v: &Value, faults: &Faults) -> Response {
        self.body_bytes(serde_json::to_vec(v).unwrap_or_default(), faults)
    }

    fn body_bytes(&self, mut bytes: Vec<u8>, faults: &Faults) -> Response {
        if self.roll(Fault::Truncate, faults.truncate) {
            self.stats.truncated.fetch_add(1, Ordering::Relaxed);
            bytes.truncate(bytes.len() / 2);
        }
        (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            bytes,
        )
            .into_response()
    }
}

fn unauthorized(msg: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({ "error": msg }))).into_response()
}

use axum::Json;

fn to_nfd(v: &mut Value) {
    match v {
        Value::String(s) => *s = s.nfd().collect(),
        Value::Array(a) => a.iter_mut().for_each(to_nfd),
        Value::Object(m) => m.values_mut().for_each(to_nfd),
        _ => {}
    }
}

type Sim = State<Arc<Simulator>>;

#[derive(Deserialize)]
struct NativeQuery {
    #[serde(default)]
    since_rev: u64,
    limit: Option<usize>,
}

async fn native_list(
    State(sim): Sim,
    headers: HeaderMap,
    Query(q): Query<NativeQuery>,
) -> Response {
    let faults = match sim.admit(&headers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let page = sim.native_page(
        q.since_rev,
        q.limit.unwrap_or(500).clamp(1, 10_000),
        &faults,
    );
    sim.body_bytes(page, &faults)
}

async fn igate_list(
    State(sim): Sim,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let faults = match sim.admit(&headers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(0);
    let size: usize = q
        .get("size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
        .clamp(1, 1000);
    let (content, total) = sim.desc_page(page * size, size, &faults);
    let pages = total.div_ceil(size);
    let v = json!({
        "content": content, "totalElements": total, "totalPages": pages,
        "number": page, "size": size, "last": page + 1 >= pages,
    });
    sim.body(&v, &faults)
}

async fn opencps_list(
    State(sim): Sim,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let faults = match sim.admit(&headers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let start: usize = q.get("start").and_then(|v| v.parse().ok()).unwrap_or(0);
    let end: usize = q
        .get("end")
        .and_then(|v| v.parse().ok())
        .unwrap_or(start + 15);
    let (data, total) = sim.desc_page(start, end.saturating_sub(start).clamp(1, 1000), &faults);
    sim.body(&json!({ "total": total, "data": data }), &faults)
}

async fn onedoor_list(
    State(sim): Sim,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let faults = match sim.admit(&headers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let page: usize = q
        .get("PageNumber")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let size: usize = q
        .get("PageSize")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .clamp(1, 1000);
    let (data, total) = sim.desc_page((page - 1) * size, size, &faults);
    let pages = total.div_ceil(size);
    let v = json!({
        "data": data, "currentPage": page, "totalPages": pages, "totalCount": total,
        "pageSize": size, "hasNextPage": page < pages,
    });
    sim.body(&v, &faults)
}

/// Keycloak-style password grant (iGate).
async fn igate_token(State(sim): Sim, Form(f): Form<HashMap<String, String>>) -> Response {
    if f.get("grant_type").map(String::as_str) != Some("password")
        || f.get("password") != Some(&sim.token)
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_grant" })),
        )
            .into_response();
    }
    let (token, ttl) = sim.issue_session();
    Json(json!({ "access_token": token, "expires_in": ttl, "token_type": "Bearer" }))
        .into_response()
}

/// ASP.NET one-door login.
async fn onedoor_token(State(sim): Sim, Json(body): Json<Value>) -> Response {
    if body.get("password").and_then(Value::as_str) != Some(sim.token.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "messages": ["Sai tài khoản hoặc mật khẩu"] })),
        )
            .into_response();
    }
    let (token, ttl) = sim.issue_session();
    Json(json!({ "data": { "token": token, "expiresIn": ttl } })).into_response()
}

async fn admin_clock(State(sim): Sim) -> Json<Value> {
    Json(json!({ "now": sim.now().format("%Y-%m-%dT%H:%M:%S").to_string() }))
}

#[derive(Deserialize)]
struct Advance {
    minutes: Option<i64>,
    to: Option<String>,
}

async fn admin_advance(State(sim): Sim, Json(a): Json<Advance>) -> Response {
    let by = match (a.minutes, a.to.as_deref()) {
        (Some(m), None) => chrono::Duration::minutes(m),
        (None, Some(to)) => match crate::clock::parse_now(to) {
            Ok(t) => crate::clock::to_vn(t) - sim.now(),
            Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
        },
        _ => return (StatusCode::BAD_REQUEST, "give either minutes or to").into_response(),
    };
    sim.advance(by);
    admin_clock(State(sim)).await.into_response()
}

#[derive(Deserialize)]
struct SetFaults {
    faults: String,
}

async fn admin_faults(State(sim): Sim, Json(f): Json<SetFaults>) -> Response {
    match Faults::parse(&f.faults) {
        Ok(faults) => {
            sim.set_faults(faults);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

async fn admin_stats(State(sim): Sim) -> Json<Value> {
    Json(sim.stats.to_json())
}

async fn admin_dossier(State(sim): Sim, Path(code): Path<String>) -> Response {
    let now = sim.now();
    let Some(plan) = sim
        .world
        .dossier_index(&nfc(&code))
        .and_then(|i| sim.world.plan(i))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match plan.view(now) {
        View::Record(d) => Json(shapes::native(&d, 0)).into_response(),
        View::Deleted => Json(shapes::native_tombstone(&plan.code, 0)).into_response(),
        View::NotYet => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn admin_snapshot(State(sim): Sim) -> Json<Value> {
    Json(json!(sim.snapshot()))
}

pub fn router(sim: Arc<Simulator>) -> Router {
    let r = Router::new()
        .route("/admin/clock", get(admin_clock))
        .route("/admin/advance", post(admin_advance))
        .route("/admin/faults", post(admin_faults))
        .route("/admin/stats", get(admin_stats))
        .route("/admin/dossiers/{code}", get(admin_dossier))
        .route("/admin/snapshot", get(admin_snapshot));
    let r = match sim.shape {
        Shape::Native => r.route("/api/v1/dossiers", get(native_list)),
        Shape::Igate => r
            .route(
                "/auth/realms/tthc/protocol/openid-connect/token",
                post(igate_token),
            )
            .route("/pa/dossier/search", get(igate_list)),
        Shape::Opencps => r.route("/o/rest/v2/dossiers", get(opencps_list)),
        Shape::Onedoor => r
            .route("/api/tokens", post(onedoor_token))
            .route("/api/v1/hosos", get(onedoor_list)),
    };
    r.with_state(sim)
}

/// Serves until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    sim: Arc<Simulator>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(sim))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// The faults a request can meet, each rolled on its own.
#[derive(Clone, Copy)]
enum Fault {
    Repeat = 1,
    Timeout,
    Error,
    RateLimit,
    Truncate,
}

/// Whether `fault`, at rate `p`, strikes request `n` of a simulator seeded
/// `seed`: reproducible, and independent of the other faults (seeded by the
/// rate alone, two faults with the same rate always struck together, so the
/// README's `rate_limit=0.05,truncate=0.05` never truncated).
fn roll(seed: u64, n: u64, fault: Fault, p: f64) -> bool {
    if p <= 0.0 {
        return false;
    }
    let salt = (fault as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed.wrapping_add(n.wrapping_mul(7919)) ^ p.to_bits() ^ salt);
    rng.gen_bool(p.min(1.0))
}

#[cfg(test)]
mod fault_tests {
    use super::*;

    #[test]
    fn faults_with_the_same_rate_strike_independently() {
        let (mut limited, mut truncated, mut both) = (0, 0, 0);
        for n in 0..20_000 {
            let l = roll(1, n, Fault::RateLimit, 0.05);
            let t = roll(1, n, Fault::Truncate, 0.05);
            limited += u32::from(l);
            truncated += u32::from(t);
            both += u32::from(l && t);
        }
        // About 1,000 each and 50 together (0.05 × 0.05 × 20,000).
        assert!(
            (800..1200).contains(&limited) && (800..1200).contains(&truncated),
            "{limited} {truncated}"
        );
        assert!((20..100).contains(&both), "{both} struck together");
        // Reproducible.
        assert_eq!(roll(1, 7, Fault::Error, 0.5), roll(1, 7, Fault::Error, 0.5));
    }
}
