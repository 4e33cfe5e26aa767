//! tthc-watch: watches a provincial TTHC system so that no administrative-procedure
//! dossier goes late unnoticed. See README.md for what it does and DESIGN in the
//! repository's shared documents for the shape of the program.
//!
//! Layout, following the flow of data: `source` (poll) → `store` → `calendar`
//! (working days) → … ; `simulator` is the stand-in provincial system; `app`
//! holds the operations (sync, check, letters, digest, send) that `cli` (the
//! command line), `daemon` (the scheduled service) and `api` call.

pub mod ack;
pub mod api;
pub mod app;
pub mod calendar;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod deadline;
pub mod dossier;
pub mod escalation;
pub mod letters;
pub mod notify;
pub mod privacy;
pub mod redact;
pub mod report;
pub mod routing;
pub mod simulator;
pub mod source;
pub mod store;
pub mod text;
pub mod watchdog;
