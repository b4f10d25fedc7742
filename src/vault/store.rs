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

use super::fsutil;
use super::keys::{hex, unhex};

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
pub struct ObjectFile(File);

impl Read for ObjectFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        crate::fault::io_error("object-read-eio")
            .and_then(|()| self.0.read(buf))
            .map_err(|e| io::Error::new(e.kind(), OsError(e)))
    }
}

impl io::Seek for ObjectFile {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.0.seek(pos)
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

/// The object folder of a vault.
pub struct Store {
    root: PathBuf,
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
    pub fn new(vault: &Path, recipient: age::x25519::Recipient) -> Store {
        Store {
            root: vault.join("objects"),
            tmp: vault.join("tmp"),
            recipient,
        }
    }

    /// Where an object lives.
    pub fn path(&self, id: &ObjectId) -> PathBuf {
        let h = id.hex();
        self.root.join(&h[..2]).join(format!("{h}.age"))
    }

    /// The stored (ciphertext) size, or `None` when the object is absent.
    pub fn stored_size(&self, id: &ObjectId) -> io::Result<Option<u64>> {
        match fs::metadata(self.path(id)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
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
        let dest = self.path(id);
        let dir = dest.parent().expect("fan-out folder");
        if !dir.exists() {
            fs::create_dir_all(dir)?;
        }
        let new = fsutil::publish(tmp, &dest)?;
        crate::fault::point("object");
        Ok((fs::metadata(&dest)?.len(), new))
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
        self.open_buffered(id, identity, 1 << 20)
    }

    /// Opens an object for decryption with seeking (for FFmpeg, which
    /// seeks in MP4 files). Seeking authenticates the chunks it lands in.
    pub fn open_seekable(
        &self,
        id: &ObjectId,
        identity: &age::x25519::Identity,
    ) -> Result<SeekableObject, ObjectError> {
        self.open_buffered(id, identity, 1 << 16)
    }

    fn open_buffered(
        &self,
        id: &ObjectId,
        identity: &age::x25519::Identity,
        buffer: usize,
    ) -> Result<SeekableObject, ObjectError> {
        let f = File::open(self.path(id)).map_err(ObjectError::Unreadable)?;
        let d = age::Decryptor::new_buffered(BufReader::with_capacity(buffer, ObjectFile(f)))
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
        let dir = fsutil::parent_dir(&self.root).join("quarantine");
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

    /// Every object file in the store, with its stored size.
    pub fn list(&self) -> io::Result<Vec<(ObjectId, u64)>> {
        let mut out = Vec::new();
        let top = match fs::read_dir(&self.root) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for d in top {
            let d = d?;
            if !d.file_type()?.is_dir() {
                continue;
            }
            for f in fs::read_dir(d.path())? {
                let f = f?;
                let name = f.file_name();
                let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".age")) else {
                    continue;
                };
                if let Some(id) = ObjectId::parse(stem) {
                    out.push((id, f.metadata()?.len()));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}
