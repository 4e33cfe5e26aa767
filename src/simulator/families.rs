//! The routes of the three real families, each with the authentication,
//! paging, order and replies of the real system (`tests/fixtures/real/README.md`).

use super::{Order, Sim, Simulator, catalog, shapes};
use crate::dossier::Dossier;
use crate::simulator::Faults;
use crate::text::nfc;
use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

type Params = Query<HashMap<String, String>>;

/// A query parameter, its name matched without regard to case (as ASP.NET does).
fn param<T: FromStr>(q: &HashMap<String, String>, name: &str) -> Option<T> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.trim().parse().ok())
}

// ---- OpenCPS ------------------------------------------------------------------

/// The password of an `Authorization: Basic` header (any user name).
pub(super) fn basic_password(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let decoded = STANDARD.decode(value.strip_prefix("Basic ")?.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    Some(password.to_owned())
}

/// OpenCPS's error reply (`BusinessExceptionImpl`).
pub(super) fn opencps_error(status: StatusCode, text: &str) -> Response {
    let body = json!({ "message": text, "code": status.as_u16(), "description": text });
    (status, Json(body)).into_response()
}

/// The site a request names; none (or 0, or not a number) filters everything out.
fn opencps_group(headers: &HeaderMap) -> Option<i64> {
    let g: i64 = headers.get("groupId")?.to_str().ok()?.trim().parse().ok()?;
    (g != 0).then_some(g)
}

fn set_group(v: &mut Value, group: Option<i64>) {
    if let (Some(g), Value::Object(m)) = (group, v) {
        m.insert("groupId".into(), json!(g));
    }
}

impl Simulator {
    /// The detail's preamble: without a logged-in user OpenCPS answers 203.
    async fn opencps_admit_detail(&self, headers: &HeaderMap) -> Result<Faults, Response> {
        if basic_password(headers).as_deref() != Some(self.token.as_str()) {
            return Err(opencps_error(
                StatusCode::NON_AUTHORITATIVE_INFORMATION,
                "Non-Authoritative Information.",
            ));
        }
        let faults = self.faults();
        self.request_faults(&faults).await?;
        Ok(faults)
    }

    /// The dossier a detail request names by `dossierId`, `referenceUid` or `dossierNo`.
    fn opencps_find(&self, id: &str) -> Option<Dossier> {
        match shapes::opencps_id_in(id) {
            Some(n) => {
                let index = u32::try_from(n.checked_sub(100_001)?).ok()?;
                let d = self.dossier_in_range(index)?;
                (shapes::opencps_id(&d.code) == n).then_some(d)
            }
            None => {
                let code = nfc(id);
                let d = self.dossier_in_range(self.world.dossier_index(&code)?)?;
                (d.code == code).then_some(d)
            }
        }
    }

    fn dossier_in_range(&self, index: u32) -> Option<Dossier> {
        (index < self.world.spec.dossiers)
            .then(|| self.dossier(index))
            .flatten()
    }
}

/// `GET /o/rest/v2/dossiers?start&end`: by creation, oldest first, whatever
/// `sort`/`order` say (dates cannot be sorted through them).
pub(super) async fn opencps_list(
    State(sim): Sim,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let faults = match sim.admit(&headers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    // Without a site the search filters on groupId 0: nothing.
    let Some(group) = opencps_group(&headers) else {
        return sim.body(&json!({ "total": 0, "data": [] }), &faults);
    };
    let start: usize = param(&q, "start").unwrap_or(0);
    // Without `end`, or with 0, everything in one reply.
    let take = match param::<usize>(&q, "end") {
        Some(end) if end > 0 => end.saturating_sub(start),
        _ => usize::MAX,
    };
    let (mut data, total) = sim.page(Order::CreatedAsc, start, take, &faults);
    for v in &mut data {
        set_group(v, Some(group));
    }
    sim.body(&json!({ "total": total, "data": data }), &faults)
}

/// `GET /o/rest/v2/dossiers/{id}`; an unknown dossier gets 403 without a body.
pub(super) async fn opencps_detail(
    State(sim): Sim,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let faults = match sim.opencps_admit_detail(&headers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(d) = sim.opencps_find(&id) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let mut v = shapes::opencps_detail(&d, sim.now());
    set_group(&mut v, opencps_group(&headers));
    sim.record_faults(&d.code, &mut v, &faults);
    sim.body(&v, &faults)
}

/// `GET /o/rest/v2/dossiers/{id}/actions`: never any step.
pub(super) async fn opencps_actions(
    State(sim): Sim,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let faults = match sim.opencps_admit_detail(&headers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match sim.opencps_find(&id) {
        Some(d) => sim.body(&shapes::opencps_actions(&d), &faults),
        None => StatusCode::FORBIDDEN.into_response(),
    }
}

// ---- One-door -----------------------------------------------------------------

const TOKEN_SERVICE: &str = "TD.DichVuCongApi.Infrastructure.Auth.PASETO.PasetoTokenService";
const AUTH_HANDLER: &str =
    "TD.DichVuCongApi.Infrastructure.Auth.PASETO.PasetoAuthenticationHandler";
const DETAIL_HANDLER: &str =
    "TD.DichVuCongApi.Application.Business.HoSoApp.Queries.GetHoSoQueryHandler";
/// The access token's default life (10 minutes) and the refresh token's (1 day).
const ONEDOOR_TTL: u64 = 600;
const REFRESH_TTL: u64 = 86_400;

impl Simulator {
    /// The error reply of one-door's exception middleware.
    fn onedoor_error(&self, status: StatusCode, source: &str, exception: &str) -> Response {
        let n = self.requests.load(Ordering::Relaxed);
        let id = format!("00000000-0000-4000-a000-{:012x}", n & 0xffff_ffff_ffff);
        let body = json!({
            "messages": [],
            "source": source,
            "exception": exception,
            "errorId": id,
            "supportMessage": format!("Provide the ErrorId {id} to the support team for further analysis."),
            "statusCode": status.as_u16(),
        });
        (status, Json(body)).into_response()
    }

    /// A missing, invalid or expired token.
    pub(super) fn onedoor_unauthorized(&self) -> Response {
        self.onedoor_error(
            StatusCode::UNAUTHORIZED,
            AUTH_HANDLER,
            "Authentication Failed.",
        )
    }

    /// A new access token and its refresh token: no lifetime on the wire.
    fn onedoor_tokens(&self) -> Value {
        let (token, _) = self.issue_session(ONEDOOR_TTL);
        let refresh = STANDARD.encode(format!("{token}#refresh").as_bytes());
        if let Ok(mut r) = self.refresh_tokens.lock() {
            r.insert(
                refresh.clone(),
                (
                    token.clone(),
                    Instant::now() + Duration::from_secs(REFRESH_TTL),
                ),
            );
        }
        // `DateTime.Now` serialised: 7 fraction digits and the local offset.
        let expiry = self.now() + chrono::Duration::seconds(REFRESH_TTL as i64);
        let fraction = chrono::Timelike::nanosecond(&expiry) / 100;
        json!({
            "token": token,
            "refreshToken": refresh,
            "refreshTokenExpiryTime": format!("{}.{fraction:07}+07:00", expiry.format("%Y-%m-%dT%H:%M:%S")),
        })
    }

    /// The dossier whose GUID is `id`.
    fn onedoor_find(&self, id: &str) -> Option<Dossier> {
        let ids = self.onedoor_ids.get_or_init(|| {
            (0..self.world.spec.dossiers)
                .filter_map(|i| Some((shapes::onedoor_id(&self.world.plan(i)?.code), i)))
                .collect()
        });
        self.dossier(*ids.get(&id.trim().to_ascii_lowercase())?)
    }

    /// The anonymous routes' preamble: the request-level faults only.
    async fn admit_anonymous(&self) -> Result<Faults, Response> {
        let faults = self.faults();
        self.request_faults(&faults).await?;
        Ok(faults)
    }
}

/// `PageNumber` (from 1) and `PageSize` (10 by default).
fn onedoor_paging(q: &HashMap<String, String>) -> (usize, usize) {
    let page = param(q, "PageNumber").unwrap_or(1usize).max(1);
    let size = param(q, "PageSize").unwrap_or(10usize).clamp(1, 1000);
    (page, size)
}

/// `POST /api/tokens` with `userName` (or `email`) and `password`.
pub(super) async fn onedoor_token(State(sim): Sim, Json(body): Json<Value>) -> Response {
    let user = body
        .get("userName")
        .or_else(|| body.get("email"))
        .and_then(Value::as_str);
    let password = body.get("password").and_then(Value::as_str);
    if user.is_none() || password != Some(sim.token.as_str()) {
        return sim.onedoor_error(
            StatusCode::UNAUTHORIZED,
            TOKEN_SERVICE,
            "Authentication Failed.",
        );
    }
    Json(sim.onedoor_tokens()).into_response()
}

/// `POST /api/tokens/refresh` with the old `token` (expired or not) and its `refreshToken`.
pub(super) async fn onedoor_refresh(State(sim): Sim, Json(body): Json<Value>) -> Response {
    let token = body.get("token").and_then(Value::as_str);
    let refresh = body.get("refreshToken").and_then(Value::as_str);
    let valid = match (token, refresh, sim.refresh_tokens.lock()) {
        (Some(t), Some(r), Ok(mut issued)) => match issued.get(r) {
            Some((owner, expiry)) if owner == t && *expiry > Instant::now() => {
                issued.remove(r);
                true
            }
            _ => false,
        },
        _ => false,
    };
    if !valid {
        return sim.onedoor_error(
            StatusCode::UNAUTHORIZED,
            TOKEN_SERVICE,
            "Invalid Refresh Token.",
        );
    }
    Json(sim.onedoor_tokens()).into_response()
}

/// `GET /api/v1/hosos?PageNumber&PageSize&OrderBy`: only `OrderBy=LastModifiedOn`
/// exactly sorts by the last change (newest first); anything else by creation,
/// newest first.
pub(super) async fn onedoor_list(
    State(sim): Sim,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let faults = match sim.admit(&headers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (page, size) = onedoor_paging(&q);
    let order = match param::<String>(&q, "OrderBy").as_deref() {
        Some("LastModifiedOn") => Order::UpdatedDesc,
        _ => Order::CreatedDesc,
    };
    let (data, total) = sim.page(order, (page - 1).saturating_mul(size), size, &faults);
    sim.body(&shapes::onedoor_page(data, page, size, total), &faults)
}

/// `GET /api/v1/hosos/detail?Id=<guid>`, wrapped in a `Result`.
pub(super) async fn onedoor_detail(
    State(sim): Sim,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let faults = match sim.admit(&headers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let id: String = param(&q, "Id").unwrap_or_default();
    let Some(d) = sim.onedoor_find(&id) else {
        let text = format!("HoSo {id} Not Found.");
        return sim.onedoor_error(StatusCode::NOT_FOUND, DETAIL_HANDLER, &text);
    };
    let mut data = shapes::onedoor_detail(&d);
    sim.record_faults(&d.code, &mut data, &faults);
    sim.body(&shapes::onedoor_result(data), &faults)
}

/// `GET /api/v1/thutucs?PageNumber&PageSize`, anonymous.
pub(super) async fn onedoor_thutucs(State(sim): Sim, Query(q): Params) -> Response {
    onedoor_catalog(&sim, &q, catalog::PROCEDURES, shapes::onedoor_procedure).await
}

/// `GET /api/v1/linhvucs?PageNumber&PageSize`, anonymous.
pub(super) async fn onedoor_linhvucs(State(sim): Sim, Query(q): Params) -> Response {
    onedoor_catalog(&sim, &q, catalog::FIELDS, shapes::onedoor_linhvuc).await
}

/// One page of a one-door catalogue, each entry rendered by `render`.
async fn onedoor_catalog<T>(
    sim: &Simulator,
    q: &HashMap<String, String>,
    all: &[T],
    render: fn(&T) -> Value,
) -> Response {
    let faults = match sim.admit_anonymous().await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (page, size) = onedoor_paging(q);
    let items = all.iter().skip((page - 1).saturating_mul(size)).take(size);
    let data = items.map(render).collect();
    sim.body(&shapes::onedoor_page(data, page, size, all.len()), &faults)
}

// ---- iGate --------------------------------------------------------------------

/// Keycloak's password grant.
pub(super) async fn igate_token(
    State(sim): Sim,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if f.get("grant_type").map(String::as_str) != Some("password")
        || f.get("password") != Some(&sim.token)
    {
        let body =
            json!({ "error": "invalid_grant", "error_description": "Invalid user credentials" });
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let (token, ttl) = sim.issue_session(300);
    let n = sim.requests.load(Ordering::Relaxed);
    Json(json!({
        "access_token": token,
        "expires_in": ttl,
        "refresh_expires_in": 1800,
        "refresh_token": format!("{token}.refresh"),
        "token_type": "Bearer",
        "not-before-policy": 0,
        "session_state": format!("00000000-0000-4000-b000-{:012x}", n & 0xffff_ffff_ffff),
        "scope": "profile email",
    }))
    .into_response()
}

/// `GET /pa/dossier/search?page&size&spec=page|slice&sort`: a Spring page (or
/// slice), newest change first.
pub(super) async fn igate_list(State(sim): Sim, headers: HeaderMap, Query(q): Params) -> Response {
    let faults = match sim.admit(&headers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let page: usize = param(&q, "page").unwrap_or(0);
    let size = param(&q, "size").unwrap_or(20usize).clamp(1, 1000);
    let slice = param::<String>(&q, "spec").as_deref() == Some("slice");
    let (content, total) = sim.page(Order::UpdatedDesc, page.saturating_mul(size), size, &faults);
    let sorted = q.contains_key("sort");
    sim.body(
        &shapes::igate_page(content, page, size, total, slice, sorted),
        &faults,
    )
}

#[cfg(test)]
mod tests {
    //! Each family over HTTP: authentication, paging, order and replies, the
    //! bodies checked against the fixtures' keys.

    use super::super::{SimulatorOptions, serve};
    use super::*;
    use crate::calendar::{Calendar, OfficeHours};
    use crate::source::Shape;
    use chrono::NaiveDateTime;
    use reqwest::Client;
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use tokio_util::sync::CancellationToken;

    const TOKEN: &str = "sim-token";

    macro_rules! fixture {
        ($path:literal) => {
            serde_json::from_str::<Value>(include_str!(concat!(
                "../../tests/fixtures/real/",
                $path
            )))
            .expect($path)
        };
    }

    struct Server {
        sim: Arc<Simulator>,
        url: String,
        stop: CancellationToken,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop.cancel();
        }
    }

    async fn server(shape: Shape) -> Server {
        let sim = Arc::new(Simulator::new(
            SimulatorOptions {
                dossiers: 150,
                seed: 7,
                now: "2026-11-25T08:00:00".parse().unwrap(),
                speed: 0.0,
                shape,
                token: TOKEN.into(),
                faults: Faults::default(),
            },
            Calendar::builtin().unwrap(),
            OfficeHours::default(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        tokio::spawn(serve(listener, sim.clone(), stop.clone()));
        Server { sim, url, stop }
    }

    fn keys(v: &Value) -> BTreeSet<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    async fn json_of(r: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn opencps_speaks_basic_auth_group_offsets_and_details() {
        let s = server(Shape::Opencps).await;
        let c = Client::new();
        let list = format!("{}/o/rest/v2/dossiers", s.url);
        let auth = |r: reqwest::RequestBuilder| r.basic_auth("giamsat", Some(TOKEN));

        let (status, _) = json_of(c.get(&list).header("groupId", "35404")).await;
        assert_eq!(status, 401);
        let wrong = c
            .get(&list)
            .basic_auth("giamsat", Some("nope"))
            .header("groupId", "1");
        assert_eq!(json_of(wrong).await.0, 401);
        for group in [None, Some("0")] {
            let mut r = auth(c.get(&list));
            if let Some(g) = group {
                r = r.header("groupId", g);
            }
            assert_eq!(
                json_of(r).await,
                (200, fixture!("opencps/list-no-groupid.json"))
            );
        }

        // Without `end`: everything, by creation, whatever `sort` says.
        let (status, all) = json_of(auth(
            c.get(format!("{list}?sort=dueDate&order=true"))
                .header("groupId", "35404"),
        ))
        .await;
        assert_eq!(status, 200);
        let data = all["data"].as_array().unwrap();
        assert_eq!(all["total"].as_u64().unwrap() as usize, data.len());
        assert!(data.len() > 50);
        let created: Vec<NaiveDateTime> = data
            .iter()
            .map(|r| {
                NaiveDateTime::parse_from_str(
                    r["createDate"].as_str().unwrap(),
                    "%d/%m/%Y %H:%M:%S",
                )
                .unwrap()
            })
            .collect();
        assert!(created.windows(2).all(|w| w[0] <= w[1]));
        assert!(data.iter().all(|r| r["groupId"] == 35404));

        let total = data.len();
        let (_, page) = json_of(auth(
            c.get(format!("{list}?start=5&end=10"))
                .header("groupId", "7"),
        ))
        .await;
        assert_eq!(
            page["data"].as_array().unwrap()[..],
            data[5..10]
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    r["groupId"] = json!(7);
                    r
                })
                .collect::<Vec<_>>()[..]
        );
        let (_, past) = json_of(
            auth(c.get(format!("{list}?start={total}&end={}", total + 5))).header("groupId", "7"),
        )
        .await;
        assert_eq!(past, json!({ "total": total, "data": [] }));

        // Detail by dossierId or dossierNo, 203 without a user, 403 unknown.
        let first = &data[0];
        let by_id = format!("{list}/{}", first["dossierId"]);
        let (status, detail) = json_of(auth(c.get(&by_id))).await;
        assert_eq!(status, 200);
        assert_eq!(keys(&detail), keys(&fixture!("opencps/detail-101201.json")));
        assert_eq!(detail["dossierNo"], first["dossierNo"]);
        assert_ne!(detail["modifiedDate"], "");
        let by_no = format!("{list}/{}", first["dossierNo"].as_str().unwrap());
        assert_eq!(
            json_of(auth(c.get(&by_no))).await.1["dossierId"],
            first["dossierId"]
        );
        assert_eq!(
            json_of(c.get(&by_id)).await,
            (203, fixture!("opencps/detail-unauthenticated-http203.json"))
        );
        let unknown = auth(c.get(format!("{list}/99999999")))
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status().as_u16(), 403);
        assert!(unknown.bytes().await.unwrap().is_empty());
        let (status, actions) = json_of(auth(c.get(format!("{by_id}/actions")))).await;
        assert_eq!(status, 200);
        assert_eq!(
            keys(&actions),
            keys(&fixture!("opencps/actions-101201.json"))
        );
        assert_eq!(actions["data"], json!([]));
    }

    #[tokio::test]
    async fn onedoor_speaks_tokens_pages_details_and_catalogues() {
        let s = server(Shape::Onedoor).await;
        let c = Client::new();
        let error_keys = keys(&fixture!("onedoor/error-401-expired-token.json"))
            .into_iter()
            .map(str::to_owned)
            .collect::<BTreeSet<_>>();
        let error_keys_of = |v: &Value| {
            keys(v)
                .into_iter()
                .map(str::to_owned)
                .collect::<BTreeSet<_>>()
        };

        let login = format!("{}/api/tokens", s.url);
        let (status, err) = json_of(
            c.post(&login)
                .json(&json!({ "userName": "giamsat", "password": "x" })),
        )
        .await;
        assert_eq!((status, error_keys_of(&err)), (401, error_keys.clone()));
        let (status, tokens) = json_of(
            c.post(&login)
                .json(&json!({ "email": "a@example.vn", "password": TOKEN })),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(keys(&tokens), keys(&fixture!("onedoor/token.json")));
        let token = tokens["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("v2.local."));

        let list = format!("{}/api/v1/hosos", s.url);
        let (status, err) = json_of(c.get(&list)).await;
        assert_eq!(
            (status, error_keys_of(&err), &err["statusCode"]),
            (401, error_keys.clone(), &json!(401))
        );
        let get = |url: String| c.get(url).bearer_auth(&token);

        // Newest creation first unless OrderBy=LastModifiedOn exactly.
        let (status, page) = json_of(get(format!(
            "{list}?PageNumber=1&PageSize=200&OrderBy=LastModifiedOn%20desc"
        )))
        .await;
        assert_eq!(status, 200);
        assert_eq!(keys(&page), keys(&fixture!("onedoor/list-page-1.json")));
        let data = page["data"].as_array().unwrap();
        let created: Vec<NaiveDateTime> = data
            .iter()
            .map(|r| {
                NaiveDateTime::parse_from_str(r["createdOn"].as_str().unwrap(), "%m/%d/%Y %H:%M:%S")
                    .unwrap()
            })
            .collect();
        assert!(created.windows(2).all(|w| w[0] >= w[1]));
        let updated: HashMap<String, NaiveDateTime> = s
            .sim
            .snapshot()
            .into_iter()
            .map(|d| (d.code, d.updated_at))
            .collect();
        let (_, by_change) = json_of(get(format!(
            "{list}?PageNumber=1&PageSize=200&OrderBy=LastModifiedOn"
        )))
        .await;
        let changes: Vec<NaiveDateTime> = by_change["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| updated[r["maHoSo"].as_str().unwrap()])
            .collect();
        assert!(changes.windows(2).all(|w| w[0] >= w[1]));
        let total = page["totalCount"].as_u64().unwrap();
        let (_, past) = json_of(get(format!(
            "{list}?PageNumber={}&PageSize=10",
            total / 10 + 2
        )))
        .await;
        assert_eq!(
            (&past["data"], &past["totalCount"], &past["totalPages"]),
            (&Value::Null, &json!(0), &json!(0))
        );

        // Detail by the list's GUID.
        let first = &data[0];
        let (status, detail) = json_of(get(format!(
            "{list}/detail?Id={}",
            first["id"].as_str().unwrap()
        )))
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            keys(&detail),
            keys(&fixture!(
                "onedoor/detail-00000000-0000-4000-8000-0000000000d1.json"
            ))
        );
        assert_eq!(
            (&detail["succeeded"], &detail["data"]["maHoSo"]),
            (&json!(true), &first["maHoSo"])
        );
        let (status, _) = json_of(get(format!(
            "{list}/detail?Id=00000000-0000-4000-8000-000000000000"
        )))
        .await;
        assert_eq!(status, 404);

        // Refresh: a new token that works; a refresh token serves once.
        let refresh = format!("{login}/refresh");
        let body = json!({ "token": token, "refreshToken": tokens["refreshToken"] });
        let (status, renewed) = json_of(c.post(&refresh).json(&body)).await;
        assert_eq!(status, 200);
        assert_eq!(
            keys(&renewed),
            keys(&fixture!("onedoor/token-refresh.json"))
        );
        let fresh = renewed["token"].as_str().unwrap();
        assert_eq!(json_of(c.get(&list).bearer_auth(fresh)).await.0, 200);
        assert_eq!(json_of(c.post(&refresh).json(&body)).await.0, 401);

        // An expired token.
        s.sim.set_faults(Faults::parse("token_ttl=0").unwrap());
        let (_, short) = json_of(
            c.post(&login)
                .json(&json!({ "userName": "u", "password": TOKEN })),
        )
        .await;
        let (status, err) =
            json_of(c.get(&list).bearer_auth(short["token"].as_str().unwrap())).await;
        assert_eq!((status, error_keys_of(&err)), (401, error_keys));
        assert!(s.sim.stats.token_expired.load(Ordering::Relaxed) >= 1);

        // The catalogues, anonymous.
        let (status, procedures) =
            json_of(c.get(format!("{}/api/v1/thutucs?PageNumber=1&PageSize=5", s.url))).await;
        assert_eq!(status, 200);
        assert_eq!(procedures["data"].as_array().unwrap().len(), 5);
        assert_eq!(procedures["totalCount"], json!(catalog::PROCEDURES.len()));
        let (_, fields) = json_of(c.get(format!("{}/api/v1/linhvucs", s.url))).await;
        assert_eq!(
            fields["data"].as_array().unwrap().len(),
            catalog::FIELDS.len()
        );
    }

    #[tokio::test]
    async fn igate_speaks_spring_pages_and_slices_newest_change_first() {
        let s = server(Shape::Igate).await;
        let c = Client::new();
        let form = [
            ("grant_type", "password"),
            ("client_id", "x"),
            ("username", "u"),
            ("password", TOKEN),
        ];
        let (status, token) = json_of(
            c.post(format!(
                "{}/auth/realms/tthc/protocol/openid-connect/token",
                s.url
            ))
            .form(&form),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(keys(&token), keys(&fixture!("igate/token.json")));
        let bearer = token["access_token"].as_str().unwrap();
        let search = format!("{}/pa/dossier/search", s.url);
        assert_eq!(json_of(c.get(&search)).await.0, 401);

        let (status, page) = json_of(
            c.get(format!(
                "{search}?page=0&size=500&spec=page&sort=updatedDate,desc"
            ))
            .bearer_auth(bearer),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(keys(&page), keys(&fixture!("igate/list-page-0.json")));
        let instants: Vec<_> = page["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                chrono::DateTime::parse_from_str(
                    r["updatedDate"].as_str().unwrap(),
                    "%Y-%m-%dT%H:%M:%S%.3f%z",
                )
                .unwrap()
            })
            .collect();
        assert!(instants.len() > 50 && instants.windows(2).all(|w| w[0] >= w[1]));
        let (_, slice) = json_of(
            c.get(format!("{search}?page=0&size=5&spec=slice"))
                .bearer_auth(bearer),
        )
        .await;
        assert_eq!(
            keys(&slice),
            keys(&fixture!("igate/list-slice-page-0.json"))
        );
    }
}
