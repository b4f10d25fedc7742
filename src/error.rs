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
}

/// An error of the dmvault library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
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
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. }
            | Error::NotZip { .. }
            | Error::TruncatedZip { .. }
            | Error::NotXArchive { .. }
            | Error::Entry { .. }
            | Error::Json { .. } => ErrorKind::Input,
        }
    }

    /// What the user can do about it, as one sentence.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Error::Io { .. } => "Check that the path exists and that you may read it.",
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
        })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
