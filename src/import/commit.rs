//! The media phase's single writer: turns workers' outcomes into catalog
//! records and commits them in segments, after the objects they name are
//! durable.

use std::collections::{HashMap, HashSet};

use super::media::{FileOutcome, Step};
use super::messages::RefTodo;
use super::ArchiveSummary;
use crate::archive::MediaFile;
use crate::error::{is_disk_full, Error, Result};
use crate::integrity::Verdict;
use crate::time::Timestamp;
use crate::vault::catalog::{
    orphan_prefix, ArchiveNo, FileFacts, IntegrityRecord, MediaRecord, ObjectRecord, OrphanRecord,
    PosterRecord, Record,
};
use crate::vault::keys::hex;
use crate::vault::store::ObjectId;
use crate::vault::Vault;

/// Commit a segment after this many media files, or bytes of media.
const BATCH_FILES: usize = 256;
const BATCH_BYTES: u64 = 256 << 20;

/// Collects records and commits them a batch at a time.
pub(super) struct Committer {
    pub n: ArchiveNo,
    pub dry_run: bool,
    pub pending: Vec<Record>,
    recorded_objects: HashSet<ObjectId>,
    pub verdicts: HashMap<ObjectId, Verdict>,
    /// The object of every file of the archive that was stored.
    pub file_objects: Vec<ObjectId>,
    any_new: bool,
    batch_files: usize,
    batch_bytes: u64,
    /// Some file could not be read or stored.
    pub failed: bool,
    /// The disk is full: the phase stops.
    pub disk_full: Option<std::io::Error>,
}

impl Committer {
    pub fn new(
        n: ArchiveNo,
        dry_run: bool,
        pending: Vec<Record>,
        file_objects: Vec<ObjectId>,
    ) -> Self {
        Committer {
            n,
            dry_run,
            pending,
            recorded_objects: HashSet::new(),
            verdicts: HashMap::new(),
            file_objects,
            any_new: false,
            batch_files: 0,
            batch_bytes: 0,
            failed: false,
            disk_full: None,
        }
    }

    /// A batch is due.
    pub fn batch_full(&self) -> bool {
        self.batch_files >= BATCH_FILES || self.batch_bytes >= BATCH_BYTES
    }

    /// Records what processing one file gave.
    pub fn record(
        &mut self,
        vault: &Vault,
        file: &MediaFile,
        refs: &[&RefTodo],
        out: FileOutcome,
        sum: &mut ArchiveSummary,
    ) {
        self.batch_files += 1;
        self.batch_bytes += file.size;
        let s = match out {
            FileOutcome::Stored(s) => s,
            FileOutcome::Failed(f) => {
                sum.counts.media_failed += 1;
                self.failed = true;
                let full = f.step == Step::Store && is_disk_full(&f.error);
                if full && self.disk_full.is_none() {
                    sum.problems.push(format!("{}: {f}", file.location));
                    self.disk_full = Some(f.error);
                } else if !full {
                    sum.problems.push(format!("{}: {f}", file.location));
                }
                return;
            }
            FileOutcome::Forgotten => {
                sum.counts.media_forgotten += 1;
                return;
            }
            FileOutcome::NotTried => {
                sum.counts.media_failed += 1;
                self.failed = true;
                return;
            }
        };
        let id = s.digests.object;
        self.file_objects.push(id);
        if let Some(report) = s.probe.map(|b| *b) {
            self.verdicts.insert(id, report.verdict);
            self.pending.push(Record::Integrity(IntegrityRecord {
                object: id,
                report,
                checked_at: Timestamp::now(),
            }));
        }
        if let Some(p) = s.poster.map(|b| *b) {
            self.any_new |= p.new;
            self.pending.push(Record::Poster(PosterRecord {
                of: id,
                object: p.digests.object,
                size: p.digests.size,
                stored: p.stored,
                blake3: hex(&p.digests.blake3),
                sha256: hex(&p.digests.sha256),
            }));
        }
        // Written by a worker: made durable before the next segment.
        self.any_new |= s.new;
        // Two files of one content stored at once by two workers are both
        // "new" to them: the content is new once.
        if s.new && !self.recorded_objects.contains(&id) {
            sum.counts.media_new += 1;
            sum.counts.bytes_new += s.digests.size;
        } else {
            sum.counts.media_known += 1;
        }
        // An Object record for every object new to the catalog (new, or
        // adopted from an interrupted run), once.
        let recorded = || {
            vault
                .index
                .object(&id)
                .ok()
                .flatten()
                .is_some_and(|o| o.stored.is_some())
        };
        if (s.new || !recorded()) && self.recorded_objects.insert(id) {
            self.pending.push(Record::Object(ObjectRecord {
                id,
                size: s.digests.size,
                stored: s.stored,
            }));
        }
        let facts = FileFacts {
            size: s.digests.size,
            blake3: hex(&s.digests.blake3),
            sha256: hex(&s.digests.sha256),
            object: id,
        };
        self.add_file_records(file, refs, facts);
    }

    fn add_file_records(&mut self, file: &MediaFile, refs: &[&RefTodo], facts: FileFacts) {
        if refs.is_empty() {
            self.pending.push(Record::Orphan(OrphanRecord {
                name: file.name.clone(),
                prefix: orphan_prefix(&file.name),
                group: file.group,
                file: facts,
                archive: self.n,
            }));
            return;
        }
        for r in refs {
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

    /// Makes new objects durable (one filesystem sync), then commits the
    /// records that name them.
    pub fn flush(&mut self, vault: &Vault) -> Result<()> {
        self.batch_files = 0;
        self.batch_bytes = 0;
        if self.pending.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(&mut self.pending);
        if self.dry_run {
            vault.fold(&records)?;
        } else {
            // A store's puts are durable when they return; a folder's are
            // made so here, all at once.
            if std::mem::take(&mut self.any_new) && !vault.place().is_remote() {
                crate::fault::point("sync");
                let objects = vault.path().join("objects");
                crate::vault::fsutil::sync_filesystem(&objects)
                    .map_err(|e| Error::write(&objects, e))?;
            }
            vault.append(&records)?;
        }
        Ok(())
    }
}
