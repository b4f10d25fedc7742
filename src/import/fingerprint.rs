//! Recognising an archive imported before: by how its ZIP file looks on
//! disk, or by its BLAKE3.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::PathBuf;

use crate::archive::{Archive, MediaLocation};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::time::Timestamp;
use crate::vault::catalog::FileStat;
use crate::vault::store::for_each_block;

/// Feeds `sink` the bytes that identify an archive: a ZIP file's bytes;
/// for a folder, the path, size and content of each DM data and media file,
/// in path order (what an import reads).
fn feed(archive: &mut Archive, mut sink: impl FnMut(&[u8]), progress: &dyn Progress) -> Result<()> {
    let path = archive.path().to_owned();
    let mut each = |c: &[u8]| {
        sink(c);
        progress.advance(c.len() as u64);
        Ok::<(), std::io::Error>(())
    };
    if archive.is_zip() {
        let mut f = File::open(&path).map_err(|e| Error::read(&path, e))?;
        for_each_block(&mut f, &mut each).map_err(|e| Error::read(&path, e))?;
        return Ok(());
    }
    archive.media_files();
    let mut files: Vec<crate::archive::source::Entry> =
        archive.dm_files().iter().map(|f| f.entry.clone()).collect();
    let mut nested = BTreeSet::new();
    for m in archive.cached_media_files() {
        match &m.location {
            MediaLocation::Entry(e) => files.push(e.clone()),
            MediaLocation::Nested { zip, .. } => {
                nested.insert(zip.path.clone());
            }
        }
    }
    files.extend(
        archive
            .entries()
            .iter()
            .filter(|e| nested.contains(&e.path))
            .cloned(),
    );
    files.sort_by(|a, b| (&a.path, a.size).cmp(&(&b.path, b.size)));
    for e in &files {
        each(format!("{}\0{}\0", e.path, e.size).as_bytes()).map_err(|e| Error::read(&path, e))?;
        let mut r = archive.open_entry(e)?;
        for_each_block(&mut r, &mut each).map_err(|err| Error::read(path.join(&e.path), err))?;
    }
    Ok(())
}

/// What identifies a ZIP file on disk without reading it (`None` for
/// folders, and for a file changed in the last seconds).
pub(super) fn file_stat(archive: &Archive) -> Option<FileStat> {
    use std::os::unix::fs::MetadataExt;
    if !archive.is_zip() {
        return None;
    }
    let m = std::fs::metadata(archive.path()).ok()?;
    let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
    // A file changed within the last seconds may change again within the
    // same timestamp tick on coarse filesystems ("racy" as git calls it):
    // such a file is always recognised by its hash.
    let now_ns = Timestamp::now().millis().saturating_mul(1_000_000);
    if now_ns - ns(m.ctime(), m.ctime_nsec()) < 3_000_000_000 {
        return None;
    }
    Some(FileStat {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: ns(m.mtime(), m.mtime_nsec()),
        ctime_ns: ns(m.ctime(), m.ctime_nsec()),
    })
}

/// The BLAKE3 fingerprint (both cores; no memory mapping, so the archive
/// is never counted in the process's resident memory).
pub(super) fn fingerprint(archive: &mut Archive, progress: &dyn Progress) -> Result<String> {
    progress.phase("1/4 Fingerprinting", Some(archive_bytes(archive)));
    let mut b = blake3::Hasher::new();
    feed(
        archive,
        |c| {
            if c.len() >= 1 << 20 {
                b.update_rayon(c);
            } else {
                b.update(c);
            }
        },
        progress,
    )?;
    Ok(b.finalize().to_hex().to_string())
}

/// The archive's size as the catalog records it: the ZIP file's, or the
/// sum of a folder's DM data and media files (media ZIPs counted whole).
pub(super) fn archive_bytes(archive: &Archive) -> u64 {
    if archive.is_zip() {
        return std::fs::metadata(archive.path()).map_or(0, |m| m.len());
    }
    let mut nested = BTreeSet::new();
    let mut size = archive.dm_bytes();
    for m in archive.cached_media_files() {
        match &m.location {
            MediaLocation::Entry(_) => size += m.size,
            MediaLocation::Nested { zip, .. } => {
                nested.insert(zip.path.as_str());
            }
        }
    }
    size + archive
        .entries()
        .iter()
        .filter(|e| nested.contains(e.path.as_str()))
        .map(|e| e.size)
        .sum::<u64>()
}

/// The archive's BLAKE3 (to recognise it later, and for `ls --archive`),
/// computed in one read on a thread of its own while the import works.
///
/// Its SHA-256 is no longer computed (issue 13): it cost a tenth of the
/// import's wall time on 2 cores (0.55 CPU-s for an 855 MB ZIP), and BLAKE3
/// serves every use; archives recorded before keep theirs.
pub(super) fn spawn_archive_hash(path: PathBuf) -> std::thread::JoinHandle<Result<String>> {
    std::thread::spawn(move || {
        let mut archive = Archive::open(&path)?;
        let mut b = blake3::Hasher::new();
        feed(
            &mut archive,
            |c| {
                b.update(c);
            },
            &crate::progress::Quiet,
        )?;
        Ok(b.finalize().to_hex().to_string())
    })
}
