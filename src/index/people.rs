//! Names in the index: every sighting (`names`), the one shown for each
//! user (`people`, chosen again whenever a user's sightings change), and
//! the [`Directory`] that commands load once to put names on ids.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{sql_err, Index};
use crate::dm::ConversationKind;
use crate::error::Result;
use crate::people::{resolve, Chosen, NameSource, Sighting};
use crate::time::Timestamp;
use crate::vault::catalog::NameRecord;

/// Adds a sighting: a harvested one already known (same user, handle,
/// name, source, file and archive) widens its dates; the user's are all
/// kept, in order.
pub(super) fn add_sighting(tx: &Connection, r: &NameRecord) -> rusqlite::Result<()> {
    let count = i64::try_from(r.count).unwrap_or(i64::MAX);
    let (first, last) = (
        r.first_seen.map(Timestamp::millis),
        r.last_seen.map(Timestamp::millis),
    );
    if r.source != NameSource::User {
        let widened = tx
            .prepare_cached(
                "UPDATE names SET first_seen = coalesce(min(first_seen, ?1), first_seen, ?1),
                   last_seen = coalesce(max(last_seen, ?2), last_seen, ?2), count = count + ?3
                 WHERE user = ?4 AND handle IS ?5 AND display IS ?6 AND source = ?7
                   AND file IS ?8 AND archive IS ?9",
            )?
            .execute(params![
                first,
                last,
                count,
                r.user,
                r.handle,
                r.name,
                r.source.code(),
                r.file,
                r.archive
            ])?;
        if widened > 0 {
            return Ok(());
        }
    }
    tx.prepare_cached(
        "INSERT INTO names(user, handle, display, note, source, file, archive, first_seen,
           last_seen, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        r.user,
        r.handle,
        r.name,
        r.note,
        r.source.code(),
        r.file,
        r.archive,
        first,
        last,
        count
    ])?;
    Ok(())
}

/// Chooses again the handle and name shown for `user`.
pub(super) fn choose(tx: &Connection, user: &str) -> rusqlite::Result<()> {
    let sightings = sightings_of(tx, user)?;
    let r = resolve(&sightings);
    let part = |c: &Option<Chosen>| {
        c.as_ref().map_or((None, None, None), |c| {
            (
                Some(c.value.clone()),
                Some(c.source.code()),
                c.seen.map(Timestamp::millis),
            )
        })
    };
    let (h, hs, hseen) = part(&r.handle);
    let (n, ns, nseen) = part(&r.name);
    tx.prepare_cached("INSERT OR REPLACE INTO people VALUES (?, ?, ?, ?, ?, ?, ?, ?)")?
        .execute(params![user, h, hs, hseen, n, ns, nseen, r.note])?;
    Ok(())
}

fn sightings_of(conn: &Connection, user: &str) -> rusqlite::Result<Vec<Sighting>> {
    conn.prepare_cached(
        "SELECT handle, display, note, source, file, a.name, first_seen, last_seen, s.n
         FROM names s LEFT JOIN archives a ON a.n = s.archive WHERE user = ? ORDER BY s.n",
    )?
    .query_map([user], |r| {
        Ok(Sighting {
            handle: r.get(0)?,
            name: r.get(1)?,
            note: r.get(2)?,
            source: NameSource::from_code(r.get(3)?).unwrap_or(NameSource::Mention),
            file: r.get(4)?,
            archive: r.get(5)?,
            first_seen: r
                .get::<_, Option<i64>>(6)?
                .map(Timestamp::from_millis_clamped),
            last_seen: r
                .get::<_, Option<i64>>(7)?
                .map(Timestamp::from_millis_clamped),
            order: r.get(8)?,
        })
    })?
    .collect()
}

/// The handle and name shown for a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Shown {
    /// Handle, without `@`.
    pub handle: Option<String>,
    /// Display name.
    pub name: Option<String>,
}

impl Shown {
    /// `Name (@handle)`, `Name`, `@handle`, or `None` for nobody named.
    pub fn label(&self) -> Option<String> {
        match (&self.name, &self.handle) {
            (Some(n), Some(h)) => Some(format!("{n} (@{h})")),
            (Some(n), None) => Some(n.clone()),
            (None, Some(h)) => Some(format!("@{h}")),
            (None, None) => None,
        }
    }

    /// The name, else `@handle`.
    pub fn short(&self) -> Option<String> {
        self.name
            .clone()
            .or_else(|| self.handle.as_ref().map(|h| format!("@{h}")))
    }
}

/// Names for every id the vault knows, loaded once by a command.
#[derive(Debug, Default)]
pub struct Directory {
    people: HashMap<String, Shown>,
    conversations: HashMap<String, Option<String>>,
    owners: HashSet<String>,
}

impl Directory {
    /// Loads the names shown, the owners, and a name for each conversation:
    /// a group's latest name; a one-to-one conversation's other person.
    ///
    /// # Errors
    /// [`crate::Error::Index`] when the index cannot be read.
    pub fn load(index: &Index) -> Result<Directory> {
        let conn = index.conn();
        let q = || -> rusqlite::Result<Directory> {
            let mut d = Directory::default();
            let mut st = conn.prepare_cached("SELECT user, handle, name FROM people")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))?;
            for row in rows {
                let (user, handle, name) = row?;
                d.people.insert(user, Shown { handle, name });
            }
            let mut st = conn.prepare_cached(
                "SELECT DISTINCT account_id FROM archives WHERE account_id IS NOT NULL",
            )?;
            for o in st.query_map([], |r| r.get::<_, String>(0))? {
                d.owners.insert(o?);
            }
            let mut st = conn.prepare_cached(
                "SELECT c.id, c.kind, (SELECT name FROM conversation_names x
                   WHERE x.conversation = c.n ORDER BY x.at DESC, x.rowid DESC LIMIT 1)
                 FROM conversations c",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?;
            for row in rows {
                let (id, kind, group_name) = row?;
                let name = match kind.map(super::conversation_kind) {
                    Some(ConversationKind::Group) => {
                        group_name.map(|n| crate::dm::unescape_html(&n).into_owned())
                    }
                    _ => d.other_person(&id).and_then(|o| d.shown(o).short()),
                };
                d.conversations.insert(id, name);
            }
            Ok(d)
        };
        q().map_err(sql_err)
    }

    /// What is shown for `user` (nothing for an id nobody named).
    pub fn shown(&self, user: &str) -> Shown {
        self.people.get(user).cloned().unwrap_or_default()
    }

    /// `Name (@handle)`, or the id itself.
    pub fn label(&self, user: &str) -> String {
        self.shown(user).label().unwrap_or_else(|| user.to_owned())
    }

    /// The name, `@handle`, or the id.
    pub fn short(&self, user: &str) -> String {
        self.shown(user).short().unwrap_or_else(|| user.to_owned())
    }

    /// A conversation's name, when it has one.
    pub fn conversation_name(&self, conversation: &str) -> Option<&str> {
        self.conversations.get(conversation)?.as_deref()
    }

    /// The conversation's name, or its id.
    pub fn conversation_label<'a>(&'a self, conversation: &'a str) -> &'a str {
        self.conversation_name(conversation).unwrap_or(conversation)
    }

    /// True for the owner of an imported archive.
    pub fn is_owner(&self, user: &str) -> bool {
        self.owners.contains(user)
    }

    /// The other person of a one-to-one conversation `A-B`: the half that
    /// is not an owner (none when that is not clear).
    pub fn other_person<'a>(&self, conversation: &'a str) -> Option<&'a str> {
        let (a, b) = conversation.split_once('-')?;
        match (self.owners.contains(a), self.owners.contains(b)) {
            (true, false) => Some(b),
            (false, true) => Some(a),
            (true, true) if a == b => Some(a),
            _ => None,
        }
    }

    /// Conversations whose id is `query`, or whose name, or whose other
    /// person's handle or name, is `query` (case-insensitive; a leading `@`
    /// matches handles only).
    pub fn find_conversations(&self, query: &str) -> Vec<String> {
        if self.conversations.contains_key(query) {
            return vec![query.to_owned()];
        }
        let q = query.trim();
        let (handle_only, q) = match q.strip_prefix('@') {
            Some(h) => (true, h),
            None => (false, q),
        };
        let mut out: Vec<String> = self
            .conversations
            .iter()
            .filter(|(id, name)| {
                if self.other_person(id) == Some(q) {
                    return true;
                }
                let other = self.other_person(id).map(|o| self.shown(o));
                let by_handle = other
                    .as_ref()
                    .and_then(|s| s.handle.as_deref())
                    .is_some_and(|h| h.eq_ignore_ascii_case(q));
                let by_name = !handle_only
                    && (name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(q))
                        || other
                            .as_ref()
                            .and_then(|s| s.name.as_deref())
                            .is_some_and(|n| n.eq_ignore_ascii_case(q)));
                by_handle || by_name
            })
            .map(|(id, _)| id.clone())
            .collect();
        out.sort();
        out
    }

    /// User ids whose id, handle or name is `query` (as
    /// [`Directory::find_conversations`]).
    pub fn find_users(&self, query: &str) -> Vec<String> {
        let q = query.trim();
        if crate::people::clean_user_id(q).is_some() {
            return vec![q.to_owned()];
        }
        let (handle_only, q) = match q.strip_prefix('@') {
            Some(h) => (true, h),
            None => (false, q),
        };
        let mut out: Vec<String> = self
            .people
            .iter()
            .filter(|(_, s)| {
                s.handle
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(q))
                    || (!handle_only
                        && s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(q)))
            })
            .map(|(id, _)| id.clone())
            .collect();
        out.sort();
        out
    }
}

/// A participant, as `dmvault people` lists them.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    /// The user id.
    pub user_id: String,
    /// The handle shown, its source and when it was last seen.
    pub handle: Option<Chosen>,
    /// The display name shown, likewise.
    pub name: Option<Chosen>,
    /// The user's note.
    pub note: Option<String>,
    /// The owner of an imported archive.
    pub owner: bool,
    /// Messages they sent.
    pub messages_sent: u64,
    /// Media references of the messages they sent.
    pub media_sent: u64,
    /// The conversations they are in.
    pub conversations: Vec<String>,
    /// Every sighting of a handle or name, in the log's order.
    pub sightings: Vec<Sighting>,
}

impl Index {
    /// Every participant (senders, recipients, members of conversations),
    /// with what is shown for them and their figures, by messages sent.
    ///
    /// # Errors
    /// [`crate::Error::Index`] when the index cannot be read.
    pub fn people(&self) -> Result<Vec<Person>> {
        let conn = self.conn();
        let q = || -> rusqlite::Result<Vec<Person>> {
            let owners: HashSet<String> = conn
                .prepare_cached(
                    "SELECT DISTINCT account_id FROM archives WHERE account_id IS NOT NULL",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut by_user: BTreeMap<i64, (String, u64, u64, Vec<String>)> = BTreeMap::new();
            let mut st = conn.prepare_cached(
                "SELECT u.n, u.id, c.id FROM participants p JOIN users u ON u.n = p.user
                 JOIN conversations c ON c.n = p.conversation ORDER BY c.id",
            )?;
            for row in st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))? {
                let (n, id, conv): (i64, String, String) = row?;
                by_user
                    .entry(n)
                    .or_insert((id, 0, 0, Vec::new()))
                    .3
                    .push(conv);
            }
            // Counted here from a scan of the covering index: a GROUP BY
            // would sort millions of rows.
            let mut sent: HashMap<i64, u64> = HashMap::new();
            let mut st =
                conn.prepare_cached("SELECT sender FROM messages INDEXED BY messages_by_n")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                if let Some(s) = r.get::<_, Option<i64>>(0)? {
                    *sent.entry(s).or_default() += 1;
                }
            }
            drop(rows);
            let mut st = conn.prepare_cached("SELECT n, id FROM users")?;
            for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
                let (n, id) = row?;
                if let Some(&count) = sent.get(&n) {
                    by_user.entry(n).or_insert((id, 0, 0, Vec::new())).1 = count;
                }
            }
            let mut st = conn.prepare_cached(
                "SELECT msg.sender, count(*) FROM media m
                 JOIN messages msg ON msg.id = msg_key(m.message)
                 WHERE msg.sender IS NOT NULL GROUP BY msg.sender",
            )?;
            for row in st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
                let (n, count): (i64, i64) = row?;
                if let Some(e) = by_user.get_mut(&n) {
                    e.2 = u64::try_from(count).unwrap_or(0);
                }
            }
            let mut out = Vec::with_capacity(by_user.len());
            for (_, (user_id, messages_sent, media_sent, conversations)) in by_user {
                let sightings = sightings_of(&conn, &user_id)?;
                let r = resolve(&sightings);
                out.push(Person {
                    owner: owners.contains(&user_id),
                    user_id,
                    handle: r.handle,
                    name: r.name,
                    note: r.note,
                    messages_sent,
                    media_sent,
                    conversations,
                    sightings,
                });
            }
            out.sort_by(|a, b| {
                b.messages_sent
                    .cmp(&a.messages_sent)
                    .then_with(|| a.user_id.cmp(&b.user_id))
            });
            Ok(out)
        };
        q().map_err(sql_err)
    }

    /// The user ids the sightings give `handle` (case-insensitive), the
    /// most recently seen first.
    ///
    /// # Errors
    /// [`crate::Error::Index`] when the index cannot be read.
    pub fn users_with_handle(&self, handle: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let q = || -> rusqlite::Result<Vec<String>> {
            conn.prepare_cached(
                "SELECT user FROM names WHERE handle = ? COLLATE NOCASE
                 GROUP BY user ORDER BY max(coalesce(last_seen, 0)) DESC",
            )?
            .query_map([handle], |r| r.get(0))?
            .collect()
        };
        q().map_err(sql_err)
    }

    /// True when the index already has this harvested sighting, its dates
    /// included (an interrupted import run again adds nothing twice).
    ///
    /// # Errors
    /// [`crate::Error::Index`] when the index cannot be read.
    pub fn has_sighting(&self, r: &NameRecord) -> Result<bool> {
        let conn = self.conn();
        conn.prepare_cached(
            "SELECT 1 FROM names WHERE user = ? AND handle IS ? AND display IS ? AND source = ?
               AND file IS ? AND archive IS ? AND (? IS NULL OR first_seen <= ?)
               AND (? IS NULL OR last_seen >= ?)",
        )
        .and_then(|mut st| {
            let (f, l) = (
                r.first_seen.map(Timestamp::millis),
                r.last_seen.map(Timestamp::millis),
            );
            st.query_row(
                params![
                    r.user,
                    r.handle,
                    r.name,
                    r.source.code(),
                    r.file,
                    r.archive,
                    f,
                    f,
                    l,
                    l
                ],
                |_| Ok(()),
            )
            .optional()
        })
        .map(|o| o.is_some())
        .map_err(sql_err)
    }

    /// True when the user's latest values for this person are already
    /// those `r` gives (setting them again changes nothing).
    ///
    /// # Errors
    /// [`crate::Error::Index`] when the index cannot be read.
    pub fn user_names_unchanged(&self, r: &NameRecord) -> Result<bool> {
        let conn = self.conn();
        let sightings = sightings_of(&conn, &r.user).map_err(sql_err)?;
        let latest = |get: fn(&Sighting) -> Option<&String>| {
            sightings
                .iter()
                .filter(|s| s.source == NameSource::User && get(s).is_some())
                .max_by_key(|s| s.order)
                .and_then(|s| get(s).cloned())
        };
        let same = |given: &Option<String>, get: fn(&Sighting) -> Option<&String>| {
            given.is_none() || *given == latest(get)
        };
        Ok(same(&r.handle, |s| s.handle.as_ref())
            && same(&r.name, |s| s.name.as_ref())
            && same(&r.note, |s| s.note.as_ref()))
    }
}
