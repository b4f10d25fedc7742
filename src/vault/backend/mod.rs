//! Where a vault's files live: a local folder, or a bucket of an
//! S3-compatible object store (`s3://BUCKET/PREFIX`).
//!
//! A [`Backend`] stores whole files under keys that are paths inside the
//! vault (`objects/ab/<id>.age`, `catalog/0000000001.age`, `keys/…`), with
//! five operations: put-if-absent, get (a byte range), stat, list by
//! prefix, delete. Everything above it (the object store, the catalog)
//! works the same on both.
//!
//! **Put-if-absent** never replaces a file. The local folder does it
//! atomically (a temp file renamed with `RENAME_NOREPLACE`). On S3 a
//! conditional put (`If-None-Match: *`) does it where the store honours
//! that header; some stores (Garage) ignore it and overwrite, and some
//! check it before they write, not atomically (s3s-fs), so the S3 backend
//! looks first (a HEAD), and writers hold the vault's lock (see
//! `vault/remote.rs`), which rests on listing, not on conditional puts.

#[cfg(feature = "s3")]
mod awsconfig;
mod local;
#[cfg(feature = "s3")]
mod s3;

use std::io;
use std::ops::Range;
use std::path::Path;

pub use local::LocalBackend;
#[cfg(feature = "s3")]
pub use s3::S3Backend;

/// What to put: bytes in memory, or a (ciphertext) temp file, which the
/// backend may move into place (the caller removes it if it is still
/// there afterwards).
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// A file on the local disk.
    File(&'a Path),
}

/// What a put-if-absent did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The file is now there, written by this call.
    Created,
    /// A file was there already; it was left alone.
    Existed,
}

/// A place that holds a vault's files. Keys are `/`-separated paths
/// relative to the vault's root.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// How the user names it (a path, or `s3://bucket/prefix`).
    fn describe(&self) -> String;

    /// Writes `data` at `key` unless a file is there.
    ///
    /// # Errors
    /// I/O or the store's errors; a file already there is not an error.
    fn put_if_absent(&self, key: &str, data: Payload<'_>) -> io::Result<Put>;

    /// Replaces (or creates) the small file at `key`: only for files that
    /// hold no history (the format file, a lock object).
    ///
    /// # Errors
    /// I/O or the store's errors.
    fn put_replace(&self, key: &str, data: &[u8]) -> io::Result<()>;

    /// The bytes of `key` in `range` (cut at its end).
    ///
    /// # Errors
    /// `NotFound` when there is no such file; I/O or the store's errors.
    fn get_range(&self, key: &str, range: Range<u64>) -> io::Result<Vec<u8>>;

    /// The whole file at `key`.
    ///
    /// # Errors
    /// As [`Backend::get_range`].
    fn get(&self, key: &str) -> io::Result<Vec<u8>> {
        self.get_range(key, 0..u64::MAX)
    }

    /// The size of the file at `key`, `None` when there is none.
    ///
    /// # Errors
    /// I/O or the store's errors.
    fn stat(&self, key: &str) -> io::Result<Option<u64>>;

    /// Every file whose key starts with `prefix`, with its size, sorted.
    ///
    /// # Errors
    /// I/O or the store's errors.
    fn list(&self, prefix: &str) -> io::Result<Vec<(String, u64)>>;

    /// Removes the file at `key` (no error when there is none).
    ///
    /// # Errors
    /// I/O or the store's errors.
    fn delete(&self, key: &str) -> io::Result<()>;

    /// Makes the files put under `prefix` (a folder) durable where that
    /// takes a step of its own (a local folder's fsync); a store's puts
    /// are durable when they return.
    ///
    /// # Errors
    /// I/O errors.
    fn make_durable(&self, _prefix: &str) -> io::Result<()> {
        Ok(())
    }

    /// Aborts the uploads in parts a run killed midway left open (those
    /// this machine started); returns how many. Parts that were in flight
    /// when it was killed may still land after an abort (S3 says so), so a
    /// writer aborts them when it starts and again, for good (`forget`),
    /// when it ends.
    ///
    /// # Errors
    /// The store's errors.
    fn abort_stale_uploads(&self, _forget: bool) -> io::Result<usize> {
        Ok(0)
    }
}

/// A vault's location as the user writes it: `s3://BUCKET[/PREFIX]` is
/// object storage, anything else a local path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A folder.
    Local(std::path::PathBuf),
    /// A bucket and a prefix inside it (no leading or trailing `/`).
    S3 {
        /// The bucket.
        bucket: String,
        /// The prefix (may be empty).
        prefix: String,
    },
}

impl Location {
    /// Reads a vault argument.
    ///
    /// # Errors
    /// An `s3://` URL without a bucket.
    pub fn parse(s: &std::ffi::OsStr) -> Result<Location, String> {
        let Some(rest) = s.to_str().and_then(|t| t.strip_prefix("s3://")) else {
            return Ok(Location::Local(s.into()));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err("an S3 vault is named s3://BUCKET or s3://BUCKET/PREFIX".into());
        }
        Ok(Location::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }
}

/// Whether a list entry's key lies under `prefix` and is a plain file name
/// after it (no deeper folder).
pub fn direct_child<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    key.strip_prefix(prefix).filter(|rest| !rest.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let p = |s: &str| Location::parse(std::ffi::OsStr::new(s));
        assert_eq!(p("/v").unwrap(), Location::Local("/v".into()));
        assert_eq!(
            p("s3://b/some/prefix/").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: "some/prefix".into()
            }
        );
        assert_eq!(
            p("s3://b").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: String::new()
            }
        );
        assert!(p("s3:///x").is_err());
        assert_eq!(direct_child("catalog/1.age", "catalog/"), Some("1.age"));
        assert_eq!(direct_child("catalog/x/1.age", "catalog/"), None);
    }
}
