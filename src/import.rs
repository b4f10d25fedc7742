//! `import`: archives into the vault, merged by message id, media stored
//! once per content.
//!
//! # Algorithm
//! For each archive:
//!
//! 1. **Fingerprint.** BLAKE3 of the ZIP file (of the DM files for a
//!    folder). An archive whose import completed before, and all of whose
//!    objects are still in place, is done: nothing is read again. This is
//!    what makes a re-import fast; it is safe because equal BLAKE3 means
//!    equal bytes, and the catalog records an archive as complete only
//!    after everything in it was stored. An archive that is known but
//!    incomplete, or whose objects are gone, is imported again (this heals).
//! 2. **Messages.** The DM files are streamed; a message id new to the
//!    vault becomes a record, a known one gains this archive as provenance.
//!    Records are committed in segments as they accumulate.
//! 3. **Media.** Every file of the DM media folders is hashed (keyed BLAKE3
//!    for the object name, BLAKE3 and SHA-256 for users) and, if its content
//!    is new, encrypted into an object, in parallel (rayon), streamed
//!    (a file larger than 4 MiB is never held in memory). Batches of
//!    objects are made durable with one filesystem sync, then the segment
//!    that refers to them is committed. Files already stored from this
//!    archive by an interrupted run are skipped.
//! 4. **Done.** The last segment marks the archive complete.
//!
//! Killed at any moment, the vault stays consistent: a segment only names
//! objects that were durable before it was written; objects written after
//! the last segment are adopted (after checking them) by the next run.
//!
//! # Threading
//! Media are processed on the rayon pool; do not call this from inside it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::archive::{Archive, MediaFile, MediaReader};
use crate::dm::{ConversationKind, Event};
use crate::error::{Error, Result};
use crate::media::{MediaIndex, MediaKind};
use crate::progress::Progress;
use crate::time::Timestamp;
use crate::vault::catalog::{
    orphan_prefix, ArchiveRecord, ConversationRecord, FileFacts, FileStat, IntegrityRecord,
    MediaRecord, MessageRecord, NameChange, ObjectRecord, OrphanRecord, Record,
};
use crate::vault::keys::hex;
use crate::vault::store::{fill, object_id, Digests, Hashers, ObjectId};
use crate::vault::Vault;

/// Files up to this size are read into memory: hashed before anything is
/// encrypted (a known content is not encrypted at all) and given to FFmpeg
/// from memory. Larger ones are streamed and probed from their object.
const SMALL_FILE: u64 = 24 << 20;
/// Commit a segment after this many message records.
const MESSAGE_BATCH: usize = 20_000;
/// Commit a segment after this many media files, or bytes of media.
const MEDIA_BATCH_FILES: usize = 256;
const MEDIA_BATCH_BYTES: u64 = 256 << 20;

/// How to import.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImportOptions {
    /// Read and hash everything, write nothing.
    pub dry_run: bool,
    /// Check every new content with FFmpeg (on by default with the
    /// `ffmpeg` feature).
    pub probe: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            dry_run: false,
            probe: cfg!(feature = "ffmpeg"),
        }
    }
}

impl ImportOptions {
    /// Sets `probe` (ignored without the `ffmpeg` feature).
    pub fn probe(mut self, yes: bool) -> Self {
        self.probe = yes && cfg!(feature = "ffmpeg");
        self
    }

    /// Sets `dry_run`.
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }
}

/// Counts of what an import did (one archive, or the sum over archives).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportCounts {
    /// Messages new to the vault.
    pub messages_new: u64,
    /// Media files in the archives' DM media folders.
    pub media_seen: u64,
    /// Files whose content was new to the vault (new objects).
    pub media_new: u64,
    /// Files whose content the vault already held.
    pub media_known: u64,
    /// References without a file in their archive.
    pub media_missing: u64,
    /// Files no reference of their archive points to.
    pub media_orphans: u64,
    /// Plaintext bytes of the new objects.
    pub bytes_new: u64,
    /// Files FFmpeg found damaged (stored all the same).
    pub media_damaged: u64,
    /// Files FFmpeg cannot open as media (stored all the same).
    pub media_unreadable: u64,
}

impl ImportCounts {
    fn add(&mut self, o: &ImportCounts) {
        self.messages_new += o.messages_new;
        self.media_seen += o.media_seen;
        self.media_new += o.media_new;
        self.media_known += o.media_known;
        self.media_missing += o.media_missing;
        self.media_orphans += o.media_orphans;
        self.bytes_new += o.bytes_new;
        self.media_damaged += o.media_damaged;
        self.media_unreadable += o.media_unreadable;
    }
}

/// What importing one archive did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ArchiveSummary {
    /// The path as given.
    pub archive: String,
    /// The archive was imported completely before and is intact: nothing to do.
    pub already_imported: bool,
    /// Messages in the archive.
    pub messages_seen: u64,
    /// What it added and found.
    #[serde(flatten)]
    pub counts: ImportCounts,
    /// Problems that left part of the archive unread (the rest was imported).
    pub problems: Vec<String>,
}

/// What a whole import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    /// Archives read (not counting those that could not be opened).
    pub archives: u64,
    /// Sums over the archives.
    #[serde(flatten)]
    pub counts: ImportCounts,
    /// Nothing was written.
    pub dry_run: bool,
    /// Some input could not be read.
    #[serde(skip)]
    pub partial: bool,
}

impl ImportSummary {
    fn add(&mut self, a: &ArchiveSummary) {
        self.archives += 1;
        self.counts.add(&a.counts);
        self.partial |= !a.problems.is_empty();
    }
}

/// Imports archives into an unlocked, locked vault.
///
/// `on_archive` is called after each archive with what it did; an archive
/// that cannot be opened is reported through `on_error` and the others
/// are still imported.
///
/// # Errors
/// Vault errors (I/O, a damaged catalog) stop the import; everything
/// committed before stays. [`Error::Interrupted`] when `cancel` was set.
pub fn import(
    vault: &mut Vault,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
    cancel: &AtomicBool,
    mut on_archive: impl FnMut(&ArchiveSummary),
    mut on_error: impl FnMut(&Path, &Error),
) -> Result<ImportSummary> {
    let mut total = ImportSummary {
        dry_run: opts.dry_run,
        ..Default::default()
    };
    for path in paths {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let mut archive = match Archive::open(path) {
            Ok(a) => a,
            Err(e) => {
                on_error(path, &e);
                total.partial = true;
                continue;
            }
        };
        let summary = import_one(vault, &mut archive, path, opts, progress, cancel)?;
        total.add(&summary);
        on_archive(&summary);
    }
    progress.finish();
    Ok(total)
}

/// Feeds `sink` the bytes that identify an archive: a ZIP file's bytes;
/// for a folder, the path, size and content of each DM data and media file,
/// in path order (what an import reads).
fn fingerprint_feed(
    archive: &mut Archive,
    mut sink: impl FnMut(&[u8]),
    progress: &dyn Progress,
) -> Result<()> {
    let path = archive.path().to_owned();
    let mut buf = vec![0u8; 8 << 20];
    if archive.is_zip() {
        let mut f = File::open(&path).map_err(|e| Error::io(&path, e))?;
        loop {
            let n = fill(&mut f, &mut buf).map_err(|e| Error::io(&path, e))?;
            if n == 0 {
                return Ok(());
            }
            sink(&buf[..n]);
            progress.advance(n as u64);
        }
    }
    archive.media_files();
    let mut files: Vec<(String, u64)> = archive
        .dm_files()
        .iter()
        .map(|f| (f.path.clone(), f.size))
        .collect();
    let mut nested = BTreeSet::new();
    for m in archive.cached_media_files() {
        match &m.location {
            crate::archive::MediaLocation::Entry(p) => files.push((p.clone(), m.size)),
            crate::archive::MediaLocation::Nested { zip, .. } => {
                nested.insert(zip.clone());
            }
        }
    }
    for z in nested {
        let size = archive
            .entries()
            .iter()
            .find(|e| e.path == z)
            .map_or(0, |e| e.size);
        files.push((z, size));
    }
    files.sort();
    for (p, sz) in &files {
        sink(format!("{p}\0{sz}\0").as_bytes());
        let mut r = archive.open_entry(p)?;
        loop {
            let n = fill(&mut r, &mut buf).map_err(|e| Error::io(path.join(p), e))?;
            if n == 0 {
                break;
            }
            sink(&buf[..n]);
            progress.advance(n as u64);
        }
    }
    Ok(())
}

/// What identifies a ZIP file on disk without reading it (`None` for folders).
fn file_stat(archive: &Archive) -> Option<FileStat> {
    use std::os::unix::fs::MetadataExt;
    if !archive.is_zip() {
        return None;
    }
    let m = std::fs::metadata(archive.path()).ok()?;
    // A file changed within the last seconds may change again within the
    // same timestamp tick on coarse filesystems ("racy" as git calls it):
    // such a file is always recognised by its hash.
    let fresh = now().0 * 1_000_000
        - m.ctime()
            .saturating_mul(1_000_000_000)
            .saturating_add(m.ctime_nsec())
        < 3_000_000_000;
    if fresh {
        return None;
    }
    Some(FileStat {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: m
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(m.mtime_nsec()),
        ctime_ns: m
            .ctime()
            .saturating_mul(1_000_000_000)
            .saturating_add(m.ctime_nsec()),
    })
}

/// The BLAKE3 fingerprint (both cores; no memory mapping, so the archive
/// is never counted in the process's resident memory).
fn fingerprint(archive: &mut Archive, progress: &dyn Progress) -> Result<String> {
    progress.phase("1/4 Fingerprinting", Some(archive_bytes(archive)));
    let mut b = blake3::Hasher::new();
    fingerprint_feed(
        archive,
        |c| {
            if c.len() >= 1 << 20 {
                b.update_rayon(c);
            } else {
                b.update(c);
            }
        },
        progress,
    )?;
    Ok(b.finalize().to_hex().to_string())
}

/// The archive's size as the catalog records it: the ZIP file's, or the
/// sum of a folder's DM data and media files (media ZIPs counted whole).
fn archive_bytes(archive: &Archive) -> u64 {
    if archive.is_zip() {
        return std::fs::metadata(archive.path()).map_or(0, |m| m.len());
    }
    let mut nested = BTreeSet::new();
    let mut size = archive.dm_bytes();
    for m in archive.cached_media_files() {
        match &m.location {
            crate::archive::MediaLocation::Entry(_) => size += m.size,
            crate::archive::MediaLocation::Nested { zip, .. } => {
                nested.insert(zip.as_str());
            }
        }
    }
    size + archive
        .entries()
        .iter()
        .filter(|e| nested.contains(e.path.as_str()))
        .map(|e| e.size)
        .sum::<u64>()
}

/// The archive's BLAKE3 (to recognise it later) and SHA-256 (so users can
/// match it with `sha256sum`), computed in one read on a thread of its
/// own while the import works.
fn spawn_archive_hashes(path: PathBuf) -> std::thread::JoinHandle<Result<(String, String)>> {
    std::thread::spawn(move || {
        let mut archive = Archive::open(&path)?;
        let mut b = blake3::Hasher::new();
        let mut h = Sha256::new();
        fingerprint_feed(
            &mut archive,
            |c| {
                b.update(c);
                h.update(c);
            },
            &crate::progress::Quiet,
        )?;
        Ok((b.finalize().to_hex().to_string(), hex(&h.finalize())))
    })
}

/// A reference of this archive, resolved to a media file or missing.
struct RefTodo {
    message: String,
    url: String,
    ordinal: u32,
    kind: MediaKind,
    file: Option<usize>,
}

/// What processing one media file gave.
enum FileOutcome {
    /// Hashed and stored (or found stored), and what FFmpeg found when it
    /// was checked now.
    Stored {
        digests: Digests,
        stored: u64,
        new: bool,
        probe: Option<Box<crate::integrity::ProbeReport>>,
    },
    /// Could not be read.
    Failed(String),
}

fn import_one(
    vault: &mut Vault,
    archive: &mut Archive,
    path: &Path,
    opts: &ImportOptions,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<ArchiveSummary> {
    let mut sum = ArchiveSummary {
        archive: path.display().to_string(),
        ..Default::default()
    };
    let media: Vec<MediaFile> = archive.media_files().to_vec();
    sum.counts.media_seen = media.len() as u64;

    // 1. Fingerprint: an archive imported completely before is done.
    // A ZIP file whose device, inode, size, modification and change times
    // are those recorded when it was imported is the same file, unchanged
    // (any write changes its ctime): it is not read again. Otherwise the
    // archive is recognised by its BLAKE3.
    let stat = file_stat(archive);
    let by_stat = stat
        .as_ref()
        .and_then(|st| {
            vault
                .catalog
                .archives
                .iter()
                .find(|(a, _)| a.stat.as_ref() == Some(st))
        })
        .cloned();
    // Only an archive of the same size can be a copy of one imported
    // before; any other is new, and its BLAKE3 is computed on the side
    // (with its SHA-256) while it is imported.
    let size = archive_bytes(archive);
    let same_size = vault.catalog.archives.iter().any(|(a, _)| a.size == size);
    let (fp, known) = match by_stat {
        Some(k) => (Some(k.0.blake3.clone()), Some(k)),
        None if same_size => {
            let fp = fingerprint(archive, progress)?;
            let known = vault.catalog.archive_by_blake3(&fp).cloned();
            (Some(fp), known)
        }
        None => (None, None),
    };
    if let Some((rec, true)) = &known {
        if objects_intact(vault, rec.n)? {
            sum.already_imported = true;
            sum.counts.media_known = sum.counts.media_seen;
            let n = rec.n;
            for m in vault
                .catalog
                .media
                .values()
                .filter(|m| m.file_archives.contains(&n))
            {
                let verdict = m
                    .file
                    .as_ref()
                    .and_then(|f| vault.catalog.integrity.get(&f.object));
                count_verdict(&mut sum, verdict.map(|r| r.report.verdict));
            }
            for o in vault
                .catalog
                .orphans
                .values()
                .filter(|o| o.archives.contains(&n))
            {
                let verdict = vault.catalog.integrity.get(&o.record.file.object);
                count_verdict(&mut sum, verdict.map(|r| r.report.verdict));
            }
            sum.messages_seen = vault
                .catalog
                .messages
                .values()
                .filter(|m| m.archives.contains(&n))
                .count() as u64;
            sum.counts.media_missing = vault
                .catalog
                .media
                .values()
                .filter(|m| m.archives.contains(&n) && !m.file_archives.contains(&n))
                .count() as u64;
            sum.counts.media_orphans = vault
                .catalog
                .orphans
                .values()
                .filter(|o| o.archives.contains(&n))
                .count() as u64;
            return Ok(sum);
        }
    }
    let mut pending: Vec<Record> = Vec::new();
    let needs_hashes = known
        .as_ref()
        .is_none_or(|(rec, _)| rec.sha256.is_empty() || rec.blake3.is_empty());
    let hashes = (needs_hashes && !opts.dry_run).then(|| spawn_archive_hashes(path.to_owned()));
    let n = match &known {
        Some((rec, _)) => rec.n,
        None => {
            let n = vault.catalog.archives.len() as u32 + 1;
            let info = archive.info();
            pending.push(Record::Archive(ArchiveRecord {
                n,
                name: path.file_name().map_or_else(
                    || path.display().to_string(),
                    |s| s.to_string_lossy().into_owned(),
                ),
                size,
                sha256: String::new(),
                blake3: fp.unwrap_or_default(),
                stat: stat.clone(),
                generation: info.generation.as_str().to_owned(),
                generation_date: info.generation_date.clone(),
                account_id: info.account_id.clone(),
                username: info.username.clone(),
                imported_at: now(),
            }));
            n
        }
    };

    // 2. Messages.
    let mut index = MediaIndex::new(
        media
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.clone(), m.group, i)),
    );
    let mut refs: Vec<RefTodo> = Vec::new();
    let mut seen_refs: HashSet<(String, String)> = HashSet::new();
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut convs: HashMap<String, ConversationRecord> = HashMap::new();
    progress.phase("2/4 Reading messages", Some(archive.dm_bytes()));
    let report = archive.read_conversations(progress, |chunk| {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let group = chunk.kind == ConversationKind::Group;
        let conv = convs
            .entry(chunk.conversation_id.clone())
            .or_insert_with(|| ConversationRecord {
                id: chunk.conversation_id.clone(),
                kind: chunk.kind,
                archive: n,
                participants: Vec::new(),
                names: Vec::new(),
            });
        for event in &chunk.events {
            for p in event.participant_ids() {
                if !conv.participants.iter().any(|x| x == p) {
                    conv.participants.push(p.to_owned());
                }
            }
            if let Event::ConversationNameUpdate(g) = event {
                if let Some(name) = &g.name {
                    conv.names.push(NameChange {
                        at: g.created_at,
                        name: name.clone(),
                        by: g.initiating_user_id.clone(),
                    });
                }
            }
            let Event::Message(m) = event else { continue };
            if !group {
                for p in m.recipient_id.iter().filter(|r| r.as_str() != "0") {
                    if !conv.participants.iter().any(|x| x == p) {
                        conv.participants.push(p.clone());
                    }
                }
            }
            if !seen_ids.insert(m.id.clone()) {
                continue;
            }
            sum.messages_seen += 1;
            match vault.catalog.messages.get(&m.id) {
                None => {
                    sum.counts.messages_new += 1;
                    pending.push(Record::Message(MessageRecord {
                        id: m.id.clone(),
                        conversation: chunk.conversation_id.clone(),
                        sender: m.sender_id.clone(),
                        recipient: m.recipient_id.clone(),
                        created_at: m.created_at,
                        text: m.text.clone(),
                        welcome: m.welcome,
                        reactions: m.reactions.clone(),
                        edits: m.edit_history.clone(),
                        urls: m.urls.clone(),
                        archive: n,
                    }))
                }
                Some(s) if !s.archives.contains(&n) => pending.push(Record::Seen {
                    message: m.id.clone(),
                    archive: n,
                }),
                Some(_) => {}
            }
            for (ordinal, url) in m.media_urls.iter().enumerate() {
                if !seen_refs.insert((m.id.clone(), url.clone())) {
                    continue;
                }
                refs.push(RefTodo {
                    message: m.id.clone(),
                    url: url.clone(),
                    ordinal: ordinal as u32,
                    kind: MediaKind::from_url(url),
                    file: index.resolve(&m.id, url, group).copied(),
                });
            }
        }
        if pending.len() >= MESSAGE_BATCH {
            commit(vault, std::mem::take(&mut pending), opts.dry_run)?;
        }
        Ok(())
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            commit(vault, std::mem::take(&mut pending), opts.dry_run)?;
            return Err(e);
        }
    };
    sum.problems
        .extend(report.problems.iter().map(|e| e.to_string()));
    sum.problems.extend(
        archive
            .warnings()
            .iter()
            .filter(|w| w.contains("not read"))
            .cloned(),
    );
    if archive.skipped_entries() > 0 && sum.problems.is_empty() {
        sum.problems.push(format!(
            "{} entries were skipped as unsafe",
            archive.skipped_entries()
        ));
    }
    for (_, c) in convs {
        let known = vault.catalog.conversations.get(&c.id);
        let adds = match known {
            None => true,
            Some(k) => {
                !k.archives.contains(&n)
                    || c.participants.iter().any(|p| !k.participants.contains(p))
                    || c.names.iter().any(|x| !k.names.contains(x))
            }
        };
        if adds {
            pending.push(Record::Conversation(c));
        }
    }

    // Missing references are recorded now; found ones once their file is stored.
    let mut by_file: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, r) in refs.iter().enumerate() {
        match r.file {
            Some(f) => by_file.entry(f).or_default().push(i),
            None => {
                sum.counts.media_missing += 1;
                let known = vault.catalog.media.get(&(r.message.clone(), r.url.clone()));
                if known.is_none_or(|k| !k.archives.contains(&n)) {
                    pending.push(Record::Media(MediaRecord {
                        message: r.message.clone(),
                        url: r.url.clone(),
                        ordinal: r.ordinal,
                        kind: r.kind,
                        original_name: None,
                        file: None,
                        archive: n,
                    }));
                }
            }
        }
    }
    let orphan_set: HashSet<usize> = (0..media.len())
        .filter(|i| !by_file.contains_key(i))
        .collect();
    sum.counts.media_orphans = orphan_set.len() as u64;
    commit(vault, std::mem::take(&mut pending), opts.dry_run)?;

    // 3. Media. Rayon workers read, hash, store and probe the files,
    // largest first (so the tail of the work is small files); this thread
    // turns their outcomes into records and commits a segment every batch,
    // after one filesystem sync, while the workers go on.
    let done_orphans: HashSet<&str> = vault
        .catalog
        .orphans
        .values()
        .filter(|o| o.archives.contains(&n) && in_place(vault, &o.record.file.object))
        .map(|o| o.record.name.as_str())
        .collect();
    let skip: Vec<bool> = (0..media.len())
        .map(|i| match by_file.get(&i) {
            Some(rs) => rs.iter().all(|&r| {
                let r = &refs[r];
                vault
                    .catalog
                    .media
                    .get(&(r.message.clone(), r.url.clone()))
                    .is_some_and(|k| {
                        k.file_archives.contains(&n)
                            && k.file.as_ref().is_some_and(|f| in_place(vault, &f.object))
                    })
            }),
            None => done_orphans.contains(media[i].name.as_str()),
        })
        .collect();
    let mut order: Vec<usize> = (0..media.len()).filter(|&i| !skip[i]).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(media[i].size));
    progress.phase(
        "3/4 Storing media",
        Some(order.iter().map(|&i| media[i].size).sum()),
    );

    let mut file_objects: Vec<ObjectId> = Vec::new();
    for i in (0..media.len()).filter(|&i| skip[i]) {
        sum.counts.media_known += 1;
        if let Some(o) = skipped_object(
            vault,
            n,
            &media[i],
            by_file.get(&i).map(Vec::as_slice),
            &refs,
        ) {
            file_objects.push(o);
        }
    }
    let mut c = Committer {
        n,
        dry_run: opts.dry_run,
        chain: (vault.catalog.seq, vault.catalog.head),
        pending: std::mem::take(&mut pending),
        committed: Vec::new(),
        recorded_objects: HashSet::new(),
        verdicts: HashMap::new(),
        file_objects,
        any_new: false,
        batch_files: 0,
        batch_bytes: 0,
        failed: false,
    };
    let made_here: Mutex<HashMap<ObjectId, [u8; 32]>> = Mutex::new(HashMap::new());
    let stop = AtomicBool::new(false);
    let archive: &Archive = archive;
    let shared: &Vault = vault;
    let outcome: Result<()> = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, FileOutcome)>(64);
        let (made_here, stop, media, order) = (&made_here, &stop, &media, &order);
        scope.spawn(move || {
            order.par_iter().for_each_init(
                || (archive.media_reader(), tx.clone()),
                |(reader, tx), &i| {
                    let out = if cancel.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                        FileOutcome::Failed("interrupted".into())
                    } else {
                        match reader {
                            Ok(r) => store_file(shared, r, &media[i], opts, made_here),
                            Err(e) => FileOutcome::Failed(e.to_string()),
                        }
                    };
                    progress.advance(media[i].size);
                    let _ = tx.send((i, out));
                },
            );
            drop(tx);
        });
        let mut result = Ok(());
        for (i, out) in rx {
            c.take(
                shared,
                &media[i],
                by_file.get(&i).map(Vec::as_slice),
                &refs,
                out,
                &mut sum,
            );
            if result.is_ok()
                && (c.batch_files >= MEDIA_BATCH_FILES || c.batch_bytes >= MEDIA_BATCH_BYTES)
            {
                result = c.flush(shared);
                if result.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
        result.and_then(|()| c.flush(shared))
    });
    vault.adopt_commits(c.chain, std::mem::take(&mut c.committed));
    outcome?;
    for o in &c.file_objects {
        let verdict = c
            .verdicts
            .get(o)
            .copied()
            .or_else(|| vault.catalog.integrity.get(o).map(|r| r.report.verdict));
        count_verdict(&mut sum, verdict);
    }
    let failed = c.failed;
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }

    // 4. Done.
    progress.phase("4/4 Committing", None);
    if !failed && report.problems.is_empty() {
        let done = vault
            .catalog
            .archives
            .get(n as usize - 1)
            .is_some_and(|a| a.1);
        if !done {
            let (blake3, sha256) = match hashes.and_then(|h| h.join().ok()) {
                Some(Ok((b, s))) => (Some(b), Some(s)),
                _ => (None, None),
            };
            pending.push(Record::ArchiveDone {
                n,
                at: now(),
                sha256,
                blake3,
            });
        }
    }
    commit(vault, pending, opts.dry_run)?;
    Ok(sum)
}

/// Turns media outcomes into records and commits them in segments (the
/// media phase's single writer). Segments are written straight to disk;
/// the records are folded into the in-memory catalog when the phase ends.
struct Committer {
    n: u32,
    dry_run: bool,
    /// (seq, head) of the catalog chain.
    chain: (u64, [u8; 32]),
    pending: Vec<Record>,
    committed: Vec<Record>,
    recorded_objects: HashSet<ObjectId>,
    verdicts: HashMap<ObjectId, crate::integrity::Verdict>,
    /// The object of every file of the archive that was stored.
    file_objects: Vec<ObjectId>,
    any_new: bool,
    batch_files: usize,
    batch_bytes: u64,
    failed: bool,
}

impl Committer {
    fn take(
        &mut self,
        vault: &Vault,
        file: &MediaFile,
        refs_of_file: Option<&[usize]>,
        refs: &[RefTodo],
        out: FileOutcome,
        sum: &mut ArchiveSummary,
    ) {
        self.batch_files += 1;
        self.batch_bytes += file.size;
        let (digests, stored, new, probe) = match out {
            FileOutcome::Failed(why) => {
                if why != "interrupted" {
                    sum.problems.push(format!("{}: {why}", file.location));
                }
                self.failed = true;
                return;
            }
            FileOutcome::Stored {
                digests,
                stored,
                new,
                probe,
            } => (digests, stored, new, probe),
        };
        let id = digests.object;
        self.file_objects.push(id);
        if let Some(report) = probe.map(|b| *b) {
            self.verdicts.insert(id, report.verdict);
            self.pending.push(Record::Integrity(IntegrityRecord {
                object: id,
                report,
                checked_at: now(),
            }));
        }
        if new {
            self.any_new = true;
            sum.counts.media_new += 1;
            sum.counts.bytes_new += digests.size;
        } else {
            sum.counts.media_known += 1;
        }
        // An Object record for every object new to the catalog (new, or
        // adopted from an interrupted run), once.
        if (new || !vault.catalog.objects.contains_key(&id)) && self.recorded_objects.insert(id) {
            self.pending.push(Record::Object(ObjectRecord {
                id,
                size: digests.size,
                stored,
            }));
        }
        let facts = FileFacts {
            size: digests.size,
            blake3: hex(&digests.blake3),
            sha256: hex(&digests.sha256),
            object: id,
        };
        match refs_of_file {
            Some(rs) => {
                for &r in rs {
                    let r = &refs[r];
                    self.pending.push(Record::Media(MediaRecord {
                        message: r.message.clone(),
                        url: r.url.clone(),
                        ordinal: r.ordinal,
                        kind: r.kind,
                        original_name: Some(file.name.clone()),
                        file: Some(facts.clone()),
                        archive: self.n,
                    }));
                }
            }
            None => self.pending.push(Record::Orphan(OrphanRecord {
                name: file.name.clone(),
                prefix: orphan_prefix(&file.name),
                group: file.group,
                file: facts,
                archive: self.n,
            })),
        }
    }

    /// Makes new objects durable (one filesystem sync), then commits the
    /// records that name them.
    fn flush(&mut self, vault: &Vault) -> Result<()> {
        self.batch_files = 0;
        self.batch_bytes = 0;
        if self.pending.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(&mut self.pending);
        if !self.dry_run {
            if std::mem::take(&mut self.any_new) {
                crate::fault::point("sync");
                let objects = vault.path().join("objects");
                crate::vault::fsutil::sync_filesystem(&objects)
                    .map_err(|e| Error::io(&objects, e))?;
            }
            let seq = self.chain.0 + 1;
            let mac = crate::vault::catalog::write_segment(
                vault.path(),
                vault.secret(),
                seq,
                &self.chain.1,
                &records,
            )?;
            self.chain = (seq, mac);
            vault.note_head(seq, &mac);
        }
        self.committed.extend(records);
        Ok(())
    }
}

/// Commits records as a segment, or in a dry run folds them into the
/// in-memory catalog only, so later archives of the same run see them.
fn commit(vault: &mut Vault, records: Vec<Record>, dry_run: bool) -> Result<()> {
    if dry_run {
        vault.apply_in_memory(records);
        Ok(())
    } else {
        vault.commit(records)
    }
}

/// Hashes one media file, stores it unless its content is stored, and
/// checks new contents with FFmpeg.
fn store_file(
    vault: &Vault,
    reader: &mut MediaReader,
    file: &MediaFile,
    opts: &ImportOptions,
    made_here: &Mutex<HashMap<ObjectId, [u8; 32]>>,
) -> FileOutcome {
    let store = vault.store();
    let id_key = vault.secret().id_key();
    let mut r = match reader.open(file) {
        Ok(r) => r,
        Err(e) => return FileOutcome::Failed(e.to_string()),
    };
    let made_sha = |id: &ObjectId| {
        made_here
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .copied()
    };
    let made = |id: &ObjectId| made_sha(id).is_some();
    let mark = |d: &Digests| {
        made_here
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(d.object, d.sha256);
    };
    // Known: named by the catalog and still in place, or made by this run.
    let known = |id: &ObjectId| made(id) || in_place(vault, id);
    let stored_size = |id: &ObjectId| vault.catalog.objects.get(id).map_or(0, |o| o.stored);
    // Probe contents not checked before (each content once per run).
    let wants_probe =
        |id: &ObjectId| opts.probe && !vault.catalog.integrity.contains_key(id) && !made(id);
    let read_err = |e: std::io::Error| FileOutcome::Failed(format!("cannot be read: {e}"));

    if file.size <= SMALL_FILE {
        let mut data = Vec::with_capacity(file.size as usize);
        if let Err(e) = r.read_to_end(&mut data) {
            return read_err(e);
        }
        // BLAKE3 first: a content the vault holds needs no SHA-256 (it is
        // recorded) and no encryption; yearly archives are mostly such.
        let blake3 = *blake3::hash(&data).as_bytes();
        let object = object_id(id_key, &blake3);
        let recorded = || {
            let f = vault.catalog.facts.get(&object)?;
            in_place(vault, &object)
                .then(|| crate::vault::keys::unhex(&f.sha256)?.try_into().ok())?
        };
        let d = match made_sha(&object).or_else(recorded) {
            Some(sha256) => Digests {
                size: data.len() as u64,
                blake3,
                sha256,
                object,
            },
            None => {
                let mut h = Hashers::new(id_key);
                h.update(&data);
                h.finish()
            }
        };
        let probe_now = wants_probe(&d.object);
        let out = if known(&d.object) {
            FileOutcome::Stored {
                digests: d,
                stored: stored_size(&d.object),
                new: false,
                probe: None,
            }
        } else if opts.dry_run {
            mark(&d);
            FileOutcome::Stored {
                digests: d,
                stored: 0,
                new: true,
                probe: None,
            }
        } else if let Some(out) = adopt(vault, &d, made_here) {
            out
        } else {
            match stored(store.put_bytes(&d.object, &data), &d, &mark) {
                Ok(out) => out,
                Err(out) => return out,
            }
        };
        return with_probe(out, probe_bytes(probe_now, data, &file.name));
    }
    if opts.dry_run {
        let mut h = Hashers::new(id_key);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match fill(&mut r, &mut buf) {
                Ok(0) => break,
                Ok(n) => h.update(&buf[..n]),
                Err(e) => return read_err(e),
            }
        }
        let d = h.finish();
        let new = !known(&d.object);
        mark(&d);
        return FileOutcome::Stored {
            digests: d,
            stored: 0,
            new,
            probe: None,
        };
    }
    let staged = match store.stage(id_key, &mut r) {
        Ok(s) => s,
        Err(e) => return read_err(e),
    };
    let d = staged.digests;
    let probe_now = wants_probe(&d.object);
    let out = if known(&d.object) {
        store.discard(staged);
        FileOutcome::Stored {
            digests: d,
            stored: stored_size(&d.object),
            new: false,
            probe: None,
        }
    } else if let Some(out) = adopt(vault, &d, made_here) {
        store.discard(staged);
        out
    } else {
        match stored(store.commit(staged), &d, &mark) {
            Ok(out) => out,
            Err(out) => return out,
        }
    };
    // A large file is probed from its object, decrypting as FFmpeg reads:
    // the plaintext is never held whole nor written out.
    let probe = probe_object(probe_now, vault, &d.object, &file.name);
    with_probe(out, probe)
}

/// The outcome of putting a content in place (marked as made by this run).
fn stored(
    result: std::io::Result<(u64, bool)>,
    d: &Digests,
    mark: &impl Fn(&Digests),
) -> Result<FileOutcome, FileOutcome> {
    match result {
        Ok((stored, new)) => {
            mark(d);
            Ok(FileOutcome::Stored {
                digests: *d,
                stored,
                new,
                probe: None,
            })
        }
        Err(e) => Err(FileOutcome::Failed(format!("cannot be stored: {e}"))),
    }
}

fn with_probe(out: FileOutcome, report: Option<crate::integrity::ProbeReport>) -> FileOutcome {
    let report = report.map(Box::new);
    match out {
        FileOutcome::Stored {
            digests,
            stored,
            new,
            ..
        } => FileOutcome::Stored {
            digests,
            stored,
            new,
            probe: report,
        },
        other => other,
    }
}

#[cfg(feature = "ffmpeg")]
fn probe_bytes(wanted: bool, data: Vec<u8>, name: &str) -> Option<crate::integrity::ProbeReport> {
    wanted.then(|| crate::probe::probe_bytes(std::sync::Arc::new(data), name))
}

#[cfg(not(feature = "ffmpeg"))]
fn probe_bytes(_: bool, _: Vec<u8>, _: &str) -> Option<crate::integrity::ProbeReport> {
    None
}

#[cfg(feature = "ffmpeg")]
fn probe_object(
    wanted: bool,
    vault: &Vault,
    id: &ObjectId,
    name: &str,
) -> Option<crate::integrity::ProbeReport> {
    if !wanted {
        return None;
    }
    let reader = vault
        .store()
        .open_seekable(id, vault.secret().identity())
        .ok()?;
    Some(crate::probe::probe(reader, name))
}

#[cfg(not(feature = "ffmpeg"))]
fn probe_object(
    _: bool,
    _: &Vault,
    _: &ObjectId,
    _: &str,
) -> Option<crate::integrity::ProbeReport> {
    None
}

fn count_verdict(sum: &mut ArchiveSummary, verdict: Option<crate::integrity::Verdict>) {
    match verdict {
        Some(crate::integrity::Verdict::Damaged) => sum.counts.media_damaged += 1,
        Some(crate::integrity::Verdict::Unreadable) => sum.counts.media_unreadable += 1,
        _ => {}
    }
}

/// The object of a file an earlier run of this import already stored.
fn skipped_object(
    vault: &Vault,
    n: u32,
    file: &MediaFile,
    refs_of_file: Option<&[usize]>,
    refs: &[RefTodo],
) -> Option<ObjectId> {
    match refs_of_file {
        Some(rs) => rs.iter().find_map(|&r| {
            let r = &refs[r];
            vault
                .catalog
                .media
                .get(&(r.message.clone(), r.url.clone()))
                .and_then(|m| m.file.as_ref())
                .map(|f| f.object)
        }),
        None => vault
            .catalog
            .orphans
            .values()
            .find(|o| o.record.name == file.name && o.archives.contains(&n))
            .map(|o| o.record.file.object),
    }
}

/// An object file that exists but that the catalog does not name was left
/// by an interrupted run. It is adopted when it decrypts to exactly the
/// expected content; otherwise it is removed so that it is written anew.
fn adopt(
    vault: &Vault,
    d: &Digests,
    made_here: &Mutex<HashMap<ObjectId, [u8; 32]>>,
) -> Option<FileOutcome> {
    let store = vault.store();
    let stored = store.stored_size(&d.object).ok()??;
    match store.rehash(
        &d.object,
        vault.secret().identity(),
        vault.secret().id_key(),
    ) {
        Ok(got) if got == *d => {
            made_here
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(d.object, d.sha256);
            // `new: true` so that an Object record is written for it.
            Some(FileOutcome::Stored {
                digests: *d,
                stored,
                new: true,
                probe: None,
            })
        }
        _ => {
            let _ = std::fs::remove_file(store.path(&d.object));
            None
        }
    }
}

/// The object is in the store with the size the catalog recorded.
fn in_place(vault: &Vault, id: &ObjectId) -> bool {
    let want = vault.catalog.objects.get(id).map(|o| o.stored);
    want.is_some() && vault.store().stored_size(id).ok().flatten() == want
}

/// Every object the archive's references and orphans use still exists
/// with its recorded size.
fn objects_intact(vault: &Vault, n: u32) -> Result<bool> {
    let store = vault.store();
    let mut ids: BTreeSet<ObjectId> = BTreeSet::new();
    for m in vault.catalog.media.values() {
        if m.file_archives.contains(&n) {
            if let Some(f) = &m.file {
                ids.insert(f.object);
            }
        }
    }
    for o in vault.catalog.orphans.values() {
        if o.archives.contains(&n) {
            ids.insert(o.record.file.object);
        }
    }
    for id in ids {
        let want = vault.catalog.objects.get(&id).map(|o| o.stored);
        let have = store
            .stored_size(&id)
            .map_err(|e| Error::io(store.path(&id), e))?;
        if have.is_none() || want != have {
            return Ok(false);
        }
    }
    Ok(true)
}

fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(d.as_millis() as i64)
}
