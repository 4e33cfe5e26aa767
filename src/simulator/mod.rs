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
pub mod export;
mod families;
mod faults;
pub mod shapes;
pub mod world;

pub use faults::{FaultStats, Faults};

use crate::calendar::{Calendar, OfficeHours};
use crate::source::Shape;
use crate::text::nfc;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::NaiveDateTime;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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
    /// One-door refresh tokens: the session token each belongs to, and when it expires.
    refresh_tokens: Mutex<HashMap<String, (String, Instant)>>,
    /// One-door dossier GUIDs to dossier indexes, built at the first detail request.
    onedoor_ids: OnceLock<HashMap<String, u32>>,
    /// Native records as rendered at their latest event, by dossier: a record
    /// changes only at its own events, so its bytes serve every page until the
    /// next one. Without this the simulator, not the connector under test,
    /// limits every benchmark.
    rendered: Vec<Mutex<Option<Rendered>>>,
}

impl Simulator {
    pub fn new(opts: SimulatorOptions, calendar: Calendar, hours: OfficeHours) -> Simulator {
        Simulator::with_history(opts, world::DEFAULT_HISTORY_DAYS, calendar, hours)
    }

    /// As [`Simulator::new`], with receipts spread over `history_days` days before "now"
    /// (years of history to exercise past calendars). Receipts on days the calendar does not
    /// cover are left out, as the world leaves out anything it cannot compute.
    pub fn with_history(
        opts: SimulatorOptions,
        history_days: i64,
        calendar: Calendar,
        hours: OfficeHours,
    ) -> Simulator {
        let spec = WorldSpec {
            history_days,
            ..WorldSpec::new(opts.dossiers, opts.seed, opts.now)
        };
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
            refresh_tokens: Mutex::new(HashMap::new()),
            onedoor_ids: OnceLock::new(),
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

    /// Calls `f` with every dossier visible now, one at a time (an export
    /// of 200,000 holds one).
    pub fn for_each_visible(&self, mut f: impl FnMut(&crate::dossier::Dossier) -> bool) {
        let now = self.now();
        for i in 0..self.world.spec.dossiers {
            if let Some(View::Record(d)) = self.world.plan(i).map(|p| p.view(now))
                && !f(&d)
            {
                return;
            }
        }
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
        self.record_faults(&d.code, &mut v, faults);
        v
    }

    /// The per-dossier faults, on a record of dossier `code` wherever it is served.
    fn record_faults(&self, code: &str, v: &mut Value, faults: &Faults) {
        let h = faults::unit_hash(code, self.world.spec.seed);
        if h < faults.malformed {
            self.stats.malformed.fetch_add(1, Ordering::Relaxed);
            faults::break_record(v, self.shape, h < faults.malformed / 2.0);
        } else if h < faults.malformed + faults.nfd {
            self.stats.nfd.fetch_add(1, Ordering::Relaxed);
            to_nfd(v);
        }
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

    /// Every dossier live now (created, not deleted), in `order`.
    fn live(&self, now: NaiveDateTime, order: Order) -> Vec<Live> {
        let visible = self.world.visible(now);
        let mut live: Vec<Live> = (0..self.world.spec.dossiers)
            .filter_map(|d| {
                let updated = self.world.latest(d, visible)?;
                let created = self.world.first(d)?;
                let plan = self.world.plan(d)?;
                if plan.deleted_at.is_some_and(|t| t <= now) {
                    return None;
                }
                Some(Live {
                    d,
                    created,
                    updated,
                })
            })
            .collect();
        // Event positions order by (time, dossier): creation positions order
        // dossiers by creation, latest positions by their last change.
        match order {
            Order::CreatedAsc => live.sort_unstable_by_key(|l| l.created),
            Order::CreatedDesc => live.sort_unstable_by_key(|l| std::cmp::Reverse(l.created)),
            Order::UpdatedDesc => live.sort_unstable_by_key(|l| std::cmp::Reverse(l.updated)),
        }
        live
    }

    /// One page of the compatibility shapes' lists: `skip` live records
    /// skipped, at most `take` rendered, and the number of live records.
    fn page(&self, order: Order, skip: usize, take: usize, faults: &Faults) -> (Vec<Value>, usize) {
        let now = self.now();
        let live = self.live(now, order);
        let render = |l: &Live| {
            let plan = self.world.plan(l.d)?;
            match plan.view(now) {
                View::Record(r) => Some(self.render_record(&r, l.updated as u64 + 1, faults)),
                _ => None,
            }
        };
        let mut items: Vec<Value> = live
            .iter()
            .skip(skip)
            .take(take)
            .filter_map(render)
            .collect();
        // A record repeated across pages (seen in real systems when sorting is unstable).
        if !items.is_empty()
            && skip > 0
            && self.roll(Fault::Repeat, faults.repeat)
            && let Some(prev) = live.get(skip - 1).and_then(render)
        {
            self.stats.repeated.fetch_add(1, Ordering::Relaxed);
            items.insert(0, prev);
        }
        (items, live.len())
    }

    /// Dossier `d` as it is now, if it is live.
    fn dossier(&self, d: u32) -> Option<crate::dossier::Dossier> {
        match self.world.plan(d)?.view(self.now()) {
            View::Record(r) => Some(*r),
            _ => None,
        }
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
        match self.shape {
            Shape::Native if bearer.as_deref() == Some(self.token.as_str()) => Ok(()),
            Shape::Native => Err(unauthorized("invalid token")),
            Shape::Opencps if families::basic_password(headers).as_deref() == Some(&self.token) => {
                Ok(())
            }
            Shape::Opencps => Err(families::opencps_error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized.",
            )),
            Shape::Igate | Shape::Onedoor => {
                let valid = {
                    let sessions = self.sessions.lock().map_err(|_| unauthorized("busy"))?;
                    bearer
                        .as_ref()
                        .and_then(|b| sessions.get(b))
                        .map(|exp| *exp > Instant::now())
                };
                if valid == Some(false) {
                    self.stats.token_expired.fetch_add(1, Ordering::Relaxed);
                }
                match (valid, self.shape) {
                    (Some(true), _) => Ok(()),
                    (_, Shape::Onedoor) => Err(self.onedoor_unauthorized()),
                    (None, _) if bearer.is_none() => Err(unauthorized("missing bearer token")),
                    (Some(false), _) => Err(unauthorized("token expired")),
                    (None, _) => Err(unauthorized("invalid token")),
                }
            }
        }
    }

    /// Every listing's preamble: authentication, then the request-level faults.
    async fn admit(&self, headers: &HeaderMap) -> Result<Faults, Response> {
        self.check_auth(headers)?;
        let faults = self.faults();
        self.request_faults(&faults).await?;
        Ok(faults)
    }

    /// A new session token, valid `token_ttl` seconds (else `default_ttl`),
    /// and its lifetime.
    fn issue_session(&self, default_ttl: u64) -> (String, u64) {
        let ttl = self.faults().token_ttl_secs.unwrap_or(default_ttl);
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        self.stats.tokens_issued.fetch_add(1, Ordering::Relaxed);
        let token = match self.shape {
            // An opaque PASETO `v2.local` token.
            Shape::Onedoor => format!(
                "v2.local.{}",
                STANDARD.encode(format!("sess-{}-{n}", self.world.spec.seed).as_bytes())
            ),
            _ => format!("sess-{}-{n}", self.world.spec.seed),
        };
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
                post(families::igate_token),
            )
            .route("/pa/dossier/search", get(families::igate_list)),
        Shape::Opencps => r
            .route("/o/rest/v2/dossiers", get(families::opencps_list))
            .route("/o/rest/v2/dossiers/{id}", get(families::opencps_detail))
            .route(
                "/o/rest/v2/dossiers/{id}/actions",
                get(families::opencps_actions),
            ),
        Shape::Onedoor => r
            .route("/api/tokens", post(families::onedoor_token))
            .route("/api/tokens/refresh", post(families::onedoor_refresh))
            .route("/api/v1/hosos", get(families::onedoor_list))
            .route("/api/v1/hosos/detail", get(families::onedoor_detail))
            .route("/api/v1/thutucs", get(families::onedoor_thutucs))
            .route("/api/v1/linhvucs", get(families::onedoor_linhvucs)),
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

/// The order of a compatibility shape's list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    /// By creation (submission, else receipt), oldest first.
    CreatedAsc,
    /// By creation, newest first.
    CreatedDesc,
    /// By the last change, newest first.
    UpdatedDesc,
}

/// A live dossier and the event positions of its creation and latest change.
struct Live {
    d: u32,
    created: usize,
    updated: usize,
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
