//! `dmvault init`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use dmvault::vault::keys::{read_identity_file, write_identity_file, NewKey, DEFAULT_SCRYPT_LOG_N};
use serde::Serialize;

use super::unlock::{default_identity_path, env_passphrase, passphrase, Purpose};
use super::{path_arg, Global};
use crate::exit::Code;
use crate::output::Out;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder to create the vault in (new or empty).
    #[arg(long, env = "DMVAULT_VAULT", value_name = "PATH", value_parser = path_arg)]
    pub vault: PathBuf,
    /// The age identity file to unlock the vault with; created (mode 0600)
    /// if it does not exist [default: DMVAULT_IDENTITY, or
    /// ~/.config/dmvault/identity.txt].
    #[arg(short = 'i', long, value_name = "FILE", value_parser = path_arg)]
    pub identity: Option<PathBuf>,
    /// Protect the vault with a passphrase instead (read from
    /// DMVAULT_PASSPHRASE, --passphrase-file, or asked on the terminal).
    #[arg(long, conflicts_with = "identity")]
    pub passphrase: bool,
    /// Read the passphrase from the first line of this file (or the file
    /// DMVAULT_PASSPHRASE_FILE names, when no identity file is asked for).
    #[arg(long, value_name = "FILE", value_parser = path_arg, conflicts_with = "identity")]
    pub passphrase_file: Option<PathBuf>,
    /// scrypt work factor (log2 N) for a passphrase; each step doubles the
    /// time to unlock (and to guess).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SCRYPT_LOG_N,
          value_parser = clap::value_parser!(u8).range(10..=22))]
    pub scrypt_work_factor: u8,
}

/// The `--json` line.
#[derive(Serialize)]
struct Created {
    vault: String,
    key: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_created: Option<bool>,
}

/// The identity file to use: `-i`, DMVAULT_IDENTITY, or the default.
fn identity_path(args: &InitArgs) -> Result<PathBuf> {
    if let Some(p) = &args.identity {
        return Ok(p.clone());
    }
    if let Some(v) = env_set("DMVAULT_IDENTITY") {
        return path_arg(&v.to_string_lossy()).map_err(anyhow::Error::msg);
    }
    default_identity_path().ok_or_else(|| {
        anyhow::anyhow!("no home folder to keep the identity in; give one with -i FILE")
    })
}

/// A variable that is set and not empty.
fn env_set(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// A passphrase is asked for explicitly, or one is in the environment and
/// no identity file is asked for.
fn wants_passphrase(args: &InitArgs) -> Result<bool> {
    if args.passphrase || args.passphrase_file.is_some() {
        return Ok(true);
    }
    let identity_asked = args.identity.is_some() || env_set("DMVAULT_IDENTITY").is_some();
    Ok(!identity_asked
        && (env_set("DMVAULT_PASSPHRASE_FILE").is_some()
            || env_passphrase("DMVAULT_PASSPHRASE", Purpose::NewKey)?.is_some()))
}

/// The passphrase file: `--passphrase-file`, or DMVAULT_PASSPHRASE_FILE.
fn passphrase_file(args: &InitArgs) -> Result<Option<PathBuf>> {
    if let Some(f) = &args.passphrase_file {
        return Ok(Some(f.clone()));
    }
    env_set("DMVAULT_PASSPHRASE_FILE")
        .map(|v| path_arg(&v.to_string_lossy()).map_err(anyhow::Error::msg))
        .transpose()
}

pub fn run(args: &InitArgs, global: &Global) -> Result<Code> {
    let mut report = Created {
        vault: args.vault.display().to_string(),
        key: String::new(),
        kind: "passphrase",
        identity_file: None,
        recipient: None,
        identity_created: None,
    };
    let mut created_identity: Option<PathBuf> = None;
    let key = if wants_passphrase(args)? {
        let p = passphrase(
            "DMVAULT_PASSPHRASE",
            passphrase_file(args)?.as_deref(),
            "New vault passphrase: ",
            Purpose::NewKey,
        )?
        .ok_or(dmvault::Error::NoKeyGiven)?;
        NewKey::Passphrase(p.into(), args.scrypt_work_factor)
    } else {
        let path = identity_path(args)?;
        dmvault::vault::ensure_outside(&args.vault, &path)?;
        let recipient = if path.exists() {
            read_identity_file(&path)?[0].to_public()
        } else {
            let id = age::x25519::Identity::generate();
            write_identity_file(&path, &id)?;
            created_identity = Some(path.clone());
            id.to_public()
        };
        report.kind = "identity";
        report.identity_file = Some(path.display().to_string());
        report.recipient = Some(recipient.to_string());
        report.identity_created = Some(created_identity.is_some());
        NewKey::Recipient(recipient)
    };
    let place = dmvault::vault::place::Place::from_arg(&args.vault)?;
    match dmvault::vault::init_place(&place, &key) {
        Ok(id) => report.key = id,
        Err(e) => {
            // A failed init leaves nothing behind: not the identity file it made either.
            if let Some(p) = &created_identity {
                let _ = std::fs::remove_file(p);
            }
            return Err(e.into());
        }
    }
    print(&report, global, created_identity.as_deref())?;
    Ok(Code::Ok)
}

fn print(r: &Created, global: &Global, created: Option<&Path>) -> Result<()> {
    let mut out = Out::new();
    if global.json {
        out.message("init", r)?;
        return Ok(());
    }
    if global.quiet {
        return Ok(());
    }
    out.line(format_args!("created vault {}", r.vault))?;
    match (&r.identity_file, &r.recipient) {
        (Some(file), Some(recipient)) => {
            let verb = if created.is_some() {
                "created identity file"
            } else {
                "using identity file"
            };
            out.line(format_args!("{verb} {file} (public key {recipient})"))?;
            out.line(
                "keep that file safe and apart from the vault: it is the key to everything in it",
            )?;
        }
        _ => out.line("unlocked by passphrase; there is no way to recover it if you forget it")?,
    }
    Ok(())
}
