//! The catalog head this computer last saw of a vault, kept outside the
//! vault, so that a vault put back to an older state (a rollback) is
//! noticed: the chain of segments alone cannot show that its newest
//! segments were removed.
//!
//! A state file belongs to one vault *at one place*: its name is a keyed
//! hash (under the catalog MAC key) of the vault's canonical path. A copy
//! of the vault made with `cp -a` holds the same secret but lives at
//! another path, so it gets its own state file: verifying or importing
//! into the copy never raises an alarm about the original, nor the other
//! way round. A vault replaced by an older copy *in place* (same path) is
//! still caught. A vault moved to another path starts afresh there.
//!
//! The file holds a segment count and a MAC: no secret, no plaintext.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fsutil;
use super::keys::VaultSecret;

/// A catalog head: how many segments, and the MAC of the last.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SeenHead {
    /// Number of segments.
    pub seq: u64,
    /// MAC of the last one (hex).
    pub head: String,
}

impl SeenHead {
    /// Whether `chain` holds this head: it has segment `seq`, and that
    /// segment's MAC is `head`; or a compaction (made with the vault's key,
    /// or the chain would not have loaded) replaced it since.
    pub fn continued_by(&self, chain: &super::catalog::Chain) -> bool {
        if self.seq == 0 || self.seq < chain.base {
            return true;
        }
        chain
            .mac(self.seq)
            .is_some_and(|m| super::keys::hex(&m) == self.head)
    }
}

/// Where the head seen of one vault is kept.
#[derive(Debug, Clone)]
pub struct SeenState {
    file: PathBuf,
}

impl SeenState {
    /// The state of the vault at `vault`, unlocked with `secret`, kept in
    /// the folder `dir` (e.g. `~/.local/state/dmvault`).
    pub fn for_vault(dir: &Path, vault: &Path, secret: &VaultSecret) -> SeenState {
        let place = fsutil::resolve(vault);
        let mut h = blake3::Hasher::new_keyed(secret.mac_key());
        h.update(b"dmvault state file v2\0");
        h.update(place.as_os_str().as_encoded_bytes());
        SeenState {
            file: dir.join(format!("{}.json", &h.finalize().to_hex()[..32])),
        }
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// The head last seen, if any.
    pub fn read(&self) -> Option<SeenHead> {
        serde_json::from_str(&std::fs::read_to_string(&self.file).ok()?).ok()
    }

    /// Records the head seen (best effort: a state that cannot be written
    /// only weakens rollback detection).
    pub fn write(&self, seen: &SeenHead) {
        let Some(dir) = self.file.parent() else {
            return;
        };
        let _ = std::fs::create_dir_all(dir);
        let text = serde_json::to_string(seen).unwrap_or_default();
        let _ = fsutil::replace_private(&self.file, text.as_bytes());
    }
}
