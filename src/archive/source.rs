//! The container an archive comes in: a ZIP file (read in place, streamed,
//! never unpacked to disk) or an unpacked folder.
//!
//! Both list their files as `/`-separated relative paths (a ZIP written by
//! an old Windows tool separates them with `\`: read the same). Entries
//! that could escape the archive (absolute paths, `..`) and symlinks that
//! point outside the folder are never read; they are reported as skipped.
//! Every entry of a ZIP is listed, even when several share a name.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use zip::result::ZipError;

use super::nested::NestedSource;
use super::zipread::{ZipAt, ZipEntry, ZipReader};
use crate::error::{Error, Result};

/// One file of the archive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// Path relative to the container's top, `/`-separated.
    pub path: String,
    /// Uncompressed size in bytes.
    pub size: u64,
    pub(crate) at: At,
}

/// Where an entry's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum At {
    /// In a ZIP file (and whether it is stored without compression).
    Zip(ZipAt, bool),
    /// A file in a folder.
    File,
}

/// A ZIP file or a folder.
pub(crate) enum Container {
    Zip(Box<ZipReader<BufReader<File>>>),
    Dir(PathBuf),
}

/// What opening a container found besides its entries.
pub(crate) struct Listing {
    pub entries: Vec<Entry>,
    /// Entries not read, with the reason.
    pub skipped: Vec<String>,
    /// Things worth knowing that lose nothing.
    pub notes: Vec<String>,
}

impl Container {
    /// Opens `path` as a folder or a ZIP file.
    pub fn open(path: &Path) -> Result<(Container, Listing)> {
        let meta = std::fs::metadata(path).map_err(|e| Error::read(path, e))?;
        if meta.is_dir() {
            let listing = list_dir(path)?;
            return Ok((Container::Dir(path.to_path_buf()), listing));
        }
        if !meta.is_file() {
            return Err(Error::NotAFile {
                path: path.to_path_buf(),
            });
        }
        let file = File::open(path).map_err(|e| Error::read(path, e))?;
        let looks_zip = starts_like_zip(&file).map_err(|e| Error::read(path, e))?;
        let second = || File::open(path).map(|f| BufReader::with_capacity(1 << 16, f));
        let mut zip = match ZipReader::new(BufReader::with_capacity(1 << 16, file), second) {
            Ok(z) => z,
            Err(e) if looks_zip => {
                return Err(Error::TruncatedZip {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                })
            }
            Err(ZipError::Io(e)) => return Err(Error::read(path, e)),
            Err(_) => {
                return Err(Error::NotZip {
                    path: path.to_path_buf(),
                })
            }
        };
        let listing = list_zip(&mut zip, "").map_err(|e| Error::read(path, e))?;
        Ok((Container::Zip(Box::new(zip)), listing))
    }

    /// Opens one entry for streaming. ZIP entries are inflated on the fly,
    /// yield no more than their declared size, and their CRC-32 is checked
    /// when the end is read.
    pub fn open_entry(&mut self, archive: &Path, entry: &Entry) -> Result<Box<dyn Read + '_>> {
        let entry_err = |e: io::Error| Error::Entry {
            archive: archive.to_path_buf(),
            entry: entry.path.clone(),
            detail: e.to_string(),
        };
        match (self, entry.at) {
            (Container::Zip(zip), At::Zip(at, _)) => zip.open(at, entry.size).map_err(entry_err),
            (Container::Dir(root), _) => {
                let f = File::open(root.join(&entry.path)).map_err(entry_err)?;
                Ok(Box::new(f))
            }
            (Container::Zip(_), At::File) => Err(entry_err(io::Error::other("not in this ZIP"))),
        }
    }

    /// Reads one entry whole, with the checks of [`Self::open_entry`] (a
    /// Deflated ZIP entry is inflated in one call).
    pub fn read_entry(&mut self, archive: &Path, entry: &Entry) -> Result<Vec<u8>> {
        let entry_err = |e: io::Error| Error::Entry {
            archive: archive.to_path_buf(),
            entry: entry.path.clone(),
            detail: e.to_string(),
        };
        if let (Container::Zip(zip), At::Zip(at, _)) = (&mut *self, entry.at) {
            return zip.read_all(at, entry.size).map_err(entry_err);
        }
        read_whole(self.open_entry(archive, entry)?, entry.size).map_err(entry_err)
    }

    /// Makes a ZIP stored inside the archive (2019 media ZIPs) readable by
    /// any number of readers (see [`NestedSource`]); a compressed one is
    /// inflated once, into memory while it fits in `memory`, otherwise into
    /// an encrypted temp file in `spill_dir`.
    pub fn nested_source(
        &mut self,
        archive: &Path,
        entry: &Entry,
        spill_dir: &Path,
        memory: &mut u64,
    ) -> Result<NestedSource> {
        let direct = match (&mut *self, entry.at) {
            (Container::Dir(root), _) => Some(NestedSource::File(root.join(&entry.path))),
            (Container::Zip(zip), At::Zip(at, true)) => {
                zip.data_start(at)
                    .ok()
                    .flatten()
                    .map(|start| NestedSource::Window {
                        file: archive.to_path_buf(),
                        start,
                        len: entry.size,
                    })
            }
            _ => None,
        };
        if let Some(source) = direct {
            return Ok(source);
        }
        let mut r = self.open_entry(archive, entry)?;
        NestedSource::inflate(&mut r, entry.size, spill_dir, memory).map_err(|e| Error::Entry {
            archive: archive.to_path_buf(),
            entry: entry.path.clone(),
            detail: format!(
                "this media ZIP is compressed inside the archive and could not be inflated: {e}"
            ),
        })
    }
}

/// Whether a file starts with a ZIP signature (then a failure to read it
/// as a ZIP means it is cut short or damaged, not another kind of file).
fn starts_like_zip(mut file: &File) -> io::Result<bool> {
    let mut head = [0u8; 4];
    let n = file.read(&mut head)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(n == 4 && (head == *b"PK\x03\x04" || head == *b"PK\x05\x06"))
}

/// True when a relative `/`-separated path stays inside its top folder.
pub(crate) fn is_safe_relative(path: &str) -> bool {
    if path.starts_with('/')
        || path.starts_with('\\')
        || path.contains(':') && path.find(':') == Some(1)
    {
        return false;
    }
    Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && !path.split(['/', '\\']).any(|s| s == "..")
}

/// Lists a ZIP's files: unsafe names skipped, repeated names noted.
/// `inside` names the ZIP in messages when it is itself inside the archive.
pub(crate) fn list_zip<R: Read + Seek>(
    zip: &mut ZipReader<R>,
    inside: &str,
) -> io::Result<Listing> {
    let (all, repeated) = zip.entries()?;
    let mut listing = Listing {
        entries: Vec::new(),
        skipped: Vec::new(),
        notes: repeated
            .into_iter()
            .map(|(name, n)| {
                format!(
                    "{inside}the ZIP holds {n} entries named {name:?}; every one of them was read"
                )
            })
            .collect(),
    };
    for ZipEntry {
        name,
        size,
        dir,
        stored,
        at,
    } in all
    {
        if dir {
            continue;
        }
        if !is_safe_relative(&name) {
            listing.skipped.push(format!(
                "{inside}entry {name:?} has an absolute path or `..` and was not read (an X archive never has one; the ZIP was made or changed by something else)"
            ));
            continue;
        }
        listing.entries.push(Entry {
            path: name,
            size,
            at: At::Zip(at, stored),
        });
    }
    Ok(listing)
}

fn list_dir(root: &Path) -> Result<Listing> {
    let mut listing = Listing {
        entries: Vec::new(),
        skipped: Vec::new(),
        notes: Vec::new(),
    };
    let canon_root = std::fs::canonicalize(root).map_err(|e| Error::read(root, e))?;
    for item in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
    {
        let item = match item {
            Ok(i) => i,
            Err(e) => {
                let p = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                listing.skipped.push(format!("{p}: cannot be read ({e})"));
                continue;
            }
        };
        let rel = match item.path().strip_prefix(root) {
            Ok(r) if !r.as_os_str().is_empty() => r,
            _ => continue,
        };
        let rel_str = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let ft = item.file_type();
        let size = if ft.is_symlink() {
            match std::fs::canonicalize(item.path()) {
                Ok(target) if target.starts_with(&canon_root) => std::fs::metadata(&target)
                    .ok()
                    .filter(std::fs::Metadata::is_file)
                    .map(|m| m.len()),
                _ => {
                    listing.skipped.push(format!(
                        "{rel_str} is a symbolic link that points outside the archive folder; it was not followed"
                    ));
                    None
                }
            }
        } else if ft.is_file() {
            Some(item.metadata().map(|m| m.len()).unwrap_or(0))
        } else {
            None
        };
        if let Some(size) = size {
            listing.entries.push(Entry {
                path: rel_str,
                size,
                at: At::File,
            });
        }
    }
    Ok(listing)
}

/// Everything `r` gives, `size` bytes expected.
pub(crate) fn read_whole(mut r: impl Read, size: u64) -> io::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    r.read_to_end(&mut data)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths() {
        for bad in [
            "../evil.js",
            "/abs/evil.jpg",
            "data/direct_messages_media/../../escape.jpg",
            "C:/x",
            "a/../../b",
        ] {
            assert!(!is_safe_relative(bad), "{bad}");
        }
        for good in [
            "data/direct-messages.js",
            "twitter-2024/data/x.js",
            "a-b..c.jpg",
        ] {
            assert!(is_safe_relative(good), "{good}");
        }
    }
}
