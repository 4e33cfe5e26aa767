//! The dashboard pages: a token login (cookie), then the server-rendered
//! Vietnamese overview for centre staff and leaders.

use super::dashboard::{
    Counts, DashboardData, LetterRow, RateRow, Row, SourceRow, TrendPoint, render_dashboard,
    render_login,
};
use super::state::AppState;
use super::{ApiError, COOKIE, Caller};
use crate::deadline::Class;
use crate::notify::{vn_date, vn_datetime};
use crate::store::{DossierLine, KpiGroup, KpiRow};
use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Datelike, Months, NaiveDate};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LOGIN_ATTEMPTS_PER_MINUTE: u32 = 10;
/// A dashboard session lasts a working day.
const SESSION_SECS: i64 = 12 * 3600;

pub async fn root() -> Redirect {
    Redirect::to("/dashboard")
}

pub async fn login_page() -> Result<Response, ApiError> {
    Ok(Html(render_login("/dashboard/login", None).map_err(ApiError::internal)?).into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
}

pub async fn login(
    State(s): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    {
        let mut logins = s
            .logins
            .lock()
            .map_err(|_| ApiError::internal("login limiter poisoned"))?;
        let e = logins.entry(addr.ip()).or_insert((Instant::now(), 0));
        if e.0.elapsed() > Duration::from_secs(60) {
            *e = (Instant::now(), 0);
        }
        if e.1 >= LOGIN_ATTEMPTS_PER_MINUTE {
            // The login page again, in Vietnamese, not the API's JSON.
            let page = render_login(
                "/dashboard/login",
                Some("Đăng nhập sai quá nhiều lần. Vui lòng chờ một phút rồi thử lại."),
            )
            .map_err(ApiError::internal)?;
            return Ok((
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "60")],
                Html(page),
            )
                .into_response());
        }
        e.1 += 1;
    }
    let token = form.token.trim();
    let Some(t) = s.store.find_token(token).await? else {
        let page = render_login(
            "/dashboard/login",
            Some("Mã truy cập không đúng hoặc đã bị thu hồi."),
        )
        .map_err(ApiError::internal)?;
        return Ok((StatusCode::UNAUTHORIZED, Html(page)).into_response());
    };
    let now = s.clock.now_vn();
    let expires = now + chrono::Duration::seconds(SESSION_SECS);
    let id = s.store.open_session(t.id, now, expires).await?;
    // `Secure` when the request came over TLS to the reverse proxy in front.
    let secure = if headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
    {
        "; Secure"
    } else {
        ""
    };
    let cookie =
        format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}{secure}");
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/dashboard")).into_response())
}

/// Ends the session and clears the cookie.
pub async fn logout(
    State(s): State<Arc<AppState>>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, _) = req.into_parts();
    if let Some(id) = super::session_cookie(&parts) {
        s.store.close_session(&id).await?;
    }
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok((
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/dashboard/login"),
    )
        .into_response())
}

/// A short page in Vietnamese, for what the dashboard's reader can act on.
pub(super) fn notice(status: StatusCode, text: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Theo dõi hồ sơ TTHC</title></head>\
         <body><p>{}</p><p><a href=\"/dashboard\">Về trang tổng hợp</a></p></body></html>",
        crate::text::escape_html(text)
    );
    (status, Html(page)).into_response()
}

/// A page that cannot be made now (the database does not answer): said in
/// Vietnamese, the cause in the log.
pub(super) fn unavailable(e: ApiError) -> Response {
    tracing::error!(error = %e.message, "a dashboard page could not be made");
    notice(
        StatusCode::SERVICE_UNAVAILABLE,
        "Chưa đọc được dữ liệu lúc này. Vui lòng thử lại sau ít phút; nếu vẫn không được, báo bộ phận công nghệ thông tin.",
    )
}

fn days_text(l: &DossierLine) -> String {
    match (l.class.as_str(), l.working_days_left, l.working_days_late) {
        ("overdue", _, Some(n)) => format!("quá {n} ngày"),
        ("due_today", _, _) => "hôm nay".into(),
        (_, Some(n), _) => format!("còn {n} ngày"),
        _ => String::new(),
    }
}

fn rate(r: &KpiRow) -> RateRow {
    RateRow {
        name: r.group.clone(),
        received: r.received as u64,
        finished: r.finished as u64,
        before_due: r.before_due as u64,
        on_due_day: r.on_due_day as u64,
        late: r.late as u64,
        on_time_pct: r.on_time_pct,
        late_apologised: r.late_apologised as u64,
        apology_pct: r.apology_pct,
    }
}

/// Dossiers listed per class on the dashboard (most urgent first); the tiles
/// count them all.
const LIST_LIMIT: i64 = 200;

/// Everything on the dashboard, from the store.
pub async fn dashboard_data(
    s: &AppState,
    masking: crate::privacy::Masking,
) -> Result<DashboardData, ApiError> {
    let now = s.clock.now_vn();
    let today = now.date();
    let year_start = super::params::year_start(today);
    let rules = s.rules();
    let mut lines = s.store.at_risk_lines(LIST_LIMIT).await?;
    for l in &mut lines {
        l.days_on(&rules.calendar, today);
    }
    let row = |l: &DossierLine| Row {
        code: l.code.clone(),
        procedure: l.procedure_name.clone(),
        applicant: masking.name(l.applicant_kind == "person", &l.applicant_name),
        unit: l.unit_name.clone(),
        field: l.field_name.clone(),
        due: l
            .due_at
            .as_deref()
            .and_then(crate::clock::parse_db)
            .map(vn_datetime)
            .unwrap_or_default(),
        days: days_text(l),
        step: l.current_step.clone(),
        link: Some(crate::routing::dossier_path(&l.source, &l.code)),
    };
    let pick = |c: &str| {
        lines
            .iter()
            .filter(|l| l.class == c)
            .map(row)
            .collect::<Vec<_>>()
    };
    let classes = s.store.count_by_class().await?;
    let open: i64 = classes
        .iter()
        .filter(|(c, _)| c.is_open())
        .map(|(_, n)| n)
        .sum();
    let (overdue, due_today, due_soon) = (pick("overdue"), pick("due_today"), pick("due_soon"));
    let count = |class: Class| {
        classes
            .iter()
            .find(|(c, _)| *c == class)
            .map_or(0, |(_, n)| *n as u64)
    };
    // Twelve months up to this one, oldest first.
    let first_month =
        NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today) - Months::new(11);
    let monthly = s.store.kpis(KpiGroup::Month, first_month, today).await?;
    let trend = (0..12)
        .map(|i| {
            let m = first_month + Months::new(i);
            let key = m.format("%Y-%m").to_string();
            let r = monthly.iter().find(|r| r.group == key);
            TrendPoint {
                label: m.format("%m/%Y").to_string(),
                finished: r.map_or(0, |r| r.finished as u64),
                on_time_pct: r.and_then(|r| r.on_time_pct),
            }
        })
        .collect();
    let overall = s
        .store
        .kpis(KpiGroup::All, year_start, today)
        .await?
        .into_iter()
        .next()
        .unwrap_or_default();
    let letters = s.store.pending_letters(50).await?;
    let sources = s
        .store
        .sync_freshness()
        .await?
        .into_iter()
        .filter(|f| s.sources.is_empty() || s.sources.contains(&f.source))
        .map(|f| SourceRow {
            stale: s.staleness.is_stale(&f, now),
            last_success: f.last_success.map(vn_datetime),
            name: f.source,
        })
        .collect();
    Ok(DashboardData {
        committee: rules.routing.committee.name.clone(),
        generated_at: vn_datetime(now),
        counts: Counts {
            overdue: count(Class::Overdue),
            due_today: count(Class::DueToday),
            due_soon: count(Class::DueSoon),
            open: open as u64,
        },
        due_today,
        due_soon,
        overdue,
        by_unit: s
            .store
            .kpis(KpiGroup::Unit, year_start, today)
            .await?
            .iter()
            .map(rate)
            .collect(),
        by_field: s
            .store
            .kpis(KpiGroup::Field, year_start, today)
            .await?
            .iter()
            .map(rate)
            .collect(),
        target_on_time_pct: s.kpi.on_time_pct,
        target_apology_pct: s.kpi.apology_pct,
        overall: RateRow {
            name: "Toàn đơn vị".into(),
            ..rate(&overall)
        },
        trend,
        letters_pending: letters
            .into_iter()
            .map(|l| {
                let page = crate::routing::dossier_path(&l.source, &l.code);
                LetterRow {
                    download: (!masking.is_masked())
                        .then(|| format!("{page}/letters/{}.docx", l.version)),
                    link: Some(page),
                    code: l.code,
                    version: l.version,
                    generated: vn_datetime(l.generated_at),
                    unit: l.unit,
                }
            })
            .collect(),
        sources,
        period_label: format!("Năm {} (đến {})", today.year(), vn_date(now)),
    })
}

pub async fn dashboard(
    State(s): State<Arc<AppState>>,
    caller: Result<Caller, ApiError>,
) -> Result<Response, ApiError> {
    let Ok(caller) = caller else {
        return Ok(Redirect::to("/dashboard/login").into_response());
    };
    let data = match dashboard_data(&s, caller.role.masking()).await {
        Ok(d) => d,
        Err(e) => return Ok(unavailable(e)),
    };
    let page = render_dashboard(&data).map_err(ApiError::internal)?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(page)).into_response())
}
