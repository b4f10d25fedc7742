//! The vault folder: its format file, creating a vault, and the lock.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::backend::Payload;
use super::fsutil;
use super::keys::{self, NewKey, VaultSecret};
use super::place::Place;
use crate::error::{Error, Result};

pub(crate) const FORMAT_FILE: &str = "dmvault.json";
const FORMAT: &str = "dmvault-vault";
/// The format this release writes: 2 (compressed segments and the index).
/// It also opens format 1, which becomes format 2 when first opened.
const VERSION: u32 = 6;
const README: &str = "This folder is a dmvault vault: encrypted copies of direct-message media.\n\
Everything in it is encrypted with age; nothing here can be read without one of its keys.\n\
Use `dmvault ls`, `dmvault export` and `dmvault verify` with --vault pointing here.\n\
Do not edit, rename or delete files in it by hand.\n";
/// The folders of a vault.
const FOLDERS: [&str; 5] = ["keys", "objects", "catalog", "index", "tmp"];
/// How long `init` waits for another `init` of the same folder.
const INIT_LOCK_WAIT: Duration = Duration::from_secs(10);

/// Checks that `place` holds a vault of a format this version reads.
pub fn check(place: &Place) -> Result<()> {
    let f = place.name_of(FORMAT_FILE);
    let no_vault = || Error::NoVault {
        path: if place.is_remote() {
            PathBuf::from(place.describe())
        } else {
            place.local().to_owned()
        },
    };
    let text = match place.files().get(FORMAT_FILE) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_vault()),
        // A local path that is a file, not a folder.
        Err(e) if !place.is_remote() && !place.local().is_dir() => {
            let _ = e;
            return Err(no_vault());
        }
        Err(e) => return Err(Error::read(&f, e)),
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::VaultFormat {
        path: f.clone(),
        detail: e.to_string(),
    })?;
    if v["format"] != FORMAT {
        return Err(no_vault());
    }
    if !(1..=VERSION).any(|known| v["version"] == known) {
        return Err(Error::VaultFormat {
            path: f,
            detail: format!(
                "version {} (this dmvault reads versions 1 to {VERSION})",
                v["version"]
            ),
        });
    }
    Ok(())
}

/// Raises the vault's format to `to` when it is older. Segments stay as
/// they are, since this release reads every earlier version; only the
/// format file changes, so that an older dmvault, which cannot read what is
/// written from now on, refuses the vault instead of misreading it:
///
/// - 1 → 2 when a format-1 vault is opened (its index was just built): the
///   segments written from then on are compressed;
/// - 2 → 3 when a writer takes the lock: the records written from then on
///   may be of the kinds format 3 added (names, conversation events,
///   messages known only from headers files);
/// - 3 → 4 when a writer takes the lock: posters (derived objects and the
///   records that name them);
/// - 4 → 5 when a writer takes the lock: write-only importer keys (their
///   records, `importers/` and the inbox);
/// - 5 → 6 when a writer takes the lock: forgetting (the ledger's
///   conversations and people, compactions, chains that start after 1).
pub(crate) fn migrate(place: &Place, to: u32) -> Result<()> {
    let f = place.name_of(FORMAT_FILE);
    let text = place
        .files()
        .get(FORMAT_FILE)
        .map_err(|e| Error::read(&f, e))?;
    let v: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
    if v["version"]
        .as_u64()
        .is_none_or(|have| have >= u64::from(to))
    {
        return Ok(());
    }
    let fmt = serde_json::json!({"format": FORMAT, "version": to}).to_string();
    place
        .files()
        .put_replace(FORMAT_FILE, fmt.as_bytes())
        .map_err(|e| Error::write(&f, e))
}

/// The format this release writes.
pub(crate) const WRITES: u32 = VERSION;

/// Written first by `init` and removed last: a folder holding it is what
/// an `init` killed midway left, and may be taken over.
const INIT_MARKER: &str = ".dmvault-init";

/// Creates a vault at `place`: a folder ([`init`]) or an empty bucket or
/// prefix of an object store. Returns the key's id.
///
/// # Errors
/// As [`init`]; for object storage, [`Error::NotEmpty`] and the store's.
pub fn init_place(place: &Place, key: &NewKey) -> Result<String> {
    if !place.is_remote() {
        return init(place.local(), key);
    }
    let fmt = serde_json::json!({"format": FORMAT, "version": VERSION}).to_string();
    super::remote::init(place, key, README, fmt.as_bytes())
}

/// Creates a vault at `path` (a new or empty folder) with one unlock method.
/// Returns the key's id.
///
/// Creating a vault is atomic: the folder's lock is held throughout, and
/// `dmvault.json`, written last, makes the folder a vault. A failed `init`
/// removes what it made (the folder too, if it made it); one killed midway
/// leaves a folder marked as such (`.dmvault-init`), which the next `init`
/// takes over. Any other folder that is not empty is refused before
/// anything is written into it. Of two `init`s of the same folder at once,
/// one makes the vault and the other fails, touching nothing.
pub fn init(path: &Path, key: &NewKey) -> Result<String> {
    let created = match fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => false,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fsutil::create_private_dir(path).map_err(|e| Error::write(path, e))?;
            true
        }
        Err(e) => return Err(Error::write(path, e)),
    };
    // Checked before the lock file is made in a folder that is not ours,
    // and again under the lock (another `init` may have just made a vault).
    takeover(path)?;
    let lock_file = lock_folder(path, INIT_LOCK_WAIT)?;
    if takeover(path)? {
        remove_made(path);
    }
    let made = build(path, key);
    if made.is_err() {
        remove_made(path);
        if created {
            let _ = fs::remove_file(path.join("lock"));
            let _ = fs::remove_dir(path);
        }
    }
    drop(lock_file);
    made
}

/// Whether the folder holds what an `init` killed midway left (`true`), or
/// nothing but a lock (`false`); anything else is refused.
fn takeover(path: &Path) -> Result<bool> {
    let not_empty = || Error::NotEmpty {
        path: path.to_owned(),
    };
    let mut names = Vec::new();
    for e in fs::read_dir(path).map_err(|e| Error::read(path, e))? {
        let e = e.map_err(|e| Error::read(path, e))?;
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    names.retain(|n| n != "lock");
    if names.is_empty() {
        return Ok(false);
    }
    let ours = |n: &str| n == INIT_MARKER || n == "README.txt" || FOLDERS.contains(&n);
    let unused = |d: &str| fs::read_dir(path.join(d)).map_or(true, |mut it| it.next().is_none());
    if names.iter().any(|n| n == INIT_MARKER)
        && names.iter().all(|n| ours(n))
        && unused("objects")
        && unused("catalog")
    {
        return Ok(true);
    }
    Err(not_empty())
}

/// Removes what [`build`] makes (not the lock, which the caller holds).
fn remove_made(path: &Path) {
    let _ = fs::remove_file(path.join(FORMAT_FILE));
    let _ = fs::remove_file(path.join("README.txt"));
    for d in FOLDERS {
        let _ = fs::remove_dir_all(path.join(d));
    }
    let _ = fs::remove_file(path.join(INIT_MARKER));
}

fn build(path: &Path, key: &NewKey) -> Result<String> {
    let marker = path.join(INIT_MARKER);
    fsutil::write_new_private(&marker, b"").map_err(|e| Error::write(&marker, e))?;
    for d in FOLDERS {
        let p = path.join(d);
        fsutil::create_private_dir(&p).map_err(|e| Error::write(&p, e))?;
    }
    let secret = VaultSecret::generate()?;
    let id = write_key(&Place::folder(path), &secret, key)?;
    crate::index::Index::open(&Place::folder(path), &secret, &crate::progress::Quiet)?;
    crate::fault::point("init");
    crate::fault::io_error("init-write").map_err(|e| Error::write(path, e))?;
    let readme = path.join("README.txt");
    fsutil::write_new_private(&readme, README.as_bytes()).map_err(|e| Error::write(&readme, e))?;
    let fmt = serde_json::json!({"format": FORMAT, "version": VERSION}).to_string();
    let f = path.join(FORMAT_FILE);
    fsutil::write_new_private(&f, fmt.as_bytes()).map_err(|e| Error::write(&f, e))?;
    // The vault is made; the marker goes (a writer removes it if a kill
    // came first).
    let _ = fs::remove_file(&marker);
    Ok(id)
}

/// Stores the vault secret under a new key file; returns its id.
pub(crate) fn write_key(place: &Place, secret: &VaultSecret, key: &NewKey) -> Result<String> {
    let sealed = keys::seal(secret, key)?;
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).map_err(|e| Error::Random(e.to_string()))?;
    let id = keys::hex(&r);
    if place.is_remote() {
        let k = keys::key_key(&id);
        place
            .files()
            .put_if_absent(&k, Payload::Bytes(&sealed))
            .map_err(|e| Error::write(place.name_of(&k), e))?;
        return Ok(id);
    }
    let p = keys::key_path(place.local(), &id);
    fsutil::write_new_private(&p, &sealed).map_err(|e| Error::write(&p, e))?;
    Ok(id)
}

/// Takes the vault's write lock: a kernel `flock` on `lock`, waiting at
/// most `wait`. It is released when the returned file is dropped or the
/// process ends, however it ends, so a crash never leaves a stale lock.
pub fn lock(place: &Place, wait: Duration) -> Result<VaultLock> {
    let file = lock_folder(place.local(), wait)?;
    let remote = if place.is_remote() {
        Some(super::remote::RemoteLock::take(place, wait)?)
    } else {
        None
    };
    Ok(VaultLock {
        _remote: remote,
        _file: file,
    })
}

/// A writer's hold on a vault: the local lock, and for a vault in object
/// storage its lock object. Dropping it releases both.
pub struct VaultLock {
    _remote: Option<super::remote::RemoteLock>,
    _file: File,
}

/// The kernel `flock` on `path/lock`.
fn lock_folder(path: &Path, wait: Duration) -> Result<File> {
    if !path.is_dir() {
        fsutil::create_private_dir(path).map_err(|e| Error::write(path, e))?;
    }
    let p = path.join("lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| Error::write(&p, e))?;
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
            Err(e) => return Err(Error::write(&p, e.into())),
        }
    }
}

/// Removes temp files a killed writer left in the vault's `tmp/` and
/// `keys/`, and the mark of an `init` killed after it made the vault (the
/// caller holds the lock).
pub(crate) fn clean_temp(place: &Place) {
    let path = place.local();
    let _ = fs::remove_file(path.join(INIT_MARKER));
    // A copy that dropped empty folders (git, some sync tools) gets its
    // `tmp/` back.
    let _ = fsutil::create_private_dir(&path.join("tmp"));
    if let Ok(entries) = fs::read_dir(path.join("tmp")) {
        for e in entries.flatten() {
            let _ = fs::remove_file(e.path());
        }
    }
    if let Ok(entries) = fs::read_dir(path.join("keys")) {
        for e in entries.flatten() {
            if fsutil::is_temp_name(&e.file_name().to_string_lossy()) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// Refuses a path inside the vault folder for a file dmvault writes
/// outside it (exports, identity files).
pub fn ensure_outside(vault: &Path, path: &Path) -> Result<()> {
    if fsutil::is_inside(path, vault) {
        return Err(Error::InsideVault {
            path: path.to_owned(),
            vault: vault.to_owned(),
        });
    }
    Ok(())
}
