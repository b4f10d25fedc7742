//! Command-line syntax (clap). Each subcommand's runner lives in its own
//! module below.

pub mod inspect;

use clap::{Args, Parser, Subcommand};

/// Preserve the photos, GIFs and videos of your Twitter/X direct messages.
///
/// dmvault reads the archives X gives you ("Download an archive of your
/// data"), ZIP or unpacked folder, from 2018 to today, and links every DM
/// media file to its message.
///
/// Exit codes: 0 ok, 1 error, 2 usage, 3 partial (some input unreadable),
/// 4 integrity problems, 10 no vault, 11 locked, 12 no key fits,
/// 130 interrupted. See docs/cli.md.
#[derive(Debug, Parser)]
#[command(name = "dmvault", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Print machine-readable JSON (one object per line) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Never draw progress bars (they are only drawn on a terminal anyway).
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what X archives hold: messages, conversations, DM media found,
    /// missing and orphaned.
    ///
    /// Reads each archive (a .zip as downloaded, or the folder it was
    /// unpacked into) without changing or unpacking anything, and prints a
    /// summary per archive. With --json, one JSON object per archive, one
    /// per line.
    ///
    /// Examples:
    ///   dmvault inspect twitter-2024-11-09.zip
    ///   dmvault inspect --json ~/archives/*.zip | jq .media_missing
    #[command(verbatim_doc_comment)]
    Inspect(inspect::InspectArgs),
}
