//! `verify`'s catalog checks: every segment, the chain, and rollback.

use std::path::Path;

use super::findings::{Finding, Problem};
use super::Findings;
use crate::error::{Error, Result};
use crate::vault::catalog::{self, Catalog, Chain};
use crate::vault::keys::{hex, VaultSecret};
use crate::vault::seen::{SeenHead, SeenState};

/// The catalog as far as it could be read.
pub(crate) struct CheckedCatalog {
    /// Every record that could be read, folded.
    pub catalog: Catalog,
    /// The MAC of each segment read, in order.
    pub macs: Vec<[u8; 32]>,
    /// The chain is whole: every segment read, none missing.
    pub whole: bool,
    /// The highest segment number present.
    pub seq: u64,
}

const RESTORE: &str =
    "Restore the vault folder from a copy, or import every archive again into a new vault.";

/// Reads every segment, reporting each that is missing, damaged or out of
/// place, and strays in `catalog/`; folds what can be read.
pub(crate) fn check_catalog(
    path: &Path,
    secret: &VaultSecret,
    f: &mut Findings<'_>,
) -> Result<CheckedCatalog> {
    let scan = catalog::scan_segments(path)?;
    for s in scan.strays {
        f.report(Finding::catalog(
            Problem::Catalog,
            Some(s),
            "a file that is not a catalog segment is in catalog/".into(),
            "Move it out of the vault's catalog folder.",
        ));
    }
    let mut out = CheckedCatalog {
        catalog: Catalog::default(),
        macs: Vec::new(),
        whole: true,
        seq: scan.segments.last().map_or(0, |(n, _)| *n),
    };
    let mut prev = [0u8; 32];
    let mut expected = 1u64;
    for (n, p) in &scan.segments {
        for missing in expected..*n {
            out.whole = false;
            f.report(Finding::catalog(
                Problem::Catalog,
                Some(catalog::segment_name(missing)),
                "missing: the chain of segments has a gap (a segment was deleted)".into(),
                RESTORE,
            ));
        }
        expected = n + 1;
        match catalog::read_segment(p, *n, out.whole.then_some(&prev), secret) {
            Ok(seg) => {
                for r in seg.records {
                    out.catalog.apply(r);
                }
                prev = seg.mac;
                out.macs.push(seg.mac);
            }
            Err(e) => {
                out.whole = false;
                let (segment, detail) = match e {
                    Error::Catalog { segment, detail } => (segment, detail),
                    other => (catalog::segment_name(*n), other.to_string()),
                };
                f.report(Finding::catalog(
                    Problem::Catalog,
                    Some(segment),
                    detail,
                    "The catalog was damaged or tampered with. Restore the vault folder from a copy, or import every archive again into a new vault.",
                ));
            }
        }
    }
    out.catalog.link_orphans();
    Ok(out)
}

/// Compares the catalog with the head this computer last saw of the vault
/// at this place: fewer segments, or another segment where it saw one, is a
/// rollback. A catalog that checks out becomes the new head seen.
pub(crate) fn check_rollback(checked: &CheckedCatalog, seen: &SeenState, f: &mut Findings<'_>) {
    let current = Chain {
        seq: checked.seq,
        head: checked.macs.last().copied().unwrap_or_default(),
    }
    .seen();
    let Some(before) = seen.read() else {
        if f.errors() == 0 {
            seen.write(&current);
        }
        return;
    };
    let same_prefix = |b: &SeenHead| {
        b.seq == 0
            || usize::try_from(b.seq)
                .ok()
                .and_then(|s| s.checked_sub(1))
                .and_then(|i| checked.macs.get(i))
                .is_some_and(|m| hex(m) == b.head)
    };
    if before.seq > current.seq {
        f.report(Finding::catalog(
            Problem::Rollback,
            Some(catalog::segment_name(before.seq)),
            format!(
                "the catalog ends at segment {} but this computer saw segment {}: segments were deleted, or the vault was replaced by an older copy",
                current.seq, before.seq
            ),
            "Import your archives again to bring the vault up to date; if you did not restore an old copy on purpose, find out who changed the vault.",
        ));
    } else if checked.whole && !same_prefix(&before) {
        f.report(Finding::catalog(
            Problem::Rollback,
            Some(catalog::segment_name(before.seq)),
            "segment differs from the one this computer saw: the catalog was replaced by another history".into(),
            "If you did not restore another copy of the vault on purpose, find out who changed it.",
        ));
    } else if f.errors() == 0 {
        seen.write(&current);
    }
}
