//! End-to-end tests: a real simulator over HTTP on a random port, real SQLite
//! files and real PostgreSQL databases (one fresh database per test).

mod acks;
mod api;
mod audit;
mod auditor;
mod browser;
mod calendar_history;
mod check;
mod cli;
mod daemon;
mod dossier_page;
mod escalation;
mod faults;
mod file_import;
mod health;
mod layout;
mod letters;
mod native_types;
mod period_report;
mod privacy;
mod quarantine;
mod real_wire;
mod signals;
mod support;
mod sync;
mod views;
mod webhooks;
