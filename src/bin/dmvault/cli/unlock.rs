//! Finding the key: identity file, passphrase from the environment, a
//! file or the terminal. Secrets never come from the command line.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dmvault::vault::keys::{read_identity_file, Unlock};
use dmvault::vault::{self, Vault};
use dmvault::Error;

use super::VaultArgs;

/// `~/.config/dmvault/identity.txt` (or under `$XDG_CONFIG_HOME`).
pub fn default_identity_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("dmvault").join("identity.txt"))
}

/// Where dmvault keeps the last catalog head it saw of each vault
/// (`$XDG_STATE_HOME/dmvault` or `~/.local/state/dmvault`).
pub fn state_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .map(|b| b.join("dmvault"))
}

/// Reads a passphrase: DMVAULT_PASSPHRASE, then `file`, then the terminal.
/// `env` names the variable (DMVAULT_PASSPHRASE or DMVAULT_NEW_PASSPHRASE).
pub fn passphrase(
    env: &str,
    file: Option<&Path>,
    prompt: &str,
    confirm: bool,
) -> Result<Option<String>> {
    if let Some(p) = std::env::var_os(env) {
        return Ok(Some(p.to_string_lossy().into_owned()));
    }
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("{}: cannot read the passphrase file", f.display()))?;
        let line = text.lines().next().unwrap_or("").to_owned();
        anyhow::ensure!(
            !line.is_empty(),
            "{}: the passphrase file is empty",
            f.display()
        );
        return Ok(Some(line));
    }
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let p = rpassword::prompt_password(prompt)?;
        if confirm {
            let again = rpassword::prompt_password("Type it again: ")?;
            anyhow::ensure!(p == again, "the two passphrases differ");
        }
        anyhow::ensure!(!p.is_empty(), "an empty passphrase is not accepted");
        return Ok(Some(p));
    }
    Ok(None)
}

/// How to unlock the vault, from the arguments and environment.
pub fn unlock_method(args: &VaultArgs) -> Result<Unlock> {
    if let Some(f) = &args.identity {
        return Ok(Unlock::Identities(read_identity_file(f)?));
    }
    if std::env::var_os("DMVAULT_PASSPHRASE").is_some() || args.passphrase_file.is_some() {
        let p = passphrase(
            "DMVAULT_PASSPHRASE",
            args.passphrase_file.as_deref(),
            "",
            false,
        )?;
        return Ok(Unlock::Passphrase(p.unwrap_or_default().into()));
    }
    if let Some(f) = default_identity_path().filter(|p| p.exists()) {
        return Ok(Unlock::Identities(read_identity_file(&f)?));
    }
    match passphrase("DMVAULT_PASSPHRASE", None, "Vault passphrase: ", false)? {
        Some(p) => Ok(Unlock::Passphrase(p.into())),
        None => Err(Error::NoKeyGiven.into()),
    }
}

/// Opens and unlocks the vault.
pub fn open(args: &VaultArgs) -> Result<Vault> {
    vault::check(&args.vault)?;
    let unlock = unlock_method(args)?;
    let mut vault = Vault::open(&args.vault, &unlock)?;
    if let Some(dir) = state_dir() {
        let name = dmvault::verify::state_file_name(vault.secret());
        vault.set_state_file(dir.join(name));
    }
    Ok(vault)
}
