//! The HTTP side of the service, served by every instance, leader or not:
//! `/healthz`, `/readyz` and Prometheus `/metrics` (`health`), the auditor API
//! under `/api/v1` (JSON, bearer tokens, CSV/XLSX exports, an OpenAPI document
//! generated from this code) and the dashboard.
//!
//! Roles: `auditor` reads everything with applicants' personal data masked;
//! `centre` and `admin` read it unmasked, and may record an issued letter.
//! Every authenticated request is recorded in the audit trail; unauthenticated
//! ones are counted and sampled (`access`).

mod access;
mod ack_page;
mod acks;
mod auditor;
pub mod dashboard;
mod dossier_page;
pub mod export;
mod handlers;
mod health;
mod metrics;
mod pages;
mod params;
mod report;
mod state;

pub use health::render_metrics;
pub use metrics::{ClassLabel, Metrics, SourceLabel, StatusLabel};
pub use state::{AppState, ShownRules};

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

/// What went wrong, for the client: a status and a message that names the bad
/// parameter. Internal causes are logged, never sent.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
        }
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::CONFLICT,
            message: message.into(),
        }
    }
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "API request failed");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "internal error; see the server log".into(),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "error": self.message }))).into_response()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Auditor,
    Centre,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "auditor" => Some(Role::Auditor),
            "centre" => Some(Role::Centre),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Personal data (names, phone and ID numbers) is masked for auditors.
    pub fn sees_personal_data(self) -> bool {
        matches!(self, Role::Centre | Role::Admin)
    }

    /// What this role is shown of citizens' personal data.
    pub fn masking(self) -> crate::privacy::Masking {
        crate::privacy::Masking::new(!self.sees_personal_data())
    }
}

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// The dashboard's session cookie (`store::sessions`).
pub const COOKIE: &str = "tthc_session";

/// How a request says who sends it.
enum Credential {
    /// `Authorization: Bearer <API token>`.
    Bearer(String),
    /// The dashboard's session cookie.
    Session(String),
}

fn credential_of(parts: &Parts) -> Option<Credential> {
    if let Some(b) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(Credential::Bearer(b.trim().to_owned()));
    }
    session_cookie(parts).map(Credential::Session)
}

/// The session id in the request's cookie, if any.
pub fn session_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")))
        .map(str::to_owned)
        .next()
}

pub async fn caller_of(state: &AppState, parts: &Parts) -> Result<Caller, ApiError> {
    let found = match credential_of(parts) {
        None => {
            return Err(ApiError::unauthorized(
                "missing token: send Authorization: Bearer <token> (tthc-watch token create --role auditor)",
            ));
        }
        Some(Credential::Bearer(token)) => state.store.find_token(&token).await?,
        Some(Credential::Session(id)) => state.store.session(&id, state.clock.now_vn()).await?,
    };
    match found {
        Some(t) => Ok(Caller {
            name: t.name,
            role: Role::parse(&t.role)
                .ok_or_else(|| ApiError::internal(format!("token {} has role {}", t.id, t.role)))?,
        }),
        None => Err(ApiError::unauthorized(
            "unknown or revoked token, or an expired session",
        )),
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Caller, ApiError> {
        caller_of(state, parts).await
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "tthc-watch auditor API", description = "Overdue-dossier history, KPIs and exports. Authenticate with `Authorization: Bearer <token>` (`tthc-watch token create --role auditor`)."),
    paths(handlers::list_dossiers, handlers::dossier_totals, handlers::dossier_timeline, handlers::kpis, acks::acks, handlers::issue_letter, report::report),
    components(schemas(acks::AckKpi, handlers::ClassName, handlers::DateName, crate::store::FilterTotals, handlers::ExportFormat, handlers::GroupName, handlers::DossierPage, crate::store::ListRow, handlers::KpiReport, crate::store::KpiRow, handlers::IssueRequest, handlers::LetterOut, handlers::ErrorBody, report::ReportFormat, crate::report::PeriodReport, crate::report::PeriodInfo, crate::report::PeriodKind, crate::report::Reporter, crate::report::ReportRow)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

async fn openapi_json() -> Response {
    match ApiDoc::openapi().to_pretty_json() {
        Ok(s) => ([(header::CONTENT_TYPE, "application/json")], s).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// The API and dashboard routes, every request recorded in the audit trail.
fn audited(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/dossiers", get(handlers::list_dossiers))
        .route("/api/v1/dossiers/totals", get(handlers::dossier_totals))
        .route(
            "/api/v1/dossiers/{source}/{code}",
            get(handlers::dossier_timeline),
        )
        .route("/api/v1/kpis", get(handlers::kpis))
        .route("/api/v1/acks", get(acks::acks))
        .route("/api/v1/report", get(report::report))
        .route(
            "/api/v1/letters/{source}/{code}/issue",
            post(handlers::issue_letter),
        )
        .route("/", get(pages::root))
        .route("/dashboard", get(pages::dashboard))
        .route("/dashboard/dossiers", get(auditor::dossiers_page))
        .route(
            "/dashboard/login",
            get(pages::login_page).post(pages::login),
        )
        .route("/dashboard/logout", post(pages::logout))
        .route("/dossiers/{source}/{code}", get(dossier_page::dossier_page))
        .route("/ack/{token}", get(ack_page::show).post(ack_page::confirm))
        .route(
            "/dossiers/{source}/{code}/letters/{version}",
            get(dossier_page::letter_download),
        )
        .layer(axum::middleware::from_fn_with_state(
            state,
            access::audit_access,
        ))
        .layer(DefaultBodyLimit::max(16 * 1024))
}

/// Everything an instance serves: the operators' endpoints, outside the audit
/// trail, and the audited API and dashboard.
pub fn router(state: Arc<AppState>) -> Router {
    health::routes()
        .merge(audited(state.clone()))
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

/// What every answer carries: nothing of it is cached (it holds citizens'
/// data), framed, sniffed into another type, or sent on as a referrer; the
/// pages load nothing from elsewhere and run no script (the dashboard has
/// none), so a value that slipped through escaping could not run either.
async fn security_headers(mut resp: Response) -> Response {
    use axum::http::HeaderValue;
    let h = resp.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}

pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}
