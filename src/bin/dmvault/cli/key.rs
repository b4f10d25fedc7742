//! `dmvault key …`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use age::secrecy::ExposeSecret;
use anyhow::Result;
use clap::{Args, Subcommand};
use dmvault::vault::keys::{read_identity_file, write_identity_file, NewKey, DEFAULT_SCRYPT_LOG_N};

use super::unlock::{self, passphrase};
use super::{Global, VaultArgs};
use crate::exit::Code;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List the ways to unlock the vault.
    List(KeyListArgs),
    /// Add a way to unlock the vault: another identity file or a passphrase.
    ///
    /// The vault's own secret is stored once more, encrypted for the new
    /// key. No object is rewritten.
    ///
    /// Examples:
    ///   dmvault key add --vault ~/dm-vault --new-identity ~/backup-key.txt
    ///   DMVAULT_NEW_PASSPHRASE_FILE=... dmvault key add --vault ~/dm-vault --new-passphrase
    #[command(verbatim_doc_comment)]
    Add(KeyAddArgs),
    /// Remove a way to unlock the vault (not the one in use, not the last).
    Remove(KeyRemoveArgs),
    /// Write the vault's own age identity to a new file (mode 0600).
    ///
    /// With it, the stock `age` tool decrypts any object or catalog segment:
    ///   age -d -i vault-identity.txt vault/objects/ab/ab….age > photo.jpg
    /// Anyone holding this file can read the whole vault, and it cannot be
    /// revoked; keep it offline.
    #[command(verbatim_doc_comment)]
    ExportIdentity(KeyExportArgs),
}

#[derive(Debug, Args)]
pub struct KeyListArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
}

#[derive(Debug, Args)]
pub struct KeyAddArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// An age identity file for the new key; created (mode 0600) if it does not exist.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["new_passphrase", "new_passphrase_file"])]
    pub new_identity: Option<PathBuf>,
    /// A new passphrase (from DMVAULT_NEW_PASSPHRASE, --new-passphrase-file, or the terminal).
    #[arg(long, conflicts_with = "new_identity")]
    pub new_passphrase: bool,
    /// Read the new passphrase from the first line of this file.
    #[arg(long, value_name = "FILE", conflicts_with = "new_identity")]
    pub new_passphrase_file: Option<PathBuf>,
    /// scrypt work factor (log2 N) for the new passphrase.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SCRYPT_LOG_N,
          value_parser = clap::value_parser!(u8).range(10..=22))]
    pub scrypt_work_factor: u8,
    /// How long to wait for a running import to finish.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_wait: u64,
}

#[derive(Debug, Args)]
pub struct KeyRemoveArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The key's id, as `dmvault key list` shows it.
    pub id: String,
    /// How long to wait for a running import to finish.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_wait: u64,
}

#[derive(Debug, Args)]
pub struct KeyExportArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The file to write (must not exist).
    pub out: PathBuf,
}

pub fn run(cmd: &KeyCommand, global: &Global) -> Result<Code> {
    let mut out = std::io::stdout().lock();
    match cmd {
        KeyCommand::List(a) => {
            let vault = unlock::open(&a.vault)?;
            for k in vault.keys()? {
                if global.json {
                    writeln!(out, "{}", serde_json::to_string(&k)?)?;
                } else {
                    let kind = serde_json::to_value(k.kind)?;
                    writeln!(
                        out,
                        "{}  {:<10}  added {}{}",
                        k.id,
                        kind.as_str().unwrap_or(""),
                        k.added,
                        if k.current { "  (used now)" } else { "" }
                    )?;
                }
            }
        }
        KeyCommand::Add(a) => {
            let mut vault = unlock::open(&a.vault)?;
            let key = match &a.new_identity {
                Some(p) if p.exists() => NewKey::Recipient(read_identity_file(p)?[0].to_public()),
                Some(p) => {
                    let id = age::x25519::Identity::generate();
                    write_identity_file(p, &id)?;
                    NewKey::Recipient(id.to_public())
                }
                None => {
                    let p = passphrase(
                        "DMVAULT_NEW_PASSPHRASE",
                        a.new_passphrase_file.as_deref(),
                        "New passphrase: ",
                        true,
                    )?
                    .ok_or(dmvault::Error::NoKeyGiven)?;
                    NewKey::Passphrase(p.into(), a.scrypt_work_factor)
                }
            };
            let id = vault.add_key(&key, Duration::from_secs(a.lock_wait))?;
            if global.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"message_type": "key_added", "id": id})
                )?;
            } else if !global.quiet {
                writeln!(out, "added key {id}")?;
            }
        }
        KeyCommand::Remove(a) => {
            let mut vault = unlock::open(&a.vault)?;
            vault.remove_key(&a.id, Duration::from_secs(a.lock_wait))?;
            if global.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"message_type": "key_removed", "id": a.id})
                )?;
            } else if !global.quiet {
                writeln!(out, "removed key {}", a.id)?;
            }
        }
        KeyCommand::ExportIdentity(a) => {
            let vault = unlock::open(&a.vault)?;
            let text = vault.secret().identity_file_text();
            dmvault::vault::fsutil::write_new_private(&a.out, text.expose_secret().as_bytes())
                .map_err(|e| anyhow::anyhow!("{}: {e}", a.out.display()))?;
            if !global.quiet && !global.json {
                writeln!(
                    out,
                    "wrote the vault identity to {}; anyone with this file can read the vault",
                    a.out.display()
                )?;
            }
        }
    }
    Ok(Code::Ok)
}
