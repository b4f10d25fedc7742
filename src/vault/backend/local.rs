//! A vault in a local folder: files under their keys, written through a
//! temp file in `tmp/` and renamed into place without replacing anything.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::{Backend, Payload, Put};
use crate::vault::fsutil;

/// A vault's folder.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    root: PathBuf,
}

impl LocalBackend {
    /// The vault at `root`.
    pub fn new(root: &Path) -> LocalBackend {
        LocalBackend {
            root: root.to_owned(),
        }
    }

    /// Where `key` lives.
    pub fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn temp(&self) -> io::Result<(fs::File, PathBuf)> {
        let dir = self.root.join("tmp");
        fs::create_dir_all(&dir)?;
        fsutil::temp_file(&dir)
    }
}

impl Backend for LocalBackend {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn put_if_absent(&self, key: &str, data: Payload<'_>) -> io::Result<Put> {
        let dest = self.path(key);
        fs::create_dir_all(fsutil::parent_dir(&dest))?;
        let tmp = match data {
            Payload::File(p) => p.to_owned(),
            Payload::Bytes(b) => {
                let (mut f, tmp) = self.temp()?;
                if let Err(e) = f.write_all(b).and_then(|()| f.sync_all()) {
                    let _ = fs::remove_file(&tmp);
                    return Err(e);
                }
                tmp
            }
        };
        match fsutil::publish(&tmp, &dest) {
            Ok(true) => Ok(Put::Created),
            Ok(false) => Ok(Put::Existed),
            Err(e) => {
                if matches!(data, Payload::Bytes(_)) {
                    let _ = fs::remove_file(&tmp);
                }
                Err(e)
            }
        }
    }

    fn put_replace(&self, key: &str, data: &[u8]) -> io::Result<()> {
        let dest = self.path(key);
        fs::create_dir_all(fsutil::parent_dir(&dest))?;
        fsutil::replace_private(&dest, data)
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> io::Result<Vec<u8>> {
        let mut f = fs::File::open(self.path(key))?;
        f.seek(SeekFrom::Start(range.start))?;
        let mut out = Vec::new();
        f.take(range.end.saturating_sub(range.start))
            .read_to_end(&mut out)?;
        Ok(out)
    }

    fn stat(&self, key: &str) -> io::Result<Option<u64>> {
        match fs::metadata(self.path(key)) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn list(&self, prefix: &str) -> io::Result<Vec<(String, u64)>> {
        // The folder the prefix names (or lies in), walked below.
        let (dir, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let base = self.root.join(dir);
        let mut out = Vec::new();
        if !base.is_dir() {
            return Ok(out);
        }
        for e in walkdir::WalkDir::new(&base).follow_links(false) {
            let e = e.map_err(io::Error::other)?;
            if !e.file_type().is_file() {
                continue;
            }
            let Ok(rel) = e.path().strip_prefix(&self.root) else {
                continue;
            };
            let key = rel.to_string_lossy().replace('\\', "/");
            if key.starts_with(prefix) {
                out.push((key, e.metadata().map_err(io::Error::other)?.len()));
            }
        }
        out.sort();
        Ok(out)
    }

    fn delete(&self, key: &str) -> io::Result<()> {
        match fs::remove_file(self.path(key)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn make_durable(&self, prefix: &str) -> io::Result<()> {
        fsutil::sync_dir(&self.root.join(prefix.trim_end_matches('/')))
    }
}
