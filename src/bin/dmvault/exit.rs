//! Exit codes, as documented in `docs/cli.md`. Scripts should treat any
//! code not listed there as a failure.

/// What the process exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[allow(dead_code)] // Ok is the default; not every code is built by name
pub enum Code {
    /// Everything worked (including "nothing new").
    Ok = 0,
    /// The command failed.
    Error = 1,
    /// The command line was wrong.
    Usage = 2,
    /// Done, but some input could not be read.
    Partial = 3,
    /// The vault has integrity problems.
    Integrity = 4,
    /// No vault at that path.
    NoVault = 10,
    /// The vault is locked by another process.
    Locked = 11,
    /// No key fits the vault.
    NoKey = 12,
    /// Interrupted; the work can be resumed.
    Interrupted = 130,
}
