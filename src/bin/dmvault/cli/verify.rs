//! `dmvault verify`.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use dmvault::vault::{self, Vault};
use dmvault::verify::{quarantine, state_file_name, verify, Finding, Subset, VerifyOptions};

use super::{unlock, Global, VaultArgs};
use crate::exit::Code;

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
    /// How long to wait for the lock when damaged objects are moved to quarantine/.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_wait: u64,
}

fn print_finding(out: &mut impl Write, f: &Finding, json: bool) {
    if json {
        let mut v = serde_json::to_value(f).unwrap_or_default();
        v["message_type"] = "finding".into();
        let _ = writeln!(out, "{v}");
        return;
    }
    let what = match (&f.object, &f.segment) {
        (Some(o), _) => format!("object {}", &o[..12.min(o.len())]),
        (None, Some(s)) => format!("catalog segment {s}"),
        _ => "vault".into(),
    };
    let _ = writeln!(out, "{}: {} {what}: {}", f.severity, f.problem, f.detail);
    if !f.messages.is_empty() {
        let _ = writeln!(
            out,
            "  used by message{} {} in conversation{} {}",
            if f.messages.len() > 1 { "s" } else { "" },
            f.messages.join(", "),
            if f.conversations.len() > 1 { "s" } else { "" },
            if f.conversations.is_empty() {
                "-".to_owned()
            } else {
                f.conversations.join(", ")
            }
        );
    }
    let _ = writeln!(out, "  hint: {}", f.hint);
}

pub fn run(args: &VerifyArgs, global: &Global) -> Result<Code> {
    let subset = args.subset.as_deref().map(Subset::parse).transpose()?;
    if args.decode && !cfg!(feature = "ffmpeg") {
        anyhow::bail!("this dmvault was built without FFmpeg; --decode is not available");
    }
    vault::check(&args.vault.vault)?;
    let unlock = unlock::unlock_method(&args.vault)?;
    let (secret, _) = Vault::unlock(&args.vault.vault, &unlock)?;
    let mut opts = VerifyOptions::default();
    opts.read_data = args.read_data;
    opts.decode = args.decode;
    opts.subset = subset;
    opts.state_file = unlock::state_dir().map(|d| d.join(state_file_name(&secret)));
    let progress = crate::progress::for_command(global, "verify");
    let progress = progress.as_ref();
    let json = global.json;
    let quiet = global.quiet;
    let started = std::time::Instant::now();
    let summary = verify(&args.vault.vault, &secret, &opts, progress, |f| {
        if !quiet || f.severity == "error" {
            print_finding(&mut std::io::stdout().lock(), f, json);
        }
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    let mut moved = Vec::new();
    if !summary.corrupt.is_empty() {
        match vault::lock(&args.vault.vault, Duration::from_secs(args.lock_wait)) {
            Ok(_lock) => moved = quarantine(&args.vault.vault, &summary.corrupt)?,
            Err(e) => crate::report_lib_error(&e, json),
        }
    }
    if json {
        let mut v = serde_json::to_value(&summary)?;
        v["message_type"] = "summary".into();
        v["quarantined"] = moved.len().into();
        v["seconds"] = ((elapsed * 1000.0).round() / 1000.0).into();
        writeln!(out, "{v}")?;
    } else if !quiet {
        let level = match (args.read_data, args.decode) {
            (false, false) => "catalog and object presence",
            (true, false) => "catalog, presence and content of every object",
            (false, true) => "catalog, presence, and a full decode of every video",
            (true, true) => "catalog, presence, content, and a full decode of every video",
        };
        writeln!(
            out,
            "checked {level}{}: {} segments, {} objects ({} read, {} videos decoded) in {elapsed:.1} s",
            args.subset.as_deref().map(|s| format!(" (subset {s})")).unwrap_or_default(),
            summary.segments,
            summary.objects,
            summary.objects_read,
            summary.videos_decoded
        )?;
        if !moved.is_empty() {
            writeln!(
                out,
                "moved {} damaged objects to {}/quarantine; import the archives named above again to restore them",
                moved.len(),
                args.vault.vault.display()
            )?;
        }
        if summary.errors == 0 {
            writeln!(
                out,
                "no problems found{}",
                if summary.warnings > 0 {
                    format!(" ({} warnings)", summary.warnings)
                } else {
                    String::new()
                }
            )?;
        } else {
            writeln!(
                out,
                "{} problems found, {} warnings",
                summary.errors, summary.warnings
            )?;
        }
    }
    Ok(if summary.errors > 0 {
        Code::Integrity
    } else {
        Code::Ok
    })
}
