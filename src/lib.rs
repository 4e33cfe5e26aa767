//! tthc-watch: watches a provincial TTHC system so that no administrative-procedure
//! dossier goes late unnoticed. See README.md for what it does and DESIGN in the
//! repository's shared documents for the shape of the program.
//!
//! Layout, following the flow of data: `source` (poll) → `store` → `calendar`
//! (working days) → … ; `simulator` is the stand-in provincial system; `commands`
//! is the glue behind each command-line verb.

pub mod api;
pub mod calendar;
pub mod check;
pub mod clock;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod deadline;
pub mod dossier;
pub mod escalation;
pub mod letters;
pub mod notify;
pub mod redact;
pub mod routing;
pub mod simulator;
pub mod source;
pub mod store;
pub mod text;
