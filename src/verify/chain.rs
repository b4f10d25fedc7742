//! `verify`'s catalog checks: every segment, the chain, and rollback.

use super::findings::{Finding, Problem, Severity};
use super::Findings;
use crate::error::{Error, Result};
use crate::vault::catalog::{self, Chain};
use crate::vault::keys::{hex, VaultSecret};
use crate::vault::place::Place;
use crate::vault::seen::{SeenHead, SeenState};

/// The catalog as far as it could be read.
pub(crate) struct CheckedCatalog {
    /// The chain read: the MAC of each segment, from the compaction it
    /// starts at, if any.
    pub chain: Chain,
    /// The chain is whole: every segment read, none missing.
    pub whole: bool,
    /// The highest segment number of the chain.
    pub seq: u64,
}

const RESTORE: &str =
    "Restore the vault folder from a copy, or import every archive again into a new vault.";

/// Reads every segment, reporting each that is missing, damaged or out of
/// place, strays in `catalog/`, and what a compaction cut short left.
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
    let mut segs = scan.segments;
    let start = catalog::after_last_gap(&segs);
    let compacted = segs
        .get(start)
        .is_some_and(|(n, k)| *n > 1 && catalog::starts_compaction(path, k, *n, secret));
    if compacted && start > 0 {
        report_leftovers(f, start, "a compaction replaced");
        segs.drain(..start);
    }
    let mut out = CheckedCatalog {
        chain: Chain::default(),
        whole: true,
        seq: 0,
    };
    let mut expected = if compacted { segs[0].0 } else { 1 };
    let last = segs.last().map_or(0, |(n, _)| *n);
    for (i, (n, p)) in segs.iter().enumerate() {
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
        let prev = out.chain.head();
        let want = (out.whole && !(compacted && i == 0)).then_some(&prev);
        match catalog::read_segment(path, p, *n, want, secret) {
            Ok(seg) => {
                if let Some(c) = seg.compaction() {
                    if last < n + c.segments.max(1) - 1 {
                        report_leftovers(f, segs.len() - i, "a compaction cut short wrote");
                        break;
                    }
                    if i > 0 {
                        report_leftovers(f, i, "a compaction replaced");
                    }
                    out.chain = Chain {
                        base: c.replaces,
                        base_head: seg.prev,
                        macs: Vec::new(),
                    };
                }
                out.chain.macs.push(seg.mac);
                out.seq = *n;
            }
            Err(e) => {
                out.whole = false;
                out.seq = *n;
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

/// Segments a `forget` cut short left: a warning (the chain is whole), and
/// they hold what it forgets until the next writer deletes them.
fn report_leftovers(f: &mut Findings<'_>, count: usize, what: &str) {
    let mut finding = Finding::catalog(
        Problem::Catalog,
        None,
        format!("{count} segment(s) that {what} are still in catalog/ (a `dmvault forget` was interrupted); they are not part of the catalog, but may hold what it forgets"),
        "Run `dmvault forget` again (with the same arguments), or any command that writes to the vault: it deletes them.",
    );
    finding.severity = Severity::Warning;
    f.report(finding);
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
        head: hex(&checked.chain.head()),
    };
    let before = seen.read();
    let rollback = before.as_ref().and_then(|before| {
        if before.seq > current.seq {
            Some((before.seq, format!(
                "the catalog ends at segment {} but this computer saw segment {}: segments were deleted, or the vault was replaced by an older copy",
                current.seq, before.seq
            )))
        } else if checked.whole && !before.continued_by(&checked.chain) {
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
