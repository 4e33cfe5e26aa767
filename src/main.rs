//! The `tthc-watch` binary: parses the command line and hands it to the
//! library (`tthc_watch::cli`), on a runtime started after the process tuning.

use clap::Parser;
use std::process::ExitCode;
use tthc_watch::cli::{Cli, run, tune_process};

// A sync allocates and frees many short strings per record; mimalloc does that
// markedly faster than the system allocator (bench/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tune_process();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
