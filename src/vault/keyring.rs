//! Unlocking a vault, and its unlock methods (`keys/`). Managing keys
//! needs the vault secret but never the catalog, so it works on a vault
//! whose catalog is damaged.

use std::fs;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::backend::direct_child;
use super::importer::ImporterKey;
use super::keys::{self, KeyKind, NewKey, Unlock, VaultSecret};
use super::layout;
use super::place::Place;
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
#[derive(Debug, Clone)]
pub struct Unlocked {
    place: Place,
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
    pub fn open(place: Place, unlock: &Unlock) -> Result<Unlocked> {
        layout::check(&place)?;
        if let Unlock::Importer(key) = unlock {
            return Unlocked::open_importer(place, key);
        }
        for (id, key) in key_files(&place)? {
            let bytes = read_key(&place, &key)?;
            if let Some(secret) = keys::open(&bytes, unlock) {
                let place = if place.is_remote() {
                    let local = super::place::cache_dir().join(secret.vault_id());
                    place.with_local(local)
                } else {
                    place
                };
                return Ok(Unlocked {
                    place,
                    secret,
                    key_used: id,
                });
            }
        }
        Err(Error::NoKeyFits)
    }

    /// A write-only importer's hold on the vault: its local folder (for an
    /// S3 vault) is its own, and its key must be registered.
    fn open_importer(place: Place, key: &ImporterKey) -> Result<Unlocked> {
        let place = if place.is_remote() {
            let local = super::importer::local_dir(&key.vault, &key.id);
            super::fsutil::create_private_dir(&local).map_err(|e| Error::write(&local, e))?;
            place.with_local(local)
        } else {
            place
        };
        super::importer::check_registration(&place, key)?;
        Ok(Unlocked {
            place,
            secret: VaultSecret::for_importer(key),
            key_used: key.id.clone(),
        })
    }

    /// Refuses a write-only importer key: for everything but `import`.
    ///
    /// # Errors
    /// [`Error::WriteOnlyKey`].
    pub fn readable(&self) -> Result<()> {
        match self.secret.importer() {
            Some(id) => Err(Error::WriteOnlyKey {
                importer: id.to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// The vault's local folder: the vault itself, or, for one in object
    /// storage, the folder of its cached index.
    pub fn path(&self) -> &Path {
        self.place.local()
    }

    /// Where the vault is.
    pub fn place(&self) -> &Place {
        &self.place
    }

    /// The unlocked secret.
    pub fn secret(&self) -> &VaultSecret {
        &self.secret
    }

    /// The unlock methods.
    pub fn keys(&self) -> Result<Vec<KeyInfo>> {
        let mut out = Vec::new();
        for (id, key) in key_files(&self.place)? {
            let bytes = read_key(&self.place, &key)?;
            let added = self.added(&key);
            if let Some(kind) = keys::key_kind(&bytes) {
                out.push(KeyInfo {
                    current: id == self.key_used,
                    id,
                    kind,
                    added,
                });
            }
        }
        for id in super::importer::registered(&self.place)? {
            let added = self.added(&super::importer::registration_key(&id));
            out.push(KeyInfo {
                current: false,
                id,
                kind: KeyKind::WriteOnly,
                added,
            });
        }
        Ok(out)
    }

    /// When a file of the vault was written (RFC 3339), where that is known.
    fn added(&self, key: &str) -> String {
        if self.place.is_remote() {
            return String::new();
        }
        fs::metadata(self.place.name_of(key))
            .and_then(|m| m.modified())
            .map(|t| Timestamp::from_system_time(t).to_string())
            .unwrap_or_default()
    }

    /// Adds an unlock method; returns its id. Takes the lock.
    pub fn add_key(&self, key: &NewKey, wait: Duration) -> Result<String> {
        self.readable()?;
        let _lock = layout::lock(&self.place, wait)?;
        layout::clean_temp(&self.place);
        layout::write_key(&self.place, &self.secret, key)
    }

    /// Removes an unlock method. Refuses the last one and the one in use.
    pub fn remove_key(&self, id: &str, wait: Duration) -> Result<()> {
        self.readable()?;
        let _lock = layout::lock(&self.place, wait)?;
        let keys = key_files(&self.place)?;
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
        let key = keys::key_key(id);
        self.place
            .files()
            .delete(&key)
            .map_err(|e| Error::write(self.place.name_of(&key), e))?;
        self.place
            .files()
            .make_durable("keys/")
            .map_err(|e| Error::write(self.place.name_of("keys"), e))
    }
}

fn read_key(place: &Place, key: &str) -> Result<Vec<u8>> {
    place
        .files()
        .get(key)
        .map_err(|e| Error::read(place.name_of(key), e))
}

/// The key files: (id, key).
fn key_files(place: &Place) -> Result<Vec<(String, String)>> {
    if !place.is_remote() {
        let dir = place.local().join("keys");
        fs::metadata(&dir).map_err(|e| Error::read(&dir, e))?;
    }
    let listed = place
        .files()
        .list("keys/")
        .map_err(|e| Error::read(place.name_of("keys"), e))?;
    let mut out: Vec<(String, String)> = listed
        .into_iter()
        .filter_map(|(key, _)| {
            let id = direct_child(&key, "keys/")?
                .strip_suffix(".age")?
                .to_owned();
            Some((id, key))
        })
        .collect();
    out.sort();
    Ok(out)
}
