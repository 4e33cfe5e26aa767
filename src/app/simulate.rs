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
}

pub fn build_simulator(settings: &Settings, a: &SimulateArgs) -> Result<Arc<Simulator>, AppError> {
    let faults = Faults::parse(&a.faults).map_err(AppError::Faults)?;
    let (cal, hours) = load_calendar(settings)?;
    Ok(Arc::new(Simulator::new(
        SimulatorOptions {
            dossiers: a.dossiers,
            seed: a.seed,
            now: crate::clock::to_vn(a.now),
            speed: a.speed,
            shape: a.shape,
            token: a.token.clone(),
            faults,
        },
        cal,
        hours,
    )))
}
