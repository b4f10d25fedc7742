//! Lookups in the index: what import, query and verify ask of it.

use std::collections::BTreeSet;

use rusqlite::{params, OptionalExtension, Row};

use super::{kind_from_code, sql_err, Index};
use crate::dm::ConversationKind;
use crate::error::Result;
use crate::integrity::ProbeReport;
use crate::media::MediaKind;
use crate::time::Timestamp;
use crate::vault::catalog::{ArchiveNo, ArchiveRecord, ConversationEvent, FileFacts, NameChange};
use crate::vault::keys::hex;
use crate::vault::store::ObjectId;

/// A conversation, merged over all archives.
#[derive(Debug, Clone)]
pub struct ConversationState {
    /// 1:1 or group.
    pub kind: Option<ConversationKind>,
    /// Everyone seen in it.
    pub participants: BTreeSet<String>,
    /// Names over time.
    pub names: BTreeSet<NameChange>,
    /// Its other events.
    pub events: BTreeSet<ConversationEvent>,
    /// Archives it appears in (a bit set, see [`super::bits`]).
    pub archives: Vec<u8>,
}

/// A media reference merged over archives, with the orphan file linked to
/// it, if any.
#[derive(Debug, Clone)]
pub struct MediaState {
    /// The message.
    pub message: String,
    /// The media URL.
    pub url: String,
    /// Position in the message's media.
    pub ordinal: u32,
    /// Kind.
    pub kind: MediaKind,
    /// The file name it had (first archive that had the file).
    pub original_name: Option<String>,
    /// The stored file, if any archive had it.
    pub file: Option<FileFacts>,
    /// Archives that referenced it (bit set).
    pub archives: Vec<u8>,
    /// Archives that had its file (bit set).
    pub file_archives: Vec<u8>,
}

/// An orphan file merged over archives (same name and content).
#[derive(Debug, Clone)]
pub struct OrphanState {
    /// Its file name.
    pub name: String,
    /// The numeric prefix of the name.
    pub prefix: Option<String>,
    /// In a group media folder.
    pub group: bool,
    /// The file.
    pub file: FileFacts,
    /// Archives it was in (bit set).
    pub archives: Vec<u8>,
    /// A message of another archive claims it.
    pub linked: bool,
}

/// What the index knows of an object.
#[derive(Debug, Clone)]
pub struct ObjectFacts {
    /// The object.
    pub id: ObjectId,
    /// Plaintext size.
    pub size: u64,
    /// Size of the age file, when an object record named it.
    pub stored: Option<u64>,
    /// BLAKE3 and SHA-256 of the plaintext (hex), when a reference gave them.
    pub hashes: Option<(String, String)>,
}

/// A message the vault knows, as an import of one archive asks.
#[derive(Debug, Clone, Copy)]
pub struct KnownMessage {
    /// Its number in the log (the `n`-th message new to the vault).
    pub n: u64,
    /// That archive showed it already (an interrupted import of it).
    pub in_archive: bool,
    /// Only a headers file had it so far: no text.
    pub headers_only: bool,
}

/// A message by id: its number, and whether archive `?2` showed it. Reads
/// only the id index (the number is the row id) and the archive's ranges,
/// never the message's row.
pub(super) const KNOWN: &str = "SELECT m.n, coalesce(
    (SELECT r.last FROM archive_ranges r WHERE r.archive = ?2 AND r.first <= m.n
     ORDER BY r.first DESC LIMIT 1) >= m.n, 0)
  FROM messages m WHERE m.id = ?1";

/// The columns [`media_row`] reads, over `media m`.
pub(crate) const MEDIA_SELECT: &str = "SELECT m.message, m.url, m.ordinal, m.kind,
  CASE WHEN m.object IS NOT NULL THEN m.original_name ELSE o.name END,
  coalesce(m.object, o.object), ob.size, ob.blake3, ob.sha256,
  m.archives, CASE WHEN o.n IS NULL THEN m.file_archives ELSE bits_or(m.file_archives, o.archives) END
FROM media m LEFT JOIN orphans o ON o.n = m.orphan
  LEFT JOIN objects ob ON ob.id = coalesce(m.object, o.object)";

/// The columns [`orphan_row`] reads, over `orphans o`.
pub(crate) const ORPHAN_SELECT: &str = "SELECT o.name, o.prefix, o.grp, o.object, ob.size,
  ob.blake3, ob.sha256, o.archives, o.linked
FROM orphans o LEFT JOIN objects ob ON ob.id = o.object";

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn facts(
    object: Option<Vec<u8>>,
    size: Option<i64>,
    b: Option<Vec<u8>>,
    s: Option<Vec<u8>>,
) -> Option<FileFacts> {
    let object = ObjectId(object?.try_into().ok()?);
    Some(FileFacts {
        size: u64_of(size.unwrap_or(0)),
        blake3: b.map(|b| hex(&b)).unwrap_or_default(),
        sha256: s.map(|s| hex(&s)).unwrap_or_default(),
        object,
    })
}

/// A row of [`MEDIA_SELECT`].
pub(crate) fn media_row(r: &Row<'_>) -> rusqlite::Result<MediaState> {
    Ok(MediaState {
        message: r.get(0)?,
        url: r.get(1)?,
        ordinal: r.get(2)?,
        kind: kind_from_code(r.get(3)?),
        original_name: r.get(4)?,
        file: facts(r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?),
        archives: r.get(9)?,
        file_archives: r.get(10)?,
    })
}

/// A row of [`ORPHAN_SELECT`].
pub(crate) fn orphan_row(r: &Row<'_>) -> rusqlite::Result<OrphanState> {
    let file = facts(r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?).ok_or_else(|| {
        rusqlite::Error::InvalidColumnType(3, "object".into(), rusqlite::types::Type::Blob)
    })?;
    Ok(OrphanState {
        name: r.get(0)?,
        prefix: r.get(1)?,
        group: r.get(2)?,
        file,
        archives: r.get(7)?,
        linked: r.get(8)?,
    })
}

fn archive_row(r: &Row<'_>) -> rusqlite::Result<(ArchiveRecord, bool)> {
    let stat: Option<String> = r.get(10)?;
    Ok((
        ArchiveRecord {
            n: r.get(0)?,
            name: r.get(1)?,
            size: u64_of(r.get(2)?),
            sha256: r.get(3)?,
            blake3: r.get(4)?,
            generation: r.get(5)?,
            generation_date: r.get(6)?,
            account_id: r.get(7)?,
            username: r.get(8)?,
            imported_at: Timestamp::from_millis_clamped(r.get(9)?),
            stat: stat.and_then(|s| serde_json::from_str(&s).ok()),
            reader: r.get(12)?,
        },
        r.get(11)?,
    ))
}

impl Index {
    /// Every archive imported (or being imported), by number, and whether
    /// its import completed.
    pub fn archives(&self) -> Result<Vec<(ArchiveRecord, bool)>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached("SELECT * FROM archives ORDER BY n")
            .map_err(sql_err)?;
        let rows = st.query_map([], archive_row).map_err(sql_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
    }

    /// A conversation as the vault knows it.
    pub fn conversation(&self, id: &str) -> Result<Option<ConversationState>> {
        let conn = self.conn();
        let q = || -> rusqlite::Result<Option<ConversationState>> {
            let Some((n, kind, archives)) = conn
                .prepare_cached("SELECT n, kind, archives FROM conversations WHERE id = ?")?
                .query_row([id], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?, r.get(2)?))
                })
                .optional()?
            else {
                return Ok(None);
            };
            let participants = conn
                .prepare_cached("SELECT u.id FROM participants p JOIN users u ON u.n = p.user WHERE p.conversation = ?")?
                .query_map([n], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let names = conn
                .prepare_cached(
                    "SELECT at, name, by FROM conversation_names WHERE conversation = ?",
                )?
                .query_map([n], |r| {
                    Ok(NameChange {
                        at: r
                            .get::<_, Option<i64>>(0)?
                            .map(Timestamp::from_millis_clamped),
                        name: r.get(1)?,
                        by: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let events = conn
                .prepare_cached(&format!("{EVENT_SELECT} WHERE conversation = ?"))?
                .query_map([n], event_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some(ConversationState {
                kind: kind.map(conversation_kind),
                participants,
                names,
                events,
                archives,
            }))
        };
        q().map_err(sql_err)
    }

    /// The reference of `message` to `url`.
    pub fn media_ref(&self, message: &str, url: &str) -> Result<Option<MediaState>> {
        self.conn()
            .prepare_cached(&format!("{MEDIA_SELECT} WHERE m.message = ? AND m.url = ?"))
            .and_then(|mut st| st.query_row([message, url], media_row).optional())
            .map_err(sql_err)
    }

    /// References whose file archive `n` had.
    pub fn media_with_file_in(&self, n: ArchiveNo) -> Result<Vec<MediaState>> {
        self.query_media(
            "WHERE bits_has(m.file_archives, ?1) OR bits_has(o.archives, ?1)",
            n,
        )
    }

    /// References of archive `n` whose file it did not have.
    pub fn missing_in(&self, n: ArchiveNo) -> Result<u64> {
        self.count(
            "SELECT count(*) FROM media m LEFT JOIN orphans o ON o.n = m.orphan
             WHERE bits_has(m.archives, ?1) AND NOT bits_has(m.file_archives, ?1)
               AND NOT coalesce(bits_has(o.archives, ?1), 0)",
            n,
        )
    }

    fn query_media(&self, filter: &str, n: ArchiveNo) -> Result<Vec<MediaState>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(&format!("{MEDIA_SELECT} {filter}"))
            .map_err(sql_err)?;
        let rows = st.query_map([n], media_row).map_err(sql_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
    }

    /// Orphan files archive `n` had.
    pub fn orphans_in(&self, n: ArchiveNo) -> Result<Vec<OrphanState>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(&format!("{ORPHAN_SELECT} WHERE bits_has(o.archives, ?)"))
            .map_err(sql_err)?;
        let rows = st.query_map([n], orphan_row).map_err(sql_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
    }

    /// Messages seen in archive `n`.
    pub fn messages_in(&self, n: ArchiveNo) -> Result<u64> {
        self.count(
            "SELECT coalesce((SELECT messages FROM archive_messages WHERE archive = ?), 0)",
            n,
        )
    }

    fn count(&self, sql: &str, n: ArchiveNo) -> Result<u64> {
        self.conn()
            .prepare_cached(sql)
            .and_then(|mut st| st.query_row([n], |r| r.get::<_, i64>(0)))
            .map(u64_of)
            .map_err(sql_err)
    }

    /// What the index knows of an object.
    pub fn object(&self, id: &ObjectId) -> Result<Option<ObjectFacts>> {
        self.conn()
            .prepare_cached("SELECT id, size, stored, blake3, sha256 FROM objects WHERE id = ?")
            .and_then(|mut st| st.query_row([&id.0[..]], object_row).optional())
            .map_err(sql_err)
    }

    /// A poster's object (a derived object: not in [`Index::object`]).
    pub fn poster(&self, id: &ObjectId) -> Result<Option<ObjectFacts>> {
        self.conn()
            .prepare_cached(
                "SELECT object, size, stored, blake3, sha256 FROM posters WHERE object = ? LIMIT 1",
            )
            .and_then(|mut st| st.query_row([&id.0[..]], object_row).optional())
            .map_err(sql_err)
    }

    /// Every object the index knows, posters included, in id order.
    pub fn for_each_object(&self, mut f: impl FnMut(ObjectFacts) -> Result<()>) -> Result<()> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT id, size, stored, blake3, sha256 FROM objects
                 UNION SELECT object, size, stored, blake3, sha256 FROM posters ORDER BY 1",
            )
            .map_err(sql_err)?;
        let mut rows = st.query([]).map_err(sql_err)?;
        while let Some(r) = rows.next().map_err(sql_err)? {
            f(object_row(r).map_err(sql_err)?)?;
        }
        Ok(())
    }

    /// A file name an object was stored under (a reference's, or an
    /// orphan's): what its content type is told by.
    ///
    /// # Errors
    /// [`crate::Error::Index`].
    pub fn object_name(&self, id: &ObjectId) -> Result<Option<String>> {
        self.conn()
            .prepare_cached(
                "SELECT coalesce((SELECT original_name FROM media WHERE object = ?1
                   AND original_name IS NOT NULL LIMIT 1),
                 (SELECT name FROM orphans WHERE object = ?1 LIMIT 1))",
            )
            .and_then(|mut st| st.query_row([&id.0[..]], |r| r.get(0)))
            .map_err(sql_err)
    }

    /// FFmpeg's latest verdict on an object's content.
    pub fn integrity(&self, id: &ObjectId) -> Result<Option<ProbeReport>> {
        let report: Option<String> = self
            .conn()
            .prepare_cached("SELECT report FROM integrity WHERE object = ?")
            .and_then(|mut st| st.query_row([&id.0[..]], |r| r.get(0)).optional())
            .map_err(sql_err)?;
        Ok(report.and_then(|r| serde_json::from_str(&r).ok()))
    }

    /// Whether an object's content was checked with FFmpeg.
    pub fn has_integrity(&self, id: &ObjectId) -> Result<bool> {
        self.conn()
            .prepare_cached("SELECT 1 FROM integrity WHERE object = ?")
            .and_then(|mut st| st.exists([&id.0[..]]))
            .map_err(sql_err)
    }

    /// Whether a poster of this content is recorded.
    pub fn has_poster(&self, of: &ObjectId) -> Result<bool> {
        self.conn()
            .prepare_cached("SELECT 1 FROM posters WHERE of = ?")
            .and_then(|mut st| st.exists([&of.0[..]]))
            .map_err(sql_err)
    }

    /// Names of archives by number (index `n - 1`), for display.
    pub fn archive_names(&self) -> Result<Vec<String>> {
        Ok(self.archives()?.into_iter().map(|(a, _)| a.name).collect())
    }

    /// Every reference with a file and every orphan, for `verify`: the
    /// object, the message, its conversation, the archives (bit set), the
    /// kind and the file name.
    pub fn for_each_use(&self, mut f: impl FnMut(Use) -> Result<()>) -> Result<()> {
        let conn = self.conn();
        let sql =             "SELECT x.*, c.id FROM (
               SELECT coalesce(m.object, o.object) AS object, m.message AS message,
                 CASE WHEN o.n IS NULL THEN m.file_archives ELSE bits_or(m.file_archives, o.archives) END,
                 m.kind != 0, CASE WHEN m.object IS NOT NULL THEN m.original_name ELSE o.name END
               FROM media m LEFT JOIN orphans o ON o.n = m.orphan
               WHERE coalesce(m.object, o.object) IS NOT NULL
               UNION ALL
               SELECT o.object, o.prefix, o.archives, lower(o.name) LIKE '%.mp4', o.name FROM orphans o
             ) x LEFT JOIN messages msg ON msg.id = msg_key(x.message)
               LEFT JOIN conversations c ON c.n = msg.conversation";
        let mut st = conn.prepare(sql).map_err(sql_err)?;
        let mut rows = st.query(params![]).map_err(sql_err)?;
        while let Some(r) = rows.next().map_err(sql_err)? {
            let u = (|| -> rusqlite::Result<Use> {
                Ok(Use {
                    object: ObjectId(r.get::<_, Vec<u8>>(0)?.try_into().unwrap_or([0; 32])),
                    message: r.get(1)?,
                    archives: r.get(2)?,
                    video: r.get(3)?,
                    name: r.get(4)?,
                    conversation: r.get(5)?,
                })
            })()
            .map_err(sql_err)?;
            f(u)?;
        }
        Ok(())
    }
}

/// One use of an object (see [`Index::for_each_use`]).
#[derive(Debug, Clone)]
pub struct Use {
    /// The object.
    pub object: ObjectId,
    /// The message (for an orphan, its file name's prefix).
    pub message: Option<String>,
    /// Its conversation.
    pub conversation: Option<String>,
    /// Archives that had the file (bit set).
    pub archives: Vec<u8>,
    /// A video or GIF.
    pub video: bool,
    /// The file's name.
    pub name: Option<String>,
}

fn object_row(r: &Row<'_>) -> rusqlite::Result<ObjectFacts> {
    let b: Option<Vec<u8>> = r.get(3)?;
    let s: Option<Vec<u8>> = r.get(4)?;
    Ok(ObjectFacts {
        id: ObjectId(r.get::<_, Vec<u8>>(0)?.try_into().unwrap_or([0; 32])),
        size: u64_of(r.get(1)?),
        stored: r.get::<_, Option<i64>>(2)?.map(u64_of),
        hashes: b.zip(s).map(|(b, s)| (hex(&b), hex(&s))),
    })
}

/// The conversation kind of a stored number.
pub(crate) fn conversation_kind(c: i64) -> ConversationKind {
    if c == 2 {
        ConversationKind::Group
    } else {
        ConversationKind::OneToOne
    }
}

impl Index {
    /// Objects whose content FFmpeg found damaged or unreadable.
    pub fn damaged_objects(&self) -> Result<BTreeSet<ObjectId>> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT object FROM integrity WHERE verdict != 0")
            .map_err(sql_err)?;
        let rows = st
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .map_err(sql_err)?;
        let mut out = BTreeSet::new();
        for r in rows {
            if let Ok(id) = r.map_err(sql_err)?.try_into() {
                out.insert(ObjectId(id));
            }
        }
        Ok(out)
    }
}

/// The columns [`event_row`] reads, from `events`.
pub(crate) const EVENT_SELECT: &str =
    "SELECT kind, at, by, users, key, event_id, detail FROM events";

/// A row of [`EVENT_SELECT`].
pub(crate) fn event_row(r: &Row<'_>) -> rusqlite::Result<ConversationEvent> {
    let users: Option<String> = r.get(3)?;
    Ok(ConversationEvent {
        kind: crate::vault::catalog::EventKind::from_code(r.get(0)?),
        at: r
            .get::<_, Option<i64>>(1)?
            .map(Timestamp::from_millis_clamped),
        by: r.get(2)?,
        users: users
            .and_then(|u| serde_json::from_str(&u).ok())
            .unwrap_or_default(),
        key: r.get(4)?,
        event_id: r.get(5)?,
        detail: r.get(6)?,
    })
}
