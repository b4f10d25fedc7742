//! ZIP files inside the archive (the media ZIPs of 2019 archives), made
//! readable once and shared by every reader.
//!
//! - In a folder, the media ZIP is a file of its own: each reader opens it.
//! - Stored (not compressed) inside the archive's ZIP, as X writes it, it
//!   is read in place through a window on the outer file.
//! - Compressed inside the archive (someone re-zipped it), it has to be
//!   inflated to be read at random: once, into memory when it is small,
//!   otherwise into a temp file encrypted with a key that exists only in
//!   this process's memory (no plaintext on disk), unlinked as soon as it
//!   is created so that nothing is left behind whatever happens. However
//!   many workers read it, it is inflated once.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Compressed media ZIPs are inflated into memory while they fit in this
/// much (all of an archive's together); the others into encrypted temp
/// files.
pub(crate) const IN_MEMORY: u64 = 64 << 20;

/// A media ZIP, ready to be opened by any number of readers.
#[derive(Clone)]
pub(crate) enum NestedSource {
    /// A file in a folder archive.
    File(PathBuf),
    /// A stored entry of the archive's ZIP file.
    Window {
        /// The archive's ZIP file.
        file: PathBuf,
        /// Where the entry's data starts.
        start: u64,
        /// Its length.
        len: u64,
    },
    /// Inflated into memory, once.
    Memory(Arc<Vec<u8>>),
    /// Inflated into an unlinked, encrypted temp file, once.
    Spilled(Arc<Spill>),
}

/// An inflated media ZIP in an encrypted, unlinked temp file.
pub(crate) struct Spill {
    file: File,
    identity: age::x25519::Identity,
}

impl NestedSource {
    /// Inflates a compressed media ZIP read from `entry` (which yields at
    /// most `size` bytes): into memory when it fits in what is left of
    /// `memory` (which it then takes), otherwise into a temp file in
    /// `spill_dir`.
    pub fn inflate(
        entry: &mut dyn Read,
        size: u64,
        spill_dir: &Path,
        memory: &mut u64,
    ) -> io::Result<NestedSource> {
        if size <= *memory {
            *memory -= size;
            let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            entry.read_to_end(&mut buf)?;
            return Ok(NestedSource::Memory(Arc::new(buf)));
        }
        std::fs::create_dir_all(spill_dir)?;
        let (file, path) = crate::vault::fsutil::temp_file(spill_dir)?;
        // Unlinked at once: the open handle is all that is left of it (a
        // writer cleaning the vault's `tmp/` may have been quicker).
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public();
        let enc =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(io::Error::other)?;
        let mut w = enc.wrap_output(BufWriter::with_capacity(1 << 20, &file))?;
        io::copy(entry, &mut w)?;
        w.finish()?.flush()?;
        Ok(NestedSource::Spilled(Arc::new(Spill { file, identity })))
    }

    /// A new reader positioned at the start.
    pub fn reader(&self) -> io::Result<NestedReader> {
        Ok(match self {
            NestedSource::File(p) => NestedReader::File(BufReader::new(File::open(p)?)),
            NestedSource::Window { file, start, len } => {
                NestedReader::Window(Window::new(File::open(file)?, *start, *len)?)
            }
            NestedSource::Memory(b) => NestedReader::Memory(io::Cursor::new(Shared(b.clone()))),
            NestedSource::Spilled(s) => {
                let at = At {
                    spill: s.clone(),
                    pos: 0,
                };
                let d = age::Decryptor::new_buffered(BufReader::with_capacity(1 << 16, at))
                    .map_err(io::Error::other)?;
                let r = d
                    .decrypt(std::iter::once(&s.identity as &dyn age::Identity))
                    .map_err(io::Error::other)?;
                NestedReader::Spilled(Box::new(r))
            }
        })
    }
}

/// Bytes shared between readers.
#[derive(Clone)]
pub(crate) struct Shared(Arc<Vec<u8>>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A reader of the spilled file with a position of its own.
pub(crate) struct At {
    spill: Arc<Spill>,
    pos: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.spill.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for At {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let len = self.spill.file.metadata()?.len();
        self.pos = offset(pos, self.pos, len)?;
        Ok(self.pos)
    }
}

/// Where a seek lands, or an error before the start.
fn offset(pos: SeekFrom, current: u64, len: u64) -> io::Result<u64> {
    let target = match pos {
        SeekFrom::Start(p) => i128::from(p),
        SeekFrom::End(d) => i128::from(len) + i128::from(d),
        SeekFrom::Current(d) => i128::from(current) + i128::from(d),
    };
    u64::try_from(target)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))
}

/// Reader under a media ZIP.
pub(crate) enum NestedReader {
    /// A file in a folder.
    File(BufReader<File>),
    /// A stored entry: a window on the outer file.
    Window(Window),
    /// Inflated in memory.
    Memory(io::Cursor<Shared>),
    /// Decrypting the spilled file.
    Spilled(Box<age::stream::StreamReader<BufReader<At>>>),
}

impl Read for NestedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            NestedReader::File(r) => r.read(buf),
            NestedReader::Window(r) => r.read(buf),
            NestedReader::Memory(r) => r.read(buf),
            NestedReader::Spilled(r) => r.read(buf),
        }
    }
}

impl Seek for NestedReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            NestedReader::File(r) => r.seek(pos),
            NestedReader::Window(r) => r.seek(pos),
            NestedReader::Memory(r) => r.seek(pos),
            NestedReader::Spilled(r) => r.seek(pos),
        }
    }
}

/// A byte range of a file, seen as a file of its own.
pub(crate) struct Window {
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
        let n = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        let n = self.file.read(&mut buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.pos = offset(pos, self.pos, self.len)?;
        let at = self
            .start
            .checked_add(self.pos)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek past any file"))?;
        self.file.seek(SeekFrom::Start(at))?;
        Ok(self.pos)
    }
}
