//! What `ls`, `stats` and `export` show: the vault's media references,
//! filtered.
//!
//! A *row* is a stored media reference (a message's media whose file some
//! archive had), an orphan file that no message of any archive claims, or,
//! with `missing`, a reference whose file no archive had.

use serde::Serialize;

use crate::dm::ConversationKind;
use crate::error::{Error, Result};
use crate::index::people::Directory;
use crate::index::{bits, conversation_kind, sql_err, Index};
use crate::media::MediaKind;
use crate::time::Timestamp;
use crate::vault::catalog::FileFacts;
use crate::vault::keys::hex;
use rusqlite::named_params;

/// Selects rows. Empty fields select everything.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Filter {
    /// Conversation id.
    pub conversation: Option<String>,
    /// Only this message's media (its id).
    pub message: Option<String>,
    /// Sender's user id.
    pub sender: Option<String>,
    /// Sent at or after.
    pub since: Option<Timestamp>,
    /// Sent before.
    pub until: Option<Timestamp>,
    /// Media kind.
    pub kind: Option<MediaKind>,
    /// Seen in this archive: its number, file name, or a BLAKE3 (or, for
    /// archives imported before issue 13, SHA-256) prefix.
    pub archive: Option<String>,
    /// Only references whose file no archive had.
    pub missing: bool,
    /// Only files with this FFmpeg verdict.
    pub integrity: Option<crate::integrity::Verdict>,
}

impl Filter {
    /// Parses `--since`: a date (`2024-06-14`, from its start, UTC) or an
    /// RFC 3339 time.
    pub fn parse_since(s: &str) -> Result<Timestamp> {
        parse_when(s, false)
    }

    /// Parses `--until`: a date (up to the end of that day, UTC) or an
    /// RFC 3339 time (exclusive).
    pub fn parse_until(s: &str) -> Result<Timestamp> {
        parse_when(s, true)
    }
}

fn parse_when(s: &str, end_of_day: bool) -> Result<Timestamp> {
    let t = s.trim();
    if t.len() == 10 {
        if let Some(ts) = Timestamp::parse_created_at(&format!("{t}T00:00:00Z")) {
            return Ok(if end_of_day {
                Timestamp::from_millis_clamped(ts.millis() + 86_400_000)
            } else {
                ts
            });
        }
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(ts) = Timestamp::parse_created_at(t) {
            return Ok(ts);
        }
    }
    Err(Error::Invalid(format!(
        "{s:?} is not a date; use YYYY-MM-DD or an RFC 3339 time like 2024-06-14T20:06:32Z"
    )))
}

/// One media reference (or orphan file) of the vault.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The message (for an orphan: the numeric prefix of its file name).
    pub message_id: Option<String>,
    /// Its conversation.
    pub conversation_id: Option<String>,
    /// `one_to_one` or `group`.
    pub conversation_kind: Option<ConversationKind>,
    /// Who sent it.
    pub sender_id: Option<String>,
    /// The sender's handle (without `@`), when anyone named them.
    pub sender_handle: Option<String>,
    /// The sender's display name, when anyone named them.
    pub sender_name: Option<String>,
    /// The conversation's name: a group's latest, or a one-to-one
    /// conversation's other person.
    pub conversation_name: Option<String>,
    /// When (RFC 3339 UTC).
    pub created_at: Option<Timestamp>,
    /// image, gif or video.
    pub kind: MediaKind,
    /// The file's name in the archive.
    pub original_name: Option<String>,
    /// Plaintext size.
    pub size: Option<u64>,
    /// SHA-256 of the plaintext.
    pub sha256: Option<String>,
    /// BLAKE3 of the plaintext.
    pub blake3: Option<String>,
    /// The object holding it (full hex id).
    pub object: Option<String>,
    /// Names of the archives it was seen in.
    pub archives: Vec<String>,
    /// A file no message claims.
    pub orphan: bool,
    /// FFmpeg verdict: `ok`, `damaged`, `unreadable`, or `unchecked`.
    pub integrity: &'static str,
    /// Duration in seconds (videos and GIFs), from FFmpeg.
    pub duration_s: Option<f64>,
    /// Picture width, from FFmpeg.
    pub width: Option<u32>,
    /// Picture height, from FFmpeg.
    pub height: Option<u32>,
    /// Codec of the main stream, from FFmpeg.
    pub codec: Option<String>,
    /// Why FFmpeg's verdict is not `ok`.
    pub integrity_detail: Option<String>,
    /// The object of its poster (hex), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poster: Option<String>,
    /// The media URL of the message.
    pub url: Option<String>,
    /// Position among the message's media (0-based).
    pub ordinal: u32,
    /// The message text (as in the archive, HTML-escaped).
    #[serde(skip)]
    pub text: Option<String>,
}

impl Row {
    /// The stored file's facts, when there is a file.
    pub fn facts(&self) -> Option<FileFacts> {
        let object = crate::vault::store::ObjectId::parse(self.object.as_deref()?)?;
        Some(FileFacts {
            size: self.size?,
            blake3: self.blake3.clone()?,
            sha256: self.sha256.clone()?,
            object,
        })
    }
}

/// An archive as `--archive` may name it: number, file name, and the hex
/// of its BLAKE3 and (recorded before issue 13) SHA-256.
type ArchiveNames = (u32, String, String, String);

fn archive_matches(archives: &[ArchiveNames], set: &[u8], want: &str) -> bool {
    let want_hash = want.to_ascii_lowercase();
    let prefix_of =
        |hash: &str| want.len() >= 8 && !hash.is_empty() && hash.starts_with(&want_hash);
    archives.iter().any(|(n, name, blake3, sha256)| {
        bits::has(set, *n)
            && (name == want || n.to_string() == want || prefix_of(blake3) || prefix_of(sha256))
    })
}

fn kind_from_name(name: &str) -> MediaKind {
    let lower = name.to_ascii_lowercase();
    if [".mp4", ".mov", ".m4v", ".webm"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        MediaKind::Video
    } else {
        MediaKind::Image
    }
}

/// Every row (stored reference, or orphan no message claims; with
/// `missing`, references without a file), filtered on what SQL can see.
const ROWS: &str = "SELECT x.orphan, x.message, x.url, x.ordinal, x.kind, x.name, x.object,
  x.archives, c.id, c.kind, su.id, msg.created_at, msg.text,
  ob.size, ob.blake3, ob.sha256, i.report, pp.object
FROM (
  SELECT 0 AS orphan, m.message AS message, m.url AS url, m.ordinal AS ordinal, m.kind AS kind,
    CASE WHEN m.object IS NOT NULL THEN m.original_name ELSE o.name END AS name,
    coalesce(m.object, o.object) AS object,
    bits_or(bits_or(m.archives, m.file_archives), coalesce(o.archives, x'')) AS archives
  FROM media m LEFT JOIN orphans o ON o.n = m.orphan
  WHERE (coalesce(m.object, o.object) IS NULL) = :missing
  UNION ALL
  SELECT 1, o.prefix, NULL, 0, NULL, o.name, o.object, o.archives
  FROM orphans o WHERE o.linked = 0 AND NOT :missing
) x
LEFT JOIN messages msg ON msg.id = msg_key(x.message)
LEFT JOIN conversations c ON c.n = msg.conversation
LEFT JOIN users su ON su.n = msg.sender
LEFT JOIN objects ob ON ob.id = x.object
LEFT JOIN integrity i ON i.object = x.object
LEFT JOIN posters pp ON pp.of = x.object
WHERE (:conv IS NULL OR c.id = :conv) AND (:sender IS NULL OR su.id = :sender)
  AND (:msg IS NULL OR x.message = :msg)
  AND (:since IS NULL OR msg.created_at >= :since)
  AND (:until IS NULL OR msg.created_at < :until)
  AND (:verdict IS NULL OR coalesce(i.verdict, -1) = :verdict)
ORDER BY msg.created_at, x.message, x.ordinal, x.name";

/// Calls `f` with each row selected by `filter`, ordered by time, message
/// and position, reading the index a row at a time.
///
/// # Errors
/// [`Error::Index`] when the index cannot be read; whatever `f` returns.
pub fn for_each_row(
    index: &Index,
    filter: &Filter,
    mut f: impl FnMut(Row) -> Result<()>,
) -> Result<()> {
    let archives: Vec<ArchiveNames> = index
        .archives()?
        .into_iter()
        .map(|(a, _)| (a.n, a.name, a.blake3, a.sha256))
        .collect();
    let dir = Directory::load(index)?;
    let conversation = filter
        .conversation
        .as_deref()
        .map(|c| one_conversation(&dir, c))
        .transpose()?;
    let sender = filter
        .sender
        .as_deref()
        .map(|u| one_user(&dir, u))
        .transpose()?;
    let conn = index.conn();
    let mut st = conn.prepare_cached(ROWS).map_err(sql_err)?;
    let mut rows = st
        .query(named_params! {
            ":missing": filter.missing,
            ":conv": conversation,
            ":msg": filter.message,
            ":sender": sender,
            ":since": filter.since.map(Timestamp::millis),
            ":until": filter.until.map(Timestamp::millis),
            ":verdict": filter.integrity.map(crate::index::verdict_code),
        })
        .map_err(sql_err)?;
    while let Some(r) = rows.next().map_err(sql_err)? {
        let (mut row, set) = read_row(r, &archives).map_err(sql_err)?;
        name_row(&dir, &mut row);
        if filter.kind.is_some_and(|k| k != row.kind) {
            continue;
        }
        if filter
            .archive
            .as_ref()
            .is_some_and(|a| !archive_matches(&archives, &set, a))
        {
            continue;
        }
        f(row)?;
    }
    Ok(())
}

/// The rows selected by `filter` (see [`for_each_row`]).
///
/// # Errors
/// [`Error::Index`] when the index cannot be read.
pub fn rows(index: &Index, filter: &Filter) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for_each_row(index, filter, |r| {
        out.push(r);
        Ok(())
    })?;
    Ok(out)
}

/// Puts the names the directory knows on a row.
fn name_row(dir: &Directory, row: &mut Row) {
    if let Some(s) = &row.sender_id {
        let shown = dir.shown(s);
        row.sender_handle = shown.handle;
        row.sender_name = shown.name;
    }
    if let Some(c) = &row.conversation_id {
        row.conversation_name = dir.conversation_name(c).map(str::to_owned);
    }
}

/// The one conversation `query` names: its id, or its name, or its other
/// person's handle or name.
///
/// # Errors
/// [`Error::Invalid`] when none or several match (they are listed).
pub fn one_conversation(dir: &Directory, query: &str) -> Result<String> {
    let found = dir.find_conversations(query);
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] if !query.starts_with('@') && query.bytes().any(|b| b.is_ascii_digit()) => {
            Ok(query.to_owned())
        }
        [] => Err(Error::Invalid(format!(
            "no conversation is named {query:?}; `dmvault people` lists the names known"
        ))),
        many => Err(Error::Ambiguous(format!(
            "{query:?} names {} conversations: {}; give one of these ids",
            many.len(),
            many.iter()
                .map(|c| format!("{c} ({})", dir.conversation_label(c)))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The one user `query` names: an id, or a handle or name (see
/// [`one_conversation`]).
///
/// # Errors
/// [`Error::Invalid`] when none or several match.
pub fn one_user(dir: &Directory, query: &str) -> Result<String> {
    let found = dir.find_users(query);
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::Invalid(format!(
            "nobody is named {query:?}; give a user id, or see `dmvault people`"
        ))),
        many => Err(Error::Ambiguous(format!(
            "{query:?} names {} people: {}; give one of these ids",
            many.len(),
            many.iter()
                .map(|u| format!("{u} ({})", dir.label(u)))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn read_row(r: &rusqlite::Row<'_>, archives: &[ArchiveNames]) -> rusqlite::Result<(Row, Vec<u8>)> {
    let orphan: bool = r.get(0)?;
    let name: Option<String> = r.get(5)?;
    let kind = match r.get::<_, Option<i64>>(4)? {
        Some(k) => crate::index::kind_from_code(k),
        None => kind_from_name(name.as_deref().unwrap_or("")),
    };
    let object: Option<Vec<u8>> = r.get(6)?;
    let set: Vec<u8> = r.get(7)?;
    let report: Option<crate::integrity::ProbeReport> = r
        .get::<_, Option<String>>(16)?
        .and_then(|t| serde_json::from_str(&t).ok());
    let hexed = |i: usize| -> rusqlite::Result<Option<String>> {
        Ok(r.get::<_, Option<Vec<u8>>>(i)?.map(|b| hex(&b)))
    };
    let mut row = Row {
        message_id: r.get(1)?,
        conversation_id: r.get(8)?,
        conversation_kind: r.get::<_, Option<i64>>(9)?.map(conversation_kind),
        sender_id: r.get(10)?,
        sender_handle: None,
        sender_name: None,
        conversation_name: None,
        created_at: r
            .get::<_, Option<i64>>(11)?
            .map(Timestamp::from_millis_clamped),
        kind,
        original_name: name,
        size: object
            .as_ref()
            .and(r.get::<_, Option<i64>>(13)?)
            .map(|s| u64::try_from(s).unwrap_or(0)),
        sha256: object.as_ref().and(hexed(15)?),
        blake3: object.as_ref().and(hexed(14)?),
        object: object.as_ref().map(|o| hex(o)),
        archives: bits::members(&set)
            .into_iter()
            .map(|n| {
                archives
                    .iter()
                    .find(|a| a.0 == n)
                    .map_or_else(|| "?".to_owned(), |a| a.1.clone())
            })
            .collect(),
        orphan,
        integrity: "unchecked",
        duration_s: None,
        width: None,
        height: None,
        codec: None,
        integrity_detail: None,
        poster: hexed(17)?,
        url: r.get(2)?,
        ordinal: r.get(3)?,
        text: r.get(12)?,
    };
    if let Some(rep) = report {
        row.integrity = rep.verdict.as_str();
        row.duration_s = rep.duration_s.map(|d| (d * 1000.0).round() / 1000.0);
        row.width = rep.width;
        row.height = rep.height;
        row.codec = rep.codec;
        row.integrity_detail = rep.detail;
    }
    Ok((row, set))
}

/// The vault's figures (`dmvault stats`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Archives imported completely.
    pub archives: u64,
    /// Distinct messages from DM files.
    pub messages: u64,
    /// Messages only headers files had (no text; not in `messages`).
    pub messages_headers_only: u64,
    /// People who took part in a conversation.
    pub people: u64,
    /// Of them, those with a handle or name.
    pub people_named: u64,
    /// Conversations per kind.
    pub conversations: crate::inspect::ConversationCounts,
    /// Stored media references, orphan files included (what `ls` lists).
    pub references: u64,
    /// References whose file no archive had (what `ls --missing` lists).
    pub missing_references: u64,
    /// Distinct stored contents.
    pub objects: u64,
    /// Their plaintext size.
    pub bytes_plain: u64,
    /// Their size on disk (age files).
    pub bytes_stored: u64,
}

/// Counts the vault's contents.
///
/// # Errors
/// [`Error::Index`] when the index cannot be read.
pub fn stats(index: &Index) -> Result<Stats> {
    let conn = index.conn();
    let one = |sql: &str| -> Result<u64> {
        conn.query_row(sql, [], |r| r.get::<_, Option<i64>>(0))
            .map(|v| u64::try_from(v.unwrap_or(0)).unwrap_or(0))
            .map_err(sql_err)
    };
    let media =
        "FROM media m LEFT JOIN orphans o ON o.n = m.orphan WHERE coalesce(m.object, o.object)";
    let headers_only = one("SELECT count(*) FROM messages WHERE headers_only")?;
    Ok(Stats {
        archives: one("SELECT count(*) FROM archives WHERE done")?,
        // Message numbers are dense: the log numbers them as they come.
        messages: one("SELECT max(n) FROM messages")?.saturating_sub(headers_only),
        messages_headers_only: headers_only,
        people: one("SELECT count(DISTINCT user) FROM participants")?,
        people_named: one("SELECT count(*) FROM people p JOIN users u ON u.id = p.user
             WHERE (p.handle IS NOT NULL OR p.name IS NOT NULL)
               AND u.n IN (SELECT user FROM participants)")?,
        conversations: crate::inspect::ConversationCounts {
            one_to_one: one("SELECT count(*) FROM conversations WHERE kind = 1")?,
            group: one("SELECT count(*) FROM conversations WHERE kind = 2")?,
        },
        references: one(&format!("SELECT count(*) {media} IS NOT NULL"))?
            + one("SELECT count(*) FROM orphans WHERE NOT linked")?,
        missing_references: one(&format!("SELECT count(*) {media} IS NULL"))?,
        objects: one("SELECT count(*) FROM objects WHERE stored IS NOT NULL")?,
        bytes_plain: one("SELECT sum(size) FROM objects WHERE stored IS NOT NULL")?,
        bytes_stored: one("SELECT sum(stored) FROM objects")?,
    })
}
