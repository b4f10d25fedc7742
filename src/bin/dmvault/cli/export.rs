//! `dmvault export`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::{path_arg, unlock, FilterArgs, Global, VaultArgs};
use crate::exit::Code;
use crate::output::Out;

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The folder to write the media into (created if needed).
    #[arg(value_name = "OUT", value_parser = path_arg, required_unless_present = "html", conflicts_with = "html")]
    pub out: Option<PathBuf>,
    /// Write the viewer's pages instead, as a static site in DIR that opens
    /// from file:// with no server (DIR/index.html): conversations paged,
    /// images loaded as they scroll into view, the selected media copied
    /// in decrypted. Run it again to add what is new.
    #[arg(long, value_name = "DIR", value_parser = path_arg)]
    pub html: Option<PathBuf>,
}

pub fn run(args: &ExportArgs, global: &Global) -> Result<Code> {
    let filter = args.filter.to_filter(false)?;
    let vault = unlock::open(&args.vault, global)?;
    let progress = crate::progress::for_command(global, "export");
    let progress = progress.as_ref();
    if let Some(dir) = &args.html {
        let s = dmvault::view::site::export_html(&vault, dir, &filter, progress)?;
        return html_summary(&s, dir, global);
    }
    let dest = args
        .out
        .as_deref()
        .expect("clap requires OUT without --html");
    let s = dmvault::export::export(&vault, dest, &filter, progress)?;
    let mut out = Out::new();
    if global.json {
        out.message("summary", &s)?;
    } else if !global.quiet {
        out.line(format_args!(
            "exported {} files ({}) to {}; {} already there",
            s.written,
            super::import::bytes(s.bytes),
            dest.display(),
            s.unchanged
        ))?;
        for p in &s.problems {
            out.line(format_args!("  problem: {p}"))?;
        }
    }
    Ok(if s.damaged > 0 {
        Code::Integrity
    } else if s.problems.is_empty() {
        Code::Ok
    } else {
        Code::Partial
    })
}

fn html_summary(
    s: &dmvault::view::site::SiteSummary,
    dir: &std::path::Path,
    global: &Global,
) -> Result<Code> {
    let mut out = Out::new();
    if global.json {
        out.message("summary", s)?;
    } else if !global.quiet {
        out.line(format_args!(
            "wrote {} conversations ({} messages) to {}; copied {} media files ({}), {} already there",
            s.conversations,
            s.messages,
            dir.join("index.html").display(),
            s.media.written,
            super::import::bytes(s.media.bytes),
            s.media.unchanged
        ))?;
        for p in &s.media.problems {
            out.line(format_args!("  problem: {p}"))?;
        }
    }
    Ok(if s.media.damaged > 0 {
        Code::Integrity
    } else if s.media.problems.is_empty() {
        Code::Ok
    } else {
        Code::Partial
    })
}

#[derive(Debug, Args)]
pub struct ExportSqliteArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The database file to write (must not exist).
    #[arg(value_name = "FILE", value_parser = path_arg)]
    pub file: PathBuf,
}

pub fn run_sqlite(args: &ExportSqliteArgs, global: &Global) -> Result<Code> {
    let vault = unlock::open(&args.vault, global)?;
    dmvault::vault::ensure_outside(vault.path(), &args.file)?;
    let s = vault.index.export_sqlite(&args.file)?;
    let mut out = Out::new();
    if global.json {
        out.message("summary", &s)?;
    } else if !global.quiet {
        out.line(format_args!(
            "wrote {} ({} messages, {} media references, {}); it is not encrypted",
            args.file.display(),
            s.messages,
            s.media,
            super::import::bytes(s.bytes)
        ))?;
    }
    Ok(Code::Ok)
}
