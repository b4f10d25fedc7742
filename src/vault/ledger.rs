//! The erasure ledger: what was forgotten, kept as keyed hashes so that
//! an import never brings it back, while saying nothing of what it was.
//!
//! A `forgotten` record lists the keyed BLAKE3 (under the vault's forget
//! key, derived from its secret) of each forgotten message id and of each
//! forgotten content's BLAKE3. `import` skips a message whose id, a file
//! named after such a message, and a file whose content the ledger names,
//! and counts them. The records are carried through compactions.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// What a forgetting took away, as keyed hashes (hex).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForgottenRecord {
    /// When.
    pub at: Timestamp,
    /// What was asked: `conversation`, `person` or `message` (no id).
    pub scope: String,
    /// Keyed hashes of the message ids.
    #[serde(default)]
    pub messages: Vec<String>,
    /// Keyed hashes of the contents' BLAKE3.
    #[serde(default)]
    pub contents: Vec<String>,
}

/// The keyed hash of a message id.
pub fn message_hash(key: &[u8; 32], id: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new_keyed(key);
    h.update(b"message\0");
    h.update(id.as_bytes());
    *h.finalize().as_bytes()
}

/// The keyed hash of a content, by its BLAKE3.
pub fn content_hash(key: &[u8; 32], blake3: &[u8; 32]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_keyed(key);
    h.update(b"content\0");
    h.update(blake3);
    *h.finalize().as_bytes()
}

/// What the ledger holds, for lookups during an import.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    key: [u8; 32],
    messages: HashSet<[u8; 32]>,
    contents: HashSet<[u8; 32]>,
}

impl Ledger {
    /// A ledger of these hashes under `key`.
    pub fn new(key: [u8; 32], messages: HashSet<[u8; 32]>, contents: HashSet<[u8; 32]>) -> Ledger {
        Ledger {
            key,
            messages,
            contents,
        }
    }

    /// Nothing was ever forgotten.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.contents.is_empty()
    }

    /// The message with this id was forgotten.
    pub fn has_message(&self, id: &str) -> bool {
        !self.messages.is_empty() && self.messages.contains(&message_hash(&self.key, id))
    }

    /// The content with this BLAKE3 was forgotten.
    pub fn has_content(&self, blake3: &[u8; 32]) -> bool {
        !self.contents.is_empty() && self.contents.contains(&content_hash(&self.key, blake3))
    }
}
