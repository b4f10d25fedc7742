//! `dmvault ls` and `dmvault stats`.

use anyhow::Result;
use clap::Args;
use dmvault::query::{for_each_row, stats, Row};

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
    /// Print CSV (a header line, then one line per row, every field of
    /// `--json`) for a spreadsheet. Cells starting with = + - @ get a
    /// leading ' so that a spreadsheet never runs them as formulas.
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
}

pub fn run_ls(args: &LsArgs, global: &Global) -> Result<Code> {
    if args.csv && global.json {
        anyhow::bail!("--csv and --json cannot be used together; choose one");
    }
    let filter = args.filter.to_filter(args.missing)?;
    let vault = unlock::open(&args.vault, global)?;
    let mut out = Out::new();
    if args.csv {
        out.line(format_args!("{}", super::csv::HEADER))?;
    }
    let mut failed = None;
    let listed = for_each_row(&vault.index, &filter, |r| {
        let shown = if args.csv {
            out.line(format_args!("{}", super::csv::line(&r)))
        } else if global.json {
            out.json(&r)
        } else {
            print_row(&mut out, &r)
        };
        shown.map_err(|e| {
            failed = Some(e);
            dmvault::Error::Interrupted
        })
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    listed?;
    Ok(Code::Ok)
}

fn print_row(out: &mut Out, r: &Row) -> std::io::Result<()> {
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
    let conv = conversation_label(r);
    let sender = sender_label(r);
    out.line(format_args!(
        "{when}  {:<5}  {:<10}  {:>10}  {conv}  from {}  message {}{}  {}",
        r.kind.as_str(),
        r.integrity,
        size,
        sender,
        r.message_id.as_deref().unwrap_or("?"),
        if r.orphan { " (orphan file)" } else { "" },
        r.original_name
            .as_deref()
            .or(r.url.as_deref())
            .unwrap_or(""),
    ))
}

/// `Name (@handle)`, `@handle`, `Name`, or the id.
pub fn sender_label(r: &Row) -> String {
    match (&r.sender_name, &r.sender_handle, &r.sender_id) {
        (Some(n), Some(h), _) => format!("{n} (@{h})"),
        (Some(n), None, _) => n.clone(),
        (None, Some(h), _) => format!("@{h}"),
        (None, None, Some(id)) => id.clone(),
        (None, None, None) => "?".into(),
    }
}

/// `name (id, group)`, `id (1:1)`, …
fn conversation_label(r: &Row) -> String {
    let kind = match r.conversation_kind {
        Some(dmvault::dm::ConversationKind::Group) => "group",
        Some(dmvault::dm::ConversationKind::OneToOne) => "1:1",
        None => "",
    };
    match (&r.conversation_id, &r.conversation_name) {
        (Some(c), Some(n)) if kind.is_empty() => format!("{n} ({c})"),
        (Some(c), Some(n)) => format!("{n} ({c}, {kind})"),
        (Some(c), None) if kind.is_empty() => c.clone(),
        (Some(c), None) => format!("{c} ({kind})"),
        _ => "-".into(),
    }
}

pub fn run_stats(args: &StatsArgs, global: &Global) -> Result<Code> {
    let vault = unlock::open(&args.vault, global)?;
    let s = stats(&vault.index)?;
    let mut out = Out::new();
    if global.json {
        out.json(&s)?;
    } else {
        let b = super::import::bytes;
        out.line(format_args!("archives            {}", s.archives))?;
        out.line(format_args!("messages            {}", s.messages))?;
        if s.messages_headers_only > 0 {
            out.line(format_args!(
                "                    and {} only in headers files (no text)",
                s.messages_headers_only
            ))?;
        }
        out.line(format_args!(
            "people              {} ({} named; `dmvault people` lists them)",
            s.people, s.people_named
        ))?;
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
