//! `verify`'s catalog checks: every segment, the chain, and rollback.

use super::findings::{Finding, Problem, Severity};
use super::Findings;
use crate::error::{Error, Result};
use crate::vault::catalog;
use crate::vault::keys::{hex, VaultSecret};
use crate::vault::place::Place;
use crate::vault::seen::{SeenHead, SeenState};

/// The catalog as far as it could be read.
pub(crate) struct CheckedCatalog {
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
/// place, and strays in `catalog/`.
pub(crate) fn check_catalog(
    path: &Place,
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
        match catalog::read_segment(path, p, *n, out.whole.then_some(&prev), secret) {
            Ok(seg) => {
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
    Ok(out)
}

/// Compares the catalog with the head this computer last saw of the vault
/// at this place: fewer segments, or another segment where it saw one, is a
/// rollback. A catalog that checks out becomes the new head seen; so does
/// a rollback the user accepts (`accept`), reported as a warning.
pub(crate) fn check_rollback(
    checked: &CheckedCatalog,
    seen: &SeenState,
    accept: bool,
    f: &mut Findings<'_>,
) {
    let current = SeenHead {
        seq: checked.seq,
        head: hex(&checked.macs.last().copied().unwrap_or_default()),
    };
    let before = seen.read();
    let rollback = before.as_ref().and_then(|before| {
        if before.seq > current.seq {
            Some((before.seq, format!(
                "the catalog ends at segment {} but this computer saw segment {}: segments were deleted, or the vault was replaced by an older copy",
                current.seq, before.seq
            )))
        } else if checked.whole && !before.continued_by(&checked.macs) {
            Some((before.seq, "segment differs from the one this computer saw: the catalog was replaced by another history".into()))
        } else {
            None
        }
    });
    let Some((at, detail)) = rollback else {
        if f.errors() == 0 {
            seen.write(&current);
        }
        return;
    };
    let mut finding = Finding::catalog(
        Problem::Rollback,
        Some(catalog::segment_name(at)),
        detail,
        "If you put an older or another copy of the vault in place on purpose, run `dmvault verify --accept-rollback` (and import your archives again to bring it up to date); if not, find out who changed the vault.",
    );
    if accept {
        finding.severity = Severity::Warning;
        finding
            .detail
            .push_str("; accepted (--accept-rollback): this is now the vault this computer knows");
        seen.write(&current);
    }
    f.report(finding);
}
