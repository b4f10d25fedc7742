//! `dmvault export`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::{unlock, FilterArgs, Global, VaultArgs};
use crate::exit::Code;

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The folder to write the media into (created if needed).
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
}

pub fn run(args: &ExportArgs, global: &Global) -> Result<Code> {
    let filter = args.filter.to_filter(false)?;
    let vault = unlock::open(&args.vault)?;
    let progress = crate::progress::for_command(global, "export");
    let progress = progress.as_ref();
    let s = dmvault::export::export(&vault, &args.out, &filter, progress)?;
    let mut out = std::io::stdout().lock();
    if global.json {
        let mut v = serde_json::to_value(&s)?;
        v["message_type"] = "summary".into();
        writeln!(out, "{v}")?;
    } else if !global.quiet {
        writeln!(
            out,
            "exported {} files ({}) to {}; {} already there",
            s.written,
            super::import::bytes(s.bytes),
            args.out.display(),
            s.unchanged
        )?;
        for p in &s.problems {
            writeln!(out, "  problem: {p}")?;
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
