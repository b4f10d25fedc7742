//! `dmvault key …`.

use std::path::PathBuf;
use std::time::Duration;

use age::secrecy::ExposeSecret;
use anyhow::Result;
use clap::{Args, Subcommand};
use dmvault::vault::keys::{
    read_identity_file, write_identity_file, KeyKind, NewKey, DEFAULT_SCRYPT_LOG_N,
};

use super::unlock::{self, passphrase, Purpose};
use super::{path_arg, Global, VaultArgs};
use crate::exit::Code;
use crate::output::Out;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List the ways to unlock the vault.
    List(KeyListArgs),
    /// Add a way to unlock the vault (an identity file or a passphrase), or
    /// a write-only key for unattended imports.
    ///
    /// An identity or passphrase stores the vault's own secret once more,
    /// encrypted for the new key. No object is rewritten.
    ///
    /// A write-only key (--write-only FILE) can only import: a machine
    /// holding it adds archives (`dmvault import -i FILE`) but cannot list,
    /// show, export or decrypt anything. What it imports waits in the
    /// vault's inbox until a command run with the vault's key merges it.
    /// `dmvault key remove ID` revokes it.
    ///
    /// Examples:
    ///   dmvault key add --vault ~/dm-vault --new-identity ~/backup-key.txt
    ///   dmvault key add --vault ~/dm-vault --new-passphrase          (asks twice)
    ///   dmvault key add --vault ~/dm-vault --new-passphrase-file ~/new-pass.txt
    ///   dmvault key add --vault s3://bucket/dm --write-only ~/nas-importer.key
    #[command(verbatim_doc_comment)]
    Add(KeyAddArgs),
    /// Remove a way to unlock the vault (not the one in use, not the last),
    /// or revoke a write-only key.
    ///
    /// Revoking a write-only key first merges what it imported so far; what
    /// it writes afterwards is rejected.
    Remove(KeyRemoveArgs),
    /// Write the vault's own age identity to a new file (mode 0600).
    ///
    /// With it, the stock `age` tool decrypts any object or catalog segment:
    ///   age -d -i vault-identity.txt vault/objects/ab/ab….age > photo.jpg
    ///   age -d -i vault-identity.txt vault/catalog/0000000001.age | zstd -d
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
    #[arg(long, value_name = "FILE", value_parser = path_arg,
          required_unless_present_any = ["new_passphrase", "new_passphrase_file", "write_only"])]
    pub new_identity: Option<PathBuf>,
    /// Make a write-only importer key and write it to FILE (mode 0600; it
    /// must not exist).
    #[arg(long, value_name = "FILE", value_parser = path_arg,
          conflicts_with_all = ["new_identity", "new_passphrase", "new_passphrase_file"])]
    pub write_only: Option<PathBuf>,
    /// A new passphrase (from DMVAULT_NEW_PASSPHRASE, --new-passphrase-file, or the terminal).
    #[arg(long, conflicts_with = "new_identity")]
    pub new_passphrase: bool,
    /// Read the new passphrase from the first line of this file.
    #[arg(long, env = "DMVAULT_NEW_PASSPHRASE_FILE", value_name = "FILE", value_parser = path_arg,
          conflicts_with = "new_identity")]
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
    #[arg(value_parser = path_arg)]
    pub out: PathBuf,
}

pub fn run(cmd: &KeyCommand, global: &Global) -> Result<Code> {
    let mut out = Out::new();
    match cmd {
        KeyCommand::List(a) => {
            // Keys need the vault secret, never the catalog: they can be
            // managed even when the catalog is damaged.
            let vault = unlock::unlock(&a.vault)?;
            for k in vault.keys()? {
                if global.json {
                    out.json(&k)?;
                } else {
                    let kind = match k.kind {
                        KeyKind::Identity => "identity",
                        KeyKind::Passphrase => "passphrase",
                        KeyKind::WriteOnly => "write-only",
                    };
                    out.line(format_args!(
                        "{}  {kind:<10}  added {}{}",
                        k.id,
                        k.added,
                        if k.current { "  (used now)" } else { "" }
                    ))?;
                }
            }
        }
        KeyCommand::Add(a) if a.write_only.is_some() => add_write_only(a, global, &mut out)?,
        KeyCommand::Add(a) => {
            let vault = unlock::unlock(&a.vault)?;
            let (key, created) = new_key(a, vault.path())?;
            let id = match vault.add_key(&key, Duration::from_secs(a.lock_wait)) {
                Ok(id) => id,
                Err(e) => {
                    // Nothing is left behind: not the identity file made for it.
                    if let Some(p) = created {
                        let _ = std::fs::remove_file(p);
                    }
                    return Err(e.into());
                }
            };
            if global.json {
                out.message("key_added", &serde_json::json!({"id": id}))?;
            } else if !global.quiet {
                out.line(format_args!("added key {id}"))?;
            }
        }
        KeyCommand::Remove(a) if is_write_only_id(&a.id) => revoke(a, global, &mut out)?,
        KeyCommand::Remove(a) => {
            let vault = unlock::unlock(&a.vault)?;
            vault.remove_key(&a.id, Duration::from_secs(a.lock_wait))?;
            if global.json {
                out.message("key_removed", &serde_json::json!({"id": a.id}))?;
            } else if !global.quiet {
                out.line(format_args!("removed key {}", a.id))?;
            }
        }
        KeyCommand::ExportIdentity(a) => {
            let vault = unlock::unlock(&a.vault)?;
            dmvault::vault::ensure_outside(vault.path(), &a.out)?;
            let text = vault.secret().identity_file_text();
            dmvault::vault::fsutil::write_new_private(&a.out, text.expose_secret().as_bytes())
                .map_err(|e| dmvault::Error::write(&a.out, e))?;
            if global.json {
                out.message(
                    "identity_exported",
                    &serde_json::json!({"file": a.out.display().to_string()}),
                )?;
            } else if !global.quiet {
                out.line(format_args!(
                    "wrote the vault identity to {}; anyone with this file can read the vault",
                    a.out.display()
                ))?;
            }
        }
    }
    Ok(Code::Ok)
}

/// Write-only keys' ids start with `w` (unlock methods' are hex).
fn is_write_only_id(id: &str) -> bool {
    id.starts_with('w')
}

/// `key add --write-only FILE`.
fn add_write_only(a: &KeyAddArgs, global: &Global, out: &mut Out) -> Result<()> {
    let file = a.write_only.as_deref().unwrap_or(std::path::Path::new(""));
    let mut vault = unlock::open(&a.vault, global)?;
    dmvault::vault::ensure_outside(vault.path(), file)?;
    if file.exists() {
        anyhow::bail!(
            "{}: exists; give a new file for the write-only key",
            file.display()
        );
    }
    let key = vault.add_importer(Duration::from_secs(a.lock_wait))?;
    key.write_file(file)?;
    if global.json {
        out.message(
            "key_added",
            &serde_json::json!({"id": key.id(), "kind": "write_only", "file": file.display().to_string()}),
        )?;
    } else if !global.quiet {
        out.line(format_args!(
            "added write-only key {}, written to {} (mode 0600)",
            key.id(),
            file.display()
        ))?;
        out.line(format_args!(
            "on the importing machine: dmvault import --vault {} -i {} ARCHIVE...",
            a.vault.vault.display(),
            file.display()
        ))?;
        out.line(format_args!(
            "it can add archives but not read the vault; revoke it with `dmvault key remove {}`",
            key.id()
        ))?;
    }
    Ok(())
}

/// `key remove ID` of a write-only key.
fn revoke(a: &KeyRemoveArgs, global: &Global, out: &mut Out) -> Result<()> {
    let mut vault = unlock::open(&a.vault, global)?;
    let report =
        dmvault::import::revoke_importer(&mut vault, &a.id, Duration::from_secs(a.lock_wait))?;
    unlock::report_merge(&report, global.json);
    if global.json {
        out.message(
            "key_removed",
            &serde_json::json!({"id": a.id, "kind": "write_only", "merged_segments": report.segments}),
        )?;
    } else if !global.quiet {
        out.line(format_args!(
            "revoked write-only key {} (what it imported before is kept: {} inbox segment(s) merged now); what it writes from now on is rejected",
            a.id, report.segments
        ))?;
    }
    Ok(())
}

/// The key to add, and the identity file made for it (if one was).
fn new_key(a: &KeyAddArgs, vault: &std::path::Path) -> Result<(NewKey, Option<PathBuf>)> {
    match &a.new_identity {
        Some(p) => {
            dmvault::vault::ensure_outside(vault, p)?;
            if p.exists() {
                return Ok((
                    NewKey::Recipient(read_identity_file(p)?[0].to_public()),
                    None,
                ));
            }
            let id = age::x25519::Identity::generate();
            write_identity_file(p, &id)?;
            Ok((NewKey::Recipient(id.to_public()), Some(p.clone())))
        }
        None => {
            let p = passphrase(
                "DMVAULT_NEW_PASSPHRASE",
                a.new_passphrase_file.as_deref(),
                "New passphrase: ",
                Purpose::NewKey,
            )?
            .ok_or(dmvault::Error::NoKeyGiven)?;
            Ok((NewKey::Passphrase(p.into(), a.scrypt_work_factor), None))
        }
    }
}
