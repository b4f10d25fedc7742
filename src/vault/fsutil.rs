//! Crash-safe file writing: temp file, fsync, rename without replacing,
//! directory fsync (the recipe restic uses for its repository files).
//!
//! Every file dmvault writes goes through a temp file beside its final
//! name, so that a failure (a full disk, a kill) never leaves a part of a
//! file under that name, and a file that is there is never overwritten.
//! Temp files are named `.dmvault-<24 hex>.tmp` ([`is_temp_name`]), so
//! that leftovers of a killed run can be recognised and removed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{RenameFlags, CWD};

/// The folder a path is in: its parent, or `.` for a bare file name.
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates a folder and its missing parents, readable by the owner only.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates `path` (which must not exist) readable by the owner only, with
/// `bytes`, durably and atomically: a temp file beside it is written and
/// made durable, then renamed into place without replacing anything.
/// Missing parent folders are created (mode 0700). On any failure nothing
/// is left behind and an existing file is never touched.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    let made = create_missing_dirs(dir)?;
    let result = write_new_in(dir, path, bytes);
    if result.is_err() {
        for d in made.iter().rev() {
            let _ = fs::remove_dir(d);
        }
    }
    result
}

/// Creates `dir` and its missing parents (mode 0700); returns those it
/// made, outermost first.
fn create_missing_dirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    create_private_dir(dir)?;
    Ok(missing.into_iter().rev().collect())
}

fn write_new_in(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (mut f, tmp) = temp_file(dir)?;
    let result = (|| {
        f.write_all(bytes)?;
        f.sync_all()?;
        if !publish(&tmp, path)? {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a file is already there; dmvault never writes over one",
            ));
        }
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `path` (mode 0600) with `bytes`, replacing it atomically if it
/// exists (for dmvault's own state files, never for user files).
pub fn replace_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (mut f, tmp) = temp_file(parent_dir(path))?;
    let result = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A new, empty temp file in `dir` with an unguessable name, mode 0600,
/// open for writing and reading.
pub fn temp_file(dir: &Path) -> io::Result<(File, PathBuf)> {
    loop {
        let mut r = [0u8; 12];
        getrandom::fill(&mut r).map_err(|e| io::Error::other(e.to_string()))?;
        let path = dir.join(format!(".dmvault-{}.tmp", super::keys::hex(&r)));
        match OpenOptions::new()
            .read(true)
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

/// True for the names [`temp_file`] makes.
pub fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(".dmvault-")
        .and_then(|r| r.strip_suffix(".tmp"))
        .is_some_and(|h| h.len() == 24 && h.bytes().all(|b| b.is_ascii_hexdigit()))
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
                    // In place; a temp name left behind is cleaned later.
                    let _ = fs::remove_file(tmp);
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

/// An absolute form of `path` with symbolic links resolved as far as the
/// path exists (the rest, which does not exist yet, taken as written with
/// `.` and `..` applied): two paths to the same place compare equal.
pub fn resolve(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut resolved = PathBuf::new();
    for c in abs.components() {
        match c {
            // `resolved` has no links left in it, so `..` is its parent.
            Component::ParentDir => {
                resolved.pop();
            }
            Component::CurDir => {}
            other => {
                resolved.push(other);
                if let Ok(real) = fs::canonicalize(&resolved) {
                    resolved = real;
                }
            }
        }
    }
    resolved
}

/// Whether `path` is `dir` or lies inside it (both resolved).
pub fn is_inside(path: &Path, dir: &Path) -> bool {
    resolve(path).starts_with(resolve(dir))
}
