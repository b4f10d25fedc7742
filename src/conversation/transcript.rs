//! A conversation's transcript: its messages and events in time order.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{reaction_emoji, read_message, MessageView, MESSAGE_COLUMNS, MESSAGE_JOINS};
use crate::dm::{unescape_html, ConversationKind};
use crate::error::{Error, Result};
use crate::index::msgid::MsgId;
use crate::index::people::Directory;
use crate::index::{sql_err, Index};
use crate::time::Timestamp;
use crate::vault::catalog::EventKind;

/// What part of a conversation to show.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Range {
    /// From this time on.
    pub since: Option<Timestamp>,
    /// Before this time.
    pub until: Option<Timestamp>,
    /// Only the messages around this one (by id).
    pub around: Option<String>,
    /// How many messages before and after `around` (default 10).
    pub context: Option<u32>,
}

impl Range {
    /// Sets `since`.
    pub fn since(mut self, t: Option<Timestamp>) -> Self {
        self.since = t;
        self
    }
    /// Sets `until`.
    pub fn until(mut self, t: Option<Timestamp>) -> Self {
        self.until = t;
        self
    }
    /// Sets `around`.
    pub fn around(mut self, id: Option<String>) -> Self {
        self.around = id;
        self
    }
}

/// A person, by id, with what is shown for them.
#[derive(Debug, Clone, Serialize)]
pub struct PersonRef {
    /// The user id.
    pub user_id: String,
    /// Handle, when anyone named them.
    pub handle: Option<String>,
    /// Display name, likewise.
    pub name: Option<String>,
}

impl PersonRef {
    /// A person with what the directory shows for them.
    pub fn of(dir: &Directory, id: &str) -> PersonRef {
        let s = dir.shown(id);
        PersonRef {
            user_id: id.to_owned(),
            handle: s.handle,
            name: s.name,
        }
    }
}

/// A conversation's facts, before its transcript.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationInfo {
    /// Its id.
    pub conversation_id: String,
    /// Its name, when it has one.
    pub conversation_name: Option<String>,
    /// `one_to_one` or `group`.
    pub conversation_kind: Option<ConversationKind>,
    /// Everyone seen in it.
    pub participants: Vec<PersonRef>,
    /// Messages it holds (all of them, not only those shown).
    pub messages: u64,
}

/// Something that happened in a conversation other than a message.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    /// `join_conversation`, `participants_join`, `participants_leave`,
    /// `rename`, `reaction` (2020 archives) or `other`.
    pub kind: &'static str,
    /// When.
    pub at: Option<Timestamp>,
    /// Who did it.
    pub by: Option<PersonRef>,
    /// Who joined or left (for `join_conversation`: the members then).
    pub users: Vec<PersonRef>,
    /// A group's new name.
    pub name: Option<String>,
    /// A reaction's key, and its emoji.
    pub key: Option<String>,
    /// The emoji X shows for the key.
    pub emoji: Option<&'static str>,
    /// An unknown event's type and JSON.
    pub detail: Option<String>,
}

/// One line of a transcript.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "item", rename_all = "snake_case")]
pub enum Item {
    /// A message.
    Message(MessageView),
    /// An event.
    Event(EventView),
}

/// Calls `f` with every message and event of `conversation` in `range`,
/// in time order (events with no time first).
///
/// # Errors
/// [`Error::Invalid`] when the `around` message is not in the
/// conversation; [`Error::Index`]; what `f` returns.
pub fn transcript(
    index: &Index,
    dir: &Directory,
    conversation: &str,
    range: &Range,
    mut f: impl FnMut(Item) -> Result<()>,
) -> Result<()> {
    let (since, until) = bounds(index, conversation, range)?;
    let mut events = events(index, dir, conversation, since, until)?
        .into_iter()
        .peekable();
    let conn = index.conn();
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m {MESSAGE_JOINS}
             WHERE c.id = ?1 AND m.created_at >= ?2 AND m.created_at < ?3
             ORDER BY m.created_at, m.n"
        ))
        .map_err(sql_err)?;
    let mut rows = st
        .query(params![conversation, since, until])
        .map_err(sql_err)?;
    while let Some(r) = rows.next().map_err(sql_err)? {
        let m = read_message(r, 0, dir).map_err(sql_err)?;
        while let Some(e) = events.next_if(|e| e.at.is_none_or(|t| t <= m.created_at)) {
            f(Item::Event(e))?;
        }
        f(Item::Message(m))?;
    }
    for e in events {
        f(Item::Event(e))?;
    }
    Ok(())
}

/// A conversation's facts: name, kind, participants, messages.
///
/// # Errors
/// [`Error::Invalid`] when the vault holds no such conversation;
/// [`Error::Index`].
pub fn info(index: &Index, dir: &Directory, conversation: &str) -> Result<ConversationInfo> {
    let state = index.conversation(conversation)?.ok_or_else(|| {
        Error::Invalid(format!(
            "the vault holds no conversation {conversation:?}; `dmvault ls` and `dmvault people` show the conversations"
        ))
    })?;
    let conn = index.conn();
    let messages: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM messages WHERE conversation =
               (SELECT n FROM conversations WHERE id = ?)",
        )
        .and_then(|mut st| st.query_row([conversation], |r| r.get(0)))
        .map_err(sql_err)?;
    Ok(ConversationInfo {
        conversation_id: conversation.to_owned(),
        conversation_name: dir.conversation_name(conversation).map(str::to_owned),
        conversation_kind: state.kind,
        participants: state
            .participants
            .iter()
            .map(|p| PersonRef::of(dir, p))
            .collect(),
        messages: u64::try_from(messages).unwrap_or(0),
    })
}

/// The times to show, `[since, until)` in milliseconds: the range given,
/// or the `context` messages on each side of `around`.
fn bounds(index: &Index, conversation: &str, range: &Range) -> Result<(i64, i64)> {
    let mut since = range.since.map_or(i64::MIN, Timestamp::millis);
    let mut until = range.until.map_or(i64::MAX, Timestamp::millis);
    let Some(around) = &range.around else {
        return Ok((since, until));
    };
    let conn = index.conn();
    let q = || -> rusqlite::Result<Option<(i64, i64, i64)>> {
        let Some(t) = conn
            .prepare_cached(
                "SELECT m.created_at FROM messages m JOIN conversations c ON c.n = m.conversation
                 WHERE m.id = ? AND c.id = ?",
            )?
            .query_row(params![MsgId(around), conversation], |r| r.get::<_, i64>(0))
            .optional()?
        else {
            return Ok(None);
        };
        let context = i64::from(range.context.unwrap_or(10));
        let edge = |sql: &str| -> rusqlite::Result<Option<i64>> {
            conn.prepare_cached(sql)?
                .query_row(params![conversation, t, context], |r| r.get(0))
                .optional()
        };
        let lo = edge(
            "SELECT created_at FROM messages WHERE conversation =
               (SELECT n FROM conversations WHERE id = ?1) AND created_at <= ?2
             ORDER BY created_at DESC LIMIT 1 OFFSET ?3",
        )?;
        let hi = edge(
            "SELECT created_at FROM messages WHERE conversation =
               (SELECT n FROM conversations WHERE id = ?1) AND created_at >= ?2
             ORDER BY created_at LIMIT 1 OFFSET ?3",
        )?;
        Ok(Some((
            t,
            lo.unwrap_or(i64::MIN),
            hi.map_or(i64::MAX, |h| h + 1),
        )))
    };
    match q().map_err(sql_err)? {
        Some((_, lo, hi)) => {
            since = since.max(lo);
            until = until.min(hi);
            Ok((since, until))
        }
        None => Err(Error::Invalid(format!(
            "conversation {conversation} holds no message {around:?}"
        ))),
    }
}

/// The conversation's events and renames in the range (`since`, `until`;
/// `around` is not taken), by time.
///
/// # Errors
/// [`Error::Index`].
pub fn events_in(
    index: &Index,
    dir: &Directory,
    conversation: &str,
    range: &Range,
) -> Result<Vec<EventView>> {
    events(
        index,
        dir,
        conversation,
        range.since.map_or(i64::MIN, Timestamp::millis),
        range.until.map_or(i64::MAX, Timestamp::millis),
    )
}

/// The conversation's events and renames in `[since, until)`, by time.
fn events(
    index: &Index,
    dir: &Directory,
    conversation: &str,
    since: i64,
    until: i64,
) -> Result<Vec<EventView>> {
    let Some(state) = index.conversation(conversation)? else {
        return Ok(Vec::new());
    };
    let within = |t: Option<Timestamp>| {
        t.is_none_or(|t| (since..until).contains(&t.millis())) && (t.is_some() || since == i64::MIN)
    };
    let person = |id: &Option<String>| id.as_deref().map(|u| PersonRef::of(dir, u));
    let mut out: Vec<EventView> = state
        .events
        .iter()
        .filter(|e| within(e.at))
        .map(|e| EventView {
            kind: e.kind.as_str(),
            at: e.at,
            by: person(&e.by),
            users: e.users.iter().map(|u| PersonRef::of(dir, u)).collect(),
            name: None,
            emoji: (e.kind == EventKind::Reaction)
                .then(|| e.key.as_deref().and_then(reaction_emoji))
                .flatten(),
            key: e.key.clone(),
            detail: e.detail.clone(),
        })
        .collect();
    out.extend(
        state
            .names
            .iter()
            .filter(|n| within(n.at))
            .map(|n| EventView {
                kind: "rename",
                at: n.at,
                by: person(&n.by),
                users: Vec::new(),
                name: Some(unescape_html(&n.name).into_owned()),
                key: None,
                emoji: None,
                detail: None,
            }),
    );
    out.sort_by_key(|e| e.at);
    Ok(out)
}
