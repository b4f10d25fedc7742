//! `dmvault ls` and `dmvault stats`.

use anyhow::Result;
use clap::Args;
use dmvault::query::{rows, stats};

use super::{unlock, FilterArgs, Global, VaultArgs};
use crate::exit::Code;
use crate::output::Out;

#[derive(Debug, Args)]
pub struct LsArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// List the references whose file no archive had, instead.
    #[arg(long)]
    pub missing: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
}

pub fn run_ls(args: &LsArgs, global: &Global) -> Result<Code> {
    let filter = args.filter.to_filter(args.missing)?;
    let vault = unlock::open(&args.vault)?;
    let mut out = Out::new();
    for r in rows(&vault.catalog, &filter) {
        if global.json {
            out.json(&r)?;
            continue;
        }
        let when = r.created_at.map_or_else(
            || "unknown date".to_owned(),
            |t| {
                let s = t.to_string();
                format!("{} {}", &s[..10], &s[11..16])
            },
        );
        let size = r
            .size
            .map_or_else(|| "missing".to_owned(), super::import::bytes);
        let conv = match (&r.conversation_id, r.conversation_kind) {
            (Some(c), Some(k)) => format!(
                "{c} ({})",
                if k == dmvault::dm::ConversationKind::Group {
                    "group"
                } else {
                    "1:1"
                }
            ),
            (Some(c), None) => c.clone(),
            _ => "-".into(),
        };
        out.line(format_args!(
            "{when}  {:<5}  {:<10}  {:>10}  {conv}  from {}  message {}{}  {}",
            r.kind.as_str(),
            r.integrity,
            size,
            r.sender_id.as_deref().unwrap_or("?"),
            r.message_id.as_deref().unwrap_or("?"),
            if r.orphan { " (orphan file)" } else { "" },
            r.original_name
                .as_deref()
                .or(r.url.as_deref())
                .unwrap_or(""),
        ))?;
    }
    Ok(Code::Ok)
}

pub fn run_stats(args: &StatsArgs, global: &Global) -> Result<Code> {
    let vault = unlock::open(&args.vault)?;
    let s = stats(&vault.catalog);
    let mut out = Out::new();
    if global.json {
        out.json(&s)?;
    } else {
        let b = super::import::bytes;
        out.line(format_args!("archives            {}", s.archives))?;
        out.line(format_args!("messages            {}", s.messages))?;
        out.line(format_args!(
            "conversations       {} one-to-one, {} group",
            s.conversations.one_to_one, s.conversations.group
        ))?;
        out.line(format_args!(
            "media references    {} stored, {} without a file",
            s.references, s.missing_references
        ))?;
        out.line(format_args!(
            "objects             {} ({} of media, {} on disk)",
            s.objects,
            b(s.bytes_plain),
            b(s.bytes_stored)
        ))?;
    }
    Ok(Code::Ok)
}
