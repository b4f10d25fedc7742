//! Typed errors of the library.
//!
//! Every variant names the object it is about (a path, an archive entry, a
//! position in a data file) and [`Error::hint`] says what the user can do
//! next. The command-line program prints both and maps [`Error::kind`] to an
//! exit code; the library never exits or prints.

use std::io;
use std::path::PathBuf;

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Broad classes of failure, used by front ends to choose an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input could not be read or is not what was expected.
    Input,
    /// Anything else (bugs, unexpected I/O failures).
    Other,
    /// There is no vault at the given path.
    NoVault,
    /// Another process holds the vault's lock.
    Locked,
    /// No key fits the vault (or none was given).
    NoKey,
    /// The vault's own files are damaged or were tampered with.
    Integrity,
    /// The user interrupted the operation; it can be resumed.
    Interrupted,
    /// A name given on the command line fits several things.
    Ambiguous,
}

/// What dmvault was doing with a file when the operating system refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoOp {
    /// Reading a file or listing a folder.
    Read,
    /// Creating or writing a file or folder, or making it durable.
    Write,
}

/// An error of the dmvault library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read or written. The operating
    /// system's reason is the [`source`](std::error::Error::source), not
    /// part of this message, so that it is printed once.
    #[error("{path}: cannot {}", match op { IoOp::Read => "read it", IoOp::Write => "write it" })]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Reading or writing.
        op: IoOp,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The path is neither a regular file nor a folder (a named pipe, a
    /// device, a socket): dmvault does not read from it, so as not to wait
    /// forever.
    #[error("{path}: not a file or a folder (a named pipe, device or socket)")]
    NotAFile {
        /// The path as given.
        path: PathBuf,
    },
    /// dmvault was asked to write plaintext or a key inside the vault.
    #[error("{path}: this is inside the vault {vault}; dmvault never writes exported files or keys there")]
    InsideVault {
        /// The path asked for.
        path: PathBuf,
        /// The vault folder.
        vault: PathBuf,
    },
    /// An export folder whose `index.json` dmvault did not write.
    #[error(
        "{path}: exists and was not written by dmvault; it was left alone and nothing was exported"
    )]
    ForeignIndex {
        /// The `index.json`.
        path: PathBuf,
    },
    /// The path exists but is neither a folder nor a ZIP file.
    #[error("{path}: not a ZIP file (and not a folder)")]
    NotZip {
        /// The path as given.
        path: PathBuf,
    },
    /// The file starts like a ZIP file but its end (the central directory)
    /// is missing or damaged.
    #[error("{path}: the ZIP file is cut short or damaged ({detail})")]
    TruncatedZip {
        /// The ZIP file.
        path: PathBuf,
        /// What the ZIP reader reported.
        detail: String,
    },
    /// A ZIP or folder that holds nothing of an X archive.
    #[error("{path}: not an X archive: no manifest.js, account.js, direct-message*.js or message-event.js at its top, in data/, or one folder down")]
    NotXArchive {
        /// The ZIP file or folder.
        path: PathBuf,
    },
    /// An entry of an archive could not be read.
    #[error("{archive}: {entry}: {detail}")]
    Entry {
        /// The ZIP file or folder.
        archive: PathBuf,
        /// The entry inside it.
        entry: String,
        /// What went wrong.
        detail: String,
    },
    /// A data file is not valid JSON (after its `window.YTD… =` prefix).
    #[error("{archive}: {file}:{line}:{column}: invalid JSON: {detail}")]
    Json {
        /// The ZIP file or folder.
        archive: PathBuf,
        /// The data file inside it.
        file: String,
        /// 1-based line in the data file.
        line: u64,
        /// 1-based column (in bytes) in that line.
        column: u64,
        /// What the parser reported.
        detail: String,
    },
    /// No vault at this path.
    #[error("{path}: no dmvault vault here")]
    NoVault {
        /// The path given as the vault.
        path: PathBuf,
    },
    /// `init` on a folder that is not empty.
    #[error("{path}: cannot create a vault here: the folder exists and is not empty")]
    NotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// Another process holds the vault's lock.
    #[error("{path}: the vault is locked by another dmvault process (waited {waited_s} s)")]
    Locked {
        /// The vault.
        path: PathBuf,
        /// How long we waited.
        waited_s: u64,
    },
    /// No key fits the vault. Deliberately says nothing else.
    #[error("no key fits this vault")]
    NoKeyFits,
    /// No unlock method was given.
    #[error("no key given to unlock the vault")]
    NoKeyGiven,
    /// An identity file that holds no age X25519 identity.
    #[error("{path}: not an age identity file (expected lines starting with AGE-SECRET-KEY-1)")]
    BadIdentityFile {
        /// The file.
        path: PathBuf,
    },
    /// A write-only importer key was given to a command that reads the
    /// vault.
    #[error(
        "importer key {importer} is write-only: it adds archives to the vault but cannot read it"
    )]
    WriteOnlyKey {
        /// The importer's id.
        importer: String,
    },
    /// A write-only key file whose key line does not parse.
    #[error(
        "{path}: a damaged write-only key file (its DMVAULT-IMPORTER-KEY-1 line does not parse)"
    )]
    BadImporterKey {
        /// The file.
        path: PathBuf,
    },
    /// A write-only importer key the vault does not (or no longer) know.
    #[error("importer key {importer} is not registered in this vault: it was revoked, or it is another vault's")]
    ImporterNotRegistered {
        /// The importer's id.
        importer: String,
    },
    /// The vault was made by a newer dmvault, or is damaged.
    #[error("{path}: unsupported vault format ({detail})")]
    VaultFormat {
        /// The vault's format file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A catalog segment failed authentication or is missing.
    #[error("catalog segment {segment}: {detail}")]
    Catalog {
        /// The segment's file name.
        segment: String,
        /// What is wrong.
        detail: String,
    },
    /// The index could not be read or written (it is rebuilt from the log
    /// when it cannot be used; this is what remains: the disk).
    #[error("the vault's index: {detail}")]
    Index {
        /// What is wrong.
        detail: String,
    },
    /// A stored object could not be read back as written.
    #[error("object {object}: {detail}")]
    Object {
        /// The object id (short form).
        object: String,
        /// What is wrong.
        detail: String,
    },
    /// Encryption or decryption failed.
    #[error("encryption failed: {0}")]
    Crypto(String),
    /// The operating system gave no random bytes.
    #[error("no random bytes from the operating system: {0}")]
    Random(String),
    /// Work was interrupted on request; what was committed stays.
    #[error(
        "interrupted; everything committed so far is kept, run the same command again to finish"
    )]
    Interrupted,
    /// A filter or option has a bad value.
    #[error("{0}")]
    Invalid(String),
    /// A name given fits several conversations or people (listed).
    #[error("{0}")]
    Ambiguous(String),
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. }
            | Error::NotAFile { .. }
            | Error::NotZip { .. }
            | Error::TruncatedZip { .. }
            | Error::NotXArchive { .. }
            | Error::Entry { .. }
            | Error::Json { .. } => ErrorKind::Input,
            Error::NoVault { .. } => ErrorKind::NoVault,
            Error::Locked { .. } => ErrorKind::Locked,
            Error::NoKeyFits
            | Error::NoKeyGiven
            | Error::BadIdentityFile { .. }
            | Error::WriteOnlyKey { .. }
            | Error::BadImporterKey { .. }
            | Error::ImporterNotRegistered { .. } => ErrorKind::NoKey,
            Error::Catalog { .. } | Error::Object { .. } | Error::Index { .. } => {
                ErrorKind::Integrity
            }
            Error::Interrupted => ErrorKind::Interrupted,
            Error::NotEmpty { .. }
            | Error::InsideVault { .. }
            | Error::ForeignIndex { .. }
            | Error::VaultFormat { .. }
            | Error::Crypto(_)
            | Error::Random(_)
            | Error::Invalid(_) => ErrorKind::Other,
            Error::Ambiguous(_) => ErrorKind::Ambiguous,
        }
    }

    /// What the user can do about it, as one sentence.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Error::Io { op, source, .. } => io_hint(*op, source),
            Error::NotAFile { .. } => {
                "Give the .zip file itself, or the folder you unpacked it into."
            }
            Error::InsideVault { .. } => {
                "Choose a file or folder outside the vault folder."
            }
            Error::ForeignIndex { .. } => {
                "Export into a new or empty folder, or into one dmvault exported to before."
            }
            Error::NotZip { .. } => {
                "Give the .zip file you downloaded from X (Settings > Your account > Download an archive of your data), or the folder you unpacked it into."
            }
            Error::TruncatedZip { .. } => {
                "The download or copy did not finish. Download the archive again, or copy it again from where you keep it."
            }
            Error::NotXArchive { .. } => {
                "Point dmvault at the archive from X's 'Download an archive of your data', not at another ZIP or folder."
            }
            Error::Entry { .. } => {
                "The archive is damaged at this entry; download or copy it again. The rest of the archive was still read."
            }
            Error::Json { .. } => {
                "This data file is damaged or was edited by hand; the other files were still read. Fix the file or use a fresh copy of the archive."
            }
            Error::NoVault { .. } => {
                "Check --vault (or DMVAULT_VAULT), or create a vault there with `dmvault init --vault PATH`."
            }
            Error::NotEmpty { .. } => "Choose a new or empty folder for the vault.",
            Error::Locked { .. } => {
                "Another import or key change is running on this vault; wait for it to finish, or raise --lock-wait."
            }
            Error::NoKeyFits => "Check which identity file or passphrase you gave.",
            Error::NoKeyGiven => {
                "Give an identity file with -i FILE (or DMVAULT_IDENTITY), or a passphrase with DMVAULT_PASSPHRASE or --passphrase-file."
            }
            Error::BadIdentityFile { .. } => "Give the identity file that `dmvault init` or `age-keygen` created.",
            Error::WriteOnlyKey { .. } => {
                "Unlock with the vault's identity file or passphrase to read it; the write-only key only runs `dmvault import`."
            }
            Error::BadImporterKey { .. } => {
                "Use the file `dmvault key add --write-only` wrote, unchanged, or ask the vault's owner for a new one."
            }
            Error::ImporterNotRegistered { .. } => {
                "Ask the vault's owner for a new key (`dmvault key add --write-only FILE`), and check --vault."
            }
            Error::VaultFormat { .. } => "Use the dmvault version that made this vault, or a newer one.",
            Error::Index { .. } => "Check that the disk has room, then run `dmvault index rebuild`.",
            Error::Catalog { .. } | Error::Object { .. } => {
                "Run `dmvault verify` to see everything that is wrong; importing the archives again heals missing or damaged content."
            }
            Error::Interrupted => "Run the same command again; it continues where it stopped.",
            Error::Crypto(_) | Error::Random(_) | Error::Invalid(_) | Error::Ambiguous(_) => {
                return None
            }
        })
    }

    /// Reading `path` failed.
    pub fn read(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            op: IoOp::Read,
            source,
        }
    }

    /// Writing `path` failed.
    pub fn write(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            op: IoOp::Write,
            source,
        }
    }
}

/// The disk (or the user's quota) is full: every later write fails too.
pub fn is_disk_full(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::StorageFull | K::QuotaExceeded | K::FileTooLarge
    )
}

/// The hint for an I/O error: what to do depends on what was being done
/// and on what the operating system said.
fn io_hint(op: IoOp, e: &io::Error) -> &'static str {
    use io::ErrorKind as K;
    match (op, e.kind()) {
        _ if is_disk_full(e) => {
            "The disk is full. Free some space and run the same command again; everything stored so far is kept."
        }
        (_, K::ReadOnlyFilesystem) => "The disk is mounted read-only; choose another place or remount it.",
        (IoOp::Read, K::NotFound) => "Check that the path exists.",
        (IoOp::Read, K::PermissionDenied) => {
            "You may not read it: check its permissions and owner (ls -l)."
        }
        (IoOp::Read, _) => {
            "Check that the path exists and that you may read it; an error from the disk itself may mean it is failing."
        }
        (IoOp::Write, K::NotFound) => "Check that the folder it goes into exists.",
        (IoOp::Write, K::AlreadyExists) => {
            "Choose a name that does not exist yet, or move that file away."
        }
        (IoOp::Write, K::PermissionDenied) => {
            "You may not write there: check the folder's permissions and owner (ls -ld)."
        }
        (IoOp::Write, _) => {
            "Check that you may write there and that the disk has room; an error from the disk itself may mean it is failing."
        }
    }
}
