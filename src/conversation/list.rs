//! What a viewer lists: every conversation with its figures, a page of one
//! conversation's messages, its months, and the media of the vault.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::transcript::{PersonRef, Range};
use super::{read_message, MessageView, MESSAGE_COLUMNS, MESSAGE_JOINS};
use crate::dm::ConversationKind;
use crate::error::{Error, Result};
use crate::index::msgid::MsgId;
use crate::index::people::Directory;
use crate::index::{conversation_kind, sql_err, Index};
use crate::time::Timestamp;

/// A conversation in the list.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationSummary {
    /// Its id.
    pub id: String,
    /// Its name, when it has one.
    pub name: Option<String>,
    /// `one_to_one` or `group`.
    pub kind: Option<ConversationKind>,
    /// Everyone seen in it, with their names.
    pub participants: Vec<PersonRef>,
    /// Messages it holds.
    pub messages: u64,
    /// Media references of its messages.
    pub media: u64,
    /// Its first message's time.
    pub first: Option<Timestamp>,
    /// Its last message's time.
    pub last: Option<Timestamp>,
}

/// Every conversation, the most recent first.
///
/// # Errors
/// [`Error::Index`].
pub fn conversations(index: &Index, dir: &Directory) -> Result<Vec<ConversationSummary>> {
    let conn = index.conn();
    let q = || -> rusqlite::Result<Vec<ConversationSummary>> {
        let mut figures: HashMap<i64, (u64, i64, i64)> = HashMap::new();
        let mut st = conn.prepare_cached(
            "SELECT conversation, count(*), min(created_at), max(created_at) FROM messages
             GROUP BY conversation",
        )?;
        for row in st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))? {
            let (c, n, lo, hi): (i64, i64, i64, i64) = row?;
            figures.insert(c, (u64::try_from(n).unwrap_or(0), lo, hi));
        }
        let mut media: HashMap<i64, u64> = HashMap::new();
        let mut st = conn.prepare_cached(
            "SELECT msg.conversation, count(*) FROM media m
             JOIN messages msg ON msg.id = msg_key(m.message) GROUP BY 1",
        )?;
        for row in st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
            let (c, n): (i64, i64) = row?;
            media.insert(c, u64::try_from(n).unwrap_or(0));
        }
        let mut members: HashMap<i64, Vec<String>> = HashMap::new();
        let mut st = conn.prepare_cached(
            "SELECT p.conversation, u.id FROM participants p JOIN users u ON u.n = p.user",
        )?;
        for row in st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
            let (c, u): (i64, String) = row?;
            members.entry(c).or_default().push(u);
        }
        let mut out = Vec::new();
        let mut st = conn.prepare_cached("SELECT n, id, kind FROM conversations")?;
        for row in st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })? {
            let (n, id, kind) = row?;
            let (messages, first, last) = figures.get(&n).copied().unwrap_or_default();
            out.push(ConversationSummary {
                name: dir.conversation_name(&id).map(str::to_owned),
                participants: members
                    .remove(&n)
                    .unwrap_or_default()
                    .iter()
                    .map(|u| PersonRef::of(dir, u))
                    .collect(),
                id,
                kind: kind.map(conversation_kind),
                messages,
                media: media.get(&n).copied().unwrap_or(0),
                first: (messages > 0).then(|| Timestamp::from_millis_clamped(first)),
                last: (messages > 0).then(|| Timestamp::from_millis_clamped(last)),
            });
        }
        out.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    };
    q().map_err(sql_err)
}

/// A month of a conversation: how many messages, and the first of them.
#[derive(Debug, Clone, Serialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Messages sent that month.
    pub messages: u64,
    /// The first of them (to jump to).
    pub first_id: String,
}

/// The months a conversation has messages in, oldest first.
///
/// # Errors
/// [`Error::Index`].
pub fn months(index: &Index, conversation: &str) -> Result<Vec<Month>> {
    let conn = index.conn();
    conn.prepare_cached(
        "WITH conv AS (SELECT n FROM conversations WHERE id = ?1),
         mo AS (SELECT strftime('%Y-%m', created_at / 1000, 'unixepoch') AS ym,
             count(*) AS messages, min(created_at) AS t
           FROM messages WHERE conversation = (SELECT n FROM conv) GROUP BY ym)
         SELECT ym, messages, (SELECT CAST(x.id AS TEXT) FROM messages x
             WHERE x.conversation = (SELECT n FROM conv) AND x.created_at = mo.t
             ORDER BY x.n LIMIT 1)
         FROM mo ORDER BY ym",
    )
    .and_then(|mut st| {
        st.query_map([conversation], |r| {
            Ok(Month {
                month: r.get(0)?,
                messages: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                first_id: r.get(2)?,
            })
        })?
        .collect()
    })
    .map_err(sql_err)
}

/// Where a page of a conversation starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// The newest messages.
    Latest,
    /// The oldest messages.
    First,
    /// The messages before this one (by id), newest of them last.
    Before(String),
    /// The messages after this one.
    After(String),
    /// This message in the middle.
    Around(String),
}

/// A page of a conversation's messages, oldest first, with the events
/// among them.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// Messages and events, in time order.
    pub items: Vec<super::transcript::Item>,
    /// There are older messages (ask `before` the first).
    pub more_before: bool,
    /// There are newer messages (ask `after` the last).
    pub more_after: bool,
}

/// A page of at most `limit` messages of `conversation`.
///
/// Keyset paging on (time, number), so a page of a conversation of
/// 100,000 messages costs what a page of a short one does.
///
/// # Errors
/// [`Error::Invalid`] when an anchor message is not in the conversation;
/// [`Error::Index`].
pub fn page(
    index: &Index,
    dir: &Directory,
    conversation: &str,
    anchor: &Anchor,
    limit: u32,
) -> Result<Page> {
    let limit = i64::from(limit.clamp(1, 1000));
    let half = limit / 2;
    let key = |id: &str| position(index, conversation, id);
    let get = |from, side: Side, n: i64| messages_from(index, dir, conversation, from, side, n + 1);
    // Each side asks one more than it shows, to know whether there is more.
    let (older, newer, want_older, want_newer) = match anchor {
        Anchor::Latest => (get(None, Side::Older, limit)?, Vec::new(), limit, 0),
        Anchor::First => (Vec::new(), get(None, Side::Newer, limit)?, 0, limit),
        Anchor::Before(id) => (
            get(Some(key(id)?), Side::Older, limit)?,
            Vec::new(),
            limit,
            -1,
        ),
        Anchor::After(id) => (
            Vec::new(),
            get(Some(key(id)?), Side::Newer, limit)?,
            -1,
            limit,
        ),
        Anchor::Around(id) => {
            let at = key(id)?;
            let older = get(Some(at), Side::Older, half)?;
            (
                older,
                get(Some(at), Side::NewerFrom, limit - half)?,
                half,
                limit - half,
            )
        }
    };
    // -1: the anchor itself lies on that side.
    let more = |got: &Vec<MessageView>, want: i64| want < 0 || got.len() as i64 > want;
    let (more_before, more_after) = (more(&older, want_older), more(&newer, want_newer));
    let mut messages: Vec<MessageView> = older
        .into_iter()
        .take(usize::try_from(want_older.max(0)).unwrap_or(0))
        .collect();
    messages.reverse();
    messages.extend(
        newer
            .into_iter()
            .take(usize::try_from(want_newer.max(0)).unwrap_or(0)),
    );
    let items = with_events(index, dir, conversation, messages, more_before, more_after)?;
    Ok(Page {
        items,
        more_before,
        more_after,
    })
}

/// Which messages [`messages_from`] reads, from a (time, number).
#[derive(Clone, Copy)]
enum Side {
    /// Before it, newest first.
    Older,
    /// After it, oldest first.
    Newer,
    /// From it on (itself included), oldest first.
    NewerFrom,
}

/// (time, number) of a message of the conversation.
fn position(index: &Index, conversation: &str, id: &str) -> Result<(i64, i64)> {
    let conn = index.conn();
    conn.prepare_cached(
        "SELECT m.created_at, m.n FROM messages m JOIN conversations c ON c.n = m.conversation
         WHERE m.id = ? AND c.id = ?",
    )
    .and_then(|mut st| {
        st.query_row(params![MsgId(id), conversation], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
    })
    .map_err(sql_err)?
    .ok_or_else(|| {
        Error::Invalid(format!(
            "conversation {conversation} holds no message {id:?}"
        ))
    })
}

/// Up to `limit` messages on one `side` of `from` (from the newest or the
/// oldest when there is no `from`).
fn messages_from(
    index: &Index,
    dir: &Directory,
    conversation: &str,
    from: Option<(i64, i64)>,
    side: Side,
    limit: i64,
) -> Result<Vec<MessageView>> {
    let (cmp, order, edge) = match side {
        Side::Older => ("<", "DESC", (i64::MAX, i64::MAX)),
        Side::Newer => (">", "ASC", (i64::MIN, i64::MIN)),
        Side::NewerFrom => (">=", "ASC", (i64::MIN, i64::MIN)),
    };
    let (t, n) = from.unwrap_or(edge);
    let conn = index.conn();
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m {MESSAGE_JOINS}
         WHERE c.id = ?1 AND (m.created_at, m.n) {cmp} (?2, ?3)
         ORDER BY m.created_at {order}, m.n {order} LIMIT ?4"
    );
    let mut st = conn.prepare_cached(&sql).map_err(sql_err)?;
    let rows = st
        .query_map(params![conversation, t, n, limit], |r| {
            read_message(r, 0, dir)
        })
        .map_err(sql_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
}

/// The page's messages with the conversation's events between them (and
/// before the first or after the last when the page is the conversation's
/// start or end).
fn with_events(
    index: &Index,
    dir: &Directory,
    conversation: &str,
    messages: Vec<MessageView>,
    more_before: bool,
    more_after: bool,
) -> Result<Vec<super::transcript::Item>> {
    use super::transcript::Item;
    let since = match (more_before, messages.first()) {
        (true, Some(m)) => Some(m.created_at),
        _ => None,
    };
    let until = match (more_after, messages.last()) {
        (true, Some(m)) => Some(Timestamp::from_millis_clamped(m.created_at.millis() + 1)),
        _ => None,
    };
    let range = Range::default().since(since).until(until);
    let mut events = super::transcript::events_in(index, dir, conversation, &range)?
        .into_iter()
        .peekable();
    let mut items = Vec::with_capacity(messages.len());
    for m in messages {
        while let Some(e) = events.next_if(|e| e.at.is_none_or(|t| t <= m.created_at)) {
            items.push(Item::Event(e));
        }
        items.push(Item::Message(m));
    }
    items.extend(events.map(Item::Event));
    Ok(items)
}
