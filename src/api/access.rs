//! The access audit: who asked for what, and the outcome. An authenticated
//! request is one audit entry with a bounded summary of the request (the
//! path, the query's parameter names and shortened values, secrets
//! redacted). Requests nobody authenticated are counted, and written at most
//! once a minute as one entry that says how many it stands for: anyone who
//! reaches the port could otherwise fill the disk with entries that cannot be
//! pruned without breaking the chain.

use super::{AppState, caller_of};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// At most one entry for unauthenticated requests per this long.
const ANONYMOUS_WINDOW: Duration = Duration::from_secs(60);
const MAX_PATH: usize = 200;
const MAX_PARAMS: usize = 12;
const MAX_NAME: usize = 32;
const MAX_VALUE: usize = 64;
/// API tokens start so (`store::tokens`): redacted whatever the parameter's name.
const TOKEN_PREFIX: &str = "tw_";

/// Unauthenticated requests since the last entry written for them.
#[derive(Default)]
pub struct Anonymous {
    window: std::sync::Mutex<(Option<Instant>, u64)>,
}

impl Anonymous {
    /// Counts one request; `Some(n)` when an entry standing for `n` requests
    /// (this one included) is due.
    fn count(&self, now: Instant) -> Option<u64> {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        w.1 += 1;
        match w.0 {
            Some(start) if now.duration_since(start) < ANONYMOUS_WINDOW => None,
            _ => {
                let n = w.1;
                *w = (Some(now), 0);
                Some(n)
            }
        }
    }
}

/// `s` cut to `max` characters, with a visible mark when cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// The request as recorded: bounded whatever was sent, secrets redacted.
pub fn summary(method: &str, path: &str, query: Option<&str>) -> Value {
    let mut params = serde_json::Map::new();
    let mut more = 0usize;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if params.len() == MAX_PARAMS {
            more += 1;
            continue;
        }
        let secret = crate::redact::secret_param(name)
            || value.contains(TOKEN_PREFIX)
            || value.contains("tw%5F");
        let shown = if secret {
            "[redacted]".to_owned()
        } else {
            cut(value, MAX_VALUE)
        };
        params.insert(cut(name, MAX_NAME), shown.into());
    }
    let mut out = json!({ "method": method, "path": cut(path, MAX_PATH), "query": params });
    if more > 0 {
        out["more_params"] = more.into();
    }
    out
}

/// Records API and dashboard requests in the audit trail (see the module).
pub async fn audit_access(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let who = caller_of(&state, &parts)
        .await
        .ok()
        .map(|c| format!("{} ({:?})", c.name, c.role).to_lowercase());
    let mut detail = summary(parts.method.as_str(), parts.uri.path(), parts.uri.query());
    let resp = next.run(Request::from_parts(parts, body)).await;
    detail["status"] = resp.status().as_u16().into();
    let who = match who {
        Some(who) => who,
        None => {
            state.metrics.unauthenticated.inc();
            match state.anonymous.count(Instant::now()) {
                Some(n) => {
                    detail["requests"] = n.into();
                    "anonymous".to_owned()
                }
                None => return resp,
            }
        }
    };
    if let Err(e) = state
        .store
        .audit("api_access", &who, &detail, state.clock.now_vn())
        .await
    {
        tracing::error!(error = %e, "cannot record an API access");
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_summarised_bounded_and_without_secrets() {
        let long = "x".repeat(70_000);
        let q = format!("unit=PKT&access_token=abc&q=tw_0123&api_key=k&note={long}&Token=z");
        let s = summary("GET", &format!("/api/v1/{long}"), Some(&q));
        let text = s.to_string();
        assert!(text.len() < 1_000, "{}", text.len());
        assert_eq!(s["query"]["unit"], "PKT");
        for k in ["access_token", "q", "api_key", "Token"] {
            assert_eq!(s["query"][k], "[redacted]", "{k}");
        }
        assert!(!text.contains("abc") && !text.contains("tw_0123"));
        assert!(s["query"]["note"].as_str().unwrap().ends_with('…'));
        let many: Vec<String> = (0..100).map(|i| format!("p{i}=1")).collect();
        let s = summary("GET", "/", Some(&many.join("&")));
        assert_eq!(s["query"].as_object().unwrap().len(), MAX_PARAMS);
        assert_eq!(s["more_params"], 100 - MAX_PARAMS);
    }

    #[test]
    fn unauthenticated_requests_are_written_once_a_window() {
        let a = Anonymous::default();
        let t0 = Instant::now();
        assert_eq!(a.count(t0), Some(1));
        for s in 1..60 {
            assert_eq!(a.count(t0 + Duration::from_secs(s)), None);
        }
        // The entry after the window stands for the 59 counted and itself.
        assert_eq!(a.count(t0 + Duration::from_secs(61)), Some(60));
    }
}
