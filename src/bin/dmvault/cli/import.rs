//! `dmvault import`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use dmvault::import::{import, ArchiveSummary, ImportOptions, ImportSummary};

use super::{path_arg, unlock, Global, VaultArgs};
use crate::exit::Code;
use crate::output::Out;

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// X archives: .zip files or unpacked folders, in any order.
    #[arg(required = true, value_name = "ARCHIVE", value_parser = path_arg)]
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
    let mut vault = unlock::open_for_import(&args.vault, global)?;
    if !args.dry_run {
        vault.lock(Duration::from_secs(args.lock_wait))?;
        if !vault.is_importer() {
            unlock::watch_rollback(&mut vault, global.json);
            let merged = dmvault::import::merge_inbox(&vault)?;
            unlock::report_merge(&merged, global.json);
        }
    }
    let progress = crate::progress::for_command(global, "import");
    let progress = progress.as_ref();
    let opts = ImportOptions::default()
        .dry_run(args.dry_run)
        .probe(!args.no_probe);
    let (json, quiet, dry_run) = (global.json, global.quiet, args.dry_run);
    let mut out = Out::new();
    let mut write_error = None;
    let on_archive = |a: &ArchiveSummary| {
        let r = if json {
            out.message("archive", a)
        } else if quiet {
            Ok(())
        } else {
            print_archive(&mut out, a, dry_run)
        };
        if let Err(e) = r {
            write_error.get_or_insert(e);
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
    if let Some(e) = write_error {
        return Err(e.into());
    }
    if json {
        out.message("summary", &summary)?;
    } else if !quiet {
        print_summary(&mut out, &summary)?;
    }
    if let (Some(id), false) = (vault.secret().importer(), dry_run) {
        if json {
            out.message("inbox", &serde_json::json!({"importer": id}))?;
        } else if !quiet {
            out.line(format_args!(
                "written with write-only key {id} to the vault's inbox: the vault's key merges it into the catalog on its next command"
            ))?;
        }
    }
    Ok(if summary.partial {
        Code::Partial
    } else {
        Code::Ok
    })
}

fn print_archive(out: &mut Out, a: &ArchiveSummary, dry_run: bool) -> std::io::Result<()> {
    let verb = if dry_run { "would add" } else { "added" };
    let c = &a.counts;
    if a.already_imported {
        out.line(format_args!(
            "{}: already imported, nothing new ({} media files stored)",
            a.archive, c.media_known
        ))?;
    } else {
        let failed = if c.media_failed > 0 {
            format!(", {} could not be read or stored", c.media_failed)
        } else {
            String::new()
        };
        out.line(format_args!(
            "{}: {} messages ({verb} {}); {} media files: {} new, {} already stored{failed}; {} references without a file; {} orphan files; {verb} {}",
            a.archive, a.messages_seen, c.messages_new, c.media_seen, c.media_new, c.media_known,
            c.media_missing, c.media_orphans, bytes(c.bytes_new)
        ))?;
    }
    if c.messages_headers_only > 0 {
        out.line(format_args!(
            "  headers: {} messages only the headers files hold ({verb}, without text: who, when and where)",
            c.messages_headers_only
        ))?;
    }
    if c.names_new > 0 {
        out.line(format_args!(
            "  names: {} handles and names found in the archive's tweet and account files (`dmvault people` lists them)",
            c.names_new
        ))?;
    }
    if c.messages_forgotten + c.media_forgotten > 0 {
        out.line(format_args!(
            "  forgotten: {} messages and {} media files were skipped: this vault forgot them",
            c.messages_forgotten, c.media_forgotten
        ))?;
    }
    if c.media_damaged + c.media_unreadable > 0 {
        out.line(format_args!(
            "  integrity: {} damaged, {} not readable as media (stored all the same; `dmvault ls --integrity damaged` lists them)",
            c.media_damaged, c.media_unreadable
        ))?;
    }
    for p in &a.problems {
        out.line(format_args!("  problem: {p}"))?;
    }
    for w in &a.warnings {
        out.line(format_args!("  warning: {w}"))?;
    }
    Ok(())
}

fn print_summary(out: &mut Out, s: &ImportSummary) -> std::io::Result<()> {
    let c = &s.counts;
    if s.partial {
        out.line(format_args!(
            "{} {} messages and {} media files ({}) from {} archives; {} media files could not be read or stored and {} records could not be read (see the problems above; run the same command again to retry)",
            if s.dry_run { "would add" } else { "added" },
            c.messages_new,
            c.media_new,
            bytes(c.bytes_new),
            s.archives,
            c.media_failed,
            c.records_skipped
        ))
    } else if c.messages_new == 0 && c.media_new == 0 && !s.dry_run {
        out.line("nothing new: the vault already holds everything in these archives")
    } else {
        out.line(format_args!(
            "{} {} messages and {} media files ({}) from {} archives",
            if s.dry_run { "would add" } else { "added" },
            c.messages_new,
            c.media_new,
            bytes(c.bytes_new),
            s.archives
        ))
    }
}
