//! The encrypted vault: layout, unlocking, locking, committing. See
//! `docs/vault-format.md`.
//!
//! ```text
//! vault/
//!   dmvault.json          {"format":"dmvault-vault","version":2}: no secret, no id
//!   README.txt            what this folder is (fixed text)
//!   keys/<random>.age     the vault secret, once per unlock method
//!   objects/ab/<id>.age   one age file per unique content, id = BLAKE3-keyed(id key, BLAKE3(plaintext))
//!   catalog/<seq>.age     authenticated, append-only catalog segments (the log)
//!   index/index.db        SQLCipher index derived from the log (and its -wal, -shm)
//!   tmp/                  temp files (ciphertext only) before they are renamed into place
//!   lock                  empty; writers hold an exclusive flock on it
//! ```

pub mod backend;
pub mod catalog;
pub mod compact;
pub mod fsutil;
pub mod importer;
pub mod keyring;
pub mod keys;
mod layout;
pub mod ledger;
pub mod place;
mod remote;
pub mod seen;
pub mod store;

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::index::{Index, Rebuilt};
use crate::progress::{Progress, Quiet};
use catalog::{Chain, Log, Record};
use keys::{Unlock, VaultSecret};
use place::Place;
use store::Store;

pub use keyring::{KeyInfo, Unlocked};
pub use layout::{check, ensure_outside, init, init_place, lock, VaultLock};
pub use seen::{SeenHead, SeenState};

/// An unlocked vault with its index.
pub struct Vault {
    unlocked: Unlocked,
    store: Store,
    /// Everything the vault knows, up to date with the log.
    pub index: Index,
    rebuilt: Option<Rebuilt>,
    /// The chain's head on disk: the one place segments are appended from.
    chain: Mutex<Chain>,
    lock: Option<layout::VaultLock>,
    seen: Option<SeenState>,
    /// Where segments are appended: the catalog, or (for a write-only
    /// importer) its inbox.
    log: Log,
    /// Taking the lock finished a compaction cut short.
    tidied: bool,
}

impl Vault {
    /// Opens and unlocks the vault at `path` and loads its catalog.
    ///
    /// # Errors
    /// [`crate::Error::NoVault`], [`crate::Error::NoKeyFits`] (saying
    /// nothing about which key was tried), or [`crate::Error::Catalog`]
    /// when the catalog is damaged.
    pub fn open(path: &Path, unlock: &Unlock) -> Result<Vault> {
        Self::load(Unlocked::open(Place::folder(path), unlock)?, &Quiet)
    }

    /// Opens the index of an unlocked vault, bringing it up to date with
    /// the log (or rebuilding it: see [`Vault::rebuilt`]). A format-1 vault
    /// becomes format 2 here: its segments stay as they are, readable, and
    /// the index is built from them.
    ///
    /// # Errors
    /// [`crate::Error::Catalog`] when a segment the index lacks is damaged;
    /// [`crate::Error::Index`] when the index cannot be written.
    pub fn load(unlocked: Unlocked, progress: &dyn Progress) -> Result<Vault> {
        let (index, chain, rebuilt, log) = if unlocked.secret().importer().is_some() {
            let (index, chain, log) = importer_index(&unlocked)?;
            (index, chain, None, log)
        } else {
            let (index, chain, rebuilt) =
                Index::open(unlocked.place(), unlocked.secret(), progress)?;
            layout::migrate(unlocked.place(), 2)?;
            (index, chain, rebuilt, Log::Catalog)
        };
        Ok(Vault {
            store: Store::new(unlocked.place(), unlocked.secret().recipient().clone()),
            unlocked,
            index,
            rebuilt,
            chain: Mutex::new(chain),
            lock: None,
            seen: None,
            log,
            tidied: false,
        })
    }

    /// Opened with a write-only importer key: it appends to its inbox, and
    /// its index is its own record of what it sent.
    pub fn is_importer(&self) -> bool {
        self.secret().importer().is_some()
    }

    /// Lets go of the write lock (taken with [`Vault::lock`]).
    pub fn release_lock(&mut self) {
        self.lock = None;
    }

    /// Makes a write-only importer key (the lock taken, the catalog
    /// reloaded): the catalog records it, then its registration file is
    /// written. The caller writes the key to the user's file.
    ///
    /// # Errors
    /// [`Error::WriteOnlyKey`] when this vault was opened with one.
    pub fn add_importer(&mut self, wait: Duration) -> Result<importer::ImporterKey> {
        self.unlocked.readable()?;
        self.lock(wait)?;
        let key = importer::new_key(self.secret())?;
        self.append(&[Record::Importer {
            id: key.id().to_owned(),
            added: crate::time::Timestamp::now(),
        }])?;
        importer::write_registration(self.place(), &key)?;
        Ok(key)
    }

    /// Why the index was rebuilt from the log when the vault was opened.
    pub fn rebuilt(&self) -> Option<Rebuilt> {
        self.rebuilt
    }

    /// Takes the vault's write lock, waiting at most `wait` (see [`lock`]),
    /// removes temp files a killed writer left, and loads the catalog again
    /// (another process may have committed): callers need not reload.
    ///
    /// With the vault's key, what a `forget` cut short left is then deleted
    /// (see [`compact`]).
    pub fn lock(&mut self, wait: Duration) -> Result<()> {
        self.lock = Some(lock(self.place(), wait)?);
        layout::clean_temp(self.place());
        // What this writer appends may be of the kinds the latest format
        // added: an older dmvault must refuse the vault from now on.
        layout::migrate(self.place(), layout::WRITES)?;
        self.reload()?;
        if !self.is_importer() {
            self.tidied |= self.tidy_compaction()?;
        }
        Ok(())
    }

    /// Whether taking the lock finished what a `forget` cut short.
    pub fn tidied(&self) -> bool {
        self.tidied
    }

    /// Where to record the catalog head after each commit (for rollback
    /// detection by `verify`). Only when the catalog continues the head
    /// recorded there: a vault put back to an older state keeps the record
    /// of the newer one, so `verify` still reports the rollback after this
    /// writer's commits. Returns `false` in that case (a rollback).
    pub fn set_seen_state(&mut self, seen: SeenState) -> bool {
        let chain = self.chain.get_mut().unwrap_or_else(|e| e.into_inner());
        let continues = seen.read().is_none_or(|before| before.continued_by(chain));
        if continues {
            self.seen = Some(seen);
        }
        continues
    }

    /// Brings the index up to date (after another process committed).
    pub fn reload(&mut self) -> Result<()> {
        if self.is_importer() {
            let (index, chain, log) = importer_index(&self.unlocked)?;
            self.index = index;
            self.log = log;
            *self.chain.get_mut().unwrap_or_else(|e| e.into_inner()) = chain;
            return Ok(());
        }
        let (index, chain, rebuilt) = Index::open(self.place(), self.secret(), &Quiet)?;
        self.index = index;
        self.rebuilt = self.rebuilt.or(rebuilt);
        *self.chain.get_mut().unwrap_or_else(|e| e.into_inner()) = chain;
        Ok(())
    }

    /// Empties the index and builds it again from the log.
    pub fn rebuild_index(&mut self, progress: &dyn Progress) -> Result<()> {
        self.index.rebuild(
            self.unlocked.place(),
            self.unlocked.secret(),
            progress,
            false,
        )?;
        *self.chain.get_mut().unwrap_or_else(|e| e.into_inner()) = self.index.chain()?;
        self.rebuilt = Some(Rebuilt::Forced);
        Ok(())
    }

    /// The vault's local folder: the vault itself, or, for one in object
    /// storage, the folder of its cached index.
    pub fn path(&self) -> &Path {
        self.unlocked.path()
    }

    /// Where the vault is.
    pub fn place(&self) -> &Place {
        self.unlocked.place()
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

    /// Writes `records` as the next catalog segment, then applies them to
    /// the index. The writer of an import's media phase appends while
    /// workers share the vault. The objects the records name must be
    /// durable already. Segments are appended here and nowhere else.
    pub(crate) fn append(&self, records: &[Record]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let encoded =
            catalog::EncodedRecords::new(records).map_err(|e| Error::write(self.path(), e))?;
        self.append_encoded(records, &encoded)
    }

    /// [`Vault::append`], with the records already encoded.
    pub(crate) fn append_encoded(
        &self,
        records: &[Record],
        encoded: &catalog::EncodedRecords,
    ) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut chain = self.chain.lock().unwrap_or_else(|e| e.into_inner());
        catalog::write_segment(
            self.unlocked.place(),
            self.unlocked.secret(),
            &self.log,
            &mut chain,
            encoded,
        )?;
        if let Some(seen) = &self.seen {
            seen.write(&chain.seen());
        }
        self.index.apply_segment(chain.seq(), chain.head(), records)
    }

    /// Applies records to the index only, uncommitted (a dry run, between
    /// [`Index`]'s `begin_dry_run` and `end_dry_run`).
    pub(crate) fn fold(&self, records: &[Record]) -> Result<()> {
        self.index.apply_uncommitted(records)
    }

    /// Commits records as the next catalog segment.
    pub fn commit(&mut self, records: Vec<Record>) -> Result<()> {
        self.append(&records)
    }
}

/// A write-only importer's own index and the inbox chain it continues. An
/// index that is behind its inbox (killed after a segment was written,
/// before it was noted) cannot be brought up to date by an importer, which
/// cannot read its segments: it starts anew, with a new epoch (the owner
/// merges both chains).
fn importer_index(unlocked: &Unlocked) -> Result<(Index, Chain, Log)> {
    let secret = unlocked.secret();
    let id = secret.importer().unwrap_or_default().to_owned();
    let path = importer::local_dir(&secret.vault_id(), &id).join("index.db");
    let place = unlocked.place();
    for _ in 0..2 {
        let (index, chain) = Index::open_importer(&path, secret)?;
        let log = Log::Inbox {
            importer: id.clone(),
            epoch: index.epoch()?,
        };
        let next = log.key(chain.seq() + 1);
        let behind = place
            .files()
            .stat(&next)
            .map_err(|e| Error::read(place.name_of(&next), e))?
            .is_some();
        if !behind {
            return Ok((index, chain, log));
        }
        drop(index);
        Index::remove(&path)?;
    }
    Err(Error::Index {
        detail: format!("{}: cannot start a new epoch", path.display()),
    })
}
