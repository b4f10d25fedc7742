//! dmvault: preserve the media of Twitter/X direct messages.
//!
//! People download their X archive ("Download your data") now and then. The
//! DM photos, GIFs and videos in it exist nowhere else. This library reads
//! those archives, of every generation since 2018, ZIP or folder, links
//! each media file to its message, and stores them in an encrypted,
//! deduplicated vault that merges every archive into one history, checks
//! them with FFmpeg, and verifies itself.
//!
//! The modules follow the data:
//!
//! - [`archive`] opens a ZIP or folder, finds its layout and generation, and
//!   streams conversations out of the `window.YTD…` data files; every byte
//!   of an archive is treated as hostile (bounded memory, no panics, one bad
//!   record costs only itself);
//! - [`dm`] is the data model of conversations, events and messages;
//!   [`media`] links media files to messages; [`time`] reads their dates;
//! - [`inspect`] counts what an archive holds;
//! - [`vault`] is the encrypted store (keys, objects, the authenticated
//!   catalog); [`import`] puts archives into it, [`query`] and [`export`]
//!   take things out, [`forget`] takes them out of the vault for good,
//!   [`verify`] proves it intact;
//! - [`progress`] lets front ends show how long work goes on.
//!
//! ```no_run
//! use dmvault::{import, inspect, progress::Quiet, vault, verify};
//! use std::path::{Path, PathBuf};
//!
//! let report = inspect::inspect(Path::new("twitter-2024.zip"), &Quiet)?;
//! println!("{} messages, {} media files found", report.messages, report.media_found);
//!
//! let identity = age::x25519::Identity::generate();
//! let key = vault::keys::NewKey::Recipient(identity.to_public());
//! vault::init(Path::new("dm-vault"), &key)?;
//! let unlock = vault::keys::Unlock::Identities(vec![identity]);
//! let mut v = vault::Vault::open(Path::new("dm-vault"), &unlock)?;
//! v.lock(std::time::Duration::from_secs(60))?;
//! let cancel = std::sync::atomic::AtomicBool::new(false);
//! let archives = [PathBuf::from("twitter-2024.zip")];
//! let opts = import::ImportOptions::default();
//! import::import(&mut v, &archives, &opts, &Quiet, &cancel, |_| {}, |_, _| {})?;
//! let summary = verify::verify(v.place(), v.secret(), &Default::default(), &Quiet, |_| {})?;
//! assert_eq!(summary.errors, 0);
//! # Ok::<(), dmvault::Error>(())
//! ```

#![deny(unsafe_code)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod archive;
pub mod conversation;
pub mod dm;
mod error;
pub mod export;
#[doc(hidden)]
pub mod fault;
pub mod forget;
pub mod ids;
#[cfg_attr(not(feature = "ffmpeg"), allow(dead_code))]
mod imagecheck;
pub mod import;
pub mod index;
pub mod inspect;
pub mod integrity;
pub mod media;
pub mod people;
#[cfg(feature = "ffmpeg")]
pub mod poster;
#[cfg(feature = "ffmpeg")]
pub mod probe;
pub mod progress;
pub mod query;
pub mod time;
pub mod vault;
pub mod verify;
#[cfg(feature = "view")]
pub mod view;

#[cfg(test)]
mod testing;

pub use error::{is_disk_full, Error, ErrorKind, IoOp, Result};
