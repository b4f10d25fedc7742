//! `verify`'s object checks: presence and size, then (data levels)
//! decrypting and re-hashing, and decoding videos.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use super::findings::{Finding, Problem, Severity, Usage};
use super::{Findings, VerifyOptions};
use crate::error::{Error, Result};
use crate::index::ObjectFacts;
use crate::progress::Progress;
use crate::vault::keys::{hex, VaultSecret};
use crate::vault::place::Place;
use crate::vault::store::{ObjectError, ObjectId, Store};

/// Reports objects the catalog names that are missing or mis-sized, and
/// objects nothing names; returns the ones present with their size.
pub(crate) fn check_objects(
    store: &Store,
    path: &Place,
    objects: &BTreeMap<ObjectId, ObjectFacts>,
    usage: &BTreeMap<ObjectId, Usage>,
    f: &mut Findings<'_>,
) -> Result<Vec<ObjectId>> {
    let on_disk: BTreeMap<ObjectId, u64> = store
        .list()
        .map_err(|e| Error::read(path.name_of("objects"), e))?
        .into_iter()
        .collect();
    let referenced: BTreeSet<ObjectId> = usage
        .keys()
        .copied()
        .chain(
            objects
                .values()
                .filter(|o| o.stored.is_some())
                .map(|o| o.id),
        )
        .collect();
    let mut present = Vec::new();
    for id in &referenced {
        let u = usage.get(id);
        let want = objects.get(id).and_then(|o| o.stored);
        match (on_disk.get(id), want) {
            (None, _) => f.report(Finding::object(Problem::Missing, Severity::Error, id, u, "the object file is gone".into())),
            (Some(&have), Some(want)) if have != want => f.report(Finding::object(
                Problem::SizeMismatch,
                Severity::Error,
                id,
                u,
                format!("the object file has {have} bytes, {want} were written (cut short, grown, or another object's file)"),
            )),
            _ => present.push(*id),
        }
    }
    for id in on_disk.keys().filter(|id| !referenced.contains(id)) {
        f.report(Finding::object(
            Problem::Unreferenced,
            Severity::Warning,
            id,
            None,
            "an object no catalog segment names".into(),
        ));
    }
    Ok(present)
}

/// What reading objects found.
#[derive(Default)]
pub(crate) struct DataReport {
    pub read: u64,
    pub bytes: u64,
    pub videos: u64,
    pub seconds: f64,
    /// Objects proven corrupt (for quarantine).
    pub corrupt: Vec<ObjectId>,
    pub findings: Vec<Finding>,
}

impl DataReport {
    fn merge(mut self, o: DataReport) -> DataReport {
        self.read += o.read;
        self.bytes += o.bytes;
        self.videos += o.videos;
        self.seconds += o.seconds;
        self.corrupt.extend(o.corrupt);
        self.findings.extend(o.findings);
        self
    }
}

/// What the data checks need.
pub(crate) struct DataCheck<'a> {
    pub store: &'a Store,
    pub secret: &'a VaultSecret,
    pub objects: &'a BTreeMap<ObjectId, ObjectFacts>,
    /// Objects FFmpeg found damaged or unreadable when they were imported.
    #[cfg_attr(not(feature = "ffmpeg"), allow(dead_code))]
    pub known_bad: &'a BTreeSet<ObjectId>,
    pub usage: &'a BTreeMap<ObjectId, Usage>,
    pub opts: &'a VerifyOptions,
}

impl DataCheck<'_> {
    /// Reads (and decodes) every selected object, in parallel.
    /// Objects in object storage are read eight at a time whatever the
    /// cores.
    pub fn run(&self, selected: &[ObjectId], progress: &dyn Progress) -> DataReport {
        let all = || {
            selected
                .par_iter()
                .map(|id| {
                    let r = self.check_one(id);
                    progress.advance(self.objects.get(id).map_or(0, |o| o.size));
                    r
                })
                .reduce(DataReport::default, DataReport::merge)
        };
        let mut report = self.store.location().run_parallel(8, all);
        report
            .findings
            .sort_by(|a, b| (a.problem, &a.object).cmp(&(b.problem, &b.object)));
        report.corrupt.sort();
        report
    }

    fn check_one(&self, id: &ObjectId) -> DataReport {
        let mut r = DataReport::default();
        if self.opts.read_data {
            self.reread(id, &mut r);
        }
        #[cfg(feature = "ffmpeg")]
        if self.opts.decode && self.usage.get(id).is_some_and(|u| u.video) {
            self.decode(id, &mut r);
        }
        r
    }

    fn finding(
        &self,
        problem: Problem,
        severity: Severity,
        id: &ObjectId,
        detail: String,
    ) -> Finding {
        Finding::object(problem, severity, id, self.usage.get(id), detail)
    }

    /// Decrypts the object to its end and compares its hashes. Only what
    /// reading shows (a file that is not what was written) is corruption;
    /// the operating system failing to read the file is not.
    fn reread(&self, id: &ObjectId, r: &mut DataReport) {
        let d = match self
            .store
            .rehash(id, self.secret.identity(), self.secret.id_key())
        {
            Ok(d) => d,
            Err(ObjectError::Unreadable(e)) => {
                r.findings.push(self.finding(
                    Problem::Unreadable,
                    Severity::Error,
                    id,
                    format!("its file cannot be read: {e}"),
                ));
                return;
            }
            Err(ObjectError::Corrupt(why)) => {
                r.corrupt.push(*id);
                r.findings.push(self.finding(
                    Problem::Corrupt,
                    Severity::Error,
                    id,
                    format!("it does not decrypt to its end: {why}"),
                ));
                return;
            }
        };
        let facts = self.usage.get(id).and_then(|u| u.facts.as_ref());
        let size = self.objects.get(id).map_or(0, |o| o.size);
        let mut wrong = Vec::new();
        if d.object != *id {
            wrong.push("its keyed id does not match its name (objects swapped or replaced)");
        }
        if d.size != size {
            wrong.push("its size differs from the catalog's");
        }
        if facts.is_some_and(|f| f.blake3 != hex(&d.blake3)) {
            wrong.push("its BLAKE3 differs from the catalog's");
        }
        if facts.is_some_and(|f| f.sha256 != hex(&d.sha256)) {
            wrong.push("its SHA-256 differs from the catalog's");
        }
        r.read += 1;
        r.bytes += d.size;
        if !wrong.is_empty() {
            r.corrupt.push(*id);
            r.findings
                .push(self.finding(Problem::Corrupt, Severity::Error, id, wrong.join("; ")));
        }
    }

    #[cfg(feature = "ffmpeg")]
    fn decode(&self, id: &ObjectId, r: &mut DataReport) {
        let u = self.usage.get(id);
        let name = u
            .and_then(|u| u.name.clone())
            .unwrap_or_else(|| "media.mp4".into());
        r.videos += 1;
        let reader = match self.store.open_seekable(id, self.secret.identity()) {
            Ok(reader) => reader,
            Err(e) => {
                let problem = match e {
                    ObjectError::Unreadable(_) => Problem::Unreadable,
                    ObjectError::Corrupt(_) => Problem::Corrupt,
                };
                r.findings.push(self.finding(
                    problem,
                    Severity::Error,
                    id,
                    format!("it cannot be decrypted for decoding: {e}"),
                ));
                return;
            }
        };
        let d = crate::probe::decode(reader, &name);
        r.seconds += d.decoded_s;
        if d.ok {
            return;
        }
        let known_bad = self.known_bad.contains(id);
        let detail = d.detail.unwrap_or_default();
        let (severity, detail) = if known_bad {
            (
                Severity::Warning,
                format!("{detail} (already found damaged when it was imported)"),
            )
        } else {
            (Severity::Error, detail)
        };
        r.findings
            .push(self.finding(Problem::Undecodable, severity, id, detail));
    }
}
