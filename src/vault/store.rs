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
pub fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = fill(reader, &mut buf)?;
                if n == 0 {
                    break;
                }
                hashers.update(&buf[..n]);
                w.write_all(&buf[..n])?;
            }
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
    pub fn open(
        &self,
        id: &ObjectId,
        identity: &age::x25519::Identity,
    ) -> io::Result<Box<dyn Read + Send>> {
        let f = File::open(self.path(id))?;
        let d = age::Decryptor::new_buffered(BufReader::with_capacity(1 << 20, f))
            .map_err(io::Error::other)?;
        let r = d
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .map_err(io::Error::other)?;
        Ok(Box::new(r))
    }

    /// Opens an object for decryption with seeking (for FFmpeg, which
    /// seeks in MP4 files). Seeking authenticates the chunks it lands in.
    pub fn open_seekable(
        &self,
        id: &ObjectId,
        identity: &age::x25519::Identity,
    ) -> io::Result<age::stream::StreamReader<BufReader<File>>> {
        let f = File::open(self.path(id))?;
        let d = age::Decryptor::new_buffered(BufReader::with_capacity(1 << 16, f))
            .map_err(io::Error::other)?;
        d.decrypt(std::iter::once(identity as &dyn age::Identity))
            .map_err(io::Error::other)
    }

    /// Decrypts an object to its end and hashes it.
    pub fn rehash(
        &self,
        id: &ObjectId,
        identity: &age::x25519::Identity,
        id_key: &[u8; 32],
    ) -> io::Result<Digests> {
        let mut r = self.open(id, identity)?;
        let mut h = Hashers::new(id_key);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = fill(&mut r, &mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(h.finish())
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
