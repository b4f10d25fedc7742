//! An import's media phase, per file: hash, store unless the content is
//! stored already, check new contents with FFmpeg.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use super::ImportOptions;
use crate::archive::{MediaFile, MediaReader};
use crate::integrity::ProbeReport;
use crate::vault::ledger::Ledger;
use crate::vault::store::{for_each_block, object_id, Digests, Hashers, ObjectError, ObjectId};
use crate::vault::Vault;

/// Files up to this size are read into memory: hashed before anything is
/// encrypted (a known content is not encrypted at all) and given to FFmpeg
/// from memory. Larger ones are streamed and probed from their object.
const SMALL_FILE: u64 = 24 << 20;

/// A content put in place (or found in place).
pub(super) struct Stored {
    pub digests: Digests,
    /// Size of its object file.
    pub stored: u64,
    /// A new object (or one adopted from an interrupted run).
    pub new: bool,
    /// What FFmpeg found, when it was checked now.
    pub probe: Option<Box<ProbeReport>>,
    /// The poster made of it now (see [`crate::poster`]).
    pub poster: Option<Box<PosterMade>>,
}

/// A poster stored for a content.
pub(super) struct PosterMade {
    pub digests: Digests,
    /// Size of its object file.
    pub stored: u64,
    /// A new object file.
    pub new: bool,
}

/// Which step failed for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Reading it from the archive.
    Read,
    /// Writing it into the vault.
    Store,
}

/// A file that could not be read or stored.
pub(super) struct Failure {
    pub step: Step,
    pub error: io::Error,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Step::Read => write!(f, "cannot be read: {}", self.error),
            Step::Store => write!(f, "cannot be stored: {}", self.error),
        }
    }
}

/// What processing one media file gave.
pub(super) enum FileOutcome {
    Stored(Stored),
    Failed(Failure),
    /// Not tried: the import is stopping (Ctrl-C, a full disk).
    NotTried,
    /// Its content was forgotten (`dmvault forget`): not stored again.
    Forgotten,
}

/// An error reading the archive, as opposed to writing the vault.
#[derive(Debug)]
struct SourceError(io::Error);

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {}

/// The archive's bytes, with read errors marked as such.
struct Source<R>(R);

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), SourceError(e)))
    }
}

/// Sorts an error of a step that reads the archive and writes the vault.
fn failure(e: io::Error) -> Failure {
    if e.get_ref().is_some_and(|i| i.is::<SourceError>()) {
        return Failure {
            step: Step::Read,
            error: e,
        };
    }
    Failure {
        step: Step::Store,
        error: e,
    }
}

/// Stores files for one import; shared by the workers.
pub(super) struct MediaWorker<'a> {
    pub vault: &'a Vault,
    pub opts: &'a ImportOptions,
    /// Objects this run made, with their SHA-256.
    pub made_here: Mutex<HashMap<ObjectId, [u8; 32]>>,
    /// Contents this run made (or tried) a poster of.
    pub posters_tried: Mutex<HashSet<ObjectId>>,
    /// One worker at a time decides about, and puts, a given content.
    pub placing: Placing,
    /// What was forgotten: such a content is not stored again.
    pub ledger: &'a Ledger,
}

/// Locks by object name (striped), held from the check whether a content
/// is stored until it is in place: two workers meeting one content at once
/// (two files of one content in an archive) must not both put it. On a
/// store whose conditional puts are not atomic the second put would
/// replace the first, and the catalog would record the first's size for
/// the second's file (age headers differ in length).
pub(super) struct Placing([Mutex<()>; 64]);

impl Default for Placing {
    fn default() -> Self {
        Placing(std::array::from_fn(|_| Mutex::new(())))
    }
}

impl Placing {
    fn hold(&self, id: &ObjectId) -> std::sync::MutexGuard<'_, ()> {
        self.0[usize::from(id.0[0]) % 64]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl MediaWorker<'_> {
    fn made_sha(&self, id: &ObjectId) -> Option<[u8; 32]> {
        self.made_here
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .copied()
    }

    fn mark(&self, d: &Digests) {
        self.made_here
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(d.object, d.sha256);
    }

    /// The stored size of a content the vault holds: named by the catalog
    /// and still in place, or put by this run. A write-only importer,
    /// which can neither read the catalog nor check an object, takes an
    /// object that exists as the content (its name is the content's keyed
    /// hash). One look at the store at most.
    fn stored_known(&self, id: &ObjectId) -> Option<u64> {
        let recorded = self
            .vault
            .index
            .object(id)
            .ok()
            .flatten()
            .and_then(|o| o.stored);
        if self.made_sha(id).is_some() {
            // Put by this run: its file is the truth. The catalog may still
            // name the size of the file this run replaced (a damaged one
            // healed), until the committer applies the new record, and age
            // headers differ in length from one encryption to the next.
            return Some(self.stored_size(id).or(recorded).unwrap_or(0));
        }
        match recorded {
            Some(want) => {
                let have = self.stored_size(id);
                if have == Some(want) {
                    Some(want)
                } else {
                    have.filter(|_| self.vault.is_importer())
                }
            }
            None if self.vault.is_importer() => self.stored_size(id),
            None => None,
        }
    }

    fn stored_size(&self, id: &ObjectId) -> Option<u64> {
        self.vault.store().stored_size(id).ok().flatten()
    }

    /// Contents not checked before are probed (each once per run).
    fn wants_probe(&self, id: &ObjectId) -> bool {
        self.opts.probe
            && !self.vault.index.has_integrity(id).unwrap_or(false)
            && self.made_sha(id).is_none()
    }

    fn already(&self, d: Digests, stored: u64) -> FileOutcome {
        // A content this run put is new to the vault, whichever of its
        // files the writer hears of first (it counts it new once).
        let new = self.made_sha(&d.object).is_some();
        FileOutcome::Stored(Stored {
            digests: d,
            stored,
            new,
            probe: None,
            poster: None,
        })
    }

    /// Hashes one media file, stores it unless its content is stored, and
    /// checks new contents with FFmpeg.
    pub fn store_file(&self, reader: &mut MediaReader, file: &MediaFile) -> FileOutcome {
        // The location is named by whoever reports the failure.
        let read_failure = |e: crate::Error| {
            let detail = match e {
                crate::Error::Entry { detail, .. } => detail,
                other => other.to_string(),
            };
            FileOutcome::Failed(Failure {
                step: Step::Read,
                error: io::Error::other(detail),
            })
        };
        if file.size <= SMALL_FILE {
            return match reader.read(file) {
                Ok(data) => self.store_small(data, &file.name),
                Err(e) => read_failure(e),
            };
        }
        let mut r = match reader.open(file) {
            Ok(r) => Source(r),
            Err(e) => return read_failure(e),
        };
        if self.opts.dry_run {
            return self.hash_only(&mut r);
        }
        self.store_streamed(&mut r, &file.name)
    }

    /// A file held in memory: BLAKE3 first, since a content the vault holds
    /// needs no SHA-256 (it is recorded) and no encryption; yearly archives
    /// are mostly such.
    fn store_small(&self, data: Vec<u8>, name: &str) -> FileOutcome {
        let id_key = self.vault.secret().id_key();
        let blake3 = *blake3::hash(&data).as_bytes();
        let object = object_id(id_key, &blake3);
        let recorded = || {
            let (_, sha256) = self.vault.index.object(&object).ok()??.hashes?;
            in_place(self.vault, &object)
                .then(|| crate::vault::keys::unhex(&sha256)?.try_into().ok())?
        };
        let d = match self.made_sha(&object).or_else(recorded) {
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
        if self.ledger.has_content(&d.blake3) {
            return FileOutcome::Forgotten;
        }
        let placing = self.placing.hold(&d.object);
        let probe_now = self.wants_probe(&d.object);
        let out = if let Some(stored) = self.stored_known(&d.object) {
            self.already(d, stored)
        } else if self.opts.dry_run {
            self.mark(&d);
            new_stored(d, 0)
        } else if let Some(out) = self.adopt(&d) {
            out
        } else {
            self.placed(self.vault.store().put_bytes(&d.object, &data), d)
        };
        drop(placing);
        let data = Arc::new(data);
        let out = with_probe(out, || probe_bytes(probe_now, data.clone(), name));
        self.with_poster(out, name, || poster_of_bytes(data, name))
    }

    /// A dry run of a large file: hashed, nothing written.
    fn hash_only(&self, r: &mut impl Read) -> FileOutcome {
        let mut h = Hashers::new(self.vault.secret().id_key());
        if let Err(e) = for_each_block(r, |b| {
            h.update(b);
            Ok::<(), io::Error>(())
        }) {
            return FileOutcome::Failed(failure(e));
        }
        let d = h.finish();
        if self.ledger.has_content(&d.blake3) {
            return FileOutcome::Forgotten;
        }
        let new = self.stored_known(&d.object).is_none();
        self.mark(&d);
        FileOutcome::Stored(Stored {
            digests: d,
            stored: 0,
            new,
            probe: None,
            poster: None,
        })
    }

    /// A large file, streamed through the hashers and the encryptor; probed
    /// from its object, decrypting as FFmpeg reads, so the plaintext is
    /// never held whole nor written out.
    fn store_streamed(&self, r: &mut impl Read, name: &str) -> FileOutcome {
        let store = self.vault.store();
        let staged = match store.stage(self.vault.secret().id_key(), r) {
            Ok(s) => s,
            Err(e) => return FileOutcome::Failed(failure(e)),
        };
        let d = staged.digests;
        if self.ledger.has_content(&d.blake3) {
            store.discard(staged);
            return FileOutcome::Forgotten;
        }
        // Probed from its object, which a write-only importer cannot read.
        let readable = !self.vault.is_importer();
        let placing = self.placing.hold(&d.object);
        let probe_now = readable && self.wants_probe(&d.object);
        let out = if let Some(stored) = self.stored_known(&d.object) {
            store.discard(staged);
            self.already(d, stored)
        } else if let Some(out) = self.adopt(&d) {
            store.discard(staged);
            out
        } else {
            self.placed(store.commit(staged), d)
        };
        drop(placing);
        let out = with_probe(out, || probe_object(probe_now, self.vault, &d.object, name));
        self.with_poster(out, name, || {
            readable
                .then(|| poster_of_object(self.vault, &d.object, name))
                .flatten()
        })
    }

    /// Adds a poster to a stored content that wants one and has none yet
    /// (new, or stored by a dmvault that made no posters), made by `make`.
    fn with_poster(
        &self,
        out: FileOutcome,
        name: &str,
        make: impl FnOnce() -> Option<Vec<u8>>,
    ) -> FileOutcome {
        let FileOutcome::Stored(mut s) = out else {
            return out;
        };
        let unreadable = s
            .probe
            .as_ref()
            .is_some_and(|p| p.verdict == crate::integrity::Verdict::Unreadable);
        let of = s.digests.object;
        let wanted = !self.opts.dry_run
            && self.opts.probe
            && !unreadable
            && posters_wanted(name)
            && !self.vault.index.has_poster(&of).unwrap_or(true)
            && self
                .posters_tried
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(of);
        if wanted {
            s.poster = make()
                .and_then(|jpeg| self.store_poster(&jpeg))
                .map(Box::new);
        }
        FileOutcome::Stored(s)
    }

    /// Stores a poster's bytes as an object (once: its name is its keyed
    /// BLAKE3). A poster that cannot be stored is left out, quietly: the
    /// viewer shows the content without one.
    fn store_poster(&self, jpeg: &[u8]) -> Option<PosterMade> {
        let mut h = Hashers::new(self.vault.secret().id_key());
        h.update(jpeg);
        let d = h.finish();
        let _placing = self.placing.hold(&d.object);
        let (stored, new) = self.vault.store().put_bytes(&d.object, jpeg).ok()?;
        Some(PosterMade {
            digests: d,
            stored,
            new,
        })
    }

    /// The outcome of putting a content in place (marked as made by this
    /// run).
    fn placed(&self, result: io::Result<(u64, bool)>, d: Digests) -> FileOutcome {
        match result {
            Ok((stored, new)) => {
                self.mark(&d);
                FileOutcome::Stored(Stored {
                    digests: d,
                    stored,
                    new,
                    probe: None,
                    poster: None,
                })
            }
            Err(e) => FileOutcome::Failed(failure(e)),
        }
    }

    /// An object file that exists but that the catalog does not name was
    /// left by an interrupted run. It is adopted when it decrypts to
    /// exactly the expected content. One that decrypts to something else
    /// is removed so that it is written anew; one the operating system
    /// cannot read is left alone (nothing stored is ever removed on a
    /// mere read error) and the file fails.
    fn adopt(&self, d: &Digests) -> Option<FileOutcome> {
        if self.vault.is_importer() {
            // It cannot check (nor so remove) what it cannot read.
            return None;
        }
        let store = self.vault.store();
        let stored = store.stored_size(&d.object).ok()??;
        let secret = self.vault.secret();
        match store.rehash(&d.object, secret.identity(), secret.id_key()) {
            Ok(got) if got == *d => {
                self.mark(d);
                // `new` so that an Object record is written for it.
                Some(new_stored(*d, stored))
            }
            Err(ObjectError::Unreadable(e)) => Some(FileOutcome::Failed(Failure {
                step: Step::Store,
                error: io::Error::new(
                    e.kind(),
                    format!("an object an interrupted import left for it cannot be read: {e}"),
                ),
            })),
            _ => {
                let _ = store.remove(&d.object);
                None
            }
        }
    }
}

fn new_stored(d: Digests, stored: u64) -> FileOutcome {
    FileOutcome::Stored(Stored {
        digests: d,
        stored,
        new: true,
        probe: None,
        poster: None,
    })
}

/// The object is in the store with the size the catalog recorded.
pub(super) fn in_place(vault: &Vault, id: &ObjectId) -> bool {
    let want = vault.index.object(id).ok().flatten().and_then(|o| o.stored);
    want.is_some() && vault.store().stored_size(id).ok().flatten() == want
}

/// A stored file's outcome with what `probe` finds (not run for a file
/// that failed).
fn with_probe(out: FileOutcome, probe: impl FnOnce() -> Option<ProbeReport>) -> FileOutcome {
    match out {
        FileOutcome::Stored(s) => FileOutcome::Stored(Stored {
            probe: probe().map(Box::new),
            ..s
        }),
        other => other,
    }
}

#[cfg(feature = "ffmpeg")]
fn probe_bytes(wanted: bool, data: Arc<Vec<u8>>, name: &str) -> Option<ProbeReport> {
    if !wanted {
        return None;
    }
    crate::probe::probe_bytes(data, name)
}

#[cfg(not(feature = "ffmpeg"))]
fn probe_bytes(_: bool, _: Arc<Vec<u8>>, _: &str) -> Option<ProbeReport> {
    None
}

#[cfg(feature = "ffmpeg")]
fn posters_wanted(name: &str) -> bool {
    crate::poster::wanted(name)
}

#[cfg(not(feature = "ffmpeg"))]
fn posters_wanted(_: &str) -> bool {
    false
}

#[cfg(feature = "ffmpeg")]
fn poster_of_bytes(data: Arc<Vec<u8>>, name: &str) -> Option<Vec<u8>> {
    crate::poster::make(io::Cursor::new(crate::probe::SharedBytes(data)), name)
}

#[cfg(not(feature = "ffmpeg"))]
fn poster_of_bytes(_: Arc<Vec<u8>>, _: &str) -> Option<Vec<u8>> {
    None
}

#[cfg(feature = "ffmpeg")]
fn poster_of_object(vault: &Vault, id: &ObjectId, name: &str) -> Option<Vec<u8>> {
    crate::poster::of_object(vault, id, name)
}

#[cfg(not(feature = "ffmpeg"))]
fn poster_of_object(_: &Vault, _: &ObjectId, _: &str) -> Option<Vec<u8>> {
    None
}

#[cfg(feature = "ffmpeg")]
fn probe_object(wanted: bool, vault: &Vault, id: &ObjectId, name: &str) -> Option<ProbeReport> {
    if !wanted {
        return None;
    }
    let reader = vault
        .store()
        .open_seekable(id, vault.secret().identity())
        .ok()?;
    crate::probe::probe(reader, name)
}

#[cfg(not(feature = "ffmpeg"))]
fn probe_object(_: bool, _: &Vault, _: &ObjectId, _: &str) -> Option<ProbeReport> {
    None
}
