//! What forgetting a conversation, a person or a message takes away: the
//! plan that [`crate::forget`] carries out by compacting the catalog.
//!
//! The scope, from the index:
//!
//! - a **conversation**: its messages, and the conversation itself;
//! - a **person**: the messages they sent, everywhere, and their one-to-one
//!   conversations whole; their name sightings;
//! - a **message**: that message.
//!
//! With the messages go their media references and the orphan files named
//! after them. A content (object) goes only when nothing kept uses it: no
//! kept reference and no kept orphan; a content another, kept message also
//! uses stays. A poster goes with the last content that shows it.

use std::collections::HashSet;

use rusqlite::{params, Connection};
use serde::Serialize;

use super::msgid::MsgId;
use super::{sql_err, Index};
use crate::error::{Error, Result};
use crate::vault::store::ObjectId;

/// What to forget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forget {
    /// A conversation, by id.
    Conversation(String),
    /// A person, by user id.
    Person(String),
    /// A message, by id.
    Message(String),
}

/// What forgetting would take away.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ForgetPlan {
    /// Conversations that go whole.
    pub conversations: Vec<String>,
    /// The messages that go, by id.
    pub messages: Vec<String>,
    /// Their media references.
    pub references: u64,
    /// Orphan files named after them.
    pub orphans: u64,
    /// Contents nothing kept uses: their objects are deleted.
    #[serde(skip)]
    pub objects: Vec<ObjectId>,
    /// Posters of those contents that no kept content shares.
    #[serde(skip)]
    pub posters: Vec<ObjectId>,
    /// How many contents are deleted.
    pub contents_deleted: u64,
    /// Their plaintext bytes.
    pub bytes_deleted: u64,
    /// Contents a kept message also uses: they stay.
    pub contents_shared: u64,
    /// Name sightings of a forgotten person.
    pub names: u64,
    /// Reactions a forgotten person made to messages that stay.
    pub reactions: u64,
    /// Group events a forgotten person made or was alone in (they go, or
    /// lose the person).
    pub events: u64,
    /// The messages' numbers in the index (the log's order), ascending.
    #[serde(skip)]
    pub numbers: Vec<u64>,
    /// The deleted contents' BLAKE3.
    #[serde(skip)]
    pub contents: Vec<[u8; 32]>,
}

/// The one-to-one kind's number in the index.
const ONE_TO_ONE: i64 = 1;

impl Index {
    /// What forgetting `what` would take away; the index is not changed.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the vault holds no such conversation,
    /// person or message; [`Error::Index`] when the index cannot be read.
    pub fn forget_plan(&self, what: &Forget) -> Result<ForgetPlan> {
        let conn = self.conn();
        conn.execute_batch(SCRATCH).map_err(sql_err)?;
        let plan = select(&conn, what).and_then(|()| plan(&conn, what));
        let _ = conn.execute_batch(DROP_SCRATCH);
        plan
    }
}

/// Scratch tables (in memory: `temp_store=MEMORY`).
const SCRATCH: &str = "
CREATE TEMP TABLE IF NOT EXISTS f_msg(n INTEGER PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS f_media(n INTEGER PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS f_orphan(n INTEGER PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS f_object(id BLOB PRIMARY KEY);
DELETE FROM f_msg; DELETE FROM f_media; DELETE FROM f_orphan; DELETE FROM f_object;";

const DROP_SCRATCH: &str = "
DROP TABLE IF EXISTS temp.f_msg; DROP TABLE IF EXISTS temp.f_media;
DROP TABLE IF EXISTS temp.f_orphan; DROP TABLE IF EXISTS temp.f_object;";

/// Fills `f_msg` with the messages `what` names.
fn select(conn: &Connection, what: &Forget) -> Result<()> {
    let (sql, id, none) = match what {
        Forget::Conversation(id) => (
            "INSERT INTO f_msg SELECT m.n FROM messages m
               JOIN conversations c ON c.n = m.conversation WHERE c.id = ?1",
            id,
            "no conversation",
        ),
        Forget::Person(id) => (
            "INSERT INTO f_msg SELECT m.n FROM messages m, users u WHERE u.id = ?1
               AND (m.sender = u.n OR m.conversation IN (
                 SELECT c.n FROM conversations c JOIN participants p ON p.conversation = c.n
                  WHERE c.kind = ?2 AND p.user = u.n))",
            id,
            "no person",
        ),
        Forget::Message(id) => (
            "INSERT INTO f_msg SELECT n FROM messages WHERE id = ?1",
            id,
            "no message",
        ),
    };
    let known = match what {
        Forget::Conversation(id) => exists(conn, "SELECT 1 FROM conversations WHERE id = ?", id)?,
        Forget::Person(id) => exists(conn, "SELECT 1 FROM users WHERE id = ?", id)?,
        Forget::Message(id) => {
            conn.query_row(
                "SELECT count(*) FROM messages WHERE id = ?",
                [MsgId(id)],
                |r| r.get::<_, i64>(0),
            )
            .map_err(sql_err)?
                > 0
        }
    };
    if !known {
        return Err(Error::Invalid(format!(
            "{none} {id} in this vault; `dmvault ls` and `dmvault people` show what it holds"
        )));
    }
    let inserted = match what {
        Forget::Person(_) => conn.execute(sql, params![id, ONE_TO_ONE]),
        Forget::Message(_) => conn.execute(sql, [MsgId(id)]),
        Forget::Conversation(_) => conn.execute(sql, [id]),
    };
    inserted.map(|_| ()).map_err(sql_err)
}

fn exists(conn: &Connection, sql: &str, id: &str) -> Result<bool> {
    conn.query_row(&format!("SELECT EXISTS({sql})"), [id], |r| r.get(0))
        .map_err(sql_err)
}

/// The references, orphans and contents that go with `f_msg`.
fn plan(conn: &Connection, what: &Forget) -> Result<ForgetPlan> {
    conn.execute_batch(
        "INSERT INTO f_media SELECT m.n FROM media m
           JOIN messages g ON g.id = msg_key(m.message) JOIN f_msg f ON f.n = g.n;
         INSERT INTO f_orphan SELECT o.n FROM orphans o
           JOIN messages g ON g.id = msg_key(o.prefix) JOIN f_msg f ON f.n = g.n;
         INSERT OR IGNORE INTO f_object
           SELECT object FROM media WHERE n IN (SELECT n FROM f_media) AND object IS NOT NULL
           UNION SELECT object FROM orphans WHERE n IN (SELECT n FROM f_orphan);",
    )
    .map_err(sql_err)?;
    let candidates = count(conn, "SELECT count(*) FROM f_object")?;
    // A content a kept reference or orphan uses stays.
    conn.execute_batch(
        "DELETE FROM f_object WHERE
           EXISTS (SELECT 1 FROM media m WHERE m.object = f_object.id
                    AND m.n NOT IN (SELECT n FROM f_media))
           OR EXISTS (SELECT 1 FROM orphans o WHERE o.object = f_object.id
                    AND o.n NOT IN (SELECT n FROM f_orphan));",
    )
    .map_err(sql_err)?;
    let objects = ids(conn, "SELECT id FROM f_object ORDER BY id")?;
    let posters = ids(
        conn,
        "SELECT DISTINCT p.object FROM posters p WHERE p.of IN (SELECT id FROM f_object)
           AND NOT EXISTS (SELECT 1 FROM posters q WHERE q.object = p.object
                            AND q.of NOT IN (SELECT id FROM f_object))
         ORDER BY p.object",
    )?;
    let mut plan = ForgetPlan {
        conversations: conversations(conn, what)?,
        messages: strings(
            conn,
            "SELECT m.id FROM messages m JOIN f_msg f ON f.n = m.n ORDER BY m.n",
        )?,
        references: count(conn, "SELECT count(*) FROM f_media")?,
        orphans: count(conn, "SELECT count(*) FROM f_orphan")?,
        contents_deleted: objects.len() as u64,
        bytes_deleted: count(
            conn,
            "SELECT coalesce(sum(size), 0) FROM objects WHERE id IN (SELECT id FROM f_object)",
        )?,
        contents_shared: candidates - objects.len() as u64,
        objects,
        posters,
        names: 0,
        reactions: 0,
        events: 0,
        numbers: numbers(conn)?,
        contents: digests(conn)?,
    };
    if let Forget::Person(id) = what {
        plan.reactions = count_of(
            conn,
            "SELECT count(*) FROM reactions WHERE sender = ?1
               AND message NOT IN (SELECT n FROM f_msg)",
            id,
        )?;
        plan.events = count_of(
            conn,
            "SELECT count(*) FROM events e WHERE e.by = ?1
               OR EXISTS (SELECT 1 FROM json_each(e.users) WHERE value = ?1)",
            id,
        )?;
        plan.names = conn
            .query_row("SELECT count(*) FROM names WHERE user = ?", [id], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(sql_err)?
            .try_into()
            .unwrap_or(0);
    }
    Ok(plan)
}

/// The conversations that go whole.
fn conversations(conn: &Connection, what: &Forget) -> Result<Vec<String>> {
    match what {
        Forget::Conversation(id) => Ok(vec![id.clone()]),
        Forget::Person(id) => {
            let mut st = conn
                .prepare(
                    "SELECT c.id FROM conversations c JOIN participants p ON p.conversation = c.n
                       JOIN users u ON u.n = p.user WHERE u.id = ?1 AND c.kind = ?2 ORDER BY c.id",
                )
                .map_err(sql_err)?;
            let rows = st
                .query_map(params![id, ONE_TO_ONE], |r| r.get(0))
                .map_err(sql_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
        }
        Forget::Message(_) => Ok(Vec::new()),
    }
}

fn count_of(conn: &Connection, sql: &str, id: &str) -> Result<u64> {
    let n: i64 = conn.query_row(sql, [id], |r| r.get(0)).map_err(sql_err)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The forgotten messages' numbers, ascending.
fn numbers(conn: &Connection) -> Result<Vec<u64>> {
    let mut st = conn
        .prepare("SELECT n FROM f_msg ORDER BY n")
        .map_err(sql_err)?;
    let rows = st.query_map([], |r| r.get::<_, i64>(0)).map_err(sql_err)?;
    rows.map(|r| Ok(u64::try_from(r.map_err(sql_err)?).unwrap_or(0)))
        .collect()
}

/// The deleted contents' BLAKE3.
fn digests(conn: &Connection) -> Result<Vec<[u8; 32]>> {
    hashes(
        conn,
        "SELECT blake3 FROM objects WHERE id IN (SELECT id FROM f_object) AND blake3 IS NOT NULL",
    )
}

fn count(conn: &Connection, sql: &str) -> Result<u64> {
    let n: i64 = conn.query_row(sql, [], |r| r.get(0)).map_err(sql_err)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn ids(conn: &Connection, sql: &str) -> Result<Vec<ObjectId>> {
    Ok(hashes(conn, sql)?.into_iter().map(ObjectId).collect())
}

/// The 32-byte values the first column of `sql` gives (others are skipped).
fn hashes(conn: &Connection, sql: &str) -> Result<Vec<[u8; 32]>> {
    let mut st = conn.prepare(sql).map_err(sql_err)?;
    let rows = st
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .map_err(sql_err)?;
    let mut out = Vec::new();
    for r in rows {
        if let Ok(h) = <[u8; 32]>::try_from(r.map_err(sql_err)?) {
            out.push(h);
        }
    }
    Ok(out)
}

fn strings(conn: &Connection, sql: &str) -> Result<Vec<String>> {
    let mut st = conn.prepare(sql).map_err(sql_err)?;
    let rows = st
        .query_map([], |r| {
            super::msgid::read(r.get_ref(0)?).map_err(Into::into)
        })
        .map_err(sql_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
}

impl Index {
    /// The erasure ledger, for an import's lookups.
    ///
    /// # Errors
    /// [`Error::Index`] when the index cannot be read.
    pub fn ledger(&self, key: &[u8; 32]) -> Result<crate::vault::ledger::Ledger> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached("SELECT hash, kind FROM forgotten")
            .map_err(sql_err)?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))
            .map_err(sql_err)?;
        let mut hashes: [HashSet<[u8; 32]>; 4] = Default::default();
        for row in rows {
            let (hash, kind) = row.map_err(sql_err)?;
            let (Ok(hash), Some(set)) = (
                <[u8; 32]>::try_from(hash),
                usize::try_from(kind).ok().and_then(|k| hashes.get_mut(k)),
            ) else {
                continue;
            };
            set.insert(hash);
        }
        Ok(crate::vault::ledger::Ledger::new(*key, hashes))
    }
}

/// One forgetting, as `dmvault forget --list` shows it: when, what kind
/// of thing, how many messages and contents; never what.
#[derive(Debug, Clone, Serialize)]
pub struct Forgetting {
    /// When.
    pub at: crate::time::Timestamp,
    /// `conversation`, `person` or `message`.
    pub scope: String,
    /// Messages forgotten.
    pub messages: u64,
    /// Contents deleted.
    pub contents: u64,
}

impl Index {
    /// Every forgetting the ledger records, oldest first.
    ///
    /// # Errors
    /// [`Error::Index`] when the index cannot be read.
    pub fn forgettings(&self) -> Result<Vec<Forgetting>> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT at, scope, messages, contents FROM forgettings ORDER BY at, n")
            .map_err(sql_err)?;
        let rows = st
            .query_map([], |r| {
                Ok(Forgetting {
                    at: crate::time::Timestamp::from_millis_clamped(r.get(0)?),
                    scope: r.get(1)?,
                    messages: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    contents: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                })
            })
            .map_err(sql_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
    }
}
