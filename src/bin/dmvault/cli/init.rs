//! `dmvault init`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dmvault::vault::keys::{read_identity_file, write_identity_file, NewKey, DEFAULT_SCRYPT_LOG_N};

use super::unlock::{default_identity_path, passphrase};
use super::Global;
use crate::exit::Code;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder to create the vault in (new or empty).
    #[arg(long, env = "DMVAULT_VAULT", value_name = "PATH")]
    pub vault: PathBuf,
    /// The age identity file to unlock the vault with; created (mode 0600)
    /// if it does not exist [default: ~/.config/dmvault/identity.txt].
    #[arg(short = 'i', long, env = "DMVAULT_IDENTITY", value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Protect the vault with a passphrase instead (read from
    /// DMVAULT_PASSPHRASE, --passphrase-file, or asked on the terminal).
    #[arg(long, conflicts_with = "identity")]
    pub passphrase: bool,
    /// Read the passphrase from the first line of this file.
    #[arg(long, value_name = "FILE", conflicts_with = "identity")]
    pub passphrase_file: Option<PathBuf>,
    /// scrypt work factor (log2 N) for a passphrase; each step doubles the
    /// time to unlock (and to guess).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SCRYPT_LOG_N,
          value_parser = clap::value_parser!(u8).range(10..=22))]
    pub scrypt_work_factor: u8,
}

pub fn run(args: &InitArgs, global: &Global) -> Result<Code> {
    let use_passphrase = args.passphrase
        || args.passphrase_file.is_some()
        || (args.identity.is_none() && std::env::var_os("DMVAULT_PASSPHRASE").is_some());
    let mut out = std::io::stdout().lock();
    let (key, note) = if use_passphrase {
        let p = passphrase(
            "DMVAULT_PASSPHRASE",
            args.passphrase_file.as_deref(),
            "New vault passphrase: ",
            true,
        )?
        .ok_or(dmvault::Error::NoKeyGiven)?;
        (
            NewKey::Passphrase(p.into(), args.scrypt_work_factor),
            serde_json::json!({"kind": "passphrase"}),
        )
    } else {
        let path = match &args.identity {
            Some(p) => p.clone(),
            None => default_identity_path().ok_or_else(|| {
                anyhow::anyhow!("no home folder to keep the identity in; give one with -i FILE")
            })?,
        };
        let (recipient, created) = if path.exists() {
            (read_identity_file(&path)?[0].to_public(), false)
        } else {
            let id = age::x25519::Identity::generate();
            write_identity_file(&path, &id)?;
            (id.to_public(), true)
        };
        let note = serde_json::json!({"kind": "identity", "identity_file": path.display().to_string(),
                                      "recipient": recipient.to_string(), "identity_created": created});
        (NewKey::Recipient(recipient), note)
    };
    let key_id = dmvault::vault::init(&args.vault, &key)?;
    if global.json {
        let mut v = note;
        v["message_type"] = "init".into();
        v["vault"] = args.vault.display().to_string().into();
        v["key"] = key_id.into();
        writeln!(out, "{v}")?;
    } else if !global.quiet {
        writeln!(out, "created vault {}", args.vault.display())?;
        if note["kind"] == "identity" {
            let verb = if note["identity_created"] == true {
                "created identity file"
            } else {
                "using identity file"
            };
            writeln!(
                out,
                "{verb} {} (public key {})",
                note["identity_file"].as_str().unwrap_or(""),
                note["recipient"].as_str().unwrap_or("")
            )?;
            writeln!(
                out,
                "keep that file safe and apart from the vault: it is the key to everything in it"
            )?;
        } else {
            writeln!(
                out,
                "unlocked by passphrase; there is no way to recover it if you forget it"
            )?;
        }
    }
    Ok(Code::Ok)
}
