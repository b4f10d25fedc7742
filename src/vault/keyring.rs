//! Unlocking a vault, and its unlock methods (`keys/`). Managing keys
//! needs the vault secret but never the catalog, so it works on a vault
//! whose catalog is damaged.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::fsutil;
use super::keys::{self, KeyKind, NewKey, Unlock, VaultSecret};
use super::layout;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// One unlock method of a vault.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// Its id (the key file's name).
    pub id: String,
    /// Identity or passphrase.
    pub kind: KeyKind,
    /// When it was added (RFC 3339).
    pub added: String,
    /// It is the one that unlocked the vault now.
    pub current: bool,
}

/// A vault whose secret is unlocked (its catalog not loaded).
#[derive(Debug)]
pub struct Unlocked {
    path: PathBuf,
    secret: VaultSecret,
    key_used: String,
}

impl Unlocked {
    /// Checks the vault's format and unlocks it with the first key file
    /// that `unlock` opens.
    ///
    /// # Errors
    /// [`Error::NoVault`], [`Error::VaultFormat`], or [`Error::NoKeyFits`]
    /// (saying nothing about which key was tried).
    pub fn open(path: &Path, unlock: &Unlock) -> Result<Unlocked> {
        layout::check(path)?;
        for (id, p) in key_files(path)? {
            let bytes = fs::read(&p).map_err(|e| Error::read(&p, e))?;
            if let Some(secret) = keys::open(&bytes, unlock) {
                return Ok(Unlocked {
                    path: path.to_owned(),
                    secret,
                    key_used: id,
                });
            }
        }
        Err(Error::NoKeyFits)
    }

    /// The vault's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The unlocked secret.
    pub fn secret(&self) -> &VaultSecret {
        &self.secret
    }

    /// The unlock methods.
    pub fn keys(&self) -> Result<Vec<KeyInfo>> {
        let mut out = Vec::new();
        for (id, p) in key_files(&self.path)? {
            let bytes = fs::read(&p).map_err(|e| Error::read(&p, e))?;
            let added = fs::metadata(&p)
                .and_then(|m| m.modified())
                .map(|t| Timestamp::from_system_time(t).to_string())
                .unwrap_or_default();
            if let Some(kind) = keys::key_kind(&bytes) {
                out.push(KeyInfo {
                    current: id == self.key_used,
                    id,
                    kind,
                    added,
                });
            }
        }
        Ok(out)
    }

    /// Adds an unlock method; returns its id. Takes the lock.
    pub fn add_key(&self, key: &NewKey, wait: Duration) -> Result<String> {
        let _lock = layout::lock(&self.path, wait)?;
        layout::clean_temp(&self.path);
        layout::write_key(&self.path, &self.secret, key)
    }

    /// Removes an unlock method. Refuses the last one and the one in use.
    pub fn remove_key(&self, id: &str, wait: Duration) -> Result<()> {
        let _lock = layout::lock(&self.path, wait)?;
        let keys = key_files(&self.path)?;
        if !keys.iter().any(|(k, _)| k == id) {
            return Err(Error::Invalid(format!(
                "no key {id} in this vault; `dmvault key list` shows the keys"
            )));
        }
        if id == self.key_used {
            return Err(Error::Invalid(format!(
                "key {id} is the one that unlocked the vault now; unlock with another key to remove it"
            )));
        }
        if keys.len() <= 1 {
            return Err(Error::Invalid("cannot remove the vault's last key".into()));
        }
        let p = keys::key_path(&self.path, id);
        fs::remove_file(&p).map_err(|e| Error::write(&p, e))?;
        let dir = self.path.join("keys");
        fsutil::sync_dir(&dir).map_err(|e| Error::write(&dir, e))
    }
}

fn key_files(path: &Path) -> Result<Vec<(String, PathBuf)>> {
    let dir = path.join("keys");
    let mut out = Vec::new();
    for e in fs::read_dir(&dir).map_err(|e| Error::read(&dir, e))? {
        let e = e.map_err(|e| Error::read(&dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".age") {
            out.push((id.to_owned(), e.path()));
        }
    }
    out.sort();
    Ok(out)
}
