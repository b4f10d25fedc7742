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
    ))
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
