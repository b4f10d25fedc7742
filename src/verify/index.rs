//! `verify`'s index checks: the index reflects the log's head; with
//! `--read-data`, every row is what the log's records make.

use super::chain::CheckedCatalog;
use super::findings::{Finding, Problem, Severity};
use super::Findings;
use crate::error::Result;
use crate::index::Index;
use crate::progress::Progress;
use crate::vault::keys::VaultSecret;
use crate::vault::place::Place;

const REBUILT: &str =
    "Nothing to do: the index is derived from the catalog and was rebuilt from it.";

/// Opens the index (bringing it up to the log's head, or rebuilding it, as
/// every command does), then checks it against the log. A damaged index is
/// rebuilt, never trusted; that is a warning, since the log is intact.
pub(crate) fn check_index(
    path: &Place,
    secret: &VaultSecret,
    checked: &CheckedCatalog,
    deep: bool,
    progress: &dyn Progress,
    f: &mut Findings<'_>,
) -> Result<Index> {
    let (index, rebuilt) = Index::open_tolerant(path, secret, progress)?;
    if let Some(why) = rebuilt {
        f.report(finding(format!(
            "the index was rebuilt from the catalog: {why}"
        )));
    }
    if checked.whole && index.chain()? != checked.chain {
        f.report(finding(
            "the index does not end at the catalog's last segment".into(),
        ));
        index.rebuild(path, secret, progress, true)?;
    }
    if deep {
        progress.phase("1/3 Checking the index against the catalog", None);
        let differ = index.differences_from_log(path, secret)?;
        if !differ.is_empty() {
            f.report(finding(format!(
                "the index differs from what the catalog's records make, in: {}",
                differ.join(", ")
            )));
            index.rebuild(path, secret, progress, true)?;
        }
    }
    Ok(index)
}

fn finding(detail: String) -> Finding {
    let mut f = Finding::catalog(Problem::Index, None, detail, REBUILT);
    f.severity = Severity::Warning;
    f
}
