//! `inspect`: what an archive holds, counted exactly.
//!
//! The figures are defined so (and `docs/cli.md` documents them):
//!
//! - `messages`: distinct ids of `messageCreate` and `welcomeMessageCreate`
//!   events, 1:1 and group, in the DM files (not the headers files);
//! - `conversations`: distinct conversation ids per kind (chunks merged);
//! - `media_refs`: distinct (event id, media URL) pairs;
//!   `media_found` + `media_missing` = `media_refs`;
//! - `media_orphans`: files in DM media folders no reference points to;
//! - `media_by_kind`: references by kind (image, gif, video);
//! - `encrypted_events`: XChat events, which cannot be imported;
//! - `messages_headers_only`: distinct message ids that only the headers
//!   files (`direct-message-headers.js`, …) hold: X sometimes ships a
//!   conversation only there, without text;
//! - `conversations_headers_only`: the conversations of those messages
//!   that no DM file holds, per kind;
//! - `media_linked_by_headers`: orphans whose name starts with the id of
//!   such a message (the headers say who sent it, when, and where).
//!
//! Memory stays bounded: conversations are streamed, message ids are kept
//! as 8-byte numbers and media references as 16-byte digests.

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;

use crate::archive::{Archive, Generation, ReadReport};
use crate::dm::{ConversationKind, Event};
use crate::error::Result;
use crate::ids::IdSet;
use crate::media::{MediaIndex, MediaKind};
use crate::progress::Progress;

/// Figures of one archive. Serialises to the `inspect --json` line.
#[derive(Debug, Clone, Serialize)]
pub struct InspectReport {
    /// The path as given.
    pub archive: String,
    /// Archive generation.
    pub generation: Generation,
    /// Owner's account id.
    pub account_id: Option<String>,
    /// Owner's handle at export time.
    pub username: Option<String>,
    /// Distinct message ids (messageCreate and welcomeMessageCreate).
    pub messages: u64,
    /// Distinct conversations per kind.
    pub conversations: ConversationCounts,
    /// Distinct (event id, media URL) pairs.
    pub media_refs: u64,
    /// References with a file in the archive.
    pub media_found: u64,
    /// References without a file.
    pub media_missing: u64,
    /// Media files no reference points to.
    pub media_orphans: u64,
    /// References by kind.
    pub media_by_kind: KindCounts,
    /// XChat events seen (not importable).
    pub encrypted_events: u64,
    /// Messages only the headers files hold (no text).
    pub messages_headers_only: u64,
    /// Conversations only the headers files hold, per kind.
    pub conversations_headers_only: ConversationCounts,
    /// Orphans named after a message only the headers files hold.
    pub media_linked_by_headers: u64,
    /// Things worth knowing, one sentence each.
    pub warnings: Vec<String>,
    /// Some input could not be read (a data file, skipped entries).
    #[serde(skip)]
    pub partial: bool,
}

/// Conversations per kind.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct ConversationCounts {
    /// 1:1 conversations.
    pub one_to_one: u64,
    /// Group conversations.
    pub group: u64,
}

impl ConversationCounts {
    fn of(kinds: impl Iterator<Item = ConversationKind>) -> ConversationCounts {
        let mut c = ConversationCounts::default();
        for k in kinds {
            match k {
                ConversationKind::OneToOne => c.one_to_one += 1,
                ConversationKind::Group => c.group += 1,
            }
        }
        c
    }
}

/// Media references per kind.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct KindCounts {
    /// Photos.
    pub image: u64,
    /// GIFs (stored as MP4).
    pub gif: u64,
    /// Videos.
    pub video: u64,
}

impl KindCounts {
    fn add(&mut self, kind: MediaKind) {
        match kind {
            MediaKind::Image => self.image += 1,
            MediaKind::Gif => self.gif += 1,
            MediaKind::Video => self.video += 1,
        }
    }
}

fn ref_key(event_id: &str, url: &str) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    h.update(event_id.as_bytes());
    h.update(&[0]);
    h.update(url.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.finalize().as_bytes()[..16]);
    k
}

/// What reading found, as warnings: lost input first (which makes the
/// archive partly read), then records adjusted.
fn read_warnings(
    archive: &Archive,
    report: &ReadReport,
    xchat: &ReadReport,
) -> (Vec<String>, bool) {
    let mut warnings: Vec<String> = archive.warnings().to_vec();
    warnings.extend(archive.skipped().iter().cloned());
    let problems: Vec<String> = report
        .problems
        .iter()
        .chain(&xchat.problems)
        .map(|e| format!("{e} (the rest of this file was not read)"))
        .collect();
    let partial = !problems.is_empty() || !archive.skipped().is_empty() || report.skipped() > 0;
    warnings.extend(problems);
    warnings.extend(report.issues.iter().map(ToString::to_string));
    if report.more_skipped + report.more_adjusted > 0 {
        warnings.push(format!(
            "{} more records were skipped and {} adjusted in the same files",
            report.more_skipped, report.more_adjusted
        ));
    }
    (warnings, partial)
}

/// Conversations by kind and id.
type Conversations = HashSet<(ConversationKind, String)>;

/// The messages only the headers files hold, and their conversations that
/// no DM file holds.
fn read_headers(
    archive: &mut Archive,
    progress: &dyn Progress,
    messages: &IdSet,
    conversations: &Conversations,
) -> Result<(IdSet, Conversations, ReadReport)> {
    let mut headers_only = IdSet::default();
    let mut header_convs = HashSet::new();
    let report = archive.read_headers(progress, |chunk| {
        for m in chunk.events.iter().filter_map(Event::as_message) {
            if !messages.contains(&m.id) {
                headers_only.insert(&m.id);
                let key = (chunk.kind, chunk.conversation_id.clone());
                if !conversations.contains(&key) {
                    header_convs.insert(key);
                }
            }
        }
        Ok(())
    })?;
    Ok((headers_only, header_convs, report))
}

/// Reads an archive and counts what it holds.
///
/// # Errors
/// When the archive as a whole cannot be opened (not a ZIP, cut short, not
/// an X archive). A damaged data file is not an error: it is named in the
/// warnings and `partial` is set.
pub fn inspect(path: &Path, progress: &dyn Progress) -> Result<InspectReport> {
    let mut archive = Archive::open(path)?;
    let media: Vec<_> = archive
        .media_files()
        .iter()
        .map(|m| (m.name.clone(), m.group, ()))
        .collect();
    let mut index = MediaIndex::new(media);

    let mut messages = IdSet::default();
    let mut conversations: Conversations = HashSet::new();
    let mut refs: HashSet<[u8; 16]> = HashSet::new();
    let (mut found, mut missing) = (0u64, 0u64);
    let mut by_kind = KindCounts::default();
    let mut no_sender = 0u64;

    progress.phase("Reading DM data", Some(archive.dm_bytes()));
    let report = archive.read_conversations(progress, |chunk| {
        let group = chunk.kind == ConversationKind::Group;
        if !conversations.contains(&(chunk.kind, chunk.conversation_id.clone())) {
            conversations.insert((chunk.kind, chunk.conversation_id));
        }
        for event in &chunk.events {
            let Event::Message(m) = event else { continue };
            if messages.insert(&m.id) && m.sender_id.is_none() {
                no_sender += 1;
            }
            for url in &m.media_urls {
                if !refs.insert(ref_key(&m.id, url)) {
                    continue;
                }
                by_kind.add(MediaKind::from_url(url));
                if index.resolve(&m.id, url, group).is_some() {
                    found += 1;
                } else {
                    missing += 1;
                }
            }
        }
        Ok(())
    })?;
    let (headers_only, header_convs, hreport) =
        read_headers(&mut archive, progress, &messages, &conversations)?;
    let (encrypted_events, mut xreport) = archive.count_xchat_events(progress);
    xreport.problems.extend(hreport.problems);
    progress.finish();

    let (mut warnings, partial) = read_warnings(&archive, &report, &xreport);
    if no_sender > 0 {
        warnings.push(format!(
            "{no_sender} messages have no senderId; they are kept with an unknown sender"
        ));
    }
    if missing > 0 {
        let why = if archive.info().generation == Generation::G1_2018 {
            "2018 archives carry no DM media files"
        } else {
            "X did not include these files; an older or newer archive may have them"
        };
        warnings.push(format!(
            "{missing} media references have no file in this archive ({why})"
        ));
    }
    let orphans = index.orphans().count() as u64;
    let linked_by_headers = index
        .orphans()
        .filter(|(_, prefix)| prefix.is_some_and(|p| headers_only.contains(p)))
        .count() as u64;
    if orphans > 0 {
        warnings.push(format!(
            "{orphans} media files match no message in this archive; they are kept as orphans, named by their numeric prefix"
        ));
    }
    let counts = ConversationCounts::of(conversations.iter().map(|(k, _)| *k));
    let info = archive.info();
    Ok(InspectReport {
        archive: path.display().to_string(),
        generation: info.generation,
        account_id: info.account_id.clone(),
        username: info.username.clone(),
        messages: messages.len() as u64,
        conversations: counts,
        media_refs: refs.len() as u64,
        media_found: found,
        media_missing: missing,
        media_orphans: orphans,
        media_by_kind: by_kind,
        encrypted_events,
        messages_headers_only: headers_only.len() as u64,
        conversations_headers_only: ConversationCounts::of(header_convs.iter().map(|(k, _)| *k)),
        media_linked_by_headers: linked_by_headers,
        warnings,
        partial,
    })
}
