//! The `dmvault` command-line program: argument parsing, output and exit
//! codes around the library. See `docs/cli.md`.

mod cli;
mod exit;
mod output;
mod progress;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;

use cli::{Cli, Command};
use exit::Code;

/// Set by Ctrl-C; long operations stop at the next safe point.
pub static CANCEL: AtomicBool = AtomicBool::new(false);

/// FFmpeg allocates a fresh buffer for every packet it demuxes. With
/// glibc's defaults, buffers of a few hundred KiB are mapped and unmapped
/// each time, and the kernel zeroes every page again: that was most of the
/// cost of checking a video. Serving them from the heap instead (and not
/// trimming it eagerly) makes the check several times cheaper.
#[allow(unsafe_code)]
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

fn main() -> ExitCode {
    tune_malloc();
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
    let _ = ctrlc::set_handler(|| {
        if CANCEL.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C: stop now. Committed work is safe either way.
            std::process::exit(Code::Interrupted as i32);
        }
        eprintln!("dmvault: stopping after the current step (Ctrl-C again to stop at once)");
    });
    let g = &cli.global;
    let result = match &cli.command {
        Command::Inspect(a) => cli::inspect::run(a, g),
        Command::Init(a) => cli::init::run(a, g),
        Command::Import(a) => cli::import::run(a, g),
        Command::Ls(a) => cli::ls::run_ls(a, g),
        Command::Stats(a) => cli::ls::run_stats(a, g),
        Command::Export(a) => cli::export::run(a, g),
        Command::Verify(a) => cli::verify::run(a, g),
        Command::Key(k) => cli::key::run(k, g),
        Command::Index(c) => cli::index::run(c, g),
        Command::Forget(a) => cli::forget::run(a, g),
        Command::People(a) => cli::people::run(a, g),
        Command::View(a) => cli::view::run(a, g),
        Command::Show(a) => cli::show::run_show(a, g),
        Command::Search(a) => cli::show::run_search(a, g),
        Command::ExportSqlite(a) => cli::export::run_sqlite(a, g),
    };
    // Output goes through `output::Out`, which ends quietly when the
    // reader goes away: a closed pipe never turns a result into success.
    let code = match result {
        Ok(c) => c,
        Err(e) => {
            report_error(&e, g.json);
            code_for(&e)
        }
    };
    ExitCode::from(code as u8)
}

/// The exit code for an error, from the library's error kind.
fn code_for(e: &anyhow::Error) -> Code {
    use dmvault::ErrorKind as K;
    match e
        .chain()
        .find_map(|c| c.downcast_ref::<dmvault::Error>())
        .map(|d| d.kind())
    {
        Some(K::NoVault) => Code::NoVault,
        Some(K::Locked) => Code::Locked,
        Some(K::NoKey) => Code::NoKey,
        Some(K::Integrity) => Code::Integrity,
        Some(K::Interrupted) => Code::Interrupted,
        Some(K::Ambiguous) => Code::Usage,
        _ => Code::Error,
    }
}

/// Prints an error as `dmvault: error: …` with the library's hint below it.
pub(crate) fn report_error(e: &anyhow::Error, json: bool) {
    let hint = e
        .chain()
        .find_map(|c| c.downcast_ref::<dmvault::Error>())
        .and_then(|d| d.hint());
    print_error(&format!("{e:#}"), hint, json);
}

/// Same, for a library error that does not stop the command: the error,
/// then each of its causes, once.
pub(crate) fn report_lib_error(e: &dmvault::Error, json: bool) {
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    print_error(&message, e.hint(), json);
}

/// Prints a warning that does not stop the command.
pub(crate) fn report_warning(message: &str, json: bool) {
    let mut err = io::stderr().lock();
    if json {
        let v = serde_json::json!({"message_type": "warning", "message": message});
        let _ = writeln!(err, "{}", output::json_safe(&v.to_string()));
    } else {
        let _ = writeln!(err, "dmvault: warning: {}", output::clean(message));
    }
}

fn print_error(message: &str, hint: Option<&str>, json: bool) {
    let mut err = io::stderr().lock();
    if json {
        let v = serde_json::json!({"message_type": "error", "message": message, "hint": hint});
        let _ = writeln!(err, "{}", output::json_safe(&v.to_string()));
        return;
    }
    let _ = writeln!(err, "dmvault: error: {}", output::clean(message));
    if let Some(h) = hint {
        let _ = writeln!(err, "  hint: {h}");
    }
}

/// Whether to draw progress bars: on a terminal, unless asked not to.
pub(crate) fn show_progress(global: &cli::Global) -> bool {
    !global.json && !global.quiet && !global.no_progress && io::stderr().is_terminal()
}
