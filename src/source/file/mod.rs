//! Sources without an API: the centre's Excel and CSV exports. A file is
//! read row by row (`read`), its header found and its rows made records
//! (`table`, over a `layout`), each record mapped like an API record
//! (`source::mapping`) and stored through the same sync writer, content
//! hash and quarantine as a poll (`import`). A watched folder (`watch`) is
//! a source the daemon polls: each settled file is imported and moved to
//! `processed/` with a receipt.

pub mod cells;
pub mod import;
pub mod layout;
pub mod read;
pub mod table;
pub mod watch;

pub use import::{ImportOptions, ImportSummary, import_file};
pub use watch::poll_folder;

use crate::store::StoreError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: cannot be read: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("{0}")]
    NoHeader(String),
    #[error("layout {name}: {message}")]
    Layout { name: String, message: String },
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// The writing side stopped (its own error is reported).
    #[error("reading stopped")]
    Stopped,
    #[error(transparent)]
    Store(#[from] StoreError),
}
