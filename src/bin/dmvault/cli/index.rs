//! `dmvault index …`.

use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::{unlock, Global, VaultArgs};
use crate::exit::Code;
use crate::output::Out;

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Build the vault's index again from its catalog.
    ///
    /// The index (index/index.db in the vault, encrypted) is derived from
    /// the catalog, and every command brings it up to date or rebuilds it
    /// when it is missing, damaged or stale, and says so. This forces a
    /// rebuild. It waits for an import running on the vault to finish.
    ///
    /// Example:
    ///   dmvault index rebuild --vault ~/dm-vault
    #[command(verbatim_doc_comment)]
    Rebuild(IndexRebuildArgs),
}

#[derive(Debug, Args)]
pub struct IndexRebuildArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// How long to wait for an import on the same vault to finish.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_wait: u64,
}

pub fn run(cmd: &IndexCommand, global: &Global) -> Result<Code> {
    let IndexCommand::Rebuild(args) = cmd;
    let mut vault = unlock::open(&args.vault, global)?;
    vault.lock(Duration::from_secs(args.lock_wait))?;
    let progress = crate::progress::for_command(global, "index");
    vault.rebuild_index(progress.as_ref())?;
    progress.finish();
    let s = dmvault::query::stats(&vault.index)?;
    let mut out = Out::new();
    if global.json {
        out.message("summary", &serde_json::json!({"rebuilt": true, "messages": s.messages, "segments": vault.index.chain()?.seq()}))?;
    } else if !global.quiet {
        out.line(format_args!(
            "index rebuilt from the catalog: {} messages, {} media references",
            s.messages, s.references
        ))?;
    }
    Ok(Code::Ok)
}
