//! `verify`: prove that the vault still holds exactly what was put in.
//!
//! Levels, like restic's `check`:
//!
//! - **default**: every catalog segment decrypts and authenticates and the
//!   chain is whole; the catalog has not gone back to an older state than
//!   this computer saw (rollback); every object the catalog names exists
//!   with the recorded size. Objects nothing names (left by an interrupted
//!   import) are a warning; the next import adopts them.
//! - **`read_data`**: every (selected) object is decrypted to its end and
//!   its keyed id, BLAKE3 and SHA-256 are recomputed and compared.
//! - **`decode`**: every (selected) video and GIF is fully decoded by
//!   FFmpeg; decode errors and a decoded duration short of the
//!   container's are reported.
//!
//! `subset` picks the objects the data levels read, deterministically:
//! `n/t` takes the objects whose id, as a number, is `n-1` modulo `t`, so
//! running `1/7` … `7/7` on successive days covers everything; `x%` takes
//! the objects whose id falls in the first x % of the id space.
//!
//! Findings are collected, never fatal: each names the object, the
//! messages and conversations that use it, and which archives to import
//! again to heal it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::vault::catalog::{self, Catalog};
use crate::vault::keys::{hex, VaultSecret};
use crate::vault::store::{ObjectId, Store};

/// Which objects the data levels read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Subset {
    /// Part `n` of `of` (1-based).
    Part {
        /// Which part.
        n: u64,
        /// Of how many.
        of: u64,
    },
    /// A share of the objects, in percent.
    Percent(f64),
}

impl Subset {
    /// Parses `n/t` or `x%`.
    pub fn parse(s: &str) -> Result<Subset> {
        let bad = || {
            Error::Invalid(format!(
                "--subset {s:?}: give n/t (e.g. 1/7, for part 1 of 7) or a percentage (e.g. 10%)"
            ))
        };
        if let Some(p) = s.strip_suffix('%') {
            let x: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(x > 0.0 && x <= 100.0) {
                return Err(bad());
            }
            return Ok(Subset::Percent(x));
        }
        let (n, of) = s.split_once('/').ok_or_else(bad)?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        let of: u64 = of.trim().parse().map_err(|_| bad())?;
        if of == 0 || n == 0 || n > of {
            return Err(bad());
        }
        Ok(Subset::Part { n, of })
    }

    /// Whether the object is in the subset.
    pub fn contains(&self, id: &ObjectId) -> bool {
        let x = u64::from_be_bytes(id.0[..8].try_into().expect("8 bytes"));
        match *self {
            Subset::Part { n, of } => x % of == n - 1,
            Subset::Percent(p) => (x as f64) < p / 100.0 * 18_446_744_073_709_551_616.0,
        }
    }
}

/// How to verify.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// Decrypt and re-hash the objects.
    pub read_data: bool,
    /// Decode videos and GIFs with FFmpeg.
    pub decode: bool,
    /// Read only these objects at the data levels.
    pub subset: Option<Subset>,
    /// Where the last catalog head seen on this computer is kept.
    pub state_file: Option<PathBuf>,
}

/// One problem found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `catalog`, `rollback`, `missing`, `size_mismatch`, `corrupt`,
    /// `undecodable` or `unreferenced`.
    pub problem: &'static str,
    /// `error` (the vault does not hold what was put in) or `warning`.
    pub severity: &'static str,
    /// The object (full hex id), when the problem is an object.
    pub object: Option<String>,
    /// The catalog segment, when the problem is a segment.
    pub segment: Option<String>,
    /// What is wrong.
    pub detail: String,
    /// Messages that use the object.
    pub messages: Vec<String>,
    /// Their conversations.
    pub conversations: Vec<String>,
    /// Archives that held the content (import one again to heal).
    pub archives: Vec<String>,
    /// What to do.
    pub hint: String,
}

/// What a verify run covered.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifySummary {
    /// Catalog segments read.
    pub segments: u64,
    /// Objects the catalog names.
    pub objects: u64,
    /// Objects decrypted and re-hashed.
    pub objects_read: u64,
    /// Bytes decrypted (plaintext).
    pub bytes_read: u64,
    /// Videos and GIFs decoded.
    pub videos_decoded: u64,
    /// Media time decoded, in seconds.
    pub seconds_decoded: f64,
    /// Findings of severity error.
    pub errors: u64,
    /// Findings of severity warning.
    pub warnings: u64,
    /// Objects found corrupt (candidates for quarantine).
    #[serde(skip)]
    pub corrupt: Vec<ObjectId>,
}

/// The catalog head this computer last saw for a vault.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SeenHead {
    /// Number of segments.
    pub seq: u64,
    /// MAC of the last one.
    pub head: String,
}

/// The state file's name for a vault: a keyed hash, so it reveals nothing.
pub fn state_file_name(secret: &VaultSecret) -> String {
    let h = blake3::keyed_hash(secret.mac_key(), b"dmvault state file v1");
    format!("{}.json", &h.to_hex()[..32])
}

/// Reads the head last seen.
pub fn read_seen(path: &Path) -> Option<SeenHead> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Records the head seen (best effort; the file holds no secret and no
/// plaintext: a count and a MAC).
pub fn write_seen(path: &Path, seen: &SeenHead) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = path.with_extension("json.tmp");
    if std::fs::write(&tmp, serde_json::to_string(seen).unwrap_or_default()).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// Who uses an object.
#[derive(Default)]
struct Usage {
    messages: BTreeSet<String>,
    conversations: BTreeSet<String>,
    archives: BTreeSet<String>,
    video: bool,
    name: Option<String>,
    facts: Option<catalog::FileFacts>,
}

fn usage_map(cat: &Catalog) -> BTreeMap<ObjectId, Usage> {
    let mut map: BTreeMap<ObjectId, Usage> = BTreeMap::new();
    for ((message, _), m) in &cat.media {
        let Some(f) = &m.file else { continue };
        let u = map.entry(f.object).or_default();
        u.messages.insert(message.clone());
        if let Some(msg) = cat.messages.get(message) {
            u.conversations.insert(msg.record.conversation.clone());
        }
        u.archives.extend(
            m.file_archives
                .iter()
                .map(|&n| cat.archive_name(n).to_owned()),
        );
        u.video |= m.kind != crate::media::MediaKind::Image;
        u.name = u.name.take().or_else(|| m.original_name.clone());
        u.facts.get_or_insert_with(|| f.clone());
    }
    for o in cat.orphans.values() {
        let u = map.entry(o.record.file.object).or_default();
        if let Some(p) = &o.record.prefix {
            u.messages.insert(p.clone());
        }
        u.archives
            .extend(o.archives.iter().map(|&n| cat.archive_name(n).to_owned()));
        u.video |= o.record.name.to_ascii_lowercase().ends_with(".mp4");
        u.name = u.name.take().or_else(|| Some(o.record.name.clone()));
        u.facts.get_or_insert_with(|| o.record.file.clone());
    }
    map
}

fn object_finding(
    problem: &'static str,
    severity: &'static str,
    id: &ObjectId,
    u: Option<&Usage>,
    detail: String,
) -> Finding {
    let archives: Vec<String> = u
        .map(|u| u.archives.iter().cloned().collect())
        .unwrap_or_default();
    let hint = match problem {
        "unreferenced" => {
            "Nothing refers to it (an import was interrupted); the next import adopts it if it is needed.".to_owned()
        }
        "undecodable" => "The stored content does not decode; if an archive has a better copy, import it.".to_owned(),
        _ if archives.is_empty() => "No archive is recorded for it; import any archive that holds it.".to_owned(),
        _ => format!("Import one of these archives again to restore it: {}.", archives.join(", ")),
    };
    Finding {
        problem,
        severity,
        object: Some(id.hex()),
        segment: None,
        detail,
        messages: u
            .map(|u| u.messages.iter().cloned().collect())
            .unwrap_or_default(),
        conversations: u
            .map(|u| u.conversations.iter().cloned().collect())
            .unwrap_or_default(),
        archives,
        hint,
    }
}

fn catalog_finding(
    problem: &'static str,
    segment: Option<String>,
    detail: String,
    hint: &str,
) -> Finding {
    Finding {
        problem,
        severity: "error",
        object: None,
        segment,
        detail,
        messages: Vec::new(),
        conversations: Vec::new(),
        archives: Vec::new(),
        hint: hint.to_owned(),
    }
}

/// Verifies the vault at `path`, reporting each finding through `on_finding`.
///
/// # Errors
/// Only when the vault cannot be read at all (I/O on its folders); every
/// problem with its contents is a finding.
pub fn verify(
    path: &Path,
    secret: &VaultSecret,
    opts: &VerifyOptions,
    progress: &dyn Progress,
    mut on_finding: impl FnMut(&Finding),
) -> Result<VerifySummary> {
    let mut summary = VerifySummary::default();
    let mut report = |f: Finding, summary: &mut VerifySummary| {
        if f.severity == "error" {
            summary.errors += 1;
        } else {
            summary.warnings += 1;
        }
        on_finding(&f);
    };

    // 1. The catalog: every segment, the chain, the numbering.
    progress.phase("1/3 Checking the catalog", None);
    let (segments, strays) = catalog::scan_segments(path)?;
    for s in strays {
        report(
            catalog_finding(
                "catalog",
                Some(s),
                "a file that is not a catalog segment is in catalog/".into(),
                "Move it out of the vault's catalog folder.",
            ),
            &mut summary,
        );
    }
    let mut cat = Catalog::default();
    let mut chain_ok = true;
    let mut prev = [0u8; 32];
    let mut macs: Vec<[u8; 32]> = Vec::new();
    let mut expected = 1u64;
    for (n, p) in &segments {
        if *n != expected {
            for missing in expected..*n {
                report(
                    catalog_finding(
                        "catalog",
                        Some(catalog::segment_name(missing)),
                        "missing: the chain of segments has a gap (a segment was deleted)".into(),
                        "Restore the vault folder from a copy, or import every archive again into a new vault.",
                    ),
                    &mut summary,
                );
            }
            chain_ok = false;
        }
        expected = n + 1;
        match catalog::read_segment(p, *n, chain_ok.then_some(&prev), secret) {
            Ok(seg) => {
                for r in seg.records {
                    cat.apply(r);
                }
                prev = seg.mac;
                macs.push(seg.mac);
                summary.segments += 1;
            }
            Err(e) => {
                chain_ok = false;
                let (segment, detail) = match e {
                    Error::Catalog { segment, detail } => (segment, detail),
                    other => (catalog::segment_name(*n), other.to_string()),
                };
                report(
                    catalog_finding(
                        "catalog",
                        Some(segment),
                        detail,
                        "The catalog was damaged or tampered with. Restore the vault folder from a copy, or import every archive again into a new vault.",
                    ),
                    &mut summary,
                );
            }
        }
    }
    cat.seq = segments.last().map_or(0, |(n, _)| *n);
    cat.link_orphans();

    // Rollback: fewer segments, or another head, than this computer saw.
    let current = SeenHead {
        seq: cat.seq,
        head: macs.last().map(|m| hex(m)).unwrap_or_default(),
    };
    if let Some(state) = &opts.state_file {
        if let Some(seen) = read_seen(state) {
            let same_prefix = macs
                .get(seen.seq as usize - 1)
                .is_some_and(|m| hex(m) == seen.head);
            if seen.seq > current.seq {
                report(
                    catalog_finding(
                        "rollback",
                        Some(catalog::segment_name(seen.seq)),
                        format!(
                            "the catalog ends at segment {} but this computer saw segment {}: segments were deleted, or the vault was replaced by an older copy",
                            current.seq, seen.seq
                        ),
                        "Import your archives again to bring the vault up to date; if you did not restore an old copy on purpose, find out who changed the vault.",
                    ),
                    &mut summary,
                );
            } else if seen.seq > 0 && !same_prefix && chain_ok {
                report(
                    catalog_finding(
                        "rollback",
                        Some(catalog::segment_name(seen.seq)),
                        "segment differs from the one this computer saw: the catalog was replaced by another history".into(),
                        "If you did not restore another copy of the vault on purpose, find out who changed it.",
                    ),
                    &mut summary,
                );
            } else if summary.errors == 0 {
                write_seen(state, &current);
            }
        } else if summary.errors == 0 {
            write_seen(state, &current);
        }
    }

    // 2. Objects: present, with the recorded size; strays.
    progress.phase("2/3 Checking objects", None);
    let store = Store::new(path, secret.recipient().clone());
    let usage = usage_map(&cat);
    summary.objects = cat.objects.len().max(usage.len()) as u64;
    let on_disk: BTreeMap<ObjectId, u64> = store
        .list()
        .map_err(|e| Error::io(path.join("objects"), e))?
        .into_iter()
        .collect();
    let mut present: Vec<ObjectId> = Vec::new();
    let referenced: BTreeSet<ObjectId> = usage
        .keys()
        .copied()
        .chain(cat.objects.keys().copied())
        .collect();
    for id in &referenced {
        let u = usage.get(id);
        let want = cat.objects.get(id).map(|o| o.stored);
        match (on_disk.get(id), want) {
            (None, _) => report(
                object_finding("missing", "error", id, u, "the object file is gone".into()),
                &mut summary,
            ),
            (Some(&have), Some(want)) if have != want => report(
                object_finding(
                    "size_mismatch",
                    "error",
                    id,
                    u,
                    format!("the object file has {have} bytes, {want} were written (cut short, grown, or another object's file)"),
                ),
                &mut summary,
            ),
            _ => present.push(*id),
        }
    }
    for id in on_disk.keys().filter(|id| !referenced.contains(id)) {
        report(
            object_finding(
                "unreferenced",
                "warning",
                id,
                None,
                "an object no catalog segment names".into(),
            ),
            &mut summary,
        );
    }

    // 3. Data: decrypt and re-hash; decode.
    let selected: Vec<ObjectId> = present
        .into_iter()
        .filter(|id| opts.subset.is_none_or(|s| s.contains(id)))
        .collect();
    if opts.read_data || opts.decode {
        let total: u64 = selected
            .iter()
            .filter_map(|id| cat.objects.get(id))
            .map(|o| o.size)
            .sum();
        progress.phase("3/3 Reading objects", Some(total));
        let found: Mutex<Vec<Finding>> = Mutex::new(Vec::new());
        let stats: Mutex<(u64, u64, u64, f64, Vec<ObjectId>)> =
            Mutex::new((0, 0, 0, 0.0, Vec::new()));
        selected.par_iter().for_each(|id| {
            let u = usage.get(id);
            let size = cat.objects.get(id).map_or(0, |o| o.size);
            if opts.read_data {
                match store.rehash(id, secret.identity(), secret.id_key()) {
                    Err(e) => {
                        found.lock().unwrap_or_else(|p| p.into_inner()).push(object_finding(
                            "corrupt",
                            "error",
                            id,
                            u,
                            format!("it does not decrypt to its end: {e}"),
                        ));
                        stats.lock().unwrap_or_else(|p| p.into_inner()).4.push(*id);
                    }
                    Ok(d) => {
                        let facts = u.and_then(|u| u.facts.as_ref());
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
                        let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
                        s.0 += 1;
                        s.1 += d.size;
                        if !wrong.is_empty() {
                            s.4.push(*id);
                            drop(s);
                            found.lock().unwrap_or_else(|p| p.into_inner()).push(object_finding(
                                "corrupt",
                                "error",
                                id,
                                u,
                                wrong.join("; "),
                            ));
                        }
                    }
                }
            }
            #[cfg(feature = "ffmpeg")]
            if opts.decode && u.is_some_and(|u| u.video) {
                let name = u.and_then(|u| u.name.clone()).unwrap_or_else(|| "media.mp4".into());
                let result = store
                    .open_seekable(id, secret.identity())
                    .map(|r| crate::probe::decode(r, &name));
                let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
                s.2 += 1;
                match result {
                    Ok(d) => {
                        s.3 += d.decoded_s;
                        if !d.ok {
                            drop(s);
                            let known_bad = cat
                                .integrity
                                .get(id)
                                .is_some_and(|r| r.report.verdict != crate::integrity::Verdict::Ok);
                            let detail = d.detail.unwrap_or_default();
                            let (severity, detail) = if known_bad {
                                ("warning", format!("{detail} (already found damaged when it was imported)"))
                            } else {
                                ("error", detail)
                            };
                            found
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(object_finding("undecodable", severity, id, u, detail));
                        }
                    }
                    Err(e) => {
                        drop(s);
                        found.lock().unwrap_or_else(|p| p.into_inner()).push(object_finding(
                            "corrupt",
                            "error",
                            id,
                            u,
                            format!("it cannot be decrypted for decoding: {e}"),
                        ));
                    }
                }
            }
            progress.advance(size);
        });
        let mut found = found.into_inner().unwrap_or_else(|p| p.into_inner());
        found.sort_by(|a, b| (a.problem, &a.object).cmp(&(b.problem, &b.object)));
        found.dedup_by(|a, b| a.problem == b.problem && a.object == b.object);
        for f in found {
            report(f, &mut summary);
        }
        let (read, bytes, videos, secs, mut corrupt) =
            stats.into_inner().unwrap_or_else(|p| p.into_inner());
        corrupt.sort();
        corrupt.dedup();
        summary.objects_read = read;
        summary.bytes_read = bytes;
        summary.videos_decoded = videos;
        summary.seconds_decoded = secs;
        summary.corrupt = corrupt;
    }
    progress.finish();
    Ok(summary)
}

/// Moves corrupt objects to `quarantine/` so that the next import of an
/// archive holding their content writes them anew. The caller holds the
/// vault's write lock.
pub fn quarantine(path: &Path, ids: &[ObjectId]) -> Result<Vec<PathBuf>> {
    let dir = path.join("quarantine");
    let mut moved = Vec::new();
    if ids.is_empty() {
        return Ok(moved);
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    for id in ids {
        let h = id.hex();
        let from = path.join("objects").join(&h[..2]).join(format!("{h}.age"));
        let mut to = dir.join(format!("{h}.age"));
        let mut k = 1;
        while to.exists() {
            to = dir.join(format!("{h}.{k}.age"));
            k += 1;
        }
        std::fs::rename(&from, &to).map_err(|e| Error::io(&from, e))?;
        moved.push(to);
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_partition_the_objects() {
        let ids: Vec<ObjectId> = (0u32..700)
            .map(|i| ObjectId(*blake3::hash(&i.to_le_bytes()).as_bytes()))
            .collect();
        let mut covered = 0;
        for n in 1..=7 {
            let s = Subset::parse(&format!("{n}/7")).unwrap();
            covered += ids.iter().filter(|id| s.contains(id)).count();
        }
        assert_eq!(
            covered,
            ids.len(),
            "1/7 … 7/7 cover everything exactly once"
        );
        let ten = Subset::parse("10%").unwrap();
        let k = ids.iter().filter(|id| ten.contains(id)).count();
        assert!((40..=100).contains(&k), "{k}");
        assert!(ids
            .iter()
            .all(|id| Subset::parse("100%").unwrap().contains(id)));
        for bad in ["0/7", "8/7", "1/0", "x", "0%", "150%", "1/"] {
            assert!(Subset::parse(bad).is_err(), "{bad}");
        }
    }
}
