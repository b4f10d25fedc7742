//! The catalog log: what the vault knows about messages, conversations,
//! media references, orphan files, objects and imported archives, as an
//! authenticated, append-only chain of records. It is the source of truth;
//! the [index](crate::index) is derived from it.
//!
//! On disk it is a chain of append-only **segments** `catalog/<seq>.age`,
//! each an age file (to the vault recipient) whose plaintext is, compressed
//! with zstd (format 2; format-1 segments are not compressed), JSON lines:
//!
//! ```text
//! {"format":"dmvault-catalog-segment","version":2,"seq":N,"prev":"<mac of segment N-1>"}
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

use std::fs;
use std::io::{BufWriter, Read, Write};

use serde::{Deserialize, Serialize};

use super::backend::{Payload, Put};
use super::fsutil;
use super::keys::{hex, unhex, VaultSecret};
use super::place::Place;
use super::store::ObjectId;
use crate::dm::{ConversationKind, Edit, Reaction, UrlEntity};
use crate::error::{Error, Result};
use crate::media::{split_file_name, MediaKind};
use crate::time::Timestamp;

const SEGMENT_FORMAT: &str = "dmvault-catalog-segment";
const INBOX_FORMAT: &str = "dmvault-inbox-segment";
const INBOX_VERSION: u32 = 1;
/// The segment version this release writes (it reads 1 and 2).
const SEGMENT_VERSION: u32 = 2;
/// zstd's frame magic, which a format-2 segment's plaintext starts with.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// The largest plaintext a segment may inflate to (a zip bomb stops here).
const MAX_SEGMENT_PLAINTEXT: u64 = 1 << 30;
/// zstd's level for segments: the fastest, and most of the gain.
const ZSTD_LEVEL: i32 = 1;

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
    /// The version of what was read from it (see [`READER`]); archives
    /// imported before format 3 say nothing, which is 2.
    #[serde(default = "reader_before_3")]
    pub reader: u32,
}

/// What an import reads from an archive, versioned: 3 added names, the
/// events of conversations and the headers files. An archive imported
/// with an older reader is read again (only what it lacks is added) the
/// next time it is imported.
pub const READER: u32 = 3;

fn reader_before_3() -> u32 {
    2
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
    /// Its other events: joins, leaves, reactions of 2020, unknown kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<ConversationEvent>,
}

/// What happened in a conversation, other than a message or a rename.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConversationEvent {
    /// What.
    pub kind: EventKind,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    /// Who did it (the one who added people, or who reacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Who joined or left; for `join_conversation`, the members then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// A reaction's key (`like`, `funny`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The event's id, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// An event of a kind dmvault does not know: its type and JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The kinds of [`ConversationEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// `joinConversation`: the owner was added to a group.
    JoinConversation,
    /// `participantsJoin`: people were added.
    ParticipantsJoin,
    /// `participantsLeave`: people left.
    ParticipantsLeave,
    /// `reactionCreate` (2020 archives): a reaction, its message not named.
    Reaction,
    /// Any other event type.
    Other,
}

impl EventKind {
    /// Every kind, in the order of [`EventKind::code`].
    pub const ALL: [EventKind; 5] = [
        EventKind::JoinConversation,
        EventKind::ParticipantsJoin,
        EventKind::ParticipantsLeave,
        EventKind::Reaction,
        EventKind::Other,
    ];

    /// Its number in the index.
    pub fn code(self) -> i64 {
        match self {
            EventKind::JoinConversation => 0,
            EventKind::ParticipantsJoin => 1,
            EventKind::ParticipantsLeave => 2,
            EventKind::Reaction => 3,
            EventKind::Other => 4,
        }
    }

    /// The kind of an index number.
    pub fn from_code(c: i64) -> EventKind {
        EventKind::ALL
            .into_iter()
            .find(|k| k.code() == c)
            .unwrap_or(EventKind::Other)
    }

    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::JoinConversation => "join_conversation",
            EventKind::ParticipantsJoin => "participants_join",
            EventKind::ParticipantsLeave => "participants_leave",
            EventKind::Reaction => "reaction",
            EventKind::Other => "other",
        }
    }
}

/// A sighting of a user's handle or name (harvested from an archive's
/// files, or given by the user), see [`crate::people`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameRecord {
    /// The user id.
    pub user: String,
    /// The handle (without `@`); for the user's, `""` clears theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// The display name; for the user's, `""` clears theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Where it was found.
    pub source: crate::people::NameSource,
    /// The archive's data file, or the user's file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The archive it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<u32>,
    /// First seen (the user's: when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    /// Last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// How many times the archive showed it.
    #[serde(default)]
    pub count: u64,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Recipient (1:1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// Sent at.
    pub created_at: Timestamp,
    /// Text as in the archive (HTML-escaped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A `welcomeMessageCreate`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub welcome: bool,
    /// Known only from a headers file: no text. A later record of the same
    /// id from a DM file completes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub headers_only: bool,
    /// Reactions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// Earlier versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<Edit>,
    /// Links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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
    /// An archive imported before was read again by a newer reader:
    /// what that reader adds is in the vault.
    ArchiveRead {
        /// The archive.
        n: u32,
        /// The reader's version ([`READER`]).
        reader: u32,
    },
    /// What an archive showed of a conversation.
    Conversation(ConversationRecord),
    /// A message new to the vault.
    Message(MessageRecord),
    /// Known messages seen in another archive, by their number in the log
    /// (the `k`-th message record of the log that was new to it is message
    /// `k`), as inclusive ranges: a message seen again costs bytes, not a
    /// record (format 2).
    SeenRanges {
        /// The archive.
        archive: u32,
        /// Inclusive ranges of message numbers.
        ranges: Vec<(u64, u64)>,
    },
    /// A known message seen in another archive (format 1).
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
    /// A user's handle or name, seen or given.
    Name(NameRecord),
    /// A poster made of a content (format 4).
    Poster(PosterRecord),
    /// A write-only importer key was made (format 5).
    Importer {
        /// Its id.
        id: String,
        /// When.
        added: Timestamp,
    },
    /// A write-only importer key was revoked: nothing it wrote that is not
    /// merged yet, nor anything it writes later, is merged.
    ImporterRevoked {
        /// Its id.
        id: String,
        /// When.
        at: Timestamp,
    },
    /// An importer's inbox segment was merged: its records, made the
    /// vault's, are in this segment.
    InboxMerged(InboxMergedRecord),
    /// What a forgetting took away, as keyed hashes (format 5; see
    /// [`super::ledger`]).
    Forgotten(super::ledger::ForgottenRecord),
    /// The first record of a compaction: the segments from this one on
    /// replace every segment up to `replaces` (format 6; see
    /// [`super::compact`]).
    Compaction(CompactionRecord),
}

/// A compaction's first record: the chain it replaces, how many segments
/// the new one starts with, and the objects it deletes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompactionRecord {
    /// The last segment replaced: the new chain starts at `replaces + 1`.
    pub replaces: u64,
    /// That segment's MAC (hex): the new chain's first `prev`.
    pub old_head: String,
    /// How many segments the compaction wrote (this one included): fewer
    /// means it was cut short, and readers ignore it.
    pub segments: u64,
    /// When.
    pub at: Timestamp,
    /// The objects (contents and posters) it deletes once it is complete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectId>,
}

/// Which inbox segment was merged, and the vault's numbers given to the
/// archives it started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboxMergedRecord {
    /// The importer.
    pub importer: String,
    /// Its epoch (a chain of its segments).
    pub epoch: String,
    /// The segment's number in the epoch.
    pub seq: u64,
    /// The segment's MAC (the next one names it as `prev`).
    pub mac: String,
    /// (the importer's archive number, the vault's) for archives the
    /// segment started; the vault's is 0 for an archive the vault held
    /// whole already.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archives: Vec<(u32, u32)>,
}

/// A chain of segments a writer appends to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Log {
    /// The vault's catalog, `catalog/<seq>.age`, under the vault's MAC key.
    Catalog,
    /// A write-only importer's inbox, `inbox/<importer>/<epoch>/<seq>.age`,
    /// under the importer's MAC key. An epoch is a chain the importer
    /// started with an empty local index.
    Inbox {
        /// The importer's id.
        importer: String,
        /// The epoch.
        epoch: String,
    },
}

impl Log {
    /// The key of segment `seq`.
    pub fn key(&self, seq: u64) -> String {
        match self {
            Log::Catalog => format!("catalog/{}", segment_name(seq)),
            Log::Inbox { importer, epoch } => {
                format!("inbox/{importer}/{epoch}/{}", segment_name(seq))
            }
        }
    }

    /// The folder its segments are in (with a trailing `/`).
    pub fn prefix(&self) -> String {
        match self {
            Log::Catalog => "catalog/".into(),
            Log::Inbox { importer, epoch } => format!("inbox/{importer}/{epoch}/"),
        }
    }

    fn header(&self, seq: u64, prev: &[u8; 32]) -> SegmentHeader {
        let (format, version, importer, epoch) = match self {
            Log::Catalog => (SEGMENT_FORMAT, SEGMENT_VERSION, None, None),
            Log::Inbox { importer, epoch } => (
                INBOX_FORMAT,
                INBOX_VERSION,
                Some(importer.clone()),
                Some(epoch.clone()),
            ),
        };
        SegmentHeader {
            format: format.into(),
            version,
            seq,
            prev: hex(prev),
            importer,
            epoch,
        }
    }
}

/// A poster (a small JPEG of a video's picture, or of a large image) kept
/// as its own encrypted object: a derived object, named like any object by
/// the keyed BLAKE3 of its bytes, and not a media content (stats and
/// exports do not count it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PosterRecord {
    /// The content it shows.
    pub of: ObjectId,
    /// The poster's object.
    pub object: ObjectId,
    /// Its plaintext size.
    pub size: u64,
    /// Size of its age file.
    pub stored: u64,
    /// BLAKE3 of its plaintext (hex).
    pub blake3: String,
    /// SHA-256 of its plaintext (hex).
    pub sha256: String,
}

/// The chain of segments as far as it goes: the MAC of every segment, in
/// order (the last is the head, which the next segment names as `prev`).
/// After a compaction the chain starts at `base + 1`: the segments up to
/// `base` were replaced, and only the last one's MAC is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    /// The last segment a compaction replaced (0: none).
    pub base: u64,
    /// Its MAC (zeros when `base` is 0).
    pub base_head: [u8; 32],
    /// The MAC of segment `base + i + 1` at index `i`.
    pub macs: Vec<[u8; 32]>,
}

impl Chain {
    /// The number of the last segment (0 before the first).
    pub fn seq(&self) -> u64 {
        self.base + self.macs.len() as u64
    }

    /// MAC of the last segment (zeros before the first).
    pub fn head(&self) -> [u8; 32] {
        self.macs.last().copied().unwrap_or(self.base_head)
    }

    /// The MAC of segment `seq`: `None` when it is not in the chain, or was
    /// compacted away (all but the last replaced one).
    pub fn mac(&self, seq: u64) -> Option<[u8; 32]> {
        if seq == self.base {
            return (seq > 0).then_some(self.base_head);
        }
        let i = usize::try_from(seq.checked_sub(self.base + 1)?).ok()?;
        self.macs.get(i).copied()
    }

    /// The head as the rollback state records it.
    pub fn seen(&self) -> super::seen::SeenHead {
        super::seen::SeenHead {
            seq: self.seq(),
            head: hex(&self.head()),
        }
    }
}

/// A decrypted, authenticated segment.
pub struct Segment {
    /// Its records.
    pub records: Vec<Record>,
    /// Its MAC (the next segment's `prev`).
    pub mac: [u8; 32],
    /// The MAC of the segment before it, as its header names it.
    pub prev: [u8; 32],
}

impl Segment {
    /// The compaction this segment starts, if it starts one.
    pub fn compaction(&self) -> Option<&CompactionRecord> {
        match self.records.first() {
            Some(Record::Compaction(c)) => Some(c),
            _ => None,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct SegmentHeader {
    format: String,
    version: u32,
    seq: u64,
    prev: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    importer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    epoch: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct SegmentTrailer {
    mac: String,
}

/// The segments of the catalog's chain, and those a compaction replaced
/// that are still there.
#[derive(Debug, Clone, Default)]
pub struct LiveSegments {
    /// (number, key) of the chain's segments, in order, without a gap.
    pub segments: Vec<(u64, String)>,
    /// Keys of segments a compaction replaced, which one cut short before
    /// it deleted them all left behind (the next writer deletes them).
    pub replaced: Vec<String>,
}

impl LiveSegments {
    /// The key of segment `seq`.
    pub fn key(&self, seq: u64) -> Option<&str> {
        let first = self.segments.first()?.0;
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.segments.get(i).map(|(_, k)| k.as_str())
    }

    /// The number of the last segment (0: none).
    pub fn last(&self) -> u64 {
        self.segments.last().map_or(0, |(n, _)| *n)
    }
}

/// The catalog's chain of segments: numbered 1, 2, … without a gap, or,
/// after a compaction, from the segment that starts it (which says what it
/// replaced, authenticated) on; segments before a gap are what a compaction
/// replaced. With `tolerant` (for `verify`, which reports what is wrong), a
/// chain whose start is not what it should be is taken from segment 1 to
/// its first gap, and stray files are ignored.
///
/// # Errors
/// [`Error::Catalog`] when a segment is missing (a gap the chain does not
/// explain) or a file in `catalog/` is not a segment.
pub fn live_segments(vault: &Place, secret: &VaultSecret, tolerant: bool) -> Result<LiveSegments> {
    let scan = scan_segments(vault)?;
    // Other files (a `.DS_Store`) do not stop loading; `verify` names them.
    if let Some(name) = scan.strays.into_iter().find(|n| n.ends_with(".age")) {
        if !tolerant {
            return Err(Error::Catalog {
                segment: name,
                detail: "a file that is not a catalog segment is in catalog/".into(),
            });
        }
    }
    let mut segs = scan.segments;
    let start = after_last_gap(&segs);
    let starts_chain = match segs.get(start) {
        Some((first, key)) if *first > 1 => match read_segment(vault, key, *first, None, secret) {
            Ok(s) => starts(&s, *first),
            Err(e) if !tolerant => return Err(e),
            Err(_) => false,
        },
        _ => true,
    };
    if !starts_chain {
        let first = segs[start].0;
        if !tolerant {
            return Err(Error::Catalog {
                segment: segment_name(first - 1),
                detail: "missing: the chain of segments has a gap (a segment was deleted)".into(),
            });
        }
        let whole = segs
            .iter()
            .enumerate()
            .take_while(|(i, (n, _))| *n == *i as u64 + 1)
            .count();
        segs.truncate(whole);
        return Ok(LiveSegments {
            segments: segs,
            replaced: Vec::new(),
        });
    }
    let live = segs.split_off(start);
    Ok(LiveSegments {
        segments: live,
        replaced: segs.into_iter().map(|(_, k)| k).collect(),
    })
}

/// The position of the first segment after the last gap in the numbers
/// (0 when there is none).
pub fn after_last_gap(segments: &[(u64, String)]) -> usize {
    segments
        .windows(2)
        .rposition(|w| w[1].0 != w[0].0 + 1)
        .map_or(0, |i| i + 1)
}

/// Whether segment `seq` (at `key`) starts a compaction that replaced
/// every segment before it.
pub fn starts_compaction(vault: &Place, key: &str, seq: u64, secret: &VaultSecret) -> bool {
    read_segment(vault, key, seq, None, secret).is_ok_and(|s| starts(&s, seq))
}

/// Whether `segment`, numbered `seq`, starts a compaction that replaced
/// every segment before it.
fn starts(segment: &Segment, seq: u64) -> bool {
    segment
        .compaction()
        .is_some_and(|c| c.replaces + 1 == seq && c.old_head == hex(&segment.prev))
}

/// What `catalog/` holds.
pub struct SegmentScan {
    /// Numbered segment files (their keys), sorted by number (not checked
    /// for gaps).
    pub segments: Vec<(u64, String)>,
    /// Names that are not segments.
    pub strays: Vec<String>,
}

/// Lists `catalog/`: the segment files with their numbers, and the names
/// that are not segments.
pub fn scan_segments(vault: &Place) -> Result<SegmentScan> {
    if !vault.is_remote() {
        let dir = vault.local().join("catalog");
        fs::metadata(&dir).map_err(|e| Error::read(&dir, e))?;
    }
    let listed = vault
        .files()
        .list("catalog/")
        .map_err(|e| Error::read(vault.name_of("catalog"), e))?;
    let mut scan = SegmentScan {
        segments: Vec::new(),
        strays: Vec::new(),
    };
    for (key, _) in listed {
        let rest = &key["catalog/".len()..];
        let name = rest.split('/').next().unwrap_or(rest).to_owned();
        match (
            rest.contains('/'),
            name.strip_suffix(".age")
                .and_then(|s| s.parse::<u64>().ok()),
        ) {
            (false, Some(n)) => scan.segments.push((n, key)),
            _ if !scan.strays.contains(&name) => scan.strays.push(name),
            _ => {}
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
    vault: &Place,
    key: &str,
    seq: u64,
    prev: Option<&[u8; 32]>,
    secret: &VaultSecret,
) -> Result<Segment> {
    let bad = |detail: &str| segment_error(key, detail);
    decode(vault, key, secret.identity(), secret.mac_key(), |header| {
        if header.format != SEGMENT_FORMAT || !(1..=SEGMENT_VERSION).contains(&header.version) {
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
        Ok(())
    })
}

/// Decrypts (with the vault's identity) and authenticates (with the
/// importer's MAC key, which the vault secret derives) one segment of a
/// write-only importer's inbox: segment `seq` of `log`, after `prev` (when
/// given).
pub fn read_inbox_segment(
    vault: &Place,
    log: &Log,
    seq: u64,
    prev: Option<&[u8; 32]>,
    secret: &VaultSecret,
) -> Result<Segment> {
    let Log::Inbox { importer, epoch } = log else {
        return Err(segment_error("catalog", "not an inbox"));
    };
    let key = log.key(seq);
    let mac_key = secret.importer_mac_key(importer);
    let bad = |detail: &str| segment_error(&key, detail);
    decode(vault, &key, secret.identity(), &mac_key, |header| {
        if header.format != INBOX_FORMAT || header.version != INBOX_VERSION {
            return Err(bad("unknown inbox segment format"));
        }
        if header.importer.as_deref() != Some(importer)
            || header.epoch.as_deref() != Some(epoch)
            || header.seq != seq
        {
            return Err(bad(
                "holds another segment than its name says: it was moved",
            ));
        }
        if prev.is_some_and(|p| header.prev != hex(p)) {
            return Err(bad(
                "does not follow the segment before it: the importer's chain was altered",
            ));
        }
        Ok(())
    })
}

fn segment_error(key: &str, detail: &str) -> Error {
    let name = if key.starts_with("catalog/") {
        key.rsplit('/').next().unwrap_or(key)
    } else {
        key
    };
    Error::Catalog {
        segment: name.to_owned(),
        detail: detail.to_owned(),
    }
}

/// Decrypts a segment, checks its MAC and its header (`check`), then
/// parses its records.
fn decode(
    vault: &Place,
    key: &str,
    identity: &age::x25519::Identity,
    mac_key: &[u8; 32],
    check: impl FnOnce(&SegmentHeader) -> Result<()>,
) -> Result<Segment> {
    let bad = |detail: &str| segment_error(key, detail);
    let bytes = vault
        .files()
        .get(key)
        .map_err(|e| Error::read(vault.name_of(key), e))?;
    let d = age::Decryptor::new_buffered(&bytes[..])
        .map_err(|_| bad("not an age file (damaged or replaced)"))?;
    let mut r = d
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|_| bad("cannot be decrypted with this vault's key (damaged or replaced)"))?;
    let mut text = Vec::new();
    r.read_to_end(&mut text)
        .map_err(|_| bad("damaged or cut short: its encryption does not authenticate"))?;
    if text.starts_with(&ZSTD_MAGIC) {
        text = inflate(&text).ok_or_else(|| bad("its compressed records are damaged"))?;
    }
    // Split off the trailer line.
    let body_end = text[..text.len().saturating_sub(1)]
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|p| p + 1)
        .ok_or_else(|| bad("cut short: no MAC line"))?;
    let (body, trailer) = text.split_at(body_end);
    let trailer: SegmentTrailer =
        serde_json::from_slice(trailer).map_err(|_| bad("cut short: no MAC line"))?;
    let want = blake3::keyed_hash(mac_key, body);
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
    check(&header)?;
    let mut records = Vec::new();
    for l in lines {
        records.push(serde_json::from_slice(l).map_err(|e| bad(&format!("bad record: {e}")))?);
    }
    let prev = unhex(&header.prev)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| bad("bad header"))?;
    Ok(Segment {
        records,
        mac: got,
        prev,
    })
}

/// Records as a segment's lines, plain (for its MAC) and compressed, made
/// before the segment is written (an import makes them on its reading
/// thread, while another writes).
pub(crate) struct EncodedRecords {
    lines: Vec<u8>,
    compressed: Vec<u8>,
}

impl EncodedRecords {
    /// One JSON line each, then the lot as one zstd frame.
    pub(crate) fn new(records: &[Record]) -> std::io::Result<EncodedRecords> {
        let mut lines = Vec::new();
        for r in records {
            serde_json::to_writer(&mut lines, r).expect("serialisable");
            lines.push(b'\n');
        }
        let mut compressed = zstd::bulk::compress(&lines, ZSTD_LEVEL)?;
        // It was given room for the worst case, ~7 times what it took.
        compressed.shrink_to_fit();
        Ok(EncodedRecords { lines, compressed })
    }
}

/// Writes the segment after `chain` of `log` with `records`, atomically,
/// and adds its MAC to `chain`. The objects the records refer to must
/// already be durable. (Only [`crate::vault::Vault`] calls this: it is the
/// one writer.)
pub(crate) fn write_segment(
    vault: &Place,
    secret: &VaultSecret,
    log: &Log,
    chain: &mut Chain,
    records: &EncodedRecords,
) -> Result<()> {
    let seq = chain.seq() + 1;
    let header = log.header(seq, &chain.head());
    let mut header_line = serde_json::to_vec(&header).expect("serialisable");
    header_line.push(b'\n');
    let mut mac = blake3::Hasher::new_keyed(secret.mac_key());
    mac.update(&header_line);
    mac.update(&records.lines);
    let mac = *mac.finalize().as_bytes();
    let mut trailer_line =
        serde_json::to_vec(&SegmentTrailer { mac: hex(&mac) }).expect("serialisable");
    trailer_line.push(b'\n');
    // Three zstd frames, which inflate as one text: the records' was made
    // before the chain's head was known.
    let compress =
        |b: &[u8]| zstd::bulk::compress(b, ZSTD_LEVEL).map_err(|e| Error::write(vault.local(), e));
    let mut body = compress(&header_line)?;
    body.extend_from_slice(&records.compressed);
    body.extend_from_slice(&compress(&trailer_line)?);

    let tmp_dir = vault.local().join("tmp");
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
    let key = log.key(seq);
    let put = vault.files().put_if_absent(&key, Payload::File(&tmp));
    let _ = fs::remove_file(&tmp);
    match put {
        Ok(Put::Created) => {}
        Ok(Put::Existed) => {
            return Err(segment_error(
                &key,
                "already exists: another process wrote to the vault at the same time",
            ))
        }
        Err(e) => return Err(Error::write(vault.name_of(&key), e)),
    }
    let prefix = log.prefix();
    vault
        .files()
        .make_durable(&prefix)
        .map_err(|e| Error::write(vault.name_of(prefix.trim_end_matches('/')), e))?;
    crate::fault::point("segment");
    chain.macs.push(mac);
    Ok(())
}

/// The plaintext of a compressed segment, within [`MAX_SEGMENT_PLAINTEXT`].
fn inflate(compressed: &[u8]) -> Option<Vec<u8>> {
    let d = zstd::stream::read::Decoder::new(compressed).ok()?;
    let mut out = Vec::new();
    d.take(MAX_SEGMENT_PLAINTEXT + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() as u64 <= MAX_SEGMENT_PLAINTEXT).then_some(out)
}

/// Split a media file name into its message id, for orphans.
pub fn orphan_prefix(name: &str) -> Option<String> {
    split_file_name(name).map(|(id, _)| id.to_owned())
}
