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
//!    (a file larger than 24 MiB is never held in memory). Batches of
//!    objects are made durable with one filesystem sync, then the segment
//!    that refers to them is committed. Files already stored from this
//!    archive by an interrupted run are skipped.
//! 4. **Done.** The last segment marks the archive complete, unless some
//!    of it could not be read or stored: then importing it again retries.
//!
//! One bad item never stops the rest: a record of a data file that cannot
//! be read is skipped and reported, a media file that cannot be read or
//! stored is counted in `media_failed` and named in the problems. A full
//! disk stops the media phase (every later file would fail too): what was
//! stored is committed, and the import ends with the write error.
//!
//! Killed at any moment, the vault stays consistent: a segment only names
//! objects that were durable before it was written; objects written after
//! the last segment are adopted (after checking them) by the next run.
//!
//! # Threading
//! Media are processed on the rayon pool; do not call this from inside it.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::Serialize;

mod commit;
mod fingerprint;
mod media;
mod merge;
mod messages;

use crate::archive::{Archive, ConversationChunk, MediaFile, ReadReport};
use crate::error::{Error, Result};
use crate::index::bits;
use crate::integrity::Verdict;
use crate::media::MediaIndex;
use crate::progress::Progress;
use crate::time::Timestamp;
use crate::vault::catalog::{
    orphan_prefix, ArchiveNo, ArchiveRecord, EncodedRecords, FileStat, MediaRecord, Record, READER,
};
use crate::vault::ledger::Ledger;
use crate::vault::store::ObjectId;
use crate::vault::Vault;
use commit::Committer;
use media::{FileOutcome, MediaWorker};
pub use merge::{inbox_waiting, merge_inbox, revoke_importer, MergeReport};
use messages::{MessageCollector, RefTodo};

/// Commit a segment after this many message records.
const MESSAGE_BATCH: usize = 5_000;
/// Room for a batch and the chunk that fills it (X's chunks hold at most
/// 1000 messages), so that the batch is not copied as it grows.
const BATCH_CAPACITY: usize = MESSAGE_BATCH + 1000;

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

#[allow(clippy::derivable_impls)] // `probe` is true with the `ffmpeg` feature
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
/// `media_new + media_known + media_failed + media_forgotten = media_seen`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportCounts {
    /// Messages new to the vault.
    pub messages_new: u64,
    /// Messages new to the vault that only a headers file had (no text).
    pub messages_headers_only: u64,
    /// Media files in the archives' DM media folders.
    pub media_seen: u64,
    /// Files whose content was new to the vault (new objects).
    pub media_new: u64,
    /// Files whose content the vault already held.
    pub media_known: u64,
    /// Files that could not be read or stored (named in the problems).
    pub media_failed: u64,
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
    /// Records of the data files that were skipped (named in the problems).
    pub records_skipped: u64,
    /// Sightings of handles and names new to the vault (from the tweet and
    /// owner files).
    pub names_new: u64,
    /// Messages skipped because they were forgotten (`dmvault forget`).
    pub messages_forgotten: u64,
    /// Media files skipped because they, or the message they belong to,
    /// were forgotten.
    pub media_forgotten: u64,
}

impl ImportCounts {
    fn add(&mut self, o: &ImportCounts) {
        self.messages_new += o.messages_new;
        self.messages_headers_only += o.messages_headers_only;
        self.media_seen += o.media_seen;
        self.media_new += o.media_new;
        self.media_known += o.media_known;
        self.media_failed += o.media_failed;
        self.media_missing += o.media_missing;
        self.media_orphans += o.media_orphans;
        self.bytes_new += o.bytes_new;
        self.media_damaged += o.media_damaged;
        self.media_unreadable += o.media_unreadable;
        self.records_skipped += o.records_skipped;
        self.names_new += o.names_new;
        self.messages_forgotten += o.messages_forgotten;
        self.media_forgotten += o.media_forgotten;
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
    /// What was not imported: input that could not be read, files that
    /// could not be stored (the rest was imported). One sentence each.
    pub problems: Vec<String>,
    /// Worth knowing; nothing was lost (a date clamped into range, …).
    pub warnings: Vec<String>,
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
    /// Some input could not be read, or some file could not be stored.
    #[serde(skip)]
    pub partial: bool,
}

impl ImportSummary {
    fn add(&mut self, a: &ArchiveSummary) {
        self.archives += 1;
        self.counts.add(&a.counts);
        self.partial |= !a.problems.is_empty() || a.counts.media_failed > 0;
    }
}

/// Imports archives into an unlocked, locked vault.
///
/// `on_archive` is called after each archive with what it did; an archive
/// that cannot be opened is reported through `on_error` and the others
/// are still imported.
///
/// # Errors
/// Vault errors (I/O, a full disk, a damaged catalog) stop the import;
/// everything committed before stays. [`Error::Interrupted`] when `cancel`
/// was set.
pub fn import(
    vault: &mut Vault,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
    cancel: &AtomicBool,
    mut on_archive: impl FnMut(&ArchiveSummary),
    mut on_error: impl FnMut(&Path, &Error),
) -> Result<ImportSummary> {
    if opts.dry_run {
        vault.index.begin_dry_run()?;
    }
    let total = import_each(
        vault,
        paths,
        opts,
        progress,
        cancel,
        &mut on_archive,
        &mut on_error,
    );
    if opts.dry_run {
        vault.index.end_dry_run()?;
    }
    let total = total?;
    progress.finish();
    Ok(total)
}

fn import_each(
    vault: &mut Vault,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
    cancel: &AtomicBool,
    on_archive: &mut impl FnMut(&ArchiveSummary),
    on_error: &mut impl FnMut(&Path, &Error),
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
        if !opts.dry_run {
            // Large media ZIPs inflated for this import go to the vault's
            // disk, as its objects do (a dry run writes nothing there).
            archive.set_spill_dir(&vault.path().join("tmp"));
        }
        let ledger = if vault.is_importer() {
            Ledger::default()
        } else {
            vault.index.ledger(vault.secret().forget_key())?
        };
        let mut one = ArchiveImport {
            ledger,
            vault: &mut *vault,
            archive: &mut archive,
            path,
            opts,
            progress,
            cancel,
            sum: ArchiveSummary {
                archive: path.display().to_string(),
                ..Default::default()
            },
        };
        let outcome = one.run();
        let sum = one.sum;
        if outcome.is_ok() || matches!(&outcome, Err(Error::Io { .. })) {
            total.add(&sum);
            on_archive(&sum);
        }
        outcome?;
    }
    Ok(total)
}

/// How an archive was recognised.
struct Recognised {
    stat: Option<FileStat>,
    size: u64,
    blake3: Option<String>,
    /// Its record, and whether its import completed.
    known: Option<(ArchiveRecord, bool)>,
    /// Archives the vault has.
    count: usize,
}

/// Which media files to store, in what order, and which references each
/// file answers.
struct MediaPlan {
    media: Vec<MediaFile>,
    by_file: HashMap<usize, Vec<usize>>,
    order: Vec<usize>,
    skipped: Vec<usize>,
}

impl MediaPlan {
    /// The references file `i` answers (none: an orphan).
    fn refs_of<'r>(&self, refs: &'r [RefTodo], i: usize) -> Vec<&'r RefTodo> {
        self.by_file
            .get(&i)
            .map_or_else(Vec::new, |rs| rs.iter().map(|&r| &refs[r]).collect())
    }
}

/// The object of a file an earlier run of this import already stored.
fn skipped_object(
    vault: &Vault,
    n: ArchiveNo,
    file: &MediaFile,
    refs: &[&RefTodo],
) -> Result<Option<ObjectId>> {
    if refs.is_empty() {
        // Orphans are known by their name.
        return Ok(vault
            .index
            .orphans_in(n)?
            .into_iter()
            .find(|o| o.name == file.name)
            .map(|o| o.file.object));
    }
    for r in refs {
        if let Some(f) = vault
            .index
            .media_ref(&r.message, &r.url)?
            .and_then(|m| m.file)
        {
            return Ok(Some(f.object));
        }
    }
    Ok(None)
}

/// One archive being imported.
struct ArchiveImport<'a> {
    vault: &'a mut Vault,
    archive: &'a mut Archive,
    path: &'a Path,
    opts: &'a ImportOptions,
    progress: &'a dyn Progress,
    cancel: &'a AtomicBool,
    sum: ArchiveSummary,
    /// What was forgotten: never imported again.
    ledger: Ledger,
}

impl ArchiveImport<'_> {
    /// The four steps of the module's algorithm.
    fn run(&mut self) -> Result<()> {
        let media: Vec<MediaFile> = self.archive.media_files().to_vec();
        self.sum.counts.media_seen = media.len() as u64;
        let r = self.recognise()?;
        if let Some((rec, true)) = &r.known {
            // Read by an older dmvault: read again for what this one adds
            // (names, conversation events, headers files); the rest is known.
            if rec.reader >= READER && objects_intact(self.vault, rec.n)? {
                self.summarise_known(rec.n)?;
                return Ok(());
            }
        }
        let reread = r.known.as_ref().is_some_and(|(rec, _)| rec.reader < READER);
        // The archive's BLAKE3, unless it is known already (computed up
        // front, or recorded by an earlier import of it).
        let known_hash = r
            .blake3
            .clone()
            .or_else(|| r.known.as_ref().map(|(rec, _)| rec.blake3.clone()))
            .filter(|b| !b.is_empty());
        let hash = (known_hash.is_none() && !self.opts.dry_run)
            .then(|| fingerprint::spawn_archive_hash(self.path.to_owned()));
        let mut pending = Vec::new();
        let n = match &r.known {
            Some((rec, _)) => rec.n,
            None => self.start_record(&r, &mut pending)?,
        };
        let index = MediaIndex::new(
            media
                .iter()
                .enumerate()
                .map(|(i, m)| (m.name.clone(), m.group, i)),
        );
        let (refs, report) = self.read_messages(n, index, &mut pending)?;
        let plan = self.plan_media(n, media, &refs, &mut pending)?;
        self.commit(std::mem::take(&mut pending))?;
        // Complete only when nothing was left out: importing it again then
        // retries what failed.
        let complete = self.store_media(n, &plan, &refs)?
            && report.problems.is_empty()
            && report.skipped() == 0
            && self.archive.skipped().is_empty();
        self.progress.phase("4/4 Committing", None);
        let done_before = self
            .vault
            .index
            .archives()?
            .iter()
            .any(|(a, done)| a.n == n && *done);
        if complete && reread {
            pending.push(Record::ArchiveRead { n, reader: READER });
        }
        if complete && !done_before {
            let blake3 =
                known_hash.or_else(|| hash.and_then(|h| h.join().ok()).and_then(Result::ok));
            pending.push(Record::ArchiveDone {
                n,
                at: Timestamp::now(),
                sha256: None,
                blake3,
            });
        }
        self.commit(pending)
    }

    /// Recognises the archive: a ZIP file whose device, inode, size,
    /// modification and change times are those recorded when it was
    /// imported is the same file, unchanged (any write changes its ctime),
    /// and is not read again; otherwise an archive of the size of one
    /// imported before is recognised by its BLAKE3. Any other is new, and
    /// its BLAKE3 is computed on the side while it is imported.
    fn recognise(&mut self) -> Result<Recognised> {
        let archives = self.vault.index.archives()?;
        let stat = fingerprint::file_stat(self.archive);
        let by_stat = stat
            .as_ref()
            .and_then(|st| archives.iter().find(|(a, _)| a.stat.as_ref() == Some(st)))
            .cloned();
        let size = fingerprint::archive_bytes(self.archive);
        let same_size = archives.iter().any(|(a, _)| a.size == size);
        let (blake3, known) = match by_stat {
            Some(k) => (Some(k.0.blake3.clone()), Some(k)),
            // A write-only importer names every archive by its BLAKE3 up
            // front, so that the owner's merge recognises one the vault
            // holds already.
            None if same_size || self.vault.is_importer() => {
                let fp = fingerprint::fingerprint(self.archive, self.progress)?;
                let known = archives
                    .iter()
                    .find(|(a, _)| !a.blake3.is_empty() && a.blake3 == fp)
                    .cloned();
                (Some(fp), known)
            }
            None => (None, None),
        };
        Ok(Recognised {
            stat,
            size,
            blake3,
            known,
            count: archives.len(),
        })
    }

    /// The figures of an archive imported completely before, from the
    /// index.
    fn summarise_known(&mut self, n: ArchiveNo) -> Result<()> {
        let index = &self.vault.index;
        let sum = &mut self.sum;
        sum.already_imported = true;
        sum.counts.media_known = sum.counts.media_seen;
        let mut objects: Vec<ObjectId> = index
            .media_with_file_in(n)?
            .into_iter()
            .filter_map(|m| m.file.map(|f| f.object))
            .collect();
        let orphans = index.orphans_in(n)?;
        objects.extend(orphans.iter().map(|o| o.file.object));
        for o in &objects {
            count_verdict(sum, index.integrity(o)?.map(|r| r.verdict));
        }
        sum.messages_seen = index.messages_in(n)?;
        sum.counts.media_missing = index.missing_in(n)?;
        sum.counts.media_orphans = orphans.len() as u64;
        Ok(())
    }

    /// The record that starts the import of a new archive; its number.
    fn start_record(&self, r: &Recognised, pending: &mut Vec<Record>) -> Result<ArchiveNo> {
        let n = ArchiveNo::try_from(r.count + 1).unwrap_or(ArchiveNo::MAX);
        let info = self.archive.info();
        pending.push(Record::Archive(ArchiveRecord {
            n,
            name: self.path.file_name().map_or_else(
                || self.path.display().to_string(),
                |s| s.to_string_lossy().into_owned(),
            ),
            size: r.size,
            sha256: String::new(),
            blake3: r.blake3.clone().unwrap_or_default(),
            stat: r.stat.clone(),
            generation: info.generation.as_str().to_owned(),
            generation_date: info.generation_date.clone(),
            account_id: info.account_id.clone(),
            username: info.username.clone(),
            imported_at: Timestamp::now(),
            reader: READER,
        }));
        Ok(n)
    }

    /// Streams the DM files: message records are committed in segments as
    /// they accumulate; conversations are added at the end.
    fn read_messages(
        &mut self,
        n: ArchiveNo,
        index: MediaIndex<usize>,
        pending: &mut Vec<Record>,
    ) -> Result<(Vec<RefTodo>, ReadReport)> {
        // A write-only importer sends every message (its index numbers
        // them its own way, which the vault's owner cannot use): the owner
        // merges them by id.
        let known = if self.vault.is_importer() {
            crate::index::known::KnownIds::default()
        } else {
            self.vault.index.known_ids(n)?
        };
        let mut collector = MessageCollector::new(n, index, known, self.ledger.clone());
        let header_bytes: u64 = self
            .archive
            .header_files()
            .iter()
            .map(|f| f.entry.size)
            .sum();
        self.progress.phase(
            "2/4 Reading messages",
            Some(self.archive.dm_bytes() + header_bytes),
        );
        let (vault, cancel, dry_run) = (&*self.vault, self.cancel, self.opts.dry_run);
        let (archive, progress) = (&mut *self.archive, self.progress);
        // Batches are committed on a second thread while reading goes on.
        let (report, written) = std::thread::scope(|s| {
            // Handed over, not queued: a batch waiting costs memory, not time
            // (the writer is the slower side).
            let (tx, rx) =
                std::sync::mpsc::sync_channel::<(Vec<Record>, Option<EncodedRecords>)>(0);
            let writer = s.spawn(move || -> Result<()> {
                vault.index.begin_bulk()?;
                let mut written = Ok(());
                for (i, (batch, encoded)) in rx.into_iter().enumerate() {
                    written = match encoded {
                        Some(encoded) => vault.append_encoded(&batch, &encoded),
                        None => commit_to(vault, batch, dry_run),
                    };
                    if written.is_ok()
                        && i % crate::index::COMMIT_EVERY == crate::index::COMMIT_EVERY - 1
                    {
                        written = vault.index.commit_bulk(true);
                    }
                    if written.is_err() {
                        break;
                    }
                }
                // What was applied is a prefix of the log: kept either way.
                let committed = vault.index.commit_bulk(false);
                written.and(committed)
            });
            let mut take = |chunk: ConversationChunk, headers: bool| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(Error::Interrupted);
                }
                if headers {
                    collector.take_header_chunk(&chunk, pending);
                } else {
                    collector.take_chunk(&chunk, pending);
                }
                if pending.len() < MESSAGE_BATCH {
                    return Ok(());
                }
                let batch = std::mem::replace(pending, Vec::with_capacity(BATCH_CAPACITY));
                // Encoded here, so that the writer only writes.
                let encoded = (!dry_run)
                    .then(|| EncodedRecords::new(&batch))
                    .transpose()
                    .map_err(|e| Error::write(vault.path(), e))?;
                if tx.send((batch, encoded)).is_err() {
                    // The writer stopped; its error is the one reported.
                    return Err(Error::Interrupted);
                }
                Ok(())
            };
            // The headers files after the DM files: only what those lack.
            let report = archive
                .read_conversations(progress, |c| take(c, false))
                .and_then(|mut r| {
                    r.merge(archive.read_headers(progress, |c| take(c, true))?);
                    Ok(r)
                });
            drop(tx);
            let written = writer
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (report, written)
        });
        written?;
        pending.extend(collector.seen_record());
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                commit_to(vault, std::mem::take(pending), dry_run)?;
                return Err(e);
            }
        };
        self.sum.messages_seen = collector.messages_seen;
        self.sum.counts.messages_new = collector.messages_new;
        self.sum.counts.messages_headers_only = collector.messages_headers_only;
        self.sum.counts.messages_forgotten = collector.forgotten;
        self.note_read_report(&report);
        pending.extend(collector.conversation_records(&self.vault.index)?);
        self.read_names(n, pending)?;
        Ok((collector.refs, report))
    }

    /// Harvests the names the archive's tweet and owner files give, and
    /// adds the sightings the vault does not hold yet.
    fn read_names(&mut self, n: ArchiveNo, pending: &mut Vec<Record>) -> Result<()> {
        let files = self.archive.name_files();
        let bytes = files.iter().map(|(e, _)| e.size).sum();
        self.progress.phase("2/4 Reading names", Some(bytes));
        let read = self.archive.harvest_names(self.progress);
        self.sum.warnings.extend(read.problems);
        for r in read.harvest.into_records(n) {
            // A forgotten person's names are not taken again.
            let Some(Record::Name(r)) = self.ledger.admit(Record::Name(r)) else {
                continue;
            };
            if !self.vault.index.has_sighting(&r)? {
                self.sum.counts.names_new += 1;
                pending.push(Record::Name(r));
            }
        }
        Ok(())
    }

    /// Puts what reading found into the summary: lost input as problems,
    /// adjusted records and other notes as warnings.
    fn note_read_report(&mut self, report: &ReadReport) {
        use crate::archive::IssueKind;
        let sum = &mut self.sum;
        sum.problems
            .extend(report.problems.iter().map(ToString::to_string));
        sum.problems.extend(self.archive.skipped().iter().cloned());
        sum.counts.records_skipped = report.skipped();
        for i in &report.issues {
            match i.kind {
                IssueKind::Skipped => sum.problems.push(i.to_string()),
                IssueKind::Adjusted => sum.warnings.push(i.to_string()),
            }
        }
        if report.more_skipped > 0 {
            sum.problems
                .push(format!("{} more records were skipped", report.more_skipped));
        }
        if report.more_adjusted > 0 {
            sum.warnings.push(format!(
                "{} more records were adjusted",
                report.more_adjusted
            ));
        }
        sum.warnings.extend(self.archive.warnings().iter().cloned());
    }

    /// Records references without a file now (found ones are recorded once
    /// their file is stored), and decides which files to store: not those
    /// an interrupted run of this import already stored; largest first, so
    /// that the tail of the work is small files.
    fn plan_media(
        &mut self,
        n: ArchiveNo,
        media: Vec<MediaFile>,
        refs: &[RefTodo],
        pending: &mut Vec<Record>,
    ) -> Result<MediaPlan> {
        let index = &self.vault.index;
        let mut by_file: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, r) in refs.iter().enumerate() {
            match r.file {
                Some(f) => by_file.entry(f).or_default().push(i),
                None => {
                    self.sum.counts.media_missing += 1;
                    let known = index.media_ref(&r.message, &r.url)?;
                    if known.is_none_or(|k| !bits::has(&k.archives, n)) {
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
        self.sum.counts.media_orphans = (0..media.len())
            .filter(|i| !by_file.contains_key(i))
            .count() as u64;
        let done_orphans: BTreeSet<String> = index
            .orphans_in(n)?
            .into_iter()
            .filter(|o| media::in_place(self.vault, &o.file.object))
            .map(|o| o.name)
            .collect();
        // A file no message names is known by its name: taken as done only
        // when no other file of the archive has the name.
        let mut names: HashMap<&str, usize> = HashMap::new();
        for m in &media {
            *names.entry(m.name.as_str()).or_default() += 1;
        }
        let mut skipped = Vec::new();
        let mut order = Vec::new();
        for (i, m) in media.iter().enumerate() {
            // A file named after a forgotten message is not kept as an
            // orphan: it was forgotten with it.
            if !by_file.contains_key(&i)
                && orphan_prefix(&m.name).is_some_and(|id| self.ledger.has_message(&id))
            {
                self.sum.counts.media_forgotten += 1;
                self.sum.counts.media_orphans -= 1;
                continue;
            }
            let done = match by_file.get(&i) {
                Some(rs) => self.refs_stored(n, rs.iter().map(|&r| &refs[r]))?,
                None => {
                    let name = m.name.as_str();
                    names.get(name) == Some(&1) && done_orphans.contains(name)
                }
            };
            if done {
                skipped.push(i)
            } else {
                order.push(i)
            }
        }
        order.sort_by_key(|&i| std::cmp::Reverse(media[i].size));
        Ok(MediaPlan {
            media,
            by_file,
            order,
            skipped,
        })
    }

    /// Every one of the references has its file from archive `n` stored.
    fn refs_stored<'r>(
        &self,
        n: ArchiveNo,
        refs: impl Iterator<Item = &'r RefTodo>,
    ) -> Result<bool> {
        for r in refs {
            let stored = self
                .vault
                .index
                .media_ref(&r.message, &r.url)?
                .is_some_and(|k| {
                    bits::has(&k.file_archives, n)
                        && k.file
                            .as_ref()
                            .is_some_and(|f| media::in_place(self.vault, &f.object))
                });
            if !stored {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Rayon workers read, hash, store and probe the files; this thread
    /// turns their outcomes into records and commits a segment every batch,
    /// after one filesystem sync, while the workers go on. Returns whether
    /// every file was stored.
    fn store_media(&mut self, n: ArchiveNo, plan: &MediaPlan, refs: &[RefTodo]) -> Result<bool> {
        let media = &plan.media;
        self.progress.phase(
            "3/4 Storing media",
            Some(plan.order.iter().map(|&i| media[i].size).sum()),
        );
        let mut file_objects = Vec::new();
        for &i in &plan.skipped {
            self.sum.counts.media_known += 1;
            file_objects.extend(skipped_object(
                self.vault,
                n,
                &media[i],
                &plan.refs_of(refs, i),
            )?);
        }
        let mut c = Committer::new(n, self.opts.dry_run, Vec::new(), file_objects);
        self.run_workers(plan, refs, &mut c)?;
        for o in &c.file_objects {
            let verdict = match c.verdicts.get(o) {
                Some(v) => Some(*v),
                None => self.vault.index.integrity(o)?.map(|r| r.verdict),
            };
            count_verdict(&mut self.sum, verdict);
        }
        if let Some(e) = c.disk_full.take() {
            return Err(Error::write(self.vault.place().name_of("objects"), e));
        }
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        Ok(!c.failed)
    }

    fn run_workers(&mut self, plan: &MediaPlan, refs: &[RefTodo], c: &mut Committer) -> Result<()> {
        let worker = MediaWorker {
            vault: &*self.vault,
            opts: self.opts,
            made_here: Default::default(),
            posters_tried: Default::default(),
            placing: media::Placing::default(),
            ledger: &self.ledger,
        };
        let stop = AtomicBool::new(false);
        let (archive, progress, cancel, media) =
            (&*self.archive, self.progress, self.cancel, &plan.media);
        let sum = &mut self.sum;
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, FileOutcome)>(64);
            let (worker, stop) = (&worker, &stop);
            scope.spawn(move || {
                let each = || {
                    plan.order.par_iter().for_each_init(
                        || (archive.media_reader(), tx.clone()),
                        |(reader, tx), &i| {
                            let out =
                                if cancel.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                                    FileOutcome::NotTried
                                } else {
                                    match reader {
                                        Ok(r) => worker.store_file(r, &media[i]),
                                        Err(e) => FileOutcome::Failed(media::Failure {
                                            step: media::Step::Read,
                                            error: std::io::Error::other(e.to_string()),
                                        }),
                                    }
                                };
                            progress.advance(media[i].size);
                            let _ = tx.send((i, out));
                        },
                    )
                };
                // Into object storage, four files at once whatever the cores.
                worker.vault.place().run_parallel(4, each);
                drop(tx);
            });
            let mut result = Ok(());
            for (i, out) in rx {
                c.record(worker.vault, &media[i], &plan.refs_of(refs, i), out, sum);
                if c.disk_full.is_some() {
                    stop.store(true, Ordering::Relaxed);
                }
                if result.is_ok() && c.batch_full() {
                    result = c.flush(worker.vault);
                    if result.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            result.and_then(|()| c.flush(worker.vault))
        })
    }

    fn commit(&mut self, records: Vec<Record>) -> Result<()> {
        commit_to(self.vault, records, self.opts.dry_run)
    }
}

/// Commits records as a segment, or in a dry run applies them to the
/// index uncommitted, so later archives of the same run see them.
fn commit_to(vault: &Vault, records: Vec<Record>, dry_run: bool) -> Result<()> {
    if dry_run {
        vault.fold(&records)
    } else {
        vault.append(&records)
    }
}

fn count_verdict(sum: &mut ArchiveSummary, verdict: Option<Verdict>) {
    match verdict {
        Some(Verdict::Damaged) => sum.counts.media_damaged += 1,
        Some(Verdict::Unreadable) => sum.counts.media_unreadable += 1,
        _ => {}
    }
}

/// Every object the archive's references and orphans use still exists
/// with its recorded size.
fn objects_intact(vault: &Vault, n: ArchiveNo) -> Result<bool> {
    let store = vault.store();
    let index = &vault.index;
    let mut ids: BTreeSet<ObjectId> = index
        .media_with_file_in(n)?
        .into_iter()
        .filter_map(|m| m.file.map(|f| f.object))
        .collect();
    ids.extend(index.orphans_in(n)?.into_iter().map(|o| o.file.object));
    for id in ids {
        let want = index.object(&id)?.and_then(|o| o.stored);
        let have = store
            .stored_size(&id)
            .map_err(|e| Error::read(store.path(&id), e))?;
        if have.is_none() || want != have {
            return Ok(false);
        }
    }
    Ok(true)
}
