//! `dmvault inspect`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dmvault::inspect::{inspect, InspectReport};

use super::{path_arg, Global};
use crate::exit::Code;
use crate::output::Out;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// X archives: .zip files or unpacked folders, of any year.
    #[arg(required = true, value_name = "ARCHIVE", value_parser = path_arg)]
    pub archives: Vec<PathBuf>,
}

pub fn run(args: &InspectArgs, global: &Global) -> Result<Code> {
    let mut failed = 0;
    let mut partial = false;
    let mut out = Out::new();
    for (i, path) in args.archives.iter().enumerate() {
        let progress = crate::progress::for_command(global, &path.display().to_string());
        match inspect(path, progress.as_ref()) {
            Ok(report) => {
                partial |= report.partial;
                if global.json {
                    out.json(&report)?;
                } else if !global.quiet {
                    if i > 0 {
                        out.line("")?;
                    }
                    print_human(&mut out, &report)?;
                }
            }
            Err(e) => {
                failed += 1;
                crate::report_lib_error(&e, global.json);
            }
        }
    }
    Ok(if failed == args.archives.len() {
        Code::Error
    } else if failed > 0 || partial {
        Code::Partial
    } else {
        Code::Ok
    })
}

fn print_human(out: &mut Out, r: &InspectReport) -> std::io::Result<()> {
    out.line(format_args!("{}", r.archive))?;
    out.line(format_args!(
        "  generation   {} ({})",
        r.generation.as_str(),
        r.generation.describe()
    ))?;
    let owner = match (&r.account_id, &r.username) {
        (Some(id), Some(u)) => format!("{id} (@{u})"),
        (Some(id), None) => id.clone(),
        (None, Some(u)) => format!("@{u}"),
        (None, None) => "unknown (no account.js or manifest)".into(),
    };
    out.line(format_args!("  account      {owner}"))?;
    out.line(format_args!(
        "  messages     {} in {} conversations ({} one-to-one, {} group)",
        r.messages,
        r.conversations.one_to_one + r.conversations.group,
        r.conversations.one_to_one,
        r.conversations.group
    ))?;
    out.line(format_args!(
        "  media        {} references: {} found, {} missing; {} orphan files",
        r.media_refs, r.media_found, r.media_missing, r.media_orphans
    ))?;
    let k = &r.media_by_kind;
    out.line(format_args!(
        "  by kind      {} images, {} GIFs, {} videos",
        k.image, k.gif, k.video
    ))?;
    if r.messages_headers_only > 0 {
        out.line(format_args!(
            "  headers      {} messages only in the headers files (no text); {} orphan files named after them",
            r.messages_headers_only, r.media_linked_by_headers
        ))?;
    }
    if r.encrypted_events > 0 {
        out.line(format_args!(
            "  encrypted    {} XChat events (cannot be imported)",
            r.encrypted_events
        ))?;
    }
    for w in &r.warnings {
        out.line(format_args!("  warning: {w}"))?;
    }
    Ok(())
}
