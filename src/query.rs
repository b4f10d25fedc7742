//! What `ls`, `stats` and `export` show: the vault's media references,
//! filtered.
//!
//! A *row* is a stored media reference (a message's media whose file some
//! archive had), an orphan file that no message of any archive claims, or,
//! with `missing`, a reference whose file no archive had.

use serde::Serialize;

use crate::dm::ConversationKind;
use crate::error::{Error, Result};
use crate::media::MediaKind;
use crate::time::Timestamp;
use crate::vault::catalog::{Catalog, FileFacts};

/// Selects rows. Empty fields select everything.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Filter {
    /// Conversation id.
    pub conversation: Option<String>,
    /// Sender's user id.
    pub sender: Option<String>,
    /// Sent at or after.
    pub since: Option<Timestamp>,
    /// Sent before.
    pub until: Option<Timestamp>,
    /// Media kind.
    pub kind: Option<MediaKind>,
    /// Seen in this archive: its number, file name, or a SHA-256 prefix.
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

fn archive_matches(cat: &Catalog, archives: &std::collections::BTreeSet<u32>, want: &str) -> bool {
    archives.iter().any(|&n| {
        let Some((a, _)) = cat.archives.get(n as usize - 1) else {
            return false;
        };
        a.name == want
            || n.to_string() == want
            || (want.len() >= 8 && a.sha256.starts_with(&want.to_ascii_lowercase()))
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

/// A row's message, conversation, file and integrity facts.
fn base_row(
    cat: &Catalog,
    message: Option<&String>,
    file: Option<&FileFacts>,
    archives: &std::collections::BTreeSet<u32>,
    orphan: bool,
) -> Row {
    let msg = message.and_then(|m| cat.messages.get(m));
    let conversation_id = msg.map(|s| s.record.conversation.clone());
    let mut row = Row {
        message_id: message.cloned(),
        conversation_kind: conversation_id
            .as_ref()
            .and_then(|c| cat.conversations.get(c))
            .map(|c| c.kind),
        conversation_id,
        sender_id: msg.and_then(|s| s.record.sender.clone()),
        created_at: msg.map(|s| s.record.created_at),
        kind: MediaKind::Image,
        original_name: None,
        size: file.map(|f| f.size),
        sha256: file.map(|f| f.sha256.clone()),
        blake3: file.map(|f| f.blake3.clone()),
        object: file.map(|f| f.object.hex()),
        archives: archives
            .iter()
            .map(|&n| cat.archive_name(n).to_owned())
            .collect(),
        orphan,
        integrity: "unchecked",
        duration_s: None,
        width: None,
        height: None,
        codec: None,
        integrity_detail: None,
        url: None,
        ordinal: 0,
        text: msg.and_then(|s| s.record.text.clone()),
    };
    add_integrity(cat, &mut row);
    row
}

/// The rows selected by `filter`, ordered by time, message and position.
pub fn rows(cat: &Catalog, filter: &Filter) -> Vec<Row> {
    let mut out = Vec::new();
    for ((message, url), m) in &cat.media {
        if filter.missing == m.file.is_some() {
            continue;
        }
        let mut archives = m.archives.clone();
        archives.extend(m.file_archives.iter().copied());
        let row = Row {
            kind: m.kind,
            original_name: m.original_name.clone(),
            url: Some(url.clone()),
            ordinal: m.ordinal,
            ..base_row(cat, Some(message), m.file.as_ref(), &archives, false)
        };
        if keep(cat, filter, &row, &archives) {
            out.push(row);
        }
    }
    if !filter.missing {
        for o in cat.orphans.values().filter(|o| !o.linked) {
            let r = &o.record;
            let row = Row {
                kind: kind_from_name(&r.name),
                original_name: Some(r.name.clone()),
                ..base_row(cat, r.prefix.as_ref(), Some(&r.file), &o.archives, true)
            };
            if keep(cat, filter, &row, &o.archives) {
                out.push(row);
            }
        }
    }
    out.sort_by(|a, b| {
        (a.created_at, &a.message_id, a.ordinal, &a.original_name).cmp(&(
            b.created_at,
            &b.message_id,
            b.ordinal,
            &b.original_name,
        ))
    });
    out
}

fn add_integrity(cat: &Catalog, row: &mut Row) {
    let Some(id) = row
        .object
        .as_deref()
        .and_then(crate::vault::store::ObjectId::parse)
    else {
        return;
    };
    let Some(rec) = cat.integrity.get(&id) else {
        return;
    };
    let r = &rec.report;
    row.integrity = r.verdict.as_str();
    row.duration_s = r.duration_s.map(|d| (d * 1000.0).round() / 1000.0);
    row.width = r.width;
    row.height = r.height;
    row.codec = r.codec.clone();
    row.integrity_detail = r.detail.clone();
}

fn keep(cat: &Catalog, f: &Filter, row: &Row, archives: &std::collections::BTreeSet<u32>) -> bool {
    if let Some(v) = f.integrity {
        if row.integrity != v.as_str() {
            return false;
        }
    }
    if let Some(c) = &f.conversation {
        if row.conversation_id.as_ref() != Some(c) {
            return false;
        }
    }
    if let Some(s) = &f.sender {
        if row.sender_id.as_ref() != Some(s) {
            return false;
        }
    }
    if let Some(since) = f.since {
        if row.created_at.is_none_or(|t| t < since) {
            return false;
        }
    }
    if let Some(until) = f.until {
        if row.created_at.is_none_or(|t| t >= until) {
            return false;
        }
    }
    if let Some(k) = f.kind {
        if row.kind != k {
            return false;
        }
    }
    if let Some(a) = &f.archive {
        if !archive_matches(cat, archives, a) {
            return false;
        }
    }
    true
}

/// The vault's figures (`dmvault stats`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Archives imported completely.
    pub archives: u64,
    /// Distinct messages.
    pub messages: u64,
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
pub fn stats(cat: &Catalog) -> Stats {
    let mut s = Stats {
        archives: cat.archives.iter().filter(|(_, done)| *done).count() as u64,
        messages: cat.messages.len() as u64,
        ..Default::default()
    };
    for c in cat.conversations.values() {
        match c.kind {
            ConversationKind::OneToOne => s.conversations.one_to_one += 1,
            ConversationKind::Group => s.conversations.group += 1,
        }
    }
    for m in cat.media.values() {
        if m.file.is_some() {
            s.references += 1;
        } else {
            s.missing_references += 1;
        }
    }
    s.references += cat.orphans.values().filter(|o| !o.linked).count() as u64;
    s.objects = cat.objects.len() as u64;
    s.bytes_plain = cat.objects.values().map(|o| o.size).sum();
    s.bytes_stored = cat.objects.values().map(|o| o.stored).sum();
    s
}
