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

mod chain;
mod findings;
mod index;
mod objects;

use std::collections::BTreeMap;

use serde::Serialize;

pub use findings::{Finding, Problem, Severity};

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::vault::keys::VaultSecret;
use crate::vault::place::Place;
use crate::vault::seen::SeenState;
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
    /// Where the last catalog head seen of this vault is kept.
    pub seen: Option<SeenState>,
    /// Take a rollback as intended: report it as a warning and record the
    /// catalog as it is now as the head seen.
    pub accept_rollback: bool,
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
    /// Objects proven corrupt by reading them (candidates for quarantine;
    /// an object the operating system could not read is not one).
    #[serde(skip)]
    pub corrupt: Vec<ObjectId>,
}

/// Hands findings on as they come and counts them.
pub(crate) struct Findings<'a> {
    on_finding: &'a mut dyn FnMut(&Finding),
    errors: u64,
    warnings: u64,
}

impl Findings<'_> {
    fn report(&mut self, f: Finding) {
        match f.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        (self.on_finding)(&f);
    }

    fn errors(&self) -> u64 {
        self.errors
    }
}

/// Verifies the vault at `path`, reporting each finding through `on_finding`.
///
/// # Errors
/// Only when the vault cannot be read at all (I/O on its folders); every
/// problem with its contents is a finding.
pub fn verify(
    path: &Place,
    secret: &VaultSecret,
    opts: &VerifyOptions,
    progress: &dyn Progress,
    mut on_finding: impl FnMut(&Finding),
) -> Result<VerifySummary> {
    let mut f = Findings {
        on_finding: &mut on_finding,
        errors: 0,
        warnings: 0,
    };
    progress.phase("1/3 Checking the catalog", None);
    let checked = chain::check_catalog(path, secret, &mut f)?;
    if let Some(seen) = &opts.seen {
        chain::check_rollback(&checked, seen, opts.accept_rollback, &mut f);
    }
    let index = index::check_index(path, secret, &checked, opts.read_data, progress, &mut f)?;
    let mut known = BTreeMap::new();
    index.for_each_object(|o| {
        known.insert(o.id, o);
        Ok(())
    })?;
    let known_bad = index.damaged_objects()?;

    progress.phase("2/3 Checking objects", None);
    let store = Store::new(path, secret.recipient().clone());
    let usage = findings::usage_map(&index, &known)?;
    let present = objects::check_objects(&store, path, &known, &usage, &mut f)?;
    let recorded = known.values().filter(|o| o.stored.is_some()).count();
    let mut summary = VerifySummary {
        segments: checked.chain.macs.len() as u64,
        objects: recorded.max(usage.len()) as u64,
        ..Default::default()
    };

    if opts.read_data || opts.decode {
        let selected: Vec<ObjectId> = present
            .into_iter()
            .filter(|id| opts.subset.is_none_or(|s| s.contains(id)))
            .collect();
        let total = selected
            .iter()
            .filter_map(|id| known.get(id))
            .map(|o| o.size)
            .sum();
        progress.phase("3/3 Reading objects", Some(total));
        let check = objects::DataCheck {
            store: &store,
            secret,
            objects: &known,
            known_bad: &known_bad,
            usage: &usage,
            opts,
        };
        let mut data = check.run(&selected, progress);
        data.findings
            .dedup_by(|a, b| a.problem == b.problem && a.object == b.object);
        for finding in data.findings {
            f.report(finding);
        }
        summary.objects_read = data.read;
        summary.bytes_read = data.bytes;
        summary.videos_decoded = data.videos;
        summary.seconds_decoded = data.seconds;
        summary.corrupt = data.corrupt;
    }
    summary.errors = f.errors;
    summary.warnings = f.warnings;
    progress.finish();
    Ok(summary)
}

/// Moves corrupt objects to `quarantine/` so that the next import of an
/// archive holding their content writes them anew. The caller holds the
/// vault's write lock.
pub fn quarantine(
    path: &Place,
    secret: &VaultSecret,
    ids: &[ObjectId],
) -> Result<Vec<std::path::PathBuf>> {
    Store::new(path, secret.recipient().clone())
        .quarantine(ids)
        .map_err(|e| Error::write(path.name_of("quarantine"), e))
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
