//! Progress reporting, as a trait the library calls and front ends implement.
//!
//! The library never draws anything: long operations take a
//! `&dyn Progress` and report phases and amounts through it. The CLI draws
//! bars on a terminal; tests and library callers pass [`Quiet`].

/// Receives progress of a long operation. All methods default to doing
/// nothing.
pub trait Progress: Sync {
    /// A new phase starts, e.g. "1/3 Reading DM files", with its total
    /// amount (bytes or items) when known.
    fn phase(&self, _name: &str, _total: Option<u64>) {}
    /// A new phase whose amount is a count of items (segments, files), not
    /// bytes.
    fn phase_items(&self, name: &str, total: Option<u64>) {
        self.phase(name, total);
    }
    /// `n` more units of the current phase are done.
    fn advance(&self, _n: u64) {}
    /// The operation finished (or failed); remove any display.
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {}
