//! The erasure ledger: what was forgotten, kept as keyed hashes so that
//! an import never brings it back, while saying nothing of what it was.
//!
//! A `forgotten` record lists the keyed BLAKE3 (under the vault's forget
//! key, derived from its secret) of each forgotten message id, each
//! forgotten content's BLAKE3, each conversation forgotten whole and each
//! person forgotten. `import` (and the merge of write-only imports) skips a
//! message the ledger names, a file named after such a message, a file
//! whose content it names and a conversation it names, and takes a person
//! it names out of what stays (their name sightings, reactions and group
//! events). The records are carried through compactions.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::catalog::{ConversationRecord, MessageRecord, Record};
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
    /// Keyed hashes of the conversations forgotten whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conversations: Vec<String>,
    /// Keyed hashes of the people forgotten.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<String>,
}

/// What a ledger hash stands for (its kind in the index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgotten {
    /// A message id.
    Message = 0,
    /// A content, by its BLAKE3.
    Content = 1,
    /// A conversation id.
    Conversation = 2,
    /// A user id.
    Person = 3,
}

impl Forgotten {
    fn tag(self) -> &'static [u8] {
        match self {
            Forgotten::Message => b"message\0",
            Forgotten::Content => b"content\0",
            Forgotten::Conversation => b"conversation\0",
            Forgotten::Person => b"person\0",
        }
    }
}

/// The keyed hash of an id (or, for a content, its BLAKE3) of a kind.
pub fn hash(key: &[u8; 32], kind: Forgotten, id: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_keyed(key);
    h.update(kind.tag());
    h.update(id);
    *h.finalize().as_bytes()
}

/// The keyed hash of a message id.
pub fn message_hash(key: &[u8; 32], id: &str) -> [u8; 32] {
    hash(key, Forgotten::Message, id.as_bytes())
}

/// The keyed hash of a content, by its BLAKE3.
pub fn content_hash(key: &[u8; 32], blake3: &[u8; 32]) -> [u8; 32] {
    hash(key, Forgotten::Content, blake3)
}

/// What the ledger holds, for lookups during an import.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    key: [u8; 32],
    hashes: [HashSet<[u8; 32]>; 4],
}

impl Ledger {
    /// A ledger of these hashes under `key`, by kind.
    pub fn new(key: [u8; 32], hashes: [HashSet<[u8; 32]>; 4]) -> Ledger {
        Ledger { key, hashes }
    }

    /// Nothing was ever forgotten.
    pub fn is_empty(&self) -> bool {
        self.hashes.iter().all(HashSet::is_empty)
    }

    fn has(&self, kind: Forgotten, id: &[u8]) -> bool {
        let set = &self.hashes[kind as usize];
        !set.is_empty() && set.contains(&hash(&self.key, kind, id))
    }

    /// The message with this id was forgotten.
    pub fn has_message(&self, id: &str) -> bool {
        self.has(Forgotten::Message, id.as_bytes())
    }

    /// The content with this BLAKE3 was forgotten.
    pub fn has_content(&self, blake3: &[u8; 32]) -> bool {
        self.has(Forgotten::Content, blake3)
    }

    /// The conversation with this id was forgotten whole.
    pub fn has_conversation(&self, id: &str) -> bool {
        self.has(Forgotten::Conversation, id.as_bytes())
    }

    /// The person with this user id was forgotten.
    pub fn has_person(&self, user: &str) -> bool {
        self.has(Forgotten::Person, user.as_bytes())
    }

    /// A record an import makes, as what the ledger allows of it: `None`
    /// for a forgotten conversation's or person's record, and a forgotten
    /// person taken out of one that stays. (Messages and files are
    /// skipped where they are read, and counted.)
    pub fn admit(&self, r: Record) -> Option<Record> {
        if self.hashes[Forgotten::Conversation as usize].is_empty()
            && self.hashes[Forgotten::Person as usize].is_empty()
        {
            return Some(r);
        }
        let gone = |u: &str| self.has_person(u);
        match r {
            Record::Conversation(c) if self.has_conversation(&c.id) => None,
            Record::Conversation(mut c) => {
                scrub_conversation(&mut c, &gone);
                Some(Record::Conversation(c))
            }
            Record::Name(n) if gone(&n.user) => None,
            Record::Message(mut m) => {
                scrub_message(&mut m, &gone);
                Some(Record::Message(m))
            }
            r => Some(r),
        }
    }
}

/// Takes forgotten people (`gone`) out of a conversation that stays: from
/// its participants, the renames they made (the name stays), the events
/// they made or that were only about them.
pub fn scrub_conversation(c: &mut ConversationRecord, gone: &dyn Fn(&str) -> bool) {
    c.participants.retain(|u| !gone(u));
    for n in &mut c.names {
        if n.by.as_deref().is_some_and(gone) {
            n.by = None;
        }
    }
    c.events.retain_mut(|e| {
        if e.by.as_deref().is_some_and(gone) {
            if e.kind == super::catalog::EventKind::Reaction {
                return false;
            }
            e.by = None;
        }
        let had = !e.users.is_empty();
        e.users.retain(|u| !gone(u));
        !(had && e.users.is_empty())
    });
}

/// Takes forgotten people's reactions off a message that stays.
pub fn scrub_message(m: &mut MessageRecord, gone: &dyn Fn(&str) -> bool) {
    m.reactions
        .retain(|r| !r.sender_id.as_deref().is_some_and(gone));
}
