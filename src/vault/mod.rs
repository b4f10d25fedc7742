//! The encrypted vault: layout, unlocking, locking, committing. See
//! `docs/vault-format.md`.
//!
//! ```text
//! vault/
//!   dmvault.json          {"format":"dmvault-vault","version":1}: no secret, no id
//!   README.txt            what this folder is (fixed text)
//!   keys/<random>.age     the vault secret, once per unlock method
//!   objects/ab/<id>.age   one age file per unique content, id = BLAKE3-keyed(id key, BLAKE3(plaintext))
//!   catalog/<seq>.age     authenticated, append-only catalog segments
//!   tmp/                  temp files (ciphertext only) before they are renamed into place
//!   lock                  empty; writers hold an exclusive flock on it
//! ```

pub mod catalog;
pub mod fsutil;
pub mod keyring;
pub mod keys;
mod layout;
pub mod seen;
pub mod store;

use std::fs::File;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use crate::error::Result;
use catalog::{Catalog, Chain, Record};
use keys::{Unlock, VaultSecret};
use store::Store;

pub use keyring::{KeyInfo, Unlocked};
pub use layout::{check, ensure_outside, init, lock};
pub use seen::{SeenHead, SeenState};

/// An unlocked vault with its catalog.
pub struct Vault {
    unlocked: Unlocked,
    store: Store,
    /// Everything the vault knows.
    pub catalog: Catalog,
    /// The chain's head on disk: the one place segments are appended from.
    chain: Mutex<Chain>,
    lock: Option<File>,
    seen: Option<SeenState>,
}

impl Vault {
    /// Opens and unlocks the vault at `path` and loads its catalog.
    ///
    /// # Errors
    /// [`crate::Error::NoVault`], [`crate::Error::NoKeyFits`] (saying
    /// nothing about which key was tried), or [`crate::Error::Catalog`]
    /// when the catalog is damaged.
    pub fn open(path: &Path, unlock: &Unlock) -> Result<Vault> {
        Self::load(Unlocked::open(path, unlock)?)
    }

    /// Loads the catalog of an unlocked vault.
    ///
    /// # Errors
    /// [`crate::Error::Catalog`] when the catalog is damaged.
    pub fn load(unlocked: Unlocked) -> Result<Vault> {
        let (catalog, chain) = Catalog::load(unlocked.path(), unlocked.secret())?;
        Ok(Vault {
            store: Store::new(unlocked.path(), unlocked.secret().recipient().clone()),
            unlocked,
            catalog,
            chain: Mutex::new(chain),
            lock: None,
            seen: None,
        })
    }

    /// Takes the vault's write lock, waiting at most `wait` (see [`lock`]),
    /// and removes temp files a killed writer left.
    pub fn lock(&mut self, wait: Duration) -> Result<()> {
        self.lock = Some(lock(self.path(), wait)?);
        layout::clean_temp(self.path());
        Ok(())
    }

    /// Where to record the catalog head after each commit (for rollback
    /// detection by `verify`). Only when the catalog continues the head
    /// recorded there: a vault put back to an older state keeps the record
    /// of the newer one, so `verify` still reports the rollback after this
    /// writer's commits. Returns `false` in that case (a rollback).
    pub fn set_seen_state(&mut self, seen: SeenState) -> bool {
        let chain = self.chain.get_mut().unwrap_or_else(|e| e.into_inner());
        let continues = seen
            .read()
            .is_none_or(|before| before.continued_by(&chain.macs));
        if continues {
            self.seen = Some(seen);
        }
        continues
    }

    /// Reloads the catalog (after another process committed).
    pub fn reload(&mut self) -> Result<()> {
        let (catalog, chain) = Catalog::load(self.path(), self.secret())?;
        self.catalog = catalog;
        *self.chain.get_mut().unwrap_or_else(|e| e.into_inner()) = chain;
        Ok(())
    }

    /// The vault's folder.
    pub fn path(&self) -> &Path {
        self.unlocked.path()
    }

    /// The unlocked secret.
    pub fn secret(&self) -> &VaultSecret {
        self.unlocked.secret()
    }

    /// The vault without its catalog (keys).
    pub fn unlocked(&self) -> &Unlocked {
        &self.unlocked
    }

    /// The object store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Writes `records` as the next catalog segment, without folding them
    /// into the catalog (see [`Vault::fold`]): the writer of an import's
    /// media phase appends while workers share the vault. The objects the
    /// records name must be durable already. Segments are appended here
    /// and nowhere else.
    pub(crate) fn append(&self, records: &[Record]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut chain = self.chain.lock().unwrap_or_else(|e| e.into_inner());
        catalog::write_segment(self.path(), self.secret(), &mut chain, records)?;
        if let Some(seen) = &self.seen {
            seen.write(&chain.seen());
        }
        Ok(())
    }

    /// Folds records into the in-memory catalog (after [`Vault::append`],
    /// or alone in a dry run).
    pub(crate) fn fold(&mut self, records: Vec<Record>) {
        for r in records {
            self.catalog.apply(r);
        }
        self.catalog.link_orphans();
    }

    /// Commits records as the next catalog segment and folds them in.
    pub fn commit(&mut self, records: Vec<Record>) -> Result<()> {
        self.append(&records)?;
        self.fold(records);
        Ok(())
    }
}
