//! `dmvault verify`.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use dmvault::verify::{
    quarantine, verify, Finding, Severity, Subset, VerifyOptions, VerifySummary,
};

use super::{unlock, Global, VaultArgs};
use crate::exit::Code;
use crate::output::Out;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// Also decrypt every object to its end and check its keyed id, BLAKE3
    /// and SHA-256.
    #[arg(long)]
    pub read_data: bool,
    /// Also decode every video and GIF fully with FFmpeg, counting decode
    /// errors and comparing the decoded duration with the container's.
    #[arg(long)]
    pub decode: bool,
    /// Read only part of the objects: n/t (part n of t; run 1/7 … 7/7 on
    /// successive days to cover everything) or x% (the same x% every time).
    #[arg(long, value_name = "n/t|x%")]
    pub subset: Option<String>,
    /// The vault was put back to an older (or another) copy on purpose:
    /// report the rollback as a warning, and take the catalog as it is now
    /// as the one this computer knows.
    #[arg(long)]
    pub accept_rollback: bool,
    /// How long to wait for the lock when damaged objects are moved to quarantine/.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_wait: u64,
}

fn print_finding(out: &mut Out, f: &Finding, json: bool) -> std::io::Result<()> {
    if json {
        return out.message("finding", f);
    }
    let what = match (&f.object, &f.segment) {
        (Some(o), _) => format!("object {}", &o[..12.min(o.len())]),
        (None, Some(s)) => format!("catalog segment {s}"),
        _ => "vault".into(),
    };
    out.line(format_args!(
        "{}: {} {what}: {}",
        f.severity.as_str(),
        f.problem.as_str(),
        f.detail
    ))?;
    if !f.messages.is_empty() {
        out.line(format_args!(
            "  used by message{} {} in conversation{} {}",
            if f.messages.len() > 1 { "s" } else { "" },
            f.messages.join(", "),
            if f.conversations.len() > 1 { "s" } else { "" },
            if f.conversations.is_empty() {
                "-".to_owned()
            } else {
                f.conversations.join(", ")
            }
        ))?;
    }
    out.line(format_args!("  hint: {}", f.hint))
}

pub fn run(args: &VerifyArgs, global: &Global) -> Result<Code> {
    let subset = args.subset.as_deref().map(Subset::parse).transpose()?;
    if args.decode && !cfg!(feature = "ffmpeg") {
        anyhow::bail!("this dmvault was built without FFmpeg; --decode is not available");
    }
    let vault = unlock::unlock(&args.vault)?;
    unlock::merge_before_verify(&vault, global)?;
    let mut opts = VerifyOptions::default();
    opts.read_data = args.read_data;
    opts.decode = args.decode;
    opts.subset = subset;
    opts.seen = unlock::seen_state(&vault);
    opts.accept_rollback = args.accept_rollback;
    let progress = crate::progress::for_command(global, "verify");
    let progress = progress.as_ref();
    let (json, quiet) = (global.json, global.quiet);
    let started = std::time::Instant::now();
    let mut out = Out::new();
    let mut write_error = None;
    let summary = verify(vault.place(), vault.secret(), &opts, progress, |f| {
        if !quiet || f.severity == Severity::Error {
            if let Err(e) = print_finding(&mut out, f, json) {
                write_error.get_or_insert(e);
            }
        }
    })?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut moved = Vec::new();
    if !summary.corrupt.is_empty() {
        match dmvault::vault::lock(vault.place(), Duration::from_secs(args.lock_wait)) {
            Ok(_lock) => moved = quarantine(vault.place(), vault.secret(), &summary.corrupt)?,
            Err(e) => crate::report_lib_error(&e, json),
        }
    }
    if json {
        let mut v = serde_json::to_value(&summary)?;
        v["quarantined"] = moved.len().into();
        v["seconds"] = ((elapsed * 1000.0).round() / 1000.0).into();
        out.message("summary", &v)?;
    } else if !quiet {
        print_summary(&mut out, args, &summary, moved.len(), elapsed)?;
    }
    Ok(if summary.errors > 0 {
        Code::Integrity
    } else {
        Code::Ok
    })
}

fn print_summary(
    out: &mut Out,
    args: &VerifyArgs,
    summary: &VerifySummary,
    moved: usize,
    elapsed: f64,
) -> std::io::Result<()> {
    let level = match (args.read_data, args.decode) {
        (false, false) => "catalog and object presence",
        (true, false) => "catalog, presence and content of every object",
        (false, true) => "catalog, presence, and a full decode of every video",
        (true, true) => "catalog, presence, content, and a full decode of every video",
    };
    out.line(format_args!(
        "checked {level}{}: {} segments, {} objects ({} read, {} videos decoded) in {elapsed:.1} s",
        args.subset
            .as_deref()
            .map(|s| format!(" (subset {s})"))
            .unwrap_or_default(),
        summary.segments,
        summary.objects,
        summary.objects_read,
        summary.videos_decoded
    ))?;
    if moved > 0 {
        out.line(format_args!(
            "moved {moved} damaged objects to {}/quarantine; import the archives named above again to restore them",
            args.vault.vault.display()
        ))?;
    }
    if summary.errors == 0 {
        out.line(format_args!(
            "no problems found{}",
            if summary.warnings > 0 {
                format!(" ({} warnings)", summary.warnings)
            } else {
                String::new()
            }
        ))
    } else {
        out.line(format_args!(
            "{} problems found, {} warnings",
            summary.errors, summary.warnings
        ))
    }
}
