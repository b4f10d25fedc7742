//! The catalog: what the vault knows about messages, conversations, media
//! references, orphan files, objects and imported archives.
//!
//! On disk it is a chain of append-only **segments** `catalog/<seq>.age`,
//! each an age file (to the vault recipient) whose plaintext is JSON lines:
//!
//! ```text
//! {"format":"dmvault-catalog-segment","version":1,"seq":N,"prev":"<mac of segment N-1>"}
//! {"t":"message", …}            one record per line
//! …
//! {"mac":"<hex>"}               BLAKE3-keyed(mac key, every byte above)
//! ```
//!
//! The MAC (under a key derived from the vault secret, which the recipient
//! alone does not give) authenticates each segment; `seq` and `prev` chain
//! them, so an edited, swapped, truncated or removed segment is detected.
//! A segment is written last in an import step, atomically, after the
//! objects it refers to are durable: it is the commit point.
//!
//! In memory the records are folded into a [`Catalog`]: the union of
//! everything ever imported, never replaced.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fsutil;
use super::keys::{hex, unhex, VaultSecret};
use super::store::ObjectId;
use crate::dm::{ConversationKind, Edit, Reaction, UrlEntity};
use crate::error::{Error, Result};
use crate::media::{expected_file_name, split_file_name, MediaKind};
use crate::time::Timestamp;

const SEGMENT_FORMAT: &str = "dmvault-catalog-segment";

/// An archive's number in a vault (1, 2, …), used for provenance.
pub type ArchiveNo = u32;

/// An imported archive (written when its import starts).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchiveRecord {
    /// Its number in this vault (1, 2, …), used for provenance.
    pub n: u32,
    /// The file or folder name (not the full path).
    pub name: String,
    /// Size in bytes (a folder: sum of its files).
    pub size: u64,
    /// SHA-256 of the ZIP file (a folder: of its DM files' paths, sizes and
    /// contents); empty until the import completes (`archive_done` carries it).
    pub sha256: String,
    /// BLAKE3 of the same (used to recognise an archive imported before).
    pub blake3: String,
    /// Generation (`g4_manifest` …).
    pub generation: String,
    /// `archiveInfo.generationDate`.
    #[serde(default)]
    pub generation_date: Option<String>,
    /// Owner's account id.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Owner's handle then.
    #[serde(default)]
    pub username: Option<String>,
    /// When the import started.
    pub imported_at: Timestamp,
    /// How the ZIP file looked on disk (to recognise it unchanged without
    /// reading it again); `None` for folders.
    #[serde(default)]
    pub stat: Option<FileStat>,
}

/// Identity of a file on disk: device, inode, size, modification and
/// change times (nanoseconds). Any write to the file changes its ctime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Change time, ns since the epoch.
    pub ctime_ns: i64,
}

/// What one archive showed of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationRecord {
    /// Conversation id.
    pub id: String,
    /// 1:1 or group.
    pub kind: ConversationKind,
    /// The archive.
    pub archive: u32,
    /// Participants this archive shows (for groups, the union the format doc describes).
    #[serde(default)]
    pub participants: Vec<String>,
    /// Names set by `conversationNameUpdate`.
    #[serde(default)]
    pub names: Vec<NameChange>,
}

/// A group rename.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NameChange {
    /// When.
    pub at: Option<Timestamp>,
    /// The new name.
    pub name: String,
    /// Who renamed it.
    #[serde(default)]
    pub by: Option<String>,
}

/// A message, as first seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageRecord {
    /// Message (event) id.
    pub id: String,
    /// Conversation id.
    pub conversation: String,
    /// Sender.
    #[serde(default)]
    pub sender: Option<String>,
    /// Recipient (1:1).
    #[serde(default)]
    pub recipient: Option<String>,
    /// Sent at.
    pub created_at: Timestamp,
    /// Text as in the archive (HTML-escaped).
    #[serde(default)]
    pub text: Option<String>,
    /// A `welcomeMessageCreate`.
    #[serde(default)]
    pub welcome: bool,
    /// Reactions.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    /// Earlier versions.
    #[serde(default)]
    pub edits: Vec<Edit>,
    /// Links.
    #[serde(default)]
    pub urls: Vec<UrlEntity>,
    /// Where it was first seen.
    pub archive: u32,
}

/// A stored file's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    /// Plaintext size.
    pub size: u64,
    /// BLAKE3 of the plaintext (hex).
    pub blake3: String,
    /// SHA-256 of the plaintext (hex).
    pub sha256: String,
    /// The object holding it.
    pub object: ObjectId,
}

/// A media reference of a message, as one archive showed it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MediaRecord {
    /// Message id.
    pub message: String,
    /// The media URL as in the archive.
    pub url: String,
    /// Position in the message's `mediaUrls`.
    pub ordinal: u32,
    /// Kind.
    pub kind: MediaKind,
    /// The file's name in the archive, when it had one.
    #[serde(default)]
    pub original_name: Option<String>,
    /// The file, or `None`: the archive had no file for it.
    #[serde(default)]
    pub file: Option<FileFacts>,
    /// The archive.
    pub archive: u32,
}

/// A file no reference pointed to in its archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrphanRecord {
    /// Its file name.
    pub name: String,
    /// The numeric prefix of the name (the message id it was named after).
    #[serde(default)]
    pub prefix: Option<String>,
    /// In a group media folder.
    #[serde(default)]
    pub group: bool,
    /// The file.
    pub file: FileFacts,
    /// The archive.
    pub archive: u32,
}

/// A stored object.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Its name.
    pub id: ObjectId,
    /// Plaintext size.
    pub size: u64,
    /// Size of the age file.
    pub stored: u64,
}

/// What FFmpeg found about an object's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntegrityRecord {
    /// The object.
    pub object: ObjectId,
    /// The findings.
    #[serde(flatten)]
    pub report: crate::integrity::ProbeReport,
    /// When it was checked.
    pub checked_at: Timestamp,
}

/// One line of a segment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Record {
    /// An import of an archive started.
    Archive(ArchiveRecord),
    /// An import of an archive finished: everything in it is stored.
    ArchiveDone {
        /// The archive.
        n: u32,
        /// When.
        at: Timestamp,
        /// The archive's SHA-256, computed while it was imported.
        #[serde(default)]
        sha256: Option<String>,
        /// Its BLAKE3, when it was not known when the import started.
        #[serde(default)]
        blake3: Option<String>,
    },
    /// What an archive showed of a conversation.
    Conversation(ConversationRecord),
    /// A message new to the vault.
    Message(MessageRecord),
    /// A known message seen in another archive.
    Seen {
        /// Message id.
        message: String,
        /// The archive.
        archive: u32,
    },
    /// A media reference.
    Media(MediaRecord),
    /// An orphan file.
    Orphan(OrphanRecord),
    /// A new object.
    Object(ObjectRecord),
    /// FFmpeg's verdict on an object's content.
    Integrity(IntegrityRecord),
}

/// A conversation, merged over all archives.
#[derive(Debug, Clone)]
pub struct ConversationState {
    /// 1:1 or group.
    pub kind: ConversationKind,
    /// Everyone seen in it.
    pub participants: BTreeSet<String>,
    /// Names over time, oldest first.
    pub names: BTreeSet<NameChange>,
    /// Archives it appears in.
    pub archives: BTreeSet<u32>,
}

/// A message with its provenance.
#[derive(Debug, Clone)]
pub struct MessageState {
    /// As first seen.
    pub record: MessageRecord,
    /// Every archive it was seen in.
    pub archives: BTreeSet<u32>,
}

/// A media reference merged over archives.
#[derive(Debug, Clone)]
pub struct MediaState {
    /// Position in the message's media.
    pub ordinal: u32,
    /// Kind.
    pub kind: MediaKind,
    /// The file name it had (first archive that had the file).
    pub original_name: Option<String>,
    /// The stored file, if any archive had it.
    pub file: Option<FileFacts>,
    /// Archives that referenced it.
    pub archives: BTreeSet<u32>,
    /// Archives that had its file.
    pub file_archives: BTreeSet<u32>,
    /// The file came from an orphan of another archive.
    pub from_orphan: bool,
}

/// An orphan file merged over archives (same name and content).
#[derive(Debug, Clone)]
pub struct OrphanState {
    /// As first seen.
    pub record: OrphanRecord,
    /// Archives it was in.
    pub archives: BTreeSet<u32>,
    /// A message of another archive claims it: it is an ordinary
    /// reference now.
    pub linked: bool,
}

/// The catalog, folded from all segments.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Imported archives by number (index n-1).
    pub archives: Vec<(ArchiveRecord, bool)>,
    /// Conversations by id.
    pub conversations: BTreeMap<String, ConversationState>,
    /// Messages by id.
    pub messages: HashMap<String, MessageState>,
    /// Media references by (message id, URL).
    pub media: BTreeMap<(String, String), MediaState>,
    /// Orphans by (name, BLAKE3).
    pub orphans: BTreeMap<(String, String), OrphanState>,
    /// Objects.
    pub objects: HashMap<ObjectId, ObjectRecord>,
    /// FFmpeg verdicts by object (the latest check).
    pub integrity: HashMap<ObjectId, IntegrityRecord>,
    /// The facts recorded for each object's content.
    pub facts: HashMap<ObjectId, FileFacts>,
}

/// The chain of segments as far as it goes: the MAC of every segment, in
/// order (the last is the head, which the next segment names as `prev`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    /// The MAC of segment `i + 1` at index `i`.
    pub macs: Vec<[u8; 32]>,
}

impl Chain {
    /// Number of segments.
    pub fn seq(&self) -> u64 {
        self.macs.len() as u64
    }

    /// MAC of the last segment (zeros before the first).
    pub fn head(&self) -> [u8; 32] {
        self.macs.last().copied().unwrap_or_default()
    }

    /// The head as the rollback state records it.
    pub fn seen(&self) -> super::seen::SeenHead {
        super::seen::SeenHead {
            seq: self.seq(),
            head: hex(&self.head()),
        }
    }
}

impl Catalog {
    /// Folds one record in.
    #[allow(clippy::too_many_lines)] // one flat arm per record type
    pub fn apply(&mut self, r: Record) {
        match r {
            Record::Archive(a) => {
                let i = a.n as usize;
                if i == 0 {
                    return;
                }
                if self.archives.len() < i {
                    self.archives.resize_with(i, || (a.clone(), false));
                }
                self.archives[i - 1] = (a, false);
            }
            Record::ArchiveDone {
                n, sha256, blake3, ..
            } => {
                let slot = (n as usize).checked_sub(1);
                if let Some(a) = slot.and_then(|i| self.archives.get_mut(i)) {
                    a.1 = true;
                    if let Some(h) = sha256 {
                        a.0.sha256 = h;
                    }
                    if let Some(h) = blake3 {
                        a.0.blake3 = h;
                    }
                }
            }
            Record::Conversation(c) => {
                let s = self
                    .conversations
                    .entry(c.id)
                    .or_insert_with(|| ConversationState {
                        kind: c.kind,
                        participants: BTreeSet::new(),
                        names: BTreeSet::new(),
                        archives: BTreeSet::new(),
                    });
                s.participants.extend(c.participants);
                s.names.extend(c.names);
                s.archives.insert(c.archive);
            }
            Record::Message(m) => {
                let archive = m.archive;
                self.messages
                    .entry(m.id.clone())
                    .or_insert_with(|| MessageState {
                        record: m,
                        archives: BTreeSet::new(),
                    })
                    .archives
                    .insert(archive);
            }
            Record::Seen { message, archive } => {
                if let Some(m) = self.messages.get_mut(&message) {
                    m.archives.insert(archive);
                }
            }
            Record::Media(m) => {
                let s = self
                    .media
                    .entry((m.message, m.url))
                    .or_insert_with(|| MediaState {
                        ordinal: m.ordinal,
                        kind: m.kind,
                        original_name: None,
                        file: None,
                        archives: BTreeSet::new(),
                        file_archives: BTreeSet::new(),
                        from_orphan: false,
                    });
                s.archives.insert(m.archive);
                if let Some(f) = &m.file {
                    self.facts.entry(f.object).or_insert_with(|| f.clone());
                }
                if let Some(f) = m.file {
                    s.file_archives.insert(m.archive);
                    if s.file.is_none() || s.from_orphan {
                        s.file = Some(f);
                        s.original_name = m.original_name;
                        s.from_orphan = false;
                    }
                }
            }
            Record::Orphan(o) => {
                let archive = o.archive;
                self.facts
                    .entry(o.file.object)
                    .or_insert_with(|| o.file.clone());
                self.orphans
                    .entry((o.name.clone(), o.file.blake3.clone()))
                    .or_insert_with(|| OrphanState {
                        record: o,
                        archives: BTreeSet::new(),
                        linked: false,
                    })
                    .archives
                    .insert(archive);
            }
            Record::Object(o) => {
                self.objects.insert(o.id, o);
            }
            Record::Integrity(i) => {
                self.integrity.insert(i.object, i);
            }
        }
    }

    /// Links orphan files to references that name them: a file that was
    /// an orphan in one archive becomes an ordinary reference once another
    /// archive shows the message it belongs to.
    pub fn link_orphans(&mut self) {
        let mut by_prefix: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (key, o) in &self.orphans {
            if let Some(p) = &o.record.prefix {
                by_prefix.entry(p.clone()).or_default().push(key.clone());
            }
        }
        for ((message, url), state) in self.media.iter_mut() {
            let Some(candidates) = by_prefix.get(message) else {
                continue;
            };
            let want = expected_file_name(message, url);
            let exact: Vec<&(String, String)> = candidates
                .iter()
                .filter(|(name, _)| Some(name) == want.as_ref())
                .collect();
            let chosen = match (exact.first(), candidates.as_slice()) {
                (Some(k), _) => Some(*k),
                (None, [only]) if state.file.is_none() => Some(only),
                _ => None,
            };
            let Some(key) = chosen else { continue };
            let Some(o) = self.orphans.get_mut(key) else {
                continue;
            };
            o.linked = true;
            state.file_archives.extend(o.archives.iter().copied());
            if state.file.is_none() {
                state.file = Some(o.record.file.clone());
                state.original_name = Some(o.record.name.clone());
                state.from_orphan = true;
            }
        }
    }

    /// The media reference of a message to a URL.
    pub fn media_ref(&self, message: &str, url: &str) -> Option<&MediaState> {
        self.media.get(&(message.to_owned(), url.to_owned()))
    }

    /// The archive with this BLAKE3, if imported (complete or not).
    pub fn archive_by_blake3(&self, blake3: &str) -> Option<&(ArchiveRecord, bool)> {
        self.archives
            .iter()
            .find(|(a, _)| !a.blake3.is_empty() && a.blake3 == blake3)
    }

    /// Loads every segment of the vault at `vault`.
    ///
    /// # Errors
    /// [`Error::Catalog`] naming the first segment that is missing, cannot
    /// be decrypted, fails its MAC, or breaks the chain.
    pub fn load(vault: &Path, secret: &VaultSecret) -> Result<(Catalog, Chain)> {
        let mut cat = Catalog::default();
        let mut chain = Chain::default();
        for path in list_segments(vault)? {
            let segment = read_segment(&path, chain.seq() + 1, Some(&chain.head()), secret)?;
            for r in segment.records {
                cat.apply(r);
            }
            chain.macs.push(segment.mac);
        }
        cat.link_orphans();
        Ok((cat, chain))
    }

    /// Archives' names by number, for display.
    pub fn archive_name(&self, n: u32) -> &str {
        (n as usize)
            .checked_sub(1)
            .and_then(|i| self.archives.get(i))
            .map(|(a, _)| a.name.as_str())
            .unwrap_or("?")
    }
}

/// A decrypted, authenticated segment.
pub struct Segment {
    /// Its records.
    pub records: Vec<Record>,
    /// Its MAC (the next segment's `prev`).
    pub mac: [u8; 32],
}

#[derive(Serialize, Deserialize)]
struct SegmentHeader {
    format: String,
    version: u32,
    seq: u64,
    prev: String,
}

#[derive(Serialize, Deserialize)]
struct SegmentTrailer {
    mac: String,
}

/// The segment files in order, checked to be numbered 1..=N.
pub fn list_segments(vault: &Path) -> Result<Vec<PathBuf>> {
    let scan = scan_segments(vault)?;
    // Other files (a `.DS_Store`) do not stop loading; `verify` names them.
    if let Some(name) = scan.strays.into_iter().find(|n| n.ends_with(".age")) {
        return Err(Error::Catalog {
            segment: name,
            detail: "a file that is not a catalog segment is in catalog/".into(),
        });
    }
    for (i, (n, _)) in scan.segments.iter().enumerate() {
        if *n != i as u64 + 1 {
            return Err(Error::Catalog {
                segment: segment_name(i as u64 + 1),
                detail: "missing: the chain of segments has a gap (a segment was deleted)".into(),
            });
        }
    }
    Ok(scan.segments.into_iter().map(|(_, p)| p).collect())
}

/// What `catalog/` holds.
pub struct SegmentScan {
    /// Numbered segment files, sorted by number (not checked for gaps).
    pub segments: Vec<(u64, PathBuf)>,
    /// Names that are not segments.
    pub strays: Vec<String>,
}

/// Lists `catalog/`: the segment files with their numbers, and the names
/// that are not segments.
pub fn scan_segments(vault: &Path) -> Result<SegmentScan> {
    let dir = vault.join("catalog");
    let mut scan = SegmentScan {
        segments: Vec::new(),
        strays: Vec::new(),
    };
    for e in fs::read_dir(&dir).map_err(|e| Error::read(&dir, e))? {
        let e = e.map_err(|e| Error::read(&dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        match name
            .strip_suffix(".age")
            .and_then(|s| s.parse::<u64>().ok())
        {
            Some(n) => scan.segments.push((n, e.path())),
            None => scan.strays.push(name),
        }
    }
    scan.segments.sort();
    scan.strays.sort();
    Ok(scan)
}

/// `0000000001.age`.
pub fn segment_name(seq: u64) -> String {
    format!("{seq:010}.age")
}

/// Decrypts and authenticates one segment.
pub fn read_segment(
    path: &Path,
    seq: u64,
    prev: Option<&[u8; 32]>,
    secret: &VaultSecret,
) -> Result<Segment> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bad = |detail: &str| Error::Catalog {
        segment: name.clone(),
        detail: detail.to_owned(),
    };
    let file = fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let d = age::Decryptor::new_buffered(std::io::BufReader::new(file))
        .map_err(|_| bad("not an age file (damaged or replaced)"))?;
    let mut r = d
        .decrypt(std::iter::once(secret.identity() as &dyn age::Identity))
        .map_err(|_| bad("cannot be decrypted with this vault's key (damaged or replaced)"))?;
    let mut text = Vec::new();
    r.read_to_end(&mut text)
        .map_err(|_| bad("damaged or cut short: its encryption does not authenticate"))?;
    // Split off the trailer line.
    let body_end = text[..text.len().saturating_sub(1)]
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|p| p + 1)
        .ok_or_else(|| bad("cut short: no MAC line"))?;
    let (body, trailer) = text.split_at(body_end);
    let trailer: SegmentTrailer =
        serde_json::from_slice(trailer).map_err(|_| bad("cut short: no MAC line"))?;
    let want = blake3::keyed_hash(secret.mac_key(), body);
    let got: [u8; 32] = unhex(&trailer.mac)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| bad("bad MAC line"))?;
    if want.as_bytes() != &got {
        return Err(bad(
            "its MAC does not match: it was changed after it was written",
        ));
    }
    let mut lines = body.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let header: SegmentHeader = lines
        .next()
        .and_then(|l| serde_json::from_slice(l).ok())
        .ok_or_else(|| bad("no header"))?;
    if header.format != SEGMENT_FORMAT || header.version != 1 {
        return Err(bad("unknown segment format"));
    }
    if header.seq != seq {
        return Err(bad(&format!(
            "holds segment {} in place of {seq}: segments were swapped or renamed",
            header.seq
        )));
    }
    if prev.is_some_and(|p| header.prev != hex(p)) {
        return Err(bad(
            "does not follow the segment before it: the chain was altered",
        ));
    }
    let mut records = Vec::new();
    for l in lines {
        records.push(serde_json::from_slice(l).map_err(|e| bad(&format!("bad record: {e}")))?);
    }
    Ok(Segment { records, mac: got })
}

/// Writes the segment after `chain` with `records`, atomically, and adds
/// its MAC to `chain`. The objects the records refer to must already be
/// durable. (Only [`crate::vault::Vault`] calls this: it is the one writer.)
pub(crate) fn write_segment(
    vault: &Path,
    secret: &VaultSecret,
    chain: &mut Chain,
    records: &[Record],
) -> Result<()> {
    let (seq, prev) = (chain.seq() + 1, &chain.head());
    let mut body = Vec::new();
    let header = SegmentHeader {
        format: SEGMENT_FORMAT.into(),
        version: 1,
        seq,
        prev: hex(prev),
    };
    serde_json::to_writer(&mut body, &header).expect("serialisable");
    body.push(b'\n');
    for r in records {
        serde_json::to_writer(&mut body, r).expect("serialisable");
        body.push(b'\n');
    }
    let mac = *blake3::keyed_hash(secret.mac_key(), &body).as_bytes();
    serde_json::to_writer(&mut body, &SegmentTrailer { mac: hex(&mac) }).expect("serialisable");
    body.push(b'\n');

    let tmp_dir = vault.join("tmp");
    let (file, tmp) = fsutil::temp_file(&tmp_dir).map_err(|e| Error::write(&tmp_dir, e))?;
    let write = || -> std::io::Result<()> {
        let enc = age::Encryptor::with_recipients(std::iter::once(
            secret.recipient() as &dyn age::Recipient
        ))
        .map_err(std::io::Error::other)?;
        let mut w = enc.wrap_output(BufWriter::new(file))?;
        w.write_all(&body)?;
        let f = w.finish()?.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(Error::write(&tmp, e));
    }
    crate::fault::point("segment-tmp");
    let dir = vault.join("catalog");
    let dest = dir.join(segment_name(seq));
    match fsutil::publish(&tmp, &dest) {
        Ok(true) => {}
        Ok(false) => {
            return Err(Error::Catalog {
                segment: segment_name(seq),
                detail: "already exists: another process wrote to the vault at the same time"
                    .into(),
            })
        }
        Err(e) => return Err(Error::write(&dest, e)),
    }
    fsutil::sync_dir(&dir).map_err(|e| Error::write(&dir, e))?;
    crate::fault::point("segment");
    chain.macs.push(mac);
    Ok(())
}

/// Split a media file name into its message id, for orphans.
pub fn orphan_prefix(name: &str) -> Option<String> {
    split_file_name(name).map(|(id, _)| id.to_owned())
}
