//! The messages a vault holds, as a compact set an import asks instead of
//! the index: one read of the id index when the import starts, then no
//! lookup per message (a lookup each cost more than the rest of the import
//! on a vault of millions of messages).
//!
//! Snowflake ids are kept as numbers, sorted (the index's order), with
//! their message number: 12 bytes a message (24 MB for 2 M). Other ids, and
//! numbers past `u32`, go in a map.

use std::collections::HashMap;

use rusqlite::params;
use rusqlite::types::ValueRef;

use super::{msgid, sql_err, Index, KnownMessage};
use crate::error::Result;
use crate::ids::snowflake;
use crate::vault::catalog::ArchiveNo;

/// What the vault knew of messages when an import of one archive started.
#[derive(Debug, Default)]
pub struct KnownIds {
    /// Snowflake ids, ascending.
    numbers: Vec<u64>,
    /// The message number of `numbers[i]`.
    ns: Vec<u32>,
    /// Every other id, with its message number.
    others: HashMap<String, u64>,
    /// Ranges of message numbers the archive showed already (an import of
    /// it that was interrupted), ascending.
    shown: Vec<(u64, u64)>,
    /// The messages known only from headers files (no text), ascending.
    headers_only: Vec<u64>,
    max_n: u64,
}

impl KnownIds {
    /// The message with this id, when the vault held it.
    pub fn get(&self, id: &str) -> Option<KnownMessage> {
        let n = match snowflake(id) {
            Some(k) => match self.numbers.binary_search(&k) {
                Ok(i) => Some(u64::from(self.ns[i])),
                Err(_) => self.others.get(id).copied(),
            },
            None => self.others.get(id).copied(),
        }?;
        Some(KnownMessage {
            n,
            in_archive: self.showed(n),
            headers_only: self.headers_only.binary_search(&n).is_ok(),
        })
    }

    /// Whether the archive showed message `n` already.
    fn showed(&self, n: u64) -> bool {
        let i = self.shown.partition_point(|&(first, _)| first <= n);
        i > 0 && self.shown[i - 1].1 >= n
    }

    /// The largest message number held (they run from 1).
    pub fn max_n(&self) -> u64 {
        self.max_n
    }
}

impl Index {
    /// Every message id the index holds, and the ranges archive `archive`
    /// showed, read in one transaction.
    pub fn known_ids(&self, archive: ArchiveNo) -> Result<KnownIds> {
        let conn = self.conn();
        let read = || -> rusqlite::Result<KnownIds> {
            // In a dry run's transaction (which alone sees what it applied),
            // or one of its own.
            let tx = if conn.is_autocommit() {
                Some(conn.unchecked_transaction()?)
            } else {
                None
            };
            // Message numbers run 1..=max: room for every id, and no more.
            let most: i64 =
                conn.query_row("SELECT coalesce(max(n), 0) FROM messages", [], |r| r.get(0))?;
            let max_n = u64::try_from(most).unwrap_or(0);
            let most = usize::try_from(most).unwrap_or(0);
            let mut known = KnownIds {
                max_n,
                numbers: Vec::with_capacity(most),
                ns: Vec::with_capacity(most),
                ..KnownIds::default()
            };
            // A scan of the id index (it holds the row number too), not of
            // the messages. SQLite orders integers before text, ascending:
            // `numbers` comes out sorted, as `get`'s binary search needs.
            let mut st = conn.prepare("SELECT id, n FROM messages ORDER BY id")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let n = u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0);
                // Snowflakes are kept as integers (see `msgid`).
                let key = match r.get_ref(0)? {
                    ValueRef::Integer(k) => u64::try_from(k).ok(),
                    _ => None,
                };
                match (key, u32::try_from(n)) {
                    (Some(k), Ok(n)) => {
                        known.numbers.push(k);
                        known.ns.push(n);
                    }
                    _ => {
                        known.others.insert(msgid::read(r.get_ref(0)?)?, n);
                    }
                }
            }
            drop(rows);
            drop(st);
            known.shown = conn
                .prepare("SELECT first, last FROM archive_ranges WHERE archive = ? ORDER BY first")?
                .query_map(params![archive], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                })?
                .map(|r| {
                    r.map(|(a, b)| (u64::try_from(a).unwrap_or(0), u64::try_from(b).unwrap_or(0)))
                })
                .collect::<rusqlite::Result<_>>()?;
            known.headers_only = conn
                .prepare("SELECT n FROM messages WHERE headers_only ORDER BY n")?
                .query_map([], |r| r.get::<_, i64>(0))?
                .map(|r| r.map(|n| u64::try_from(n).unwrap_or(0)))
                .collect::<rusqlite::Result<_>>()?;
            if let Some(tx) = tx {
                tx.finish()?;
            }
            Ok(known)
        };
        read().map_err(sql_err)
    }
}
