//! Finding the key: identity file, passphrase from the environment, a
//! file or the terminal. Secrets never come from the command line.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use dmvault::import::MergeReport;
use dmvault::vault::importer::ImporterKey;
use dmvault::vault::keys::{read_identity_file, Unlock};
use dmvault::vault::place::Place;
use dmvault::vault::{SeenState, Unlocked, Vault};
use dmvault::Error;

use super::{Global, VaultArgs};

/// `~/.config/dmvault/identity.txt` (or under `$XDG_CONFIG_HOME`).
pub fn default_identity_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))?;
    Some(base.join("dmvault").join("identity.txt"))
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Where dmvault keeps the last catalog head it saw of each vault
/// (`$XDG_STATE_HOME/dmvault` or `~/.local/state/dmvault`).
pub fn state_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".local/state")))
        .map(|b| b.join("dmvault"))
}

/// What a passphrase is for: a new key must not be empty; unlocking takes
/// what it is given (dmvault 0.1 could make a vault with an empty one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Opening a vault.
    Unlock,
    /// A new key (`init`, `key add`): asked twice on a terminal.
    NewKey,
}

/// The passphrase in the environment variable `env`, if it is set and not
/// empty. An empty one is no passphrase: for a new key that is an error,
/// for unlocking it is as if it were not set.
pub fn env_passphrase(env: &str, purpose: Purpose) -> Result<Option<String>> {
    match std::env::var_os(env) {
        None => Ok(None),
        Some(p) if p.is_empty() && purpose == Purpose::NewKey => Err(anyhow::anyhow!(
            "{env} is set but empty; an empty passphrase protects nothing and is not accepted"
        )),
        Some(p) if p.is_empty() => Ok(None),
        Some(p) => Ok(Some(p.to_string_lossy().into_owned())),
    }
}

/// Reads a passphrase: the variable `env`, then `file`, then the terminal.
pub fn passphrase(
    env: &str,
    file: Option<&Path>,
    prompt: &str,
    purpose: Purpose,
) -> Result<Option<String>> {
    if let Some(p) = env_passphrase(env, purpose)? {
        return Ok(Some(p));
    }
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("{}: cannot read the passphrase file", f.display()))?;
        let line = text.lines().next().unwrap_or("").to_owned();
        anyhow::ensure!(
            !line.is_empty() || purpose == Purpose::Unlock,
            "{}: the passphrase file is empty (its first line is the passphrase)",
            f.display()
        );
        return Ok(Some(line));
    }
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let p = rpassword::prompt_password(prompt)?;
        if purpose == Purpose::NewKey {
            anyhow::ensure!(!p.is_empty(), "an empty passphrase is not accepted");
            let again = rpassword::prompt_password("Type it again: ")?;
            anyhow::ensure!(p == again, "the two passphrases differ");
        }
        return Ok(Some(p));
    }
    Ok(None)
}

/// How to unlock the vault, from the arguments and environment.
pub fn unlock_method(args: &VaultArgs) -> Result<Unlock> {
    if let Some(f) = &args.identity {
        return identity_file(f);
    }
    if let Some(p) = env_passphrase("DMVAULT_PASSPHRASE", Purpose::Unlock)? {
        return Ok(Unlock::Passphrase(p.into()));
    }
    if let Some(f) = &args.passphrase_file {
        let p = passphrase("DMVAULT_PASSPHRASE", Some(f), "", Purpose::Unlock)?;
        return Ok(Unlock::Passphrase(p.unwrap_or_default().into()));
    }
    if let Some(f) = default_identity_path().filter(|p| p.exists()) {
        return identity_file(&f);
    }
    match passphrase(
        "DMVAULT_PASSPHRASE",
        None,
        "Vault passphrase: ",
        Purpose::Unlock,
    )? {
        Some(p) => Ok(Unlock::Passphrase(p.into())),
        None => Err(Error::NoKeyGiven.into()),
    }
}

/// An identity file: an age identity file, or a write-only importer key.
fn identity_file(f: &Path) -> Result<Unlock> {
    let head = std::fs::read(f).unwrap_or_default();
    if ImporterKey::is_key_text(&String::from_utf8_lossy(&head)) {
        return Ok(Unlock::Importer(Box::new(ImporterKey::read_file(f)?)));
    }
    Ok(Unlock::Identities(read_identity_file(f)?))
}

/// Unlocks the vault without loading its catalog (enough for keys),
/// refusing a write-only importer key.
pub fn unlock(args: &VaultArgs) -> Result<Unlocked> {
    let vault = unlock_any(args)?;
    vault.readable()?;
    Ok(vault)
}

/// Unlocks the vault with any key, a write-only importer's included.
fn unlock_any(args: &VaultArgs) -> Result<Unlocked> {
    let place = Place::from_arg(&args.vault)?;
    dmvault::vault::check(&place)?;
    let unlock = unlock_method(args)?;
    Ok(Unlocked::open(place, &unlock)?)
}

/// The rollback state of the unlocked vault at this place.
pub fn seen_state(vault: &Unlocked) -> Option<SeenState> {
    state_dir().map(|dir| SeenState::for_vault(&dir, vault.path(), vault.secret()))
}

/// Opens and unlocks the vault and brings its index up to date (with a
/// progress bar on a terminal: a rebuild of millions of messages takes a
/// while); says so when the index had to be rebuilt from the catalog.
///
/// What write-only importers left in the inbox is merged first (when no
/// other writer holds the lock). A write-only key is refused.
pub fn open(args: &VaultArgs, global: &Global) -> Result<Vault> {
    let mut vault = open_unmerged(args, global)?;
    merge_waiting(&mut vault, global.json);
    Ok(vault)
}

/// [`open`] without merging the inbox: for `view`, which never writes
/// (it says when imports wait there).
pub fn open_unmerged(args: &VaultArgs, global: &Global) -> Result<Vault> {
    let vault = load(unlock(args)?, global)?;
    if dmvault::import::inbox_waiting(vault.place()).unwrap_or(false) {
        crate::report_warning(
            "write-only imports wait in the vault's inbox and are not shown; any other command run with the vault's key (`dmvault stats`) merges them",
            global.json,
        );
    }
    Ok(vault)
}

/// Opens the vault for `import`: with the vault's key, or a write-only
/// importer key (whose index is its own).
pub fn open_for_import(args: &VaultArgs, global: &Global) -> Result<Vault> {
    load(unlock_any(args)?, global)
}

fn load(unlocked: Unlocked, global: &Global) -> Result<Vault> {
    let progress = crate::progress::for_command(global, "index");
    let vault = Vault::load(unlocked, progress.as_ref())?;
    if let Some(why) = vault.rebuilt() {
        crate::report_warning(
            &format!("the vault's index was rebuilt from its catalog ({why})"),
            global.json,
        );
    }
    Ok(vault)
}

/// How long a reading command waits for a writer before it leaves the
/// inbox for later.
const MERGE_LOCK_WAIT: Duration = Duration::from_secs(5);

/// Merges what write-only importers left in the inbox, if anything, taking
/// the lock for it; a busy lock only postpones it (with a warning).
pub fn merge_waiting(vault: &mut Vault, json: bool) {
    if !dmvault::import::inbox_waiting(vault.place()).unwrap_or(false) {
        return;
    }
    match vault.lock(MERGE_LOCK_WAIT) {
        Ok(()) => {}
        Err(e) if e.kind() == dmvault::ErrorKind::Locked => {
            crate::report_warning(
                "write-only imports wait in the vault's inbox, and another writer holds the lock: they are merged by the next command",
                json,
            );
            return;
        }
        Err(e) => {
            vault.release_lock();
            crate::report_lib_error(&e, json);
            return;
        }
    }
    let merged = dmvault::import::merge_inbox(vault);
    vault.release_lock();
    match merged {
        Ok(r) => report_merge(&r, json),
        Err(e) => crate::report_lib_error(&e, json),
    }
}

/// Says what a merge of the inbox left behind.
pub fn report_merge(r: &MergeReport, json: bool) {
    for p in &r.problems {
        crate::report_warning(p, json);
    }
    if r.rejected > 0 {
        crate::report_warning(
            &format!(
                "{} segment(s) written with revoked write-only keys were rejected and deleted",
                r.rejected
            ),
            json,
        );
    }
}

/// Merges the inbox of a vault opened for `verify` (without its index).
pub fn merge_before_verify(unlocked: &Unlocked, global: &Global) -> Result<()> {
    if dmvault::import::inbox_waiting(unlocked.place()).unwrap_or(false) {
        let mut vault = load(unlocked.clone(), global)?;
        merge_waiting(&mut vault, global.json);
    }
    Ok(())
}

/// Has the vault record its head after each commit, for rollback
/// detection; warns when the vault is older than (or another history
/// than) the one this computer last saw here. Call it with the lock held
/// and the catalog freshly loaded.
pub fn watch_rollback(vault: &mut Vault, json: bool) {
    let Some(seen) = seen_state(vault.unlocked()) else {
        return;
    };
    if !vault.set_seen_state(seen) {
        crate::report_warning(
            "this vault is older than, or another history than, the one this computer last saw here (a rollback); what this import adds is kept, and `dmvault verify` tells more",
            json,
        );
    }
}
