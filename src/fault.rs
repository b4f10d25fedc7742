//! Crash injection for the crash-safety tests.
//!
//! `DMVAULT_FAULT=<point>:<n>` makes the process abort (as `kill -9`
//! would stop it: no cleanup, no destructors) the `n`-th time it reaches
//! `point`. The points are where a crash is most interesting: `object`
//! (an object was just renamed into place), `sync` (before the filesystem
//! sync of a batch), `segment-tmp` (a segment is written but not yet in
//! place) and `segment` (a segment was just committed). Unset, this costs
//! one relaxed atomic load per point.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static PLAN: OnceLock<Option<(String, u64)>> = OnceLock::new();
static COUNT: AtomicU64 = AtomicU64::new(0);

/// Aborts here if the plan says so.
pub fn point(name: &str) {
    let plan = PLAN.get_or_init(|| {
        let v = std::env::var("DMVAULT_FAULT").ok()?;
        let (p, n) = v.split_once(':')?;
        Some((p.to_owned(), n.parse().ok()?))
    });
    if let Some((p, n)) = plan {
        if p == name && COUNT.fetch_add(1, Ordering::SeqCst) + 1 == *n {
            std::process::abort();
        }
    }
}
