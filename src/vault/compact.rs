//! Compaction: the catalog's chain written again without what `dmvault
//! forget` takes away, so that no segment holds it any more.
//!
//! The new chain continues the old one's numbers. Its first segment,
//! `N + 1` after a chain ending at `N`, starts with a `compaction` record
//! (how many segments the new chain has, the MAC of segment `N`, which is
//! also its header's `prev`, and the objects to delete); the others hold
//! the kept records of each old segment, in order. Every segment is MAC'd
//! with the vault's key as usual, so a compaction made without it is
//! refused like any altered segment.
//!
//! The steps, each safe to be killed after:
//!
//! 1. the new segments are written, one by one (a compaction with fewer
//!    segments than its first record says was cut short: readers ignore
//!    it, and the next writer deletes it: the vault is as before);
//! 2. the last one written makes it complete: the vault is as after;
//! 3. the objects nothing kept uses are deleted;
//! 4. the old segments are deleted, from the last to the first (segments
//!    before a gap are what a compaction replaced; a chain that starts
//!    after 1 must start at a compaction);
//! 5. the index is deleted and built again from the new chain.
//!
//! The next writer (see [`Vault::lock`]) finishes steps 3 and 4 when a
//! kill cut them short; any opening of the index does step 5.

use super::catalog::{self, CompactionRecord, EncodedRecords, Log, Record};
use super::store::ObjectId;
use super::Vault;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::time::Timestamp;

/// What a compaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compacted {
    /// Segments of the chain before.
    pub segments_before: u64,
    /// Segments of the new chain.
    pub segments_after: u64,
    /// Objects deleted.
    pub objects_deleted: u64,
}

impl Vault {
    /// Writes the catalog's chain again: `first` (after the compaction
    /// record) in its first segment, then what `keep` makes of each old
    /// segment's records; then deletes `objects` and the old segments, and
    /// builds the index anew. The caller holds the lock, with the catalog
    /// freshly loaded and the inbox merged.
    ///
    /// # Errors
    /// [`Error::Catalog`] when a segment cannot be read; write errors. A
    /// failure before the new chain is complete leaves the vault as it
    /// was (the next writer deletes what was written); after, the next
    /// writer finishes the job.
    pub(crate) fn compact(
        &mut self,
        first: Vec<Record>,
        objects: Vec<ObjectId>,
        keep: &(dyn Fn(Record) -> Option<Record> + Sync),
        progress: &dyn Progress,
    ) -> Result<Compacted> {
        if self.lock.is_none() || self.is_importer() {
            return Err(Error::Invalid(
                "a compaction needs the vault's key and its lock".into(),
            ));
        }
        let old = self
            .chain
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let live = catalog::live_segments(self.place(), self.secret(), false)?;
        let segments: Vec<&(u64, String)> = live
            .segments
            .iter()
            .filter(|(n, _)| *n > old.base && *n <= old.seq())
            .collect();
        let mut new = old.clone();
        let mut records = vec![Record::Compaction(CompactionRecord {
            replaces: old.seq(),
            old_head: super::keys::hex(&old.head()),
            segments: segments.len() as u64 + 1,
            at: Timestamp::now(),
            objects: objects.clone(),
        })];
        records.extend(first);
        self.write(&mut new, &self.encode(&records)?)?;
        progress.phase_items("Compacting the catalog", Some(segments.len() as u64));
        self.rewrite(&segments, old.base_head, keep, &mut new, progress)?;
        crate::fault::point("compacted");
        let objects_deleted = self.finish_compaction(&objects, old.seq())?;
        self.index
            .rebuild(self.place(), self.secret(), progress, false)?;
        let chain = self.index.chain()?;
        if let Some(seen) = &self.seen {
            seen.write(&chain.seen());
        }
        *self.chain.get_mut().unwrap_or_else(|e| e.into_inner()) = chain;
        self.rebuilt = Some(crate::index::Rebuilt::Compacted);
        Ok(Compacted {
            segments_before: old.macs.len() as u64,
            segments_after: new.macs.len() as u64 - old.macs.len() as u64,
            objects_deleted,
        })
    }

    /// Writes the kept records of each old segment as the next segment of
    /// `new`: a thread reads, filters and encodes while this one encrypts
    /// and writes.
    fn rewrite(
        &self,
        segments: &[&(u64, String)],
        base_head: [u8; 32],
        keep: &(dyn Fn(Record) -> Option<Record> + Sync),
        new: &mut catalog::Chain,
        progress: &dyn Progress,
    ) -> Result<()> {
        let (place, secret) = (self.place(), self.secret());
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            s.spawn(move || {
                let mut prev = base_head;
                for (seq, key) in segments {
                    let kept = catalog::read_segment(place, key, *seq, Some(&prev), secret)
                        .and_then(|segment| {
                            prev = segment.mac;
                            let kept: Vec<Record> = segment
                                .records
                                .into_iter()
                                .filter(|r| !matches!(r, Record::Compaction(_)))
                                .filter_map(keep)
                                .collect();
                            self.encode(&kept)
                        });
                    let failed = kept.is_err();
                    if tx.send(kept).is_err() || failed {
                        break;
                    }
                }
            });
            for encoded in rx {
                self.write(new, &encoded?)?;
                progress.advance(1);
            }
            Ok(())
        })
    }

    fn encode(&self, records: &[Record]) -> Result<EncodedRecords> {
        EncodedRecords::new(records).map_err(|e| Error::write(self.path(), e))
    }

    /// Writes one segment of the new chain.
    fn write(&self, chain: &mut catalog::Chain, encoded: &EncodedRecords) -> Result<()> {
        catalog::write_segment(self.place(), self.secret(), &Log::Catalog, chain, encoded)?;
        crate::fault::point("compact-segment");
        Ok(())
    }

    /// Deletes a complete compaction's objects, then every segment up to
    /// `replaced`, the last first. Returns how many objects were there.
    fn finish_compaction(&self, objects: &[ObjectId], replaced: u64) -> Result<u64> {
        let mut deleted = 0;
        for id in objects {
            let there = self
                .store
                .stored_size(id)
                .map_err(|e| Error::read(self.store.path(id), e))?
                .is_some();
            self.store
                .remove(id)
                .map_err(|e| Error::write(self.store.path(id), e))?;
            deleted += u64::from(there);
            crate::fault::point("compact-object");
        }
        let scan = catalog::scan_segments(self.place())?;
        for (_, key) in scan.segments.iter().rev().filter(|(n, _)| *n <= replaced) {
            self.delete_segment(key)?;
        }
        Ok(deleted)
    }

    fn delete_segment(&self, key: &str) -> Result<()> {
        self.place()
            .files()
            .delete(key)
            .map_err(|e| Error::write(self.place().name_of(key), e))?;
        crate::fault::point("compact-old");
        Ok(())
    }

    /// Deletes what a compaction cut short left (see [`crate::index::Leftovers`]):
    /// the segments of one not complete, or the objects and old segments of
    /// one complete. The caller holds the lock, with the catalog freshly
    /// loaded. Returns whether there was anything.
    pub(crate) fn tidy_compaction(&mut self) -> Result<bool> {
        let left = self.index.leftovers();
        if left.is_empty() {
            return Ok(false);
        }
        for key in left.partial.iter().rev() {
            self.delete_segment(key)?;
        }
        if !left.replaced.is_empty() {
            let base = self.index.chain()?.base;
            let start = Log::Catalog.key(base + 1);
            let segment =
                catalog::read_segment(self.place(), &start, base + 1, None, self.secret())?;
            let objects = segment
                .compaction()
                .map(|c| c.objects.clone())
                .unwrap_or_default();
            self.finish_compaction(&objects, base)?;
        }
        self.reload()?;
        Ok(true)
    }
}
