//! Merging write-only importers' inboxes into the catalog.
//!
//! An importer writes its own chains of segments under
//! `inbox/<importer>/<epoch>/`, authenticated with its MAC key. A writer
//! holding the vault's key reads them in order, checks each (decryption,
//! MAC, name, chain), and commits what it holds as the vault's own
//! records, by message id:
//!
//! - the importer's archive numbers become the vault's next ones (noted in
//!   the merge record, so that later segments of the epoch use them);
//! - a message the vault knows becomes a sighting (a seen range), one it
//!   does not know a new message;
//! - objects, verdicts and posters the vault has are dropped.
//!
//! The records and an `inbox_merged` record (which segment, its MAC) are
//! one catalog segment: the merge of each inbox segment commits at once,
//! and the inbox segment is deleted afterwards. A segment at or before the
//! merged one is a leftover (deleted), one after a gap or that does not
//! authenticate is left in place and reported, and every segment of a
//! revoked importer is rejected (deleted).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::time::Timestamp;
use crate::vault::catalog::{self, ArchiveNo, InboxMergedRecord, Log, Record};
use crate::vault::importer;
use crate::vault::keys::hex;
use crate::vault::ledger::Ledger;
use crate::vault::place::Place;
use crate::vault::store::ObjectId;
use crate::vault::Vault;

/// What merging the inboxes did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MergeReport {
    /// Inbox segments merged into the catalog.
    pub segments: u64,
    /// Segments of revoked importer keys that were rejected (and deleted).
    pub rejected: u64,
    /// What was left in the inbox, and why. One sentence each.
    pub problems: Vec<String>,
    /// Objects that records left out (forgotten) named: deleted once
    /// everything is merged, unless the catalog uses them by then.
    dropped: Vec<ObjectId>,
    /// The inbox segments merged: deleted after those objects, so that a
    /// merge a kill cut short finds them again (see [`dropped_by`]).
    merged: Vec<String>,
}

/// The inbox's segments: by (importer, epoch), their numbers and keys.
type Inbox = BTreeMap<(String, String), Vec<(u64, String)>>;

/// Whether any importer's segments wait in the inbox.
///
/// # Errors
/// [`Error::Io`] when the inbox cannot be listed.
pub fn inbox_waiting(place: &Place) -> Result<bool> {
    let listed = place
        .files()
        .list("inbox/")
        .map_err(|e| Error::read(place.name_of("inbox"), e))?;
    Ok(!listed.is_empty())
}

/// Merges every importer's inbox into the catalog. The caller holds the
/// vault's lock, with the catalog freshly loaded.
///
/// # Errors
/// [`Error::WriteOnlyKey`] for an importer's vault; write errors of the
/// catalog or the inbox.
pub fn merge_inbox(vault: &Vault) -> Result<MergeReport> {
    vault.unlocked().readable()?;
    let mut report = MergeReport::default();
    let inbox = list_inbox(vault, &mut report)?;
    let ledger = vault.index.ledger(vault.secret().forget_key())?;
    let importers: HashMap<String, bool> = vault
        .index
        .importers()?
        .into_iter()
        .map(|i| (i.id, i.revoked.is_some()))
        .collect();
    for ((importer, epoch), segments) in inbox {
        match importers.get(&importer) {
            None => report.problems.push(format!(
                "{}: no write-only key {importer} was made for this vault; its {} segment(s) were not merged",
                vault.place().name_of(&format!("inbox/{importer}")).display(),
                segments.len()
            )),
            Some(true) => {
                for (_, key) in &segments {
                    delete(vault, key)?;
                    report.rejected += 1;
                }
            }
            Some(false) => {
                let log = Log::Inbox { importer, epoch };
                merge_epoch(vault, &log, &segments, &ledger, &mut report)?;
            }
        }
    }
    delete_unused(vault, &std::mem::take(&mut report.dropped))?;
    for key in std::mem::take(&mut report.merged) {
        delete(vault, &key)?;
    }
    Ok(report)
}

/// The inbox's segments, in order; other files are reported.
fn list_inbox(vault: &Vault, report: &mut MergeReport) -> Result<Inbox> {
    let place = vault.place();
    let listed = place
        .files()
        .list("inbox/")
        .map_err(|e| Error::read(place.name_of("inbox"), e))?;
    let mut inbox = Inbox::new();
    for (key, _) in listed {
        let parts: Vec<&str> = key.split('/').collect();
        let seq = parts
            .get(3)
            .and_then(|n| n.strip_suffix(".age"))
            .and_then(|n| n.parse::<u64>().ok());
        match (parts.len(), seq) {
            (4, Some(seq)) if !crate::vault::fsutil::is_temp_name(parts[3]) => inbox
                .entry((parts[1].to_owned(), parts[2].to_owned()))
                .or_default()
                .push((seq, key)),
            _ => report.problems.push(format!(
                "{}: not an inbox segment; left alone",
                place.name_of(&key).display()
            )),
        }
    }
    for segments in inbox.values_mut() {
        segments.sort();
    }
    Ok(inbox)
}

/// Merges one importer epoch's segments that follow what was merged.
fn merge_epoch(
    vault: &Vault,
    log: &Log,
    segments: &[(u64, String)],
    ledger: &Ledger,
    report: &mut MergeReport,
) -> Result<()> {
    let Log::Inbox { importer, epoch } = log else {
        return Ok(());
    };
    let (mut done, mut prev) = vault
        .index
        .inbox_merged(importer, epoch)?
        .unwrap_or((0, [0; 32]));
    for (seq, key) in segments {
        if *seq <= done {
            // Merged before; the run that merged it stopped before deleting
            // it, and perhaps before deleting the files of forgotten things
            // it sent.
            report.dropped.extend(dropped_by(vault, log, *seq, ledger));
            report.merged.push(key.clone());
            continue;
        }
        let name = vault.place().name_of(key);
        if *seq != done + 1 {
            report.problems.push(format!(
                "{}: segment {} of this importer chain is missing; the segments after it were not merged",
                name.display(),
                done + 1
            ));
            return Ok(());
        }
        let segment = match catalog::read_inbox_segment(
            vault.place(),
            log,
            *seq,
            Some(&prev),
            vault.secret(),
        ) {
            Ok(s) => s,
            Err(e) => {
                report.problems.push(format!(
                    "{e}; it and the segments after it were not merged (if the importer key was stolen, revoke it with `dmvault key remove {importer}`)"
                ));
                return Ok(());
            }
        };
        let mut merger = Merger::new(vault, importer, epoch, ledger);
        let mut records = merger.vault_records(segment.records, report)?;
        records.push(Record::InboxMerged(InboxMergedRecord {
            importer: importer.clone(),
            epoch: epoch.clone(),
            seq: *seq,
            mac: hex(&segment.mac),
            archives: merger.started,
        }));
        vault.append(&records)?;
        // Deleted once every segment is merged: a later one may use it.
        report.dropped.append(&mut merger.dropped_objects);
        report.merged.push(key.clone());
        report.segments += 1;
        (done, prev) = (*seq, segment.mac);
    }
    Ok(())
}

/// The objects of what the ledger leaves out of merged inbox segment `seq`
/// (read again, authenticated, to finish a merge a kill cut short).
fn dropped_by(vault: &Vault, log: &Log, seq: u64, ledger: &Ledger) -> Vec<ObjectId> {
    let Log::Inbox { importer, epoch } = log else {
        return Vec::new();
    };
    if ledger.is_empty() {
        return Vec::new();
    }
    let Ok(segment) = catalog::read_inbox_segment(vault.place(), log, seq, None, vault.secret())
    else {
        return Vec::new();
    };
    let mut merger = Merger::new(vault, importer, epoch, ledger);
    merger.note_forgotten(&segment.records);
    segment
        .records
        .iter()
        .filter(|r| merger.is_forgotten(r))
        .flat_map(objects_of)
        .collect()
}

/// The objects a record names.
fn objects_of(r: &Record) -> Vec<ObjectId> {
    match r {
        Record::Media(m) => m.file.iter().map(|f| f.object).collect(),
        Record::Orphan(o) => vec![o.file.object],
        Record::Object(o) => vec![o.id],
        Record::Poster(p) => vec![p.object],
        _ => Vec::new(),
    }
}

/// Deletes the objects of forgotten things a write-only importer stored
/// (it cannot read the ledger), unless the catalog uses them.
fn delete_unused(vault: &Vault, ids: &[ObjectId]) -> Result<()> {
    for id in ids {
        if vault.index.object(id)?.is_none() && vault.index.poster(id)?.is_none() {
            vault
                .store()
                .remove(id)
                .map_err(|e| Error::write(vault.store().path(id), e))?;
        }
    }
    Ok(())
}

fn delete(vault: &Vault, key: &str) -> Result<()> {
    vault
        .place()
        .files()
        .delete(key)
        .map_err(|e| Error::write(vault.place().name_of(key), e))
}

/// Revokes a write-only importer key: what it wrote before now is merged,
/// the catalog records the revocation, its registration goes (so the
/// importer is told), and whatever it writes from now on is rejected.
/// Takes the lock. Running it again finishes a revocation a kill cut short.
///
/// # Errors
/// [`Error::Invalid`] when the vault has no such importer key.
pub fn revoke_importer(vault: &mut Vault, id: &str, wait: Duration) -> Result<MergeReport> {
    vault.unlocked().readable()?;
    vault.lock(wait)?;
    let Some(state) = vault.index.importers()?.into_iter().find(|i| i.id == id) else {
        return Err(Error::Invalid(format!(
            "no write-only key {id} in this vault; `dmvault key list` shows the keys"
        )));
    };
    let mut report = MergeReport::default();
    if state.revoked.is_none() {
        report = merge_inbox(vault)?;
        vault.append(&[Record::ImporterRevoked {
            id: id.to_owned(),
            at: Timestamp::now(),
        }])?;
    }
    importer::unregister(vault.place(), id)?;
    let rest = merge_inbox(vault)?;
    report.rejected += rest.rejected;
    report.problems.extend(rest.problems);
    Ok(report)
}

/// Turns one inbox segment's records into the vault's.
struct Merger<'a> {
    vault: &'a Vault,
    importer: &'a str,
    epoch: &'a str,
    /// Archives this segment started: (the importer's number, the vault's).
    started: Vec<(u32, ArchiveNo)>,
    /// Known messages shown again, by the vault's archive number.
    seen: BTreeMap<ArchiveNo, Vec<u64>>,
    /// New archive numbers given so far (the index has not seen them).
    allocated: u32,
    /// What the vault forgot.
    ledger: &'a Ledger,
    /// Objects of this segment whose content the ledger names.
    forgotten_objects: HashSet<ObjectId>,
    /// Objects the records left out named: the importer may have stored
    /// them, and nothing kept uses them.
    dropped_objects: Vec<ObjectId>,
}

impl<'a> Merger<'a> {
    fn new(vault: &'a Vault, importer: &'a str, epoch: &'a str, ledger: &'a Ledger) -> Self {
        Merger {
            vault,
            importer,
            epoch,
            ledger,
            forgotten_objects: HashSet::new(),
            dropped_objects: Vec::new(),
            started: Vec::new(),
            seen: BTreeMap::new(),
            allocated: 0,
        }
    }

    /// The vault's number of the importer's archive `n`.
    fn archive(&self, n: u32) -> Result<Option<ArchiveNo>> {
        if let Some((_, v)) = self.started.iter().find(|(i, _)| *i == n) {
            return Ok(Some(*v));
        }
        self.vault.index.inbox_archive(self.importer, self.epoch, n)
    }

    fn vault_records(
        &mut self,
        records: Vec<Record>,
        report: &mut MergeReport,
    ) -> Result<Vec<Record>> {
        let mut out = Vec::with_capacity(records.len());
        let mut dropped = 0u64;
        self.note_forgotten(&records);
        for r in records {
            if self.is_forgotten(&r) {
                self.dropped_objects.extend(objects_of(&r));
                continue;
            }
            let Some(r) = self.ledger.admit(r) else {
                continue;
            };
            match self.vault_record(r)? {
                Merged::Keep(r) => out.push(r),
                Merged::Absorbed => {}
                Merged::Refused => dropped += 1,
            }
        }
        for (archive, mut ns) in std::mem::take(&mut self.seen) {
            ns.sort_unstable();
            ns.dedup();
            out.push(Record::SeenRanges {
                archive,
                ranges: ranges(&ns),
            });
        }
        if dropped > 0 {
            report.problems.push(format!(
                "importer {}: {dropped} record(s) named an archive the importer never started, or were of a kind only the vault's key writes; they were left out",
                self.importer
            ));
        }
        Ok(out)
    }

    /// The contents of the segment's files that the ledger names: their
    /// object, verdict and poster records go too.
    fn note_forgotten(&mut self, records: &[Record]) {
        if self.ledger.is_empty() {
            return;
        }
        for r in records {
            let facts = match r {
                Record::Media(m) => m.file.as_ref(),
                Record::Orphan(o) => Some(&o.file),
                _ => None,
            };
            if let Some(f) = facts {
                let blake3: Option<[u8; 32]> =
                    crate::vault::keys::unhex(&f.blake3).and_then(|b| b.try_into().ok());
                if blake3.is_some_and(|b| self.ledger.has_content(&b)) {
                    self.forgotten_objects.insert(f.object);
                }
            }
        }
    }

    /// What the vault forgot (`dmvault forget`) is not merged back.
    fn is_forgotten(&self, r: &Record) -> bool {
        let (ledger, objects) = (&self.ledger, &self.forgotten_objects);
        match r {
            Record::Message(m) => ledger.has_message(&m.id),
            Record::Media(m) => {
                ledger.has_message(&m.message)
                    || m.file.as_ref().is_some_and(|f| objects.contains(&f.object))
            }
            Record::Orphan(o) => {
                o.prefix.as_deref().is_some_and(|p| ledger.has_message(p))
                    || objects.contains(&o.file.object)
            }
            Record::Object(o) => objects.contains(&o.id),
            Record::Integrity(i) => objects.contains(&i.object),
            Record::Poster(p) => objects.contains(&p.of),
            _ => false,
        }
    }

    /// The vault's record for one of the importer's.
    fn vault_record(&mut self, r: Record) -> Result<Merged> {
        let index = &self.vault.index;
        let keep_if = |new: bool, r: Record| {
            if new {
                Merged::Keep(r)
            } else {
                Merged::Absorbed
            }
        };
        Ok(match r {
            Record::Archive(a) => self.start(a)?,
            Record::Message(m) => self.message(m)?,
            Record::Object(o) => {
                let known = index.object(&o.id)?.is_some_and(|f| f.stored.is_some());
                keep_if(!known, Record::Object(o))
            }
            Record::Integrity(i) => keep_if(!index.has_integrity(&i.object)?, Record::Integrity(i)),
            Record::Poster(p) => keep_if(!index.has_poster(&p.of)?, Record::Poster(p)),
            Record::Name(mut r) => match r.archive.map(|a| self.archive(a)).transpose()? {
                Some(Some(HELD)) => Merged::Absorbed,
                Some(n) => {
                    r.archive = n;
                    Merged::Keep(Record::Name(r))
                }
                None => Merged::Keep(Record::Name(r)),
            },
            // An importer cannot name the vault's message numbers, nor
            // speak for the vault's key.
            Record::Seen { .. }
            | Record::SeenRanges { .. }
            | Record::Importer { .. }
            | Record::ImporterRevoked { .. }
            | Record::InboxMerged(_)
            | Record::Forgotten(_) => Merged::Refused,
            other => self.renumbered(other)?,
        })
    }

    /// An archive the importer started: one the vault holds whole adds
    /// nothing; one an interrupted import left (the importer's, or the
    /// vault's own) is continued under its number; any other gets the
    /// next number.
    fn start(&mut self, mut a: crate::vault::catalog::ArchiveRecord) -> Result<Merged> {
        let index = &self.vault.index;
        let same = (!a.blake3.is_empty())
            .then(|| index.archives())
            .transpose()?
            .unwrap_or_default()
            .into_iter()
            .filter(|(r, _)| r.blake3 == a.blake3)
            .max_by_key(|(_, done)| *done);
        let n = match same {
            Some((_, true)) => {
                self.started.push((a.n, HELD));
                return Ok(Merged::Absorbed);
            }
            Some((r, false)) => r.n,
            None => {
                self.allocated += 1;
                index.next_archive_no()? + self.allocated - 1
            }
        };
        self.started.push((a.n, n));
        a.n = n;
        // How the file looked on the importer's disk means nothing here.
        a.stat = None;
        Ok(Merged::Keep(Record::Archive(a)))
    }

    /// A record of one of the importer's archives, with the vault's number.
    fn renumbered(&mut self, mut r: Record) -> Result<Merged> {
        let n = match &mut r {
            Record::ArchiveDone { n, .. } | Record::ArchiveRead { n, .. } => n,
            Record::Conversation(c) => &mut c.archive,
            Record::Media(m) => &mut m.archive,
            Record::Orphan(o) => &mut o.archive,
            _ => return Ok(Merged::Refused),
        };
        Ok(match self.archive(*n)? {
            Some(HELD) => Merged::Absorbed,
            Some(v) => {
                *n = v;
                Merged::Keep(r)
            }
            None => Merged::Refused,
        })
    }

    /// A message new to the vault, or a sighting of a known one (unless
    /// this one completes a message only a headers file showed).
    fn message(&mut self, mut m: crate::vault::catalog::MessageRecord) -> Result<Merged> {
        let n = match self.archive(m.archive)? {
            Some(HELD) => return Ok(Merged::Absorbed),
            Some(n) => n,
            None => return Ok(Merged::Refused),
        };
        m.archive = n;
        Ok(match self.vault.index.message_number(&m.id)? {
            Some((k, headers_only)) if !headers_only || m.headers_only => {
                self.seen.entry(n).or_default().push(k);
                Merged::Absorbed
            }
            _ => Merged::Keep(Record::Message(m)),
        })
    }
}

/// The vault number noted for an importer's archive that the vault held
/// whole already (its records add nothing).
const HELD: ArchiveNo = 0;

/// What becomes of an importer's record (short-lived: never boxed).
#[allow(clippy::large_enum_variant)]
enum Merged {
    /// This record goes into the catalog.
    Keep(Record),
    /// The vault has it (or a seen range will say it).
    Absorbed,
    /// Not the importer's to say.
    Refused,
}

/// Sorted, distinct numbers as inclusive ranges.
fn ranges(ns: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &n in ns {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == n => *last = n,
            _ => out.push((n, n)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ranges_join_runs() {
        assert_eq!(
            super::ranges(&[1, 2, 3, 7, 9, 10]),
            vec![(1, 3), (7, 7), (9, 10)]
        );
        assert!(super::ranges(&[]).is_empty());
    }
}
