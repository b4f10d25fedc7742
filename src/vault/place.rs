//! Where a vault is: its files (a [`Backend`]: a local folder, or a bucket
//! and prefix of an S3 store) and the local folder that holds what is
//! never shared (the index, temp files and the local lock). For a local
//! vault both are the vault's folder; for an S3 vault the local folder is
//! `$XDG_CACHE_HOME/dmvault/<vault id>`, known once the vault is unlocked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::backend::{Backend, LocalBackend, Location};
use crate::error::Error;

/// A vault's files and its local folder.
#[derive(Debug, Clone)]
pub struct Place {
    files: Arc<dyn Backend>,
    local: PathBuf,
    remote: bool,
}

impl Place {
    /// A vault in the folder `path`.
    pub fn folder(path: &Path) -> Place {
        Place {
            files: Arc::new(LocalBackend::new(path)),
            local: path.to_owned(),
            remote: false,
        }
    }

    /// A vault in object storage; its local folder is set when it is
    /// unlocked ([`Place::with_local`]).
    pub fn remote(files: Arc<dyn Backend>) -> Place {
        Place {
            files,
            local: PathBuf::new(),
            remote: true,
        }
    }

    /// The same vault with its local folder.
    pub fn with_local(mut self, local: PathBuf) -> Place {
        self.local = local;
        self
    }

    /// Its files.
    pub fn files(&self) -> &dyn Backend {
        &*self.files
    }

    /// The folder of its index, temp files and local lock.
    pub fn local(&self) -> &Path {
        &self.local
    }

    /// In object storage (not a local folder).
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    /// Runs `work` (which uses rayon) on the global pool, or, for a vault in
    /// object storage, on a pool of `threads` threads whatever the cores:
    /// such work waits on the network, not on the CPU.
    pub fn run_parallel<R: Send>(&self, threads: usize, work: impl FnOnce() -> R + Send) -> R {
        let wide = self
            .remote
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .ok()
            })
            .flatten();
        match wide {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }

    /// How to name a file of the vault in a message: its path, or its URL.
    pub fn name_of(&self, key: &str) -> PathBuf {
        if self.remote {
            PathBuf::from(format!("{}/{key}", self.files.describe()))
        } else {
            self.local.join(key)
        }
    }

    /// The vault a `--vault` argument names: `s3://BUCKET[/PREFIX]` (with
    /// the standard AWS settings from the environment and config files),
    /// or a folder.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed URL, settings that do not make
    /// a client, or a build without S3.
    pub fn from_arg(arg: &Path) -> Result<Place, Error> {
        match Location::parse(arg.as_os_str()).map_err(Error::Invalid)? {
            Location::Local(p) => Ok(Place::folder(&p)),
            #[cfg(feature = "s3")]
            Location::S3 { bucket, prefix } => {
                let b = super::backend::S3Backend::new(&bucket, &prefix)
                    .map_err(|e| Error::Invalid(e.to_string()))?;
                Ok(Place::remote(Arc::new(b)))
            }
            #[cfg(not(feature = "s3"))]
            Location::S3 { .. } => Err(Error::Invalid(
                "this dmvault was built without S3 support (the `s3` feature)".into(),
            )),
        }
    }

    /// How the user named the vault.
    pub fn describe(&self) -> String {
        self.files.describe()
    }
}

/// `$XDG_CACHE_HOME/dmvault` (or `~/.cache/dmvault`): where the indexes
/// of vaults in object storage are kept, each in a folder named by its
/// vault id.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("dmvault")
}
