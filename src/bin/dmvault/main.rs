//! The `dmvault` command-line program: argument parsing, output and exit
//! codes around the library. See `docs/cli.md`.

mod cli;
mod exit;
mod progress;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use exit::Code;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(Code::Usage as u8),
            };
        }
    };
    let code = match cli.command {
        Command::Inspect(args) => cli::inspect::run(&args, &cli.global),
    };
    let code = match code {
        Ok(c) => c,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            report_error(&e, cli.global.json);
            Code::Error
        }
    };
    ExitCode::from(code as u8)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// Prints an error as `dmvault: error: …` with the library's hint below it.
pub(crate) fn report_error(e: &anyhow::Error, json: bool) {
    let hint = e
        .chain()
        .find_map(|c| c.downcast_ref::<dmvault::Error>())
        .and_then(|d| d.hint());
    let mut err = io::stderr().lock();
    if json {
        let v =
            serde_json::json!({"message_type": "error", "message": format!("{e:#}"), "hint": hint});
        let _ = writeln!(err, "{v}");
        return;
    }
    let _ = writeln!(err, "dmvault: error: {e:#}");
    if let Some(h) = hint {
        let _ = writeln!(err, "  hint: {h}");
    }
}

/// Whether to draw progress bars: on a terminal, unless asked not to.
pub(crate) fn show_progress(global: &cli::Global) -> bool {
    !global.json && !global.quiet && !global.no_progress && io::stderr().is_terminal()
}
