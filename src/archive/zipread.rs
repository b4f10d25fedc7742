//! Reading the entries of a ZIP file, every one of them.
//!
//! The `zip` crate finds entries by name, so of several entries with the
//! same name it keeps only the last. An X archive never has two, but a ZIP
//! that was changed or re-made by another tool may, and each copy can be a
//! file that exists nowhere else. When names repeat, the central directory
//! is walked here instead and every entry is opened at its own local
//! header (through the `zip` crate's stream reader, given the sizes and
//! CRC-32 of the central directory).
//!
//! Entries are never trusted to be as large as they say: reading one
//! yields at most its declared size, and an entry that inflates to more is
//! an error (a ZIP made to exhaust memory).

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom};

use zip::read::ZipReadOptions;
use zip::ZipArchive;

/// Where an entry is in its ZIP file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ZipAt {
    /// The `zip` crate's index.
    Index(usize),
    /// Read from its local header, with the central directory's facts.
    Raw(RawEntry),
}

/// An entry as the central directory describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RawEntry {
    header: u64,
    compressed: u64,
    size: u64,
    crc: u32,
}

/// One entry of a listing.
pub(crate) struct ZipEntry {
    /// The name, `\` turned into `/`.
    pub name: String,
    /// Declared uncompressed size.
    pub size: u64,
    /// A folder entry.
    pub dir: bool,
    /// Stored without compression.
    pub stored: bool,
    /// How to open it.
    pub at: ZipAt,
}

/// Names that occur more than once in a ZIP, with how often.
pub(crate) type Repeated = Vec<(String, usize)>;

/// A ZIP file's entries, readable by position (see the module docs).
pub(crate) struct ZipReader<R> {
    zip: ZipArchive<R>,
    /// A second handle for entries read at their local header.
    raw: Option<R>,
}

impl<R: Read + Seek> ZipReader<R> {
    /// Opens a ZIP; `second` gives another handle on the same bytes, used
    /// only when entry names repeat.
    pub fn new(reader: R, second: impl FnOnce() -> io::Result<R>) -> zip::result::ZipResult<Self> {
        let zip = ZipArchive::new(reader)?;
        let raw = if zip.has_duplicate_names() {
            Some(second()?)
        } else {
            None
        };
        Ok(ZipReader { zip, raw })
    }

    /// Every entry, in central-directory order, with the names that occur
    /// more than once and how often.
    pub fn entries(&mut self) -> io::Result<(Vec<ZipEntry>, Repeated)> {
        let entries = match self.raw.as_mut() {
            None => self.indexed(),
            Some(raw) => {
                central_directory(raw, self.zip.central_directory_start(), self.zip.offset())?
            }
        };
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for e in entries.iter().filter(|e| !e.dir) {
            *counts.entry(e.name.as_str()).or_default() += 1;
        }
        let mut repeated: Vec<(String, usize)> = counts
            .into_iter()
            .filter(|&(_, n)| n > 1)
            .map(|(name, n)| (name.to_owned(), n))
            .collect();
        repeated.sort();
        Ok((entries, repeated))
    }

    fn indexed(&self) -> Vec<ZipEntry> {
        (0..self.zip.len())
            .filter_map(|i| {
                let data = self.zip.by_index_data(i).ok()?;
                let name = data.name().ok()?.replace('\\', "/");
                Some(ZipEntry {
                    dir: data.is_dir() || name.ends_with('/'),
                    size: data.size(),
                    stored: data.compression() == zip::CompressionMethod::Stored,
                    at: ZipAt::Index(i),
                    name,
                })
            })
            .collect()
    }

    /// Where an entry's data starts in the file (for a stored entry, read
    /// in place through a window).
    pub fn data_start(&mut self, at: ZipAt) -> io::Result<Option<u64>> {
        match at {
            ZipAt::Index(i) => Ok(self.zip.by_index(i).map_err(zip_io)?.data_start()),
            ZipAt::Raw(_) => Ok(None),
        }
    }

    /// Opens an entry for streaming; it yields at most `size` bytes, and
    /// fails if it would yield more.
    pub fn open(&mut self, at: ZipAt, size: u64) -> io::Result<Box<dyn Read + '_>> {
        let file: Box<dyn Read + '_> = match at {
            ZipAt::Index(i) => Box::new(self.zip.by_index(i).map_err(zip_io)?),
            ZipAt::Raw(e) => {
                let raw = self
                    .raw
                    .as_mut()
                    .ok_or_else(|| io::Error::other("no second handle on the ZIP"))?;
                raw.seek(SeekFrom::Start(e.header))?;
                let options = ZipReadOptions::new()
                    .override_compressed_size(e.compressed)
                    .override_uncompressed_size(e.size)
                    .override_crc(e.crc);
                match zip::read::read_zipfile_from_stream_with_options(raw, options) {
                    Ok(Some(f)) => Box::new(f),
                    Ok(None) => {
                        return Err(io::Error::other(
                            "no local header where the central directory says",
                        ))
                    }
                    Err(e) => return Err(zip_io(e)),
                }
            }
        };
        Ok(Box::new(Declared::new(file, size)))
    }
}

impl<R: Read + Seek> ZipReader<R> {
    /// Reads a whole entry into memory, with the checks of [`Self::open`].
    /// A Deflated entry is inflated in one call by libdeflate (about 1.5
    /// times zlib-rs's speed on media, which barely compresses), then its
    /// CRC-32 is checked; anything else is streamed.
    pub fn read_all(&mut self, at: ZipAt, size: u64) -> io::Result<Vec<u8>> {
        let cap = usize::try_from(size).map_err(|_| io::Error::other("too large for memory"))?;
        if let ZipAt::Index(i) = at {
            let raw = self.zip.by_index_raw(i).map_err(zip_io)?;
            let compressed = raw.compressed_size();
            if raw.compression() == zip::CompressionMethod::Deflated
                && !raw.encrypted()
                && plausible(compressed, size)
            {
                let crc = raw.crc32();
                let mut input = Vec::with_capacity(usize::try_from(compressed).unwrap_or(0));
                raw.take(compressed).read_to_end(&mut input)?;
                return inflate_whole(&input, cap, crc);
            }
        }
        super::source::read_whole(self.open(at, size)?, size)
    }
}

/// Whether a Deflate stream said to be `compressed` bytes can hold `size`
/// bytes: Deflate grows what it cannot compress by a few bytes per 64 KiB
/// block. A header that says more is not trusted with memory (the entry
/// is streamed).
fn plausible(compressed: u64, size: u64) -> bool {
    // An empty stream (a writer that wrote no final block) is streamed.
    compressed > 0 && compressed <= size + size / 64 + 4096
}

/// Inflates a whole Deflate stream that must give at most `size` bytes
/// with CRC-32 `crc`.
fn inflate_whole(input: &[u8], size: usize, crc: u32) -> io::Result<Vec<u8>> {
    let mut out = vec![0u8; size];
    let n = libdeflater::Decompressor::new()
        .deflate_decompress(input, &mut out)
        .map_err(|e| match e {
            libdeflater::DecompressionError::InsufficientSpace => io::Error::new(
                io::ErrorKind::InvalidData,
                "the entry holds more bytes than its ZIP header says (the ZIP is damaged, or made to exhaust memory)",
            ),
            libdeflater::DecompressionError::BadData => io::Error::new(
                io::ErrorKind::InvalidData,
                "the entry's compressed data is damaged (it does not inflate)",
            ),
        })?;
    out.truncate(n);
    if crc32fast::hash(&out) != crc {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "Invalid checksum: the entry's CRC-32 does not match its bytes",
        ));
    }
    Ok(out)
}

fn zip_io(e: zip::result::ZipError) -> io::Error {
    match e {
        zip::result::ZipError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// Reads at most `left` bytes from a ZIP entry, and fails when the entry
/// holds more than its header declared (its CRC-32 is still checked at its
/// end by the reader below).
pub(crate) struct Declared<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Declared<R> {
    pub(crate) fn new(inner: R, size: u64) -> Self {
        Declared { inner, left: size }
    }
}

impl<R: Read> Read for Declared<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the entry holds more bytes than its ZIP header says (the ZIP is damaged, or made to exhaust memory)",
                )),
            };
        }
        let want = usize::try_from(self.left).map_or(buf.len(), |l| l.min(buf.len()));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

fn le16(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn le32(b: &[u8], i: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]))
}

/// Walks the central directory from `start` (an absolute position);
/// `offset` is where the ZIP begins in the file (data prepended to it).
fn central_directory<R: Read + Seek>(
    r: &mut R,
    start: u64,
    offset: u64,
) -> io::Result<Vec<ZipEntry>> {
    r.seek(SeekFrom::Start(start))?;
    let mut r = io::BufReader::new(r);
    let mut out = Vec::new();
    loop {
        let mut fixed = [0u8; 46];
        match r.read_exact(&mut fixed) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        if fixed[..4] != [0x50, 0x4b, 0x01, 0x02] {
            break;
        }
        let (name_len, extra_len, comment_len) =
            (le16(&fixed, 28), le16(&fixed, 30), le16(&fixed, 32));
        let mut name = vec![0u8; usize::from(name_len)];
        r.read_exact(&mut name)?;
        let mut extra = vec![0u8; usize::from(extra_len)];
        r.read_exact(&mut extra)?;
        io::copy(&mut (&mut r).take(u64::from(comment_len)), &mut io::sink())?;
        let (size, compressed, header) =
            zip64(&extra, le32(&fixed, 24), le32(&fixed, 20), le32(&fixed, 42));
        let name = decode_name(&name).replace('\\', "/");
        out.push(ZipEntry {
            dir: name.ends_with('/'),
            size,
            // Read through the stream reader, never through a window.
            stored: false,
            at: ZipAt::Raw(RawEntry {
                header: header.saturating_add(offset),
                compressed,
                size,
                crc: u32::from_le_bytes([fixed[16], fixed[17], fixed[18], fixed[19]]),
            }),
            name,
        });
    }
    Ok(out)
}

/// IBM code page 437, bytes 0x80 to 0xFF.
const CP437_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■ ";

/// An entry name as the `zip` crate reads one: UTF-8 when it is valid
/// UTF-8, otherwise code page 437 (what old ZIP tools wrote).
fn decode_name(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_owned(),
        Err(_) => raw
            .iter()
            .map(|&b| match b {
                0..0x80 => char::from(b),
                _ => CP437_HIGH.chars().nth(usize::from(b - 0x80)).unwrap_or('?'),
            })
            .collect(),
    }
}

/// The sizes and header offset, from the ZIP64 extra field where the
/// 32-bit fields are saturated.
fn zip64(extra: &[u8], mut size: u64, mut compressed: u64, mut header: u64) -> (u64, u64, u64) {
    let mut i = 0;
    while i + 4 <= extra.len() {
        let (id, len) = (le16(extra, i), usize::from(le16(extra, i + 2)));
        let body = extra.get(i + 4..i + 4 + len).unwrap_or_default();
        if id == 1 {
            let mut j = 0;
            for field in [&mut size, &mut compressed, &mut header] {
                if *field == 0xFFFF_FFFF && j + 8 <= body.len() {
                    *field = u64::from_le_bytes(body[j..j + 8].try_into().unwrap_or_default());
                    j += 8;
                }
            }
        }
        i += 4 + len;
    }
    (size, compressed, header)
}

#[cfg(test)]
mod tests {
    use super::inflate_whole;

    fn deflated(data: &[u8]) -> Vec<u8> {
        let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::default());
        let mut out = vec![0u8; c.deflate_compress_bound(data.len())];
        let n = c.deflate_compress(data, &mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn a_whole_entry_inflates_and_its_crc_is_checked() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let z = deflated(&data);
        let crc = crc32fast::hash(&data);
        assert_eq!(inflate_whole(&z, data.len(), crc).unwrap(), data);
        // Declared larger than it is: the bytes it has, as streaming gives.
        assert_eq!(inflate_whole(&z, data.len() + 10, crc).unwrap(), data);
        let wrong = inflate_whole(&z, data.len(), crc ^ 1).unwrap_err();
        assert!(wrong.to_string().contains("CRC-32"), "{wrong}");
        let more = inflate_whole(&z, data.len() - 1, crc).unwrap_err();
        assert!(
            more.to_string()
                .contains("more bytes than its ZIP header says"),
            "{more}"
        );
        let bad = inflate_whole(&[0xFF; 64], data.len(), crc).unwrap_err();
        assert!(bad.to_string().contains("does not inflate"), "{bad}");
    }
}

#[cfg(test)]
mod hostile {
    use super::{ZipAt, ZipReader};
    use std::io::{Cursor, Write};

    /// A Deflated entry whose central directory claims 2 GiB of compressed
    /// data: no 2 GiB buffer, and the entry is read or refused, never a
    /// crash.
    #[test]
    fn a_lying_compressed_size_is_not_trusted_with_memory() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 7) as u8).collect();
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("a.jpg", opts).unwrap();
        w.write_all(&data).unwrap();
        let mut bytes = w.finish().unwrap().into_inner();
        // The central directory's compressed size (offset 20 of its entry).
        let cd = bytes
            .windows(4)
            .rposition(|s| s == [0x50, 0x4b, 0x01, 0x02])
            .unwrap();
        bytes[cd + 20..cd + 24].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
        let mut z = ZipReader::new(Cursor::new(bytes.clone()), || {
            Ok(Cursor::new(bytes.clone()))
        })
        .unwrap();
        let (entries, _) = z.entries().unwrap();
        let e = entries.iter().find(|e| e.name == "a.jpg").unwrap();
        assert!(matches!(e.at, ZipAt::Index(_)));
        assert!(!super::plausible(0x7FFF_FFF0, e.size), "streamed");
        // Streamed, it is read whole all the same.
        assert_eq!(z.read_all(e.at, e.size).unwrap(), data);
    }

    #[test]
    fn deflate_may_grow_a_little_and_no_more() {
        assert!(super::plausible(2, 0) && super::plausible(4096, 0));
        assert!(!super::plausible(0, 0), "an empty stream is streamed");
        assert!(super::plausible(1 << 20, 1 << 20));
        assert!(super::plausible((24 << 20) + (24 << 20) / 64, 24 << 20));
        assert!(!super::plausible(2 << 20, 1 << 20));
    }
}
