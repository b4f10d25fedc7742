//! The object store: one standard age file per unique content.
//!
//! An object's name is `BLAKE3-keyed(id_key, BLAKE3(plaintext))` in hex, under a
//! two-character fan-out folder: `objects/ab/ab12….age`. Without the vault
//! secret, a name says nothing about the content; two equal contents get
//! the same name, which is how dedup works. Objects are written to `tmp/`,
//! then renamed into place without replacing; a name that already exists
//! is a dedup hit. Durability is batched: the importer syncs the
//! filesystem once before committing the catalog segment that refers to
//! new objects.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::backend::{Payload, Put};
use super::fsutil;
use super::keys::{hex, unhex};
use super::place::Place;

/// Why an object could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The operating system could not read its file (no permission, a
    /// failing disk): this does not show that the object is damaged.
    #[error("its file cannot be read: {0}")]
    Unreadable(io::Error),
    /// Its file is not what was written: not an age file, failing
    /// authentication, cut short, or decrypting to another content.
    #[error("{0}")]
    Corrupt(String),
}

impl ObjectError {
    /// Sorts an error met while reading an object through [`Store::open`]
    /// or [`Store::open_seekable`]: one the operating system gave when the
    /// file was read is [`ObjectError::Unreadable`], anything else (from
    /// the decryption) [`ObjectError::Corrupt`].
    pub fn from_io(e: io::Error) -> ObjectError {
        if e.get_ref().is_some_and(|inner| inner.is::<OsError>()) {
            let kind = e.kind();
            let inner = e.into_inner().and_then(|i| i.downcast::<OsError>().ok());
            return ObjectError::Unreadable(inner.map_or_else(|| kind.into(), |b| b.0));
        }
        ObjectError::Corrupt(e.to_string())
    }

    fn from_decrypt(e: age::DecryptError) -> ObjectError {
        match e {
            age::DecryptError::Io(e) => ObjectError::from_io(e),
            other => ObjectError::Corrupt(format!("not a readable age file: {other}")),
        }
    }
}

/// An error the operating system gave while an object's file was read.
#[derive(Debug)]
struct OsError(io::Error);

impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for OsError {}

/// An object's file, with the errors reading it gives marked as the
/// operating system's (see [`ObjectError::from_io`]).
pub enum ObjectFile {
    /// In a local vault.
    Local(File),
    /// In object storage, read by ranges.
    Remote(RemoteFile),
}

impl Read for ObjectFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        crate::fault::io_error("object-read-eio")
            .and_then(|()| match self {
                ObjectFile::Local(f) => f.read(buf),
                ObjectFile::Remote(r) => r.read(buf),
            })
            .map_err(|e| io::Error::new(e.kind(), OsError(e)))
    }
}

impl io::Seek for ObjectFile {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        match self {
            ObjectFile::Local(f) => f.seek(pos),
            ObjectFile::Remote(r) => r.seek(pos),
        }
    }
}

/// A file in object storage read by ranged GETs, a MiB ahead at a time
/// (16 for a whole read). Its size is learnt from the first short read, or
/// asked for (a HEAD) only when a seek from its end needs it.
pub struct RemoteFile {
    place: Place,
    key: String,
    size: Option<u64>,
    pos: u64,
    /// Bytes from `ahead_at` on.
    ahead: Vec<u8>,
    ahead_at: u64,
    /// How much one GET fetches at least: much for a whole read (verify,
    /// export), a little for a seeking reader (a video in the viewer).
    ahead_size: u64,
}

impl Read for RemoteFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.size.is_some_and(|size| self.pos >= size) || buf.is_empty() {
            return Ok(0);
        }
        let end = self.ahead_at + self.ahead.len() as u64;
        if self.pos < self.ahead_at || self.pos >= end {
            let want = (buf.len() as u64).max(self.ahead_size);
            let to = self.pos.saturating_add(want);
            let to = self.size.map_or(to, |size| to.min(size));
            self.ahead = self.place.files().get_range(&self.key, self.pos..to)?;
            self.ahead_at = self.pos;
            if (self.ahead.len() as u64) < to - self.pos {
                // A short read: the file ends there.
                self.size = Some(self.pos + self.ahead.len() as u64);
            }
            if self.ahead.is_empty() {
                return Ok(0);
            }
        }
        let from = usize::try_from(self.pos - self.ahead_at).unwrap_or(usize::MAX);
        let n = buf.len().min(self.ahead.len() - from);
        buf[..n].copy_from_slice(&self.ahead[from..from + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl io::Seek for RemoteFile {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let to = match pos {
            io::SeekFrom::Start(p) => Some(p),
            io::SeekFrom::End(d) => {
                let size = match self.size {
                    Some(s) => s,
                    None => self
                        .place
                        .files()
                        .stat(&self.key)?
                        .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?,
                };
                self.size = Some(size);
                size.checked_add_signed(d)
            }
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = to.ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(self.pos)
    }
}

/// A decrypting reader of an object, seekable.
pub type SeekableObject = age::stream::StreamReader<BufReader<ObjectFile>>;

/// The name of an object: the keyed BLAKE3 of its plaintext's BLAKE3.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; 32]);

impl ObjectId {
    /// Parses 64 hex digits.
    pub fn parse(s: &str) -> Option<ObjectId> {
        unhex(s)?.try_into().ok().map(ObjectId)
    }

    /// The full hex form.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Display for ObjectId {
    /// The first 12 hex digits, as restic shows ids.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0[..6]))
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl serde::Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

impl<'de> serde::Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ObjectId::parse(&s).ok_or_else(|| serde::de::Error::custom("bad object id"))
    }
}

/// What hashing a content yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digests {
    /// Plaintext size.
    pub size: u64,
    /// Plain BLAKE3 of the plaintext.
    pub blake3: [u8; 32],
    /// SHA-256 of the plaintext.
    pub sha256: [u8; 32],
    /// The object name (keyed BLAKE3).
    pub object: ObjectId,
}

/// Hashes a content incrementally: BLAKE3 and SHA-256 in one pass; the
/// object name is then `BLAKE3-keyed(id key, BLAKE3(content))`, a keyed
/// function of the content that costs one more hash of 32 bytes, not a
/// second pass over the content.
pub struct Hashers {
    id_key: [u8; 32],
    plain: blake3::Hasher,
    sha: Sha256,
    size: u64,
}

impl Hashers {
    /// Starts hashing with the vault's object-naming key.
    pub fn new(id_key: &[u8; 32]) -> Hashers {
        Hashers {
            id_key: *id_key,
            plain: blake3::Hasher::new(),
            sha: Sha256::new(),
            size: 0,
        }
    }

    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.plain.update(data);
        self.sha.update(data);
        self.size += data.len() as u64;
    }

    /// The digests.
    pub fn finish(self) -> Digests {
        let blake3 = *self.plain.finalize().as_bytes();
        Digests {
            size: self.size,
            blake3,
            sha256: self.sha.finalize().into(),
            object: object_id(&self.id_key, &blake3),
        }
    }
}

/// The object name of a content with this BLAKE3.
pub fn object_id(id_key: &[u8; 32], blake3: &[u8; 32]) -> ObjectId {
    ObjectId(*blake3::keyed_hash(id_key, blake3).as_bytes())
}

/// Reads as much as fits into `buf` (unlike `read`, which may return
/// little: zip's inflater gives about 8 KiB per call, and hashing small
/// slices is slow).
pub fn fill<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads `reader` to its end in blocks of 1 MiB, calling `each` with every
/// block (one place for the "read, hash, maybe write" loop).
pub fn for_each_block<R: Read + ?Sized, E: From<io::Error>>(
    reader: &mut R,
    mut each: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<u64, E> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = fill(reader, &mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        each(&buf[..n])?;
        total += n as u64;
    }
}

/// The objects of a vault.
pub struct Store {
    place: Place,
    tmp: PathBuf,
    recipient: age::x25519::Recipient,
}

/// A content encrypted into a temp file, not yet in place.
pub struct Staged {
    /// Its digests.
    pub digests: Digests,
    tmp: PathBuf,
}

impl Store {
    /// The store of the vault at `vault`, encrypting to `recipient`.
    pub fn new(vault: &Place, recipient: age::x25519::Recipient) -> Store {
        Store {
            place: vault.clone(),
            tmp: vault.local().join("tmp"),
            recipient,
        }
    }

    /// Where the objects are.
    pub fn location(&self) -> &Place {
        &self.place
    }

    /// An object's key in the vault.
    pub fn key(id: &ObjectId) -> String {
        let h = id.hex();
        format!("objects/{}/{h}.age", &h[..2])
    }

    /// Where an object lives (its path, or its URL).
    pub fn path(&self, id: &ObjectId) -> PathBuf {
        self.place.name_of(&Store::key(id))
    }

    /// The stored (ciphertext) size, or `None` when the object is absent.
    pub fn stored_size(&self, id: &ObjectId) -> io::Result<Option<u64>> {
        self.place.files().stat(&Store::key(id))
    }

    /// Removes an object's file (one an interrupted import left that is
    /// not what its name says).
    pub fn remove(&self, id: &ObjectId) -> io::Result<()> {
        self.place.files().delete(&Store::key(id))
    }

    fn encryptor(&self) -> io::Result<age::Encryptor> {
        age::Encryptor::with_recipients(std::iter::once(&self.recipient as &dyn age::Recipient))
            .map_err(io::Error::other)
    }

    /// Encrypts `data` (whose digests are known) into place. Returns the
    /// stored size and whether the object is new.
    pub fn put_bytes(&self, id: &ObjectId, data: &[u8]) -> io::Result<(u64, bool)> {
        let (file, tmp) = fsutil::temp_file(&self.tmp)?;
        let result = (|| {
            let mut w = self
                .encryptor()?
                .wrap_output(BufWriter::with_capacity(1 << 20, file))?;
            w.write_all(data)?;
            w.finish()?.flush()?;
            self.place(&tmp, id)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Streams `reader` through the hashers and the encryptor into a temp
    /// file. Nothing of the plaintext is written anywhere.
    pub fn stage(&self, id_key: &[u8; 32], reader: &mut impl Read) -> io::Result<Staged> {
        let (file, tmp) = fsutil::temp_file(&self.tmp)?;
        let result = (|| {
            let mut hashers = Hashers::new(id_key);
            let mut w = self
                .encryptor()?
                .wrap_output(BufWriter::with_capacity(1 << 20, file))?;
            for_each_block(reader, |b| {
                hashers.update(b);
                w.write_all(b)
            })?;
            w.finish()?.flush()?;
            Ok(hashers.finish())
        })();
        match result {
            Ok(digests) => Ok(Staged { digests, tmp }),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Puts a staged content into place. Returns the stored size and
    /// whether the object is new (false: it existed; the temp is dropped).
    pub fn commit(&self, staged: Staged) -> io::Result<(u64, bool)> {
        self.place(&staged.tmp, &staged.digests.object)
    }

    /// Drops a staged content.
    pub fn discard(&self, staged: Staged) {
        let _ = fs::remove_file(staged.tmp);
    }

    fn place(&self, tmp: &Path, id: &ObjectId) -> io::Result<(u64, bool)> {
        let key = Store::key(id);
        let put = self.place.files().put_if_absent(&key, Payload::File(tmp));
        // Moved into place (a local vault), uploaded, or a dedup hit.
        let _ = fs::remove_file(tmp);
        let new = put? == Put::Created;
        crate::fault::point("object");
        let size = self.place.files().stat(&key)?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "gone right after it was put")
        })?;
        Ok((size, new))
    }

    /// Opens an object for decryption.
    ///
    /// The plaintext is authenticated chunk by chunk; a truncated or
    /// altered object fails with an error, at the latest at its end. Act
    /// on the content only after reading it to the end without error.
    /// Errors while reading sort with [`ObjectError::from_io`].
    pub fn open(
        &self,
        id: &ObjectId,
        identity: &age::x25519::Identity,
    ) -> Result<SeekableObject, ObjectError> {
        self.open_buffered(id, identity, 1 << 20, 16 << 20)
    }

    /// Opens an object for decryption with seeking (for FFmpeg, which
    /// seeks in MP4 files). Seeking authenticates the chunks it lands in.
    pub fn open_seekable(
        &self,
        id: &ObjectId,
        identity: &age::x25519::Identity,
    ) -> Result<SeekableObject, ObjectError> {
        self.open_buffered(id, identity, 1 << 16, 1 << 20)
    }

    fn open_buffered(
        &self,
        id: &ObjectId,
        identity: &age::x25519::Identity,
        buffer: usize,
        ahead_size: u64,
    ) -> Result<SeekableObject, ObjectError> {
        let file = if self.place.is_remote() {
            ObjectFile::Remote(RemoteFile {
                place: self.place.clone(),
                key: Store::key(id),
                size: None,
                pos: 0,
                ahead: Vec::new(),
                ahead_at: 0,
                ahead_size,
            })
        } else {
            ObjectFile::Local(File::open(self.path(id)).map_err(ObjectError::Unreadable)?)
        };
        let d = age::Decryptor::new_buffered(BufReader::with_capacity(buffer, file))
            .map_err(ObjectError::from_decrypt)?;
        d.decrypt(std::iter::once(identity as &dyn age::Identity))
            .map_err(ObjectError::from_decrypt)
    }

    /// Decrypts an object to its end and hashes it.
    pub fn rehash(
        &self,
        id: &ObjectId,
        identity: &age::x25519::Identity,
        id_key: &[u8; 32],
    ) -> Result<Digests, ObjectError> {
        let mut r = self.open(id, identity)?;
        let mut h = Hashers::new(id_key);
        for_each_block(&mut r, |b| {
            h.update(b);
            Ok::<(), io::Error>(())
        })
        .map_err(ObjectError::from_io)?;
        Ok(h.finish())
    }

    /// Moves objects to `quarantine/` in the vault, so that the next import
    /// of an archive holding their content writes them anew. The caller
    /// holds the vault's write lock. Returns where each went.
    pub fn quarantine(&self, ids: &[ObjectId]) -> io::Result<Vec<PathBuf>> {
        if self.place.is_remote() {
            return self.quarantine_remote(ids);
        }
        let dir = self.place.local().join("quarantine");
        let mut moved = Vec::new();
        if ids.is_empty() {
            return Ok(moved);
        }
        fs::create_dir_all(&dir)?;
        for id in ids {
            let h = id.hex();
            let mut to = dir.join(format!("{h}.age"));
            let mut k = 1;
            while to.exists() {
                to = dir.join(format!("{h}.{k}.age"));
                k += 1;
            }
            fs::rename(self.path(id), &to)?;
            moved.push(to);
        }
        Ok(moved)
    }

    /// Quarantine in object storage: a copy under `quarantine/`, then the
    /// object removed.
    fn quarantine_remote(&self, ids: &[ObjectId]) -> io::Result<Vec<PathBuf>> {
        let files = self.place.files();
        let mut moved = Vec::new();
        for id in ids {
            let h = id.hex();
            let bytes = files.get(&Store::key(id))?;
            let mut k = 0;
            let to = loop {
                let to = if k == 0 {
                    format!("quarantine/{h}.age")
                } else {
                    format!("quarantine/{h}.{k}.age")
                };
                if files.put_if_absent(&to, Payload::Bytes(&bytes))? == Put::Created {
                    break to;
                }
                k += 1;
            };
            files.delete(&Store::key(id))?;
            moved.push(self.place.name_of(&to));
        }
        Ok(moved)
    }

    /// Every object file in the store, with its stored size.
    pub fn list(&self) -> io::Result<Vec<(ObjectId, u64)>> {
        let mut out: Vec<(ObjectId, u64)> = self
            .place
            .files()
            .list("objects/")?
            .into_iter()
            .filter_map(|(key, size)| {
                let rest = key.strip_prefix("objects/")?;
                let (fan, name) = rest.split_once('/')?;
                let id = ObjectId::parse(name.strip_suffix(".age")?)?;
                (fan.len() == 2 && !name.contains('/')).then_some((id, size))
            })
            .collect();
        out.sort();
        Ok(out)
    }
}
