//! The container an archive comes in: a ZIP file (read in place, streamed,
//! never unpacked to disk) or an unpacked folder.
//!
//! Both list their files as `/`-separated relative paths. Entries that could
//! escape the archive (absolute paths, `..`) and symlinks that point outside
//! the folder are never read; they are reported as skipped.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use zip::result::ZipError;
use zip::ZipArchive;

use crate::error::{Error, Result};

/// One file of the archive.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the container's top, `/`-separated.
    pub path: String,
    /// Uncompressed size in bytes.
    pub size: u64,
}

/// A ZIP file or a folder.
pub(crate) enum Container {
    Zip(Box<ZipArchive<BufReader<File>>>),
    Dir(PathBuf),
}

/// What opening a container found besides its entries.
pub(crate) struct Listing {
    pub entries: Vec<Entry>,
    /// Entries not read, with the reason.
    pub skipped: Vec<String>,
}

impl Container {
    /// Opens `path` as a folder or a ZIP file.
    pub fn open(path: &Path) -> Result<(Container, Listing)> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let listing = list_dir(path)?;
            return Ok((Container::Dir(path.to_path_buf()), listing));
        }
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut head = [0u8; 4];
        let n = (&file).read(&mut head).map_err(|e| Error::io(path, e))?;
        (&file)
            .seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(path, e))?;
        let looks_zip = n == 4 && (head == *b"PK\x03\x04" || head == *b"PK\x05\x06");
        let zip = match ZipArchive::new(BufReader::with_capacity(1 << 16, file)) {
            Ok(z) => z,
            Err(e) if looks_zip => {
                return Err(Error::TruncatedZip {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                })
            }
            Err(ZipError::Io(e)) => return Err(Error::io(path, e)),
            Err(_) => {
                return Err(Error::NotZip {
                    path: path.to_path_buf(),
                })
            }
        };
        let listing = list_zip(&zip);
        Ok((Container::Zip(Box::new(zip)), listing))
    }

    /// Opens one entry for streaming. ZIP entries are inflated on the fly
    /// and their CRC-32 is checked when the end is read.
    pub fn open_entry(&mut self, archive: &Path, path: &str) -> Result<Box<dyn Read + '_>> {
        let entry_err = |detail: String| Error::Entry {
            archive: archive.to_path_buf(),
            entry: path.to_owned(),
            detail,
        };
        match self {
            Container::Zip(zip) => {
                let f = zip.by_name(path).map_err(|e| entry_err(e.to_string()))?;
                Ok(Box::new(f))
            }
            Container::Dir(root) => {
                let full = root.join(path);
                let f = File::open(&full).map_err(|e| entry_err(e.to_string()))?;
                Ok(Box::new(f))
            }
        }
    }

    /// Opens a ZIP stored inside the archive (2019 media zips).
    ///
    /// A nested ZIP that is stored uncompressed in a ZIP is read in place
    /// through a window on the outer file; a compressed one is read into
    /// memory (never to disk), up to `max_in_memory` bytes.
    pub fn open_nested_zip(
        &mut self,
        archive: &Path,
        path: &str,
        max_in_memory: u64,
    ) -> Result<ZipArchive<NestedReader>> {
        let entry_err = |detail: String| Error::Entry {
            archive: archive.to_path_buf(),
            entry: path.to_owned(),
            detail,
        };
        let reader = match self {
            Container::Dir(root) => {
                let f = File::open(root.join(path)).map_err(|e| entry_err(e.to_string()))?;
                NestedReader::File(BufReader::new(f))
            }
            Container::Zip(zip) => {
                let (stored, start, size) = {
                    let f = zip.by_name(path).map_err(|e| entry_err(e.to_string()))?;
                    (
                        f.compression() == zip::CompressionMethod::Stored,
                        f.data_start().unwrap_or(0),
                        f.size(),
                    )
                };
                if stored {
                    let file = File::open(archive).map_err(|e| Error::io(archive, e))?;
                    NestedReader::Window(
                        Window::new(file, start, size).map_err(|e| entry_err(e.to_string()))?,
                    )
                } else if size <= max_in_memory {
                    let mut buf = Vec::with_capacity(size as usize);
                    zip.by_name(path)
                        .map_err(|e| entry_err(e.to_string()))?
                        .read_to_end(&mut buf)
                        .map_err(|e| entry_err(e.to_string()))?;
                    NestedReader::Memory(io::Cursor::new(buf))
                } else {
                    return Err(entry_err(format!(
                        "this media ZIP is compressed inside the archive and larger than {} MiB; unpack the outer archive into a folder and give dmvault the folder",
                        max_in_memory >> 20
                    )));
                }
            }
        };
        ZipArchive::new(reader).map_err(|e| entry_err(format!("not a readable ZIP: {e}")))
    }
}

/// Reader under a nested ZIP.
pub enum NestedReader {
    /// A ZIP file inside a folder.
    File(BufReader<File>),
    /// A stored ZIP inside a ZIP: a window on the outer file.
    Window(Window),
    /// A compressed ZIP inside a ZIP, inflated into memory.
    Memory(io::Cursor<Vec<u8>>),
}

impl Read for NestedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            NestedReader::File(r) => r.read(buf),
            NestedReader::Window(r) => r.read(buf),
            NestedReader::Memory(r) => r.read(buf),
        }
    }
}

impl Seek for NestedReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            NestedReader::File(r) => r.seek(pos),
            NestedReader::Window(r) => r.seek(pos),
            NestedReader::Memory(r) => r.seek(pos),
        }
    }
}

/// A byte range of a file, seen as a file of its own.
pub struct Window {
    file: BufReader<File>,
    start: u64,
    len: u64,
    pos: u64,
}

impl Window {
    fn new(file: File, start: u64, len: u64) -> io::Result<Window> {
        let mut file = BufReader::with_capacity(1 << 16, file);
        file.seek(SeekFrom::Start(start))?;
        Ok(Window {
            file,
            start,
            len,
            pos: 0,
        })
    }
}

impl Read for Window {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        let n = self.file.read(&mut buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => self.len as i128 + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if target < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        }
        self.pos = target as u64;
        self.file.seek(SeekFrom::Start(self.start + self.pos))?;
        Ok(self.pos)
    }
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

fn list_zip(zip: &ZipArchive<BufReader<File>>) -> Listing {
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for i in 0..zip.len() {
        let Ok(data) = zip.by_index_data(i) else {
            continue;
        };
        let Ok(name) = data.name() else { continue };
        if data.is_dir() || name.ends_with('/') {
            continue;
        }
        let name = &*name;
        if !is_safe_relative(name) {
            skipped.push(format!(
                "entry {name:?} has an absolute path or `..` and was not read (an X archive never has one; the ZIP was made or changed by something else)"
            ));
            continue;
        }
        let size = data.size();
        entries.push(Entry {
            path: name.to_owned(),
            size,
        });
    }
    Listing { entries, skipped }
}

fn list_dir(root: &Path) -> Result<Listing> {
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    let canon_root = std::fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
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
                skipped.push(format!("{p}: cannot be read ({e})"));
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
        if ft.is_symlink() {
            match std::fs::canonicalize(item.path()) {
                Ok(target) if target.starts_with(&canon_root) => {
                    if let Ok(m) = std::fs::metadata(&target) {
                        if m.is_file() {
                            entries.push(Entry {
                                path: rel_str,
                                size: m.len(),
                            });
                        }
                    }
                }
                _ => skipped.push(format!(
                    "{rel_str} is a symbolic link that points outside the archive folder; it was not followed"
                )),
            }
            continue;
        }
        if ft.is_file() {
            let size = item.metadata().map(|m| m.len()).unwrap_or(0);
            entries.push(Entry {
                path: rel_str,
                size,
            });
        }
    }
    Ok(Listing { entries, skipped })
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
