//! dmvault: preserve the media of Twitter/X direct messages.
//!
//! People download their X archive ("Download your data") now and then. The
//! DM photos, GIFs and videos in it exist nowhere else. This library reads
//! those archives, of every generation since 2018, ZIP or folder, links
//! each media file to its message, and (in later modules) stores them in an
//! encrypted, deduplicated vault.
//!
//! The modules follow the data:
//!
//! - [`archive`] opens a ZIP or folder, finds its layout and generation, and
//!   streams conversations out of the `window.YTD…` data files;
//! - [`dm`] is the data model of conversations, events and messages;
//! - [`media`] links media files to messages by the archive's naming rule;
//! - [`inspect`] puts these together into per-archive figures;
//! - [`progress`] lets front ends show how long work goes on.
//!
//! ```no_run
//! use dmvault::{inspect, progress::Quiet};
//! let report = inspect::inspect(std::path::Path::new("twitter-2024.zip"), &Quiet)?;
//! println!("{} messages, {} media files found", report.messages, report.media_found);
//! # Ok::<(), dmvault::Error>(())
//! ```

#![deny(unsafe_code)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod archive;
pub mod dm;
mod error;
pub mod export;
#[doc(hidden)]
pub mod fault;
#[cfg_attr(not(feature = "ffmpeg"), allow(dead_code))]
mod imagecheck;
pub mod import;
pub mod inspect;
pub mod integrity;
pub mod media;
#[cfg(feature = "ffmpeg")]
pub mod probe;
pub mod progress;
pub mod query;
pub mod time;
pub mod vault;
pub mod verify;

#[cfg(test)]
mod testing;

pub use error::{Error, ErrorKind, IoOp, Result};
