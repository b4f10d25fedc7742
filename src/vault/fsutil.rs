//! Crash-safe file writing: temp file, fsync, rename without replacing,
//! directory fsync (the restic recipe, see vault-lessons §2).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{RenameFlags, CWD};

/// Creates `path` (which must not exist) readable by the owner only,
/// writes `bytes`, and makes it durable.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            fs::create_dir_all(parent)?;
        }
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// A new, empty temp file in `dir` with an unguessable name.
pub fn temp_file(dir: &Path) -> io::Result<(File, PathBuf)> {
    loop {
        let mut r = [0u8; 12];
        getrandom::fill(&mut r).map_err(|e| io::Error::other(e.to_string()))?;
        let path = dir.join(format!("{}.tmp", super::keys::hex(&r)));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Moves `tmp` to `dest` unless `dest` exists. Returns `false` (and
/// removes `tmp`) when `dest` was already there.
pub fn publish(tmp: &Path, dest: &Path) -> io::Result<bool> {
    match rustix::fs::renameat_with(CWD, tmp, CWD, dest, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::EXIST) => {
            let _ = fs::remove_file(tmp);
            Ok(false)
        }
        // Filesystems without RENAME_NOREPLACE: link fails if dest exists.
        Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOSYS) => {
            match fs::hard_link(tmp, dest) {
                Ok(()) => {
                    fs::remove_file(tmp)?;
                    Ok(true)
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let _ = fs::remove_file(tmp);
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Makes a directory's entries durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Makes everything written on the filesystem holding `dir` durable: one
/// call instead of an fsync per object (objects are batched before the
/// catalog segment that refers to them is committed).
pub fn sync_filesystem(dir: &Path) -> io::Result<()> {
    let f = File::open(dir)?;
    rustix::fs::syncfs(&f).map_err(io::Error::from)
}
