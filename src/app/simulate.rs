//! The stand-in provincial system, built from the settings' calendar.

use super::{AppError, load_calendar};
use crate::config::Settings;
use crate::simulator::{Faults, Simulator, SimulatorOptions};
use crate::source::Shape;
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub struct SimulateArgs {
    pub dossiers: u32,
    pub seed: u64,
    pub now: DateTime<Utc>,
    pub speed: f64,
    pub shape: Shape,
    pub token: String,
    pub faults: String,
    pub prerender: bool,
    /// Days of receipts before `now`.
    pub history_days: i64,
}

pub fn build_simulator(settings: &Settings, a: &SimulateArgs) -> Result<Arc<Simulator>, AppError> {
    let faults = Faults::parse(&a.faults).map_err(AppError::Faults)?;
    let (cal, hours) = load_calendar(settings)?;
    Ok(Arc::new(Simulator::with_history(
        SimulatorOptions {
            dossiers: a.dossiers,
            seed: a.seed,
            now: crate::clock::to_vn(a.now),
            speed: a.speed,
            shape: a.shape,
            token: a.token.clone(),
            faults,
        },
        a.history_days,
        cal,
        hours,
    )))
}

/// How tthc-watch connects to a simulator of `shape` at `url` whose access
/// token is `token`, each family its real way: a bearer token (native), HTTP
/// Basic and a `groupId` (OpenCPS), a Keycloak form (iGate), a JSON login
/// (one-door). The simulated iGate site's status ids beyond the preset's are
/// mapped, as an integrator maps a real site's (`source test` lists them).
/// `simulate --export FILE.xlsx`: the simulator's dossiers at its start
/// time as a centre's Excel export; how many were written.
pub fn export(
    settings: &Settings,
    a: &SimulateArgs,
    path: &std::path::Path,
) -> Result<u64, AppError> {
    let sim = build_simulator(settings, a)?;
    crate::simulator::export::write_xlsx(&sim, path, "UBND PHƯỜNG MÔ PHỎNG").map_err(|e| {
        AppError::Write {
            path: path.to_owned(),
            error: std::io::Error::other(e.to_string()),
        }
    })
}

pub fn simulator_source(url: &str, token: &str, shape: Shape) -> crate::source::SourceSettings {
    use crate::source::AuthSettings;
    let auth = match shape {
        Shape::Native => AuthSettings::Bearer {
            token: token.to_owned(),
        },
        Shape::Opencps => AuthSettings::Basic {
            user: "giamsat".into(),
            password: token.to_owned(),
            headers: [("groupId".to_owned(), "35404".to_owned())].into(),
        },
        Shape::Igate => AuthSettings::TokenEndpoint {
            token_url: "/auth/realms/tthc/protocol/openid-connect/token".into(),
            form: [
                ("grant_type", "password"),
                ("client_id", "tthc-watch"),
                ("username", "giamsat"),
                ("password", token),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            json: None,
            token_pointer: None,
            expires_pointer: "/expires_in".into(),
            lifetime_secs: 300,
        },
        Shape::Onedoor => AuthSettings::TokenEndpoint {
            token_url: "/api/tokens".into(),
            form: Default::default(),
            json: Some(serde_json::json!({ "userName": "giamsat", "password": token })),
            token_pointer: None,
            expires_pointer: "/expires_in".into(),
            lifetime_secs: 600,
        },
    };
    let mapping = (shape == Shape::Igate).then(|| {
        serde_json::json!({ "values": { "status": {
            "7": "stopped", "8": "refused", "9": "withdrawn", "18": "fee_requested"
        } } })
    });
    crate::source::SourceSettings {
        url: url.to_owned(),
        shape,
        enabled: true,
        auth,
        page_size: 1000,
        timeout_secs: 30,
        max_retries: 5,
        overlap_minutes: 10,
        mapping,
        poll: None,
        agencies: Vec::new(),
        kind: crate::config::SourceKind::Api,
        folder: None,
        pattern: None,
        layout: None,
        columns: None,
        snapshot: false,
        settle_secs: 2,
        stale_after_minutes: None,
    }
}
