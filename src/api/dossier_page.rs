//! The dossier page, `/dossiers/{source}/{code}`, where every email's link
//! leads: the dossier, how its due date was computed day by day, its steps,
//! every due date it had, its class history, the alerts sent (to whom,
//! when) and its apology letters, each downloadable. Behind the dashboard's
//! login; what a role may see of personal data is the API's.

use super::dashboard::render_dossier;
use super::state::AppState;
use super::{ApiError, Caller, handlers};
use crate::deadline::{Class, Engine};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use std::sync::Arc;

use super::pages::{notice, unavailable};

pub async fn dossier_page(
    State(s): State<Arc<AppState>>,
    caller: Result<Caller, ApiError>,
    Path((source, code)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let Ok(caller) = caller else {
        return Ok(Redirect::to("/dashboard/login").into_response());
    };
    let (stored, timeline) = match handlers::timeline_json(&s, caller.role, &source, &code).await {
        Ok(found) => found,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return Ok(notice(
                StatusCode::NOT_FOUND,
                &format!("Không có hồ sơ {code} của nguồn {source}."),
            ));
        }
        Err(e) => return Ok(unavailable(e)),
    };
    let rules = s.rules();
    let engine = Engine::new(&rules.calendar, &s.hours, &s.deadline);
    // A dossier beyond the calendar's years is shown without the explanation,
    // and the page says why.
    let (explanation, explain_error) = match engine.explain(&stored.dossier) {
        Ok(x) => (x, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let class = timeline
        .pointer("/verdict/class")
        .and_then(|c| c.as_str())
        .and_then(Class::parse)
        .map(|c| c.label_vi());
    let page = render_dossier(context! {
        committee => rules.routing.committee.name.clone(),
        source,
        code => stored.dossier.code.clone(),
        class,
        path => crate::routing::dossier_path(&stored.source, &stored.dossier.code),
        sees_letters => caller.role.sees_personal_data(),
        t => timeline,
        explanation,
        explain_error,
    })
    .map_err(ApiError::internal)?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(page)).into_response())
}

/// One version of a dossier's apology letter, as stored (its SHA-256 checked).
/// A letter names the applicant: only for roles that see personal data.
pub async fn letter_download(
    State(s): State<Arc<AppState>>,
    caller: Result<Caller, ApiError>,
    Path((source, code, version)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let Ok(caller) = caller else {
        return Ok(Redirect::to("/dashboard/login").into_response());
    };
    if !caller.role.sees_personal_data() {
        return Ok(notice(
            StatusCode::FORBIDDEN,
            "Văn bản xin lỗi có thông tin cá nhân của người nộp: tài khoản này không được tải.",
        ));
    }
    let code = crate::text::nfc(&code);
    let version: Option<i64> = version.trim_end_matches(".docx").parse().ok();
    let dossier = match s.store.dossier(&source, &code).await {
        Ok(d) => d,
        Err(e) => return Ok(unavailable(e.into())),
    };
    let letters = match (&dossier, version) {
        (Some(d), Some(_)) => match s.store.letters_of(d.id).await {
            Ok(l) => l,
            Err(e) => return Ok(unavailable(e.into())),
        },
        _ => Vec::new(),
    };
    let letter = letters.into_iter().find(|l| Some(l.version) == version);
    let Some(letter) = letter else {
        return Ok(notice(
            StatusCode::NOT_FOUND,
            &format!("Không có văn bản này của hồ sơ {code}."),
        ));
    };
    use crate::letters::files::FileError;
    let bytes = match crate::letters::files::stored_bytes(&s.store, &letter).await {
        Ok(b) => b,
        Err(FileError::Store(crate::store::StoreError::Corrupt(e))) => {
            tracing::error!(error = %e, "a stored letter failed its check");
            return Ok(notice(
                StatusCode::CONFLICT,
                "Bản lưu của văn bản này không còn nguyên vẹn (sai mã kiểm tra SHA-256); không tải được.",
            ));
        }
        Err(FileError::Store(e)) => return Ok(unavailable(e.into())),
        Err(e) => {
            tracing::warn!(error = %e, "a letter's file is gone or altered");
            return Ok(notice(
                StatusCode::NOT_FOUND,
                "Bản lưu của văn bản này không còn nguyên vẹn; lệnh `tthc-watch letter` tạo bản mới.",
            ));
        }
    };
    let name = format!(
        "attachment; filename=\"van-ban-xin-loi-{}-v{}.docx\"",
        code.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.',
            "_"
        ),
        letter.version
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                    .to_owned(),
            ),
            (header::CONTENT_DISPOSITION, name),
        ],
        bytes,
    )
        .into_response())
}
