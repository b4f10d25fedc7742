//! `dmvault import`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use dmvault::import::{import, ArchiveSummary, ImportOptions};

use super::{unlock, Global, VaultArgs};
use crate::exit::Code;

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// X archives: .zip files or unpacked folders, in any order.
    #[arg(required = true, value_name = "ARCHIVE")]
    pub archives: Vec<PathBuf>,
    /// Read and hash everything and say what would be added; write nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Do not check media with FFmpeg (they are checked by default).
    #[arg(long)]
    pub no_probe: bool,
    /// How long to wait for another import on the same vault to finish.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_wait: u64,
}

pub fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

pub fn run(args: &ImportArgs, global: &Global) -> Result<Code> {
    let mut vault = unlock::open(&args.vault)?;
    if !args.dry_run {
        vault.lock(Duration::from_secs(args.lock_wait))?;
        vault.reload()?;
    }
    let progress = crate::progress::for_command(global, "import");
    let progress = progress.as_ref();
    let opts = ImportOptions::default()
        .dry_run(args.dry_run)
        .probe(!args.no_probe);
    let json = global.json;
    let quiet = global.quiet;
    let verb = if args.dry_run { "would add" } else { "added" };
    let on_archive = |a: &ArchiveSummary| {
        let mut out = std::io::stdout().lock();
        if json {
            let mut v = serde_json::to_value(a).unwrap_or_default();
            v["message_type"] = "archive".into();
            let _ = writeln!(out, "{v}");
        } else if !quiet {
            if a.already_imported {
                let _ = writeln!(
                    out,
                    "{}: already imported, nothing new ({} media files stored)",
                    a.archive, a.counts.media_known
                );
            } else {
                let _ = writeln!(
                    out,
                    "{}: {} messages ({verb} {}); {} media files: {} new, {} already stored; {} references without a file; {} orphan files; {verb} {}",
                    a.archive, a.messages_seen, a.counts.messages_new, a.counts.media_seen, a.counts.media_new, a.counts.media_known,
                    a.counts.media_missing, a.counts.media_orphans, bytes(a.counts.bytes_new)
                );
            }
            if a.counts.media_damaged + a.counts.media_unreadable > 0 {
                let _ = writeln!(
                    out,
                    "  integrity: {} damaged, {} not readable as media (stored all the same; `dmvault ls --integrity damaged` lists them)",
                    a.counts.media_damaged, a.counts.media_unreadable
                );
            }
            for p in &a.problems {
                let _ = writeln!(out, "  problem: {p}");
            }
        }
    };
    let on_error = |_: &std::path::Path, e: &dmvault::Error| crate::report_lib_error(e, json);
    let result = import(
        &mut vault,
        &args.archives,
        &opts,
        progress,
        &crate::CANCEL,
        on_archive,
        on_error,
    );
    progress.finish();
    let summary = result?;
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(&summary)?;
        v["message_type"] = "summary".into();
        writeln!(out, "{v}")?;
    } else if !quiet {
        if summary.counts.messages_new == 0 && summary.counts.media_new == 0 && !args.dry_run {
            writeln!(
                out,
                "nothing new: the vault already holds everything in these archives"
            )?;
        } else {
            writeln!(
                out,
                "{} {} messages and {} media files ({}) from {} archives",
                if args.dry_run { "would add" } else { "added" },
                summary.counts.messages_new,
                summary.counts.media_new,
                bytes(summary.counts.bytes_new),
                summary.archives
            )?;
        }
    }
    Ok(if summary.partial {
        Code::Partial
    } else {
        Code::Ok
    })
}
