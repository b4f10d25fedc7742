//! The encrypted vault: layout, unlocking, locking. See `docs/vault-format.md`.
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
pub mod keys;
pub mod store;

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use catalog::Catalog;
use keys::{KeyKind, NewKey, Unlock, VaultSecret};
use store::Store;

const FORMAT_FILE: &str = "dmvault.json";
const FORMAT: &str = "dmvault-vault";
const VERSION: u32 = 1;
const README: &str = "This folder is a dmvault vault: encrypted copies of direct-message media.\n\
Everything in it is encrypted with age; nothing here can be read without one of its keys.\n\
Use `dmvault ls`, `dmvault export` and `dmvault verify` with --vault pointing here.\n\
Do not edit, rename or delete files in it by hand.\n";

/// An unlocked vault.
pub struct Vault {
    path: PathBuf,
    secret: VaultSecret,
    store: Store,
    /// Everything the vault knows.
    pub catalog: Catalog,
    key_used: String,
    lock: Option<File>,
    state_file: Option<PathBuf>,
}

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

/// Checks that `path` holds a vault of a format this version reads.
pub fn check(path: &Path) -> Result<()> {
    let f = path.join(FORMAT_FILE);
    let text = match fs::read_to_string(&f) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoVault {
                path: path.to_owned(),
            })
        }
        Err(e) => return Err(Error::io(&f, e)),
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::VaultFormat {
        path: f.clone(),
        detail: e.to_string(),
    })?;
    if v["format"] != FORMAT {
        return Err(Error::NoVault {
            path: path.to_owned(),
        });
    }
    if v["version"] != VERSION {
        return Err(Error::VaultFormat {
            path: f,
            detail: format!(
                "version {} (this dmvault reads version {VERSION})",
                v["version"]
            ),
        });
    }
    Ok(())
}

/// Creates a vault at `path` (a new or empty folder) with one unlock method.
/// Returns the key's id.
pub fn init(path: &Path, key: &NewKey) -> Result<String> {
    if path.exists() {
        let mut entries = fs::read_dir(path).map_err(|e| Error::io(path, e))?;
        if entries.next().is_some() {
            return Err(Error::NotEmpty {
                path: path.to_owned(),
            });
        }
    }
    for d in ["keys", "objects", "catalog", "tmp"] {
        let p = path.join(d);
        fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
    }
    let secret = VaultSecret::generate()?;
    let id = write_key(path, &secret, key)?;
    let lock = path.join("lock");
    File::create(&lock).map_err(|e| Error::io(&lock, e))?;
    fs::write(path.join("README.txt"), README).map_err(|e| Error::io(path, e))?;
    let fmt = serde_json::json!({"format": FORMAT, "version": VERSION}).to_string();
    fsutil::write_new_private(&path.join(FORMAT_FILE), fmt.as_bytes())
        .map_err(|e| Error::io(path, e))?;
    fsutil::sync_dir(path).map_err(|e| Error::io(path, e))?;
    Ok(id)
}

/// Takes the vault's write lock: a kernel `flock` on `lock`, waiting at
/// most `wait`. It is released when the returned file is dropped or the
/// process ends, however it ends, so a crash never leaves a stale lock.
pub fn lock(path: &Path, wait: Duration) -> Result<File> {
    let p = path.join("lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| Error::io(&p, e))?;
    let start = Instant::now();
    loop {
        match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(f),
            Err(rustix::io::Errno::WOULDBLOCK) if start.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(Error::Locked {
                    path: path.to_owned(),
                    waited_s: wait.as_secs(),
                })
            }
            Err(e) => return Err(Error::io(&p, e.into())),
        }
    }
}

fn write_key(path: &Path, secret: &VaultSecret, key: &NewKey) -> Result<String> {
    let sealed = keys::seal(secret, key)?;
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).map_err(|e| Error::Random(e.to_string()))?;
    let id = keys::hex(&r);
    let p = keys::key_path(path, &id);
    fsutil::write_new_private(&p, &sealed).map_err(|e| Error::io(&p, e))?;
    Ok(id)
}

fn key_files(path: &Path) -> Result<Vec<(String, PathBuf)>> {
    let dir = path.join("keys");
    let mut out = Vec::new();
    for e in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
        let e = e.map_err(|e| Error::io(&dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".age") {
            out.push((id.to_owned(), e.path()));
        }
    }
    out.sort();
    Ok(out)
}

impl Vault {
    /// Opens and unlocks the vault at `path` and loads its catalog.
    ///
    /// # Errors
    /// [`Error::NoVault`], [`Error::NoKeyFits`] (saying nothing about which
    /// key was tried), or [`Error::Catalog`] when the catalog is damaged.
    pub fn open(path: &Path, unlock: &Unlock) -> Result<Vault> {
        let (secret, key_used) = Self::unlock(path, unlock)?;
        let catalog = Catalog::load(path, &secret)?;
        Ok(Vault {
            store: Store::new(path, secret.recipient().clone()),
            path: path.to_owned(),
            secret,
            catalog,
            key_used,
            lock: None,
            state_file: None,
        })
    }

    /// Unlocks the vault without loading the catalog (for `verify`, which
    /// reads the catalog itself to report every problem).
    pub fn unlock(path: &Path, unlock: &Unlock) -> Result<(VaultSecret, String)> {
        check(path)?;
        for (id, p) in key_files(path)? {
            let bytes = fs::read(&p).map_err(|e| Error::io(&p, e))?;
            if let Some(s) = keys::open(&bytes, unlock) {
                return Ok((s, id));
            }
        }
        Err(Error::NoKeyFits)
    }

    /// Takes the vault's write lock, waiting at most `wait` (see [`lock`]).
    pub fn lock(&mut self, wait: Duration) -> Result<()> {
        self.lock = Some(lock(&self.path, wait)?);
        self.clean_tmp();
        Ok(())
    }

    /// Where to record the catalog head after each commit (for rollback
    /// detection by `verify`).
    pub fn set_state_file(&mut self, path: PathBuf) {
        self.state_file = Some(path);
    }

    /// Removes temp files left by an interrupted writer (needs the lock).
    fn clean_tmp(&self) {
        if let Ok(entries) = fs::read_dir(self.path.join("tmp")) {
            for e in entries.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Reloads the catalog (after another process committed).
    pub fn reload(&mut self) -> Result<()> {
        self.catalog = Catalog::load(&self.path, &self.secret)?;
        Ok(())
    }

    /// The vault's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The unlocked secret.
    pub fn secret(&self) -> &VaultSecret {
        &self.secret
    }

    /// The object store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Takes over segments written directly (by an import's media phase,
    /// while workers shared the vault): folds their records in and moves
    /// the chain's head to `(seq, head)`. In a dry run the records are
    /// only folded in.
    pub fn adopt_commits(&mut self, chain: (u64, [u8; 32]), records: Vec<catalog::Record>) {
        for r in records {
            self.catalog.apply(r);
        }
        if chain.0 > self.catalog.seq {
            self.catalog.seq = chain.0;
            self.catalog.head = chain.1;
        }
        self.catalog.link_orphans();
    }

    /// Records the catalog head this computer saw (for rollback detection).
    pub fn note_head(&self, seq: u64, mac: &[u8; 32]) {
        if let Some(state) = &self.state_file {
            let seen = crate::verify::SeenHead {
                seq,
                head: keys::hex(mac),
            };
            crate::verify::write_seen(state, &seen);
        }
    }

    /// Folds records into the in-memory catalog only (a dry run).
    pub fn apply_in_memory(&mut self, records: Vec<catalog::Record>) {
        for r in records {
            self.catalog.apply(r);
        }
        self.catalog.link_orphans();
    }

    /// Commits records as the next catalog segment and folds them in.
    pub fn commit(&mut self, records: Vec<catalog::Record>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let seq = self.catalog.seq + 1;
        let mac =
            catalog::write_segment(&self.path, &self.secret, seq, &self.catalog.head, &records)?;
        for r in records {
            self.catalog.apply(r);
        }
        self.catalog.seq = seq;
        self.catalog.head = mac;
        self.catalog.link_orphans();
        self.note_head(seq, &mac);
        Ok(())
    }

    /// The unlock methods.
    pub fn keys(&self) -> Result<Vec<KeyInfo>> {
        let mut out = Vec::new();
        for (id, p) in key_files(&self.path)? {
            let bytes = fs::read(&p).map_err(|e| Error::io(&p, e))?;
            let added = fs::metadata(&p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| crate::time::Timestamp(d.as_millis() as i64).to_string())
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
    pub fn add_key(&mut self, key: &NewKey, wait: Duration) -> Result<String> {
        self.lock(wait)?;
        let id = write_key(&self.path, &self.secret, key)?;
        fsutil::sync_dir(&self.path.join("keys")).map_err(|e| Error::io(&self.path, e))?;
        Ok(id)
    }

    /// Removes an unlock method. Refuses the last one and the one in use.
    pub fn remove_key(&mut self, id: &str, wait: Duration) -> Result<()> {
        self.lock(wait)?;
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
        fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        fsutil::sync_dir(&self.path.join("keys")).map_err(|e| Error::io(&self.path, e))?;
        Ok(())
    }
}
