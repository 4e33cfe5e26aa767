//! `/ack/{token}`: the page an alert email's one-tap link opens, on a phone,
//! without a login. Opening it records nothing (mail scanners and link
//! previews open links): it shows the dossier and one button; the button's
//! POST records the acknowledgement (or the assignment: a unit, a target
//! date, a note) once, in the audit trail, and says what was recorded. An
//! altered, expired or already used link gets a Vietnamese explanation and
//! changes nothing.

use super::dashboard::render_ack;
use super::state::AppState;
use super::{ApiError, pages::unavailable};
use crate::ack::{AckError, Grant, Purpose, Signer, token_hash};
use crate::notify::{vn_date, vn_datetime};
use crate::store::{AckDetails, AckOutcome};
use axum::Form;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{NaiveDate, NaiveDateTime};
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;

/// What an assignment's form sends.
#[derive(Deserialize, Default)]
pub struct AckForm {
    unit: Option<String>,
    target_date: Option<String>,
    note: Option<String>,
}

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// The longest note kept.
const NOTE_MAX: usize = 500;

pub async fn show(
    State(s): State<Arc<AppState>>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let now = s.clock.now_vn();
    let g = match checked(&s, &token, now).await {
        Ok(g) => g,
        Err(page) => return Ok(page),
    };
    Ok(page(&s, &g, &token, None, StatusCode::OK).await)
}

pub async fn confirm(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<AckForm>,
) -> Result<Response, ApiError> {
    let now = s.clock.now_vn();
    let g = match checked(&s, &token, now).await {
        Ok(g) => g,
        Err(page) => return Ok(page),
    };
    let details = match details_of(&g, form, now.date()) {
        Ok(mut d) => {
            d.client = Some(client(&headers, peer));
            d
        }
        Err(problem) => {
            return Ok(page(&s, &g, &token, Some(&problem), StatusCode::BAD_REQUEST).await);
        }
    };
    match s
        .store
        .record_ack(&g, &token_hash(&token), &details, now)
        .await
    {
        Ok(AckOutcome::Recorded { at }) => Ok(done(&s, &g, &details, at)),
        Ok(AckOutcome::Replayed { at }) => Ok(used(at)),
        Ok(AckOutcome::NoDossier) => Ok(refusal(
            StatusCode::NOT_FOUND,
            &format!(
                "Hồ sơ {} không còn trên hệ thống; không có gì được ghi nhận.",
                g.code
            ),
        )),
        Err(e) => Ok(unavailable(e.into())),
    }
}

/// The link's grant, or the page refusing it.
async fn checked(s: &AppState, token: &str, now: NaiveDateTime) -> Result<Grant, Response> {
    let key = s
        .store
        .ack_key(now)
        .await
        .map_err(|e| unavailable(e.into()))?;
    let g = Signer::new(key).verify(token, now).map_err(|e| match e {
        AckError::Expired(at) => refusal(
            StatusCode::GONE,
            &format!(
                "Liên kết này đã hết hạn lúc {}. Không có gì được ghi nhận. Vui lòng dùng liên kết trong thư cảnh báo mới nhất.",
                vn_datetime(at)
            ),
        ),
        AckError::Tampered | AckError::Malformed => refusal(
            StatusCode::BAD_REQUEST,
            "Liên kết không hợp lệ (có thể đã bị sửa hoặc chép thiếu). Không có gì được ghi nhận. Vui lòng mở lại liên kết trong thư cảnh báo.",
        ),
    })?;
    match s.store.ack_used(&token_hash(token)).await {
        Ok(Some(at)) => Err(used(at)),
        Ok(None) => Ok(g),
        Err(e) => Err(unavailable(e.into())),
    }
}

fn used(at: NaiveDateTime) -> Response {
    refusal(
        StatusCode::GONE,
        &format!(
            "Liên kết này đã được dùng lúc {}; mỗi liên kết chỉ dùng một lần. Không ghi nhận thêm.",
            vn_datetime(at)
        ),
    )
}

fn refusal(status: StatusCode, text: &str) -> Response {
    match render_ack(context! { refused => text }) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// The address the confirmation came from (and the proxy's, behind one).
fn client(headers: &HeaderMap, peer: SocketAddr) -> String {
    match headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
    {
        Some(f) => format!("{} (qua {})", f.trim(), peer.ip()),
        None => peer.ip().to_string(),
    }
}

/// What an assignment sets, checked: a unit, a target date from today on, a
/// short note. An acknowledgement sets nothing.
fn details_of(g: &Grant, form: AckForm, today: NaiveDate) -> Result<AckDetails, String> {
    if g.purpose == Purpose::Ack {
        return Ok(AckDetails::default());
    }
    let unit = form
        .unit
        .map(|u| crate::text::nfc(u.trim()))
        .filter(|u| !u.is_empty())
        .ok_or("Vui lòng chọn đơn vị được giao.")?;
    let date = form.target_date.unwrap_or_default();
    let target = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .map_err(|_| "Vui lòng chọn ngày cần hoàn thành.".to_owned())?;
    if target < today {
        return Err(format!(
            "Ngày cần hoàn thành ({}) đã qua; vui lòng chọn từ hôm nay.",
            target.format("%d/%m/%Y")
        ));
    }
    let note = form
        .note
        .map(|n| crate::text::nfc(n.trim()))
        .filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > NOTE_MAX) {
        return Err(format!("Ghi chú dài quá {NOTE_MAX} ký tự."));
    }
    Ok(AckDetails {
        assigned_unit: Some(unit),
        target_date: Some(target.to_string()),
        note,
        client: None,
    })
}

/// The page with its button (and an assignment's form).
async fn page(
    s: &AppState,
    g: &Grant,
    token: &str,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let stored = match s.store.dossier(&g.source, &g.code).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            return refusal(
                StatusCode::NOT_FOUND,
                &format!("Hồ sơ {} không còn trên hệ thống.", g.code),
            );
        }
        Err(e) => return unavailable(e.into()),
    };
    let d = &stored.dossier;
    let rules = s.rules();
    let units: Vec<Choice> = rules
        .routing
        .units
        .iter()
        .map(|(code, u)| Choice {
            value: u.name.clone(),
            label: format!("{} ({code})", u.name),
            selected: *code == d.unit_code,
        })
        .collect();
    let html = render_ack(context! {
        committee => rules.routing.committee.name.clone(),
        assign => g.purpose == Purpose::Assign,
        action => format!("/ack/{token}"),
        code => d.code.clone(),
        procedure => d.procedure_name.clone(),
        unit => d.unit_name.clone(),
        due => g.due_at.map(vn_datetime),
        target => g.due_at.map(|t| t.date().to_string()),
        units => units,
        problem => problem,
        recipient => g.recipient.clone(),
        expires => vn_datetime(g.expires_at),
    });
    match html {
        Ok(h) => (status, [(header::CACHE_CONTROL, "no-store")], Html(h)).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// What was recorded, said back.
fn done(s: &AppState, g: &Grant, d: &AckDetails, at: NaiveDateTime) -> Response {
    let what = match g.purpose {
        Purpose::Ack => format!(
            "Đã ghi nhận: {} đã nắm hồ sơ {}, sẽ chỉ đạo giải quyết (lúc {}).",
            g.recipient,
            g.code,
            vn_datetime(at)
        ),
        Purpose::Assign => format!(
            "Đã ghi nhận: {} giao {} xử lý hồ sơ {} trước ngày {}{} (lúc {}).",
            g.recipient,
            d.assigned_unit.as_deref().unwrap_or_default(),
            g.code,
            d.target_date
                .as_deref()
                .and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
                .map(|t| vn_date(t.and_time(chrono::NaiveTime::MIN)))
                .unwrap_or_default(),
            d.note
                .as_deref()
                .map(|n| format!("; ghi chú: {n}"))
                .unwrap_or_default(),
            vn_datetime(at)
        ),
    };
    match render_ack(context! {
        committee => s.rules().routing.committee.name.clone(),
        recorded => what,
    }) {
        Ok(h) => (StatusCode::OK, Html(h)).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}
