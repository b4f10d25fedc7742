//! An import's message phase: conversations, messages and media
//! references out of the DM data files, as catalog records.

use std::collections::{HashMap, HashSet};

use crate::archive::ConversationChunk;
use crate::dm::{ConversationKind, Event, GroupEvent, Message};
use crate::error::Result;
use crate::ids::IdSet;
use crate::index::known::KnownIds;
use crate::index::{bits, Index};
use crate::media::{MediaIndex, MediaKind};
use crate::vault::catalog::{
    ArchiveNo, ConversationEvent, ConversationRecord, EventKind, MessageRecord, NameChange, Record,
};
use crate::vault::ledger::Ledger;

/// A reference of this archive, resolved to a media file or missing.
pub(super) struct RefTodo {
    pub message: String,
    pub url: String,
    pub ordinal: u32,
    pub kind: MediaKind,
    /// The index of its file in the archive's media list.
    pub file: Option<usize>,
}

/// What one archive shows of a conversation, being gathered.
struct Gathered {
    record: ConversationRecord,
    /// Its participants, for finding one at once (there may be thousands).
    known: HashSet<String>,
}

/// What reading the messages gathers.
pub(super) struct MessageCollector {
    n: ArchiveNo,
    index: MediaIndex<usize>,
    pub refs: Vec<RefTodo>,
    seen_refs: HashSet<(String, String)>,
    /// The archive's messages new to the vault, met so far.
    seen_ids: IdSet,
    /// The messages the vault held when the import started.
    known: KnownIds,
    /// The known messages met so far (by number; a yearly archive is
    /// mostly these, so the id set holds only the new ones).
    met: NumberBits,
    /// The known messages the archive shows again (not shown by an import
    /// of it that was interrupted). They come in the archive's order, not
    /// the log's: read in order at the end, they make a few ranges (a
    /// yearly archive repeating the history: one).
    seen_again: NumberBits,
    convs: HashMap<String, Gathered>,
    /// Messages in the archive.
    pub messages_seen: u64,
    /// Messages new to the vault.
    pub messages_new: u64,
    /// Messages new to the vault that only a headers file had.
    pub messages_headers_only: u64,
    /// What was forgotten.
    ledger: Ledger,
    /// Messages skipped because they were forgotten.
    pub forgotten: u64,
}

impl MessageCollector {
    pub fn new(
        n: ArchiveNo,
        index: MediaIndex<usize>,
        known: KnownIds,
        ledger: Ledger,
    ) -> MessageCollector {
        MessageCollector {
            n,
            index,
            refs: Vec::new(),
            seen_refs: HashSet::new(),
            seen_ids: IdSet::default(),
            known,
            met: NumberBits::default(),
            seen_again: NumberBits::default(),
            convs: HashMap::new(),
            messages_seen: 0,
            messages_new: 0,
            messages_headers_only: 0,
            ledger,
            forgotten: 0,
        }
    }

    /// Takes one conversation chunk: its participants and names, and a
    /// record for each message new to the vault (or seen again here).
    pub fn take_chunk(&mut self, chunk: &ConversationChunk, pending: &mut Vec<Record>) {
        let group = chunk.kind == ConversationKind::Group;
        let n = self.n;
        let conv = self.gathered(chunk);
        for event in &chunk.events {
            note_participants(conv, event, group);
        }
        let messages = chunk.events.iter().filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        });
        let max_n = self.known.max_n();
        for m in messages {
            if self.ledger.has_message(&m.id) {
                self.forgotten += 1;
                continue;
            }
            match self.known.get(&m.id) {
                // Known only from a headers file: this one completes it (and
                // its record says this archive showed it, as a known id's
                // does: not in the seen ranges too).
                Some(k) if k.headers_only && self.met.insert(k.n, max_n) => {
                    pending.extend(self.ledger.admit(Record::Message(message_record(
                        m,
                        &chunk.conversation_id,
                        n,
                    ))));
                }
                None => {
                    if !self.seen_ids.insert(&m.id) {
                        continue;
                    }
                    self.messages_new += 1;
                    pending.extend(self.ledger.admit(Record::Message(message_record(
                        m,
                        &chunk.conversation_id,
                        n,
                    ))));
                }
                Some(k) => {
                    if !self.met.insert(k.n, max_n) {
                        continue;
                    }
                    if !k.in_archive {
                        self.seen_again.insert(k.n, max_n);
                    }
                }
            }
            self.messages_seen += 1;
            self.add_refs(m, group);
        }
    }

    /// Takes one conversation element of a headers file (read after the
    /// DM files): a message no DM file of the vault or archive had becomes
    /// a message without text, so that the orphan files named after it
    /// have a sender, a date and a conversation.
    pub fn take_header_chunk(&mut self, chunk: &ConversationChunk, pending: &mut Vec<Record>) {
        let max_n = self.known.max_n();
        let mut any = false;
        for m in chunk.events.iter().filter_map(Event::as_message) {
            if self.ledger.has_message(&m.id) {
                continue;
            }
            match self.known.get(&m.id) {
                None => {
                    if !self.seen_ids.insert(&m.id) {
                        continue;
                    }
                    let mut r = message_record(m, &chunk.conversation_id, self.n);
                    r.text = None;
                    r.headers_only = true;
                    pending.push(Record::Message(r));
                    self.messages_headers_only += 1;
                    any = true;
                }
                Some(k) => {
                    if self.met.insert(k.n, max_n) && !k.in_archive {
                        self.seen_again.insert(k.n, max_n);
                    }
                }
            }
        }
        if any {
            // Its participants and events, as a DM file's would be.
            let group = chunk.kind == ConversationKind::Group;
            let conv = self.gathered(chunk);
            for event in &chunk.events {
                note_participants(conv, event, group);
            }
        }
    }

    /// What this archive shows of the chunk's conversation, so far.
    fn gathered(&mut self, chunk: &ConversationChunk) -> &mut Gathered {
        let n = self.n;
        self.convs
            .entry(chunk.conversation_id.clone())
            .or_insert_with(|| Gathered {
                record: ConversationRecord {
                    id: chunk.conversation_id.clone(),
                    kind: chunk.kind,
                    archive: n,
                    participants: Vec::new(),
                    names: Vec::new(),
                    events: Vec::new(),
                },
                known: HashSet::new(),
            })
    }

    /// The record of the known messages the archive showed again.
    pub fn seen_record(&mut self) -> Option<Record> {
        let ranges = std::mem::take(&mut self.seen_again).ranges();
        (!ranges.is_empty()).then_some(Record::SeenRanges {
            archive: self.n,
            ranges,
        })
    }

    fn add_refs(&mut self, m: &Message, group: bool) {
        for (ordinal, url) in m.media_urls.iter().enumerate() {
            if !self.seen_refs.insert((m.id.clone(), url.clone())) {
                continue;
            }
            self.refs.push(RefTodo {
                message: m.id.clone(),
                url: url.clone(),
                ordinal: u32::try_from(ordinal).unwrap_or(u32::MAX),
                kind: MediaKind::from_url(url),
                file: self.index.resolve(&m.id, url, group).copied(),
            });
        }
    }

    /// Conversation records that add something to what the vault knows.
    pub fn conversation_records(&mut self, index: &Index) -> Result<Vec<Record>> {
        let n = self.n;
        let mut out = Vec::new();
        for c in std::mem::take(&mut self.convs)
            .into_values()
            .map(|g| g.record)
        {
            // A forgotten conversation stays forgotten; a forgotten person
            // is taken out of one that stays.
            let Some(Record::Conversation(mut c)) = self.ledger.admit(Record::Conversation(c))
            else {
                continue;
            };
            c.events.sort();
            c.events.dedup();
            let adds = match index.conversation(&c.id)? {
                None => true,
                Some(k) => {
                    !bits::has(&k.archives, n)
                        || c.participants.iter().any(|p| !k.participants.contains(p))
                        || c.names.iter().any(|x| !k.names.contains(x))
                        || c.events.iter().any(|x| !k.events.contains(x))
                }
            };
            if adds {
                out.push(Record::Conversation(c));
            }
        }
        Ok(out)
    }
}

/// A set of message numbers, one bit each (250 KB for 2 M).
#[derive(Default)]
struct NumberBits {
    words: Vec<u64>,
}

impl NumberBits {
    /// Adds `n`; true when it was not there. `max` (the largest number
    /// there can be) sizes the set once.
    fn insert(&mut self, n: u64, max: u64) -> bool {
        let word = usize::try_from(n / 64).unwrap_or(usize::MAX);
        if word >= self.words.len() {
            let words = max.max(n) / 64 + 1;
            self.words
                .resize(usize::try_from(words).unwrap_or(word.saturating_add(1)), 0);
        }
        let mask = 1 << (n % 64);
        let new = self.words[word] & mask == 0;
        self.words[word] |= mask;
        new
    }

    /// The numbers, as ranges (first, last), ascending.
    fn ranges(&self) -> Vec<(u64, u64)> {
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for (w, &bits) in (0u64..).zip(&self.words) {
            let mut rest = bits;
            while rest != 0 {
                let k = w * 64 + u64::from(rest.trailing_zeros());
                rest &= rest - 1;
                match ranges.last_mut() {
                    Some((_, end)) if *end + 1 == k => *end = k,
                    _ => ranges.push((k, k)),
                }
            }
        }
        ranges
    }
}

/// Adds who an event shows in the conversation, and a group's new name.
fn note_participants(conv: &mut Gathered, event: &Event, group: bool) {
    let Gathered { record, known } = conv;
    let mut add = |p: &str| {
        if known.insert(p.to_owned()) {
            record.participants.push(p.to_owned());
        }
    };
    for p in event.participant_ids() {
        add(p);
    }
    match event {
        Event::Message(m) if !group => {
            for p in m.recipient_id.iter().filter(|r| r.as_str() != "0") {
                add(p);
            }
        }
        Event::ConversationNameUpdate(g) => {
            if let Some(name) = &g.name {
                record.names.push(NameChange {
                    at: g.created_at,
                    name: name.clone(),
                    by: g.initiating_user_id.clone(),
                });
            }
        }
        _ => {}
    }
    record.events.extend(conversation_event(event));
}

/// The event as the log keeps it, for the kinds that are not messages or
/// renames.
fn conversation_event(event: &Event) -> Option<ConversationEvent> {
    let group = |kind, g: &GroupEvent, users: &[String]| ConversationEvent {
        kind,
        at: g.created_at,
        by: g.initiating_user_id.clone(),
        users: users.to_vec(),
        key: None,
        event_id: None,
        detail: None,
    };
    Some(match event {
        Event::JoinConversation(g) => {
            group(EventKind::JoinConversation, g, &g.participants_snapshot)
        }
        Event::ParticipantsJoin(g) => group(EventKind::ParticipantsJoin, g, &g.user_ids),
        Event::ParticipantsLeave(g) => group(EventKind::ParticipantsLeave, g, &g.user_ids),
        Event::Reaction(r) => ConversationEvent {
            kind: EventKind::Reaction,
            at: r.created_at,
            by: r.sender_id.clone(),
            users: Vec::new(),
            key: r.reaction_key.clone(),
            event_id: r.event_id.clone(),
            detail: None,
        },
        Event::Other { kind, value } => ConversationEvent {
            kind: EventKind::Other,
            // Every event type X has written carries `createdAt`.
            at: value
                .get("createdAt")
                .and_then(serde_json::Value::as_str)
                .and_then(crate::time::Timestamp::parse_created_at),
            by: None,
            users: Vec::new(),
            key: None,
            event_id: None,
            detail: Some(serde_json::json!({ kind: value }).to_string()),
        },
        Event::Message(_) | Event::ConversationNameUpdate(_) => return None,
    })
}

fn message_record(m: &Message, conversation: &str, n: ArchiveNo) -> MessageRecord {
    MessageRecord {
        id: m.id.clone(),
        conversation: conversation.to_owned(),
        sender: m.sender_id.clone(),
        recipient: m.recipient_id.clone(),
        created_at: m.created_at,
        text: m.text.clone(),
        welcome: m.welcome,
        headers_only: false,
        reactions: m.reactions.clone(),
        edits: m.edit_history.clone(),
        urls: m.urls.clone(),
        archive: n,
    }
}

#[cfg(test)]
mod tests {
    use super::NumberBits;

    #[test]
    fn number_bits_take_each_number_once_and_give_ranges() {
        let mut b = NumberBits::default();
        for n in [5, 6, 7, 64, 63, 200, 1] {
            assert!(b.insert(n, 100), "{n}");
        }
        assert!(!b.insert(6, 100));
        assert!(!b.insert(200, 100), "past the size given, still kept");
        assert_eq!(b.ranges(), vec![(1, 1), (5, 7), (63, 64), (200, 200)]);
        assert!(NumberBits::default().ranges().is_empty());
    }
}
