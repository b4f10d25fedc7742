//! Crash and error injection for the crash-safety and error tests.
//!
//! `DMVAULT_FAULT=<point>:<n>` makes the process abort (as `kill -9`
//! would stop it: no cleanup, no destructors) the `n`-th time it reaches
//! `point`. The points are where a crash is most interesting: `object`
//! (an object was just renamed into place), `sync` (before the filesystem
//! sync of a batch), `segment-tmp` (a segment is written but not yet in
//! place), `segment` (a segment was just committed), `index` (a segment's
//! rows are in the index's open transaction, not committed), `index-commit`
//! (the index just committed), `init` (a vault's keys are written, its
//! format file not yet) and `export-tmp` (an exported file is written under
//! its temp name).
//!
//! `DMVAULT_FAULT=object-read-eio:<n>` makes the `n`-th read of an object
//! file fail as a failing disk does (EIO), to test that such an error is
//! never taken for a damaged object; `init-write:1` makes `init` fail after
//! it wrote the vault's key, to test that a failed `init` leaves nothing. Unset, each costs one relaxed atomic
//! load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static PLAN: OnceLock<Option<(String, u64)>> = OnceLock::new();
static COUNT: AtomicU64 = AtomicU64::new(0);

/// True the `n`-th time the plan's point `name` is reached.
fn due(name: &str) -> bool {
    let plan = PLAN.get_or_init(|| {
        let v = std::env::var("DMVAULT_FAULT").ok()?;
        let (p, n) = v.split_once(':')?;
        Some((p.to_owned(), n.parse().ok()?))
    });
    matches!(plan, Some((p, n)) if p == name && COUNT.fetch_add(1, Ordering::SeqCst) + 1 == *n)
}

/// Aborts here if the plan says so.
pub fn point(name: &str) {
    if due(name) {
        std::process::abort();
    }
}

/// An injected I/O error here if the plan says so.
pub fn io_error(name: &str) -> std::io::Result<()> {
    if due(name) {
        // EIO, as a disk that cannot read a sector gives it.
        return Err(std::io::Error::from_raw_os_error(5));
    }
    Ok(())
}
