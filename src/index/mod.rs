//! The index: an encrypted SQLite (SQLCipher) database derived from the
//! catalog log, so that every command reads through queries instead of
//! folding the whole history into memory.
//!
//! - It lives in `index/index.db` inside the vault (a copied vault keeps
//!   it), with its WAL beside it; every page of both is encrypted with a raw
//!   256-bit key derived from the vault secret (no passphrase KDF on open).
//!   Temp tables and sorts stay in memory: nothing plaintext is written.
//! - It records the log segments it reflects (sequence and MAC). Opening it
//!   brings it up to date by applying the segments written since, each in
//!   one transaction with its head, so an index killed at any moment is a
//!   consistent prefix of the log.
//! - A missing, damaged, foreign (another vault's key), stale (its head is
//!   not the log's) or other-version index is rebuilt from the log, and the
//!   caller is told why. The index never holds anything the log does not.

mod apply;
pub mod bits;
mod compare;
mod export;
pub mod forget;
pub mod inbox;
pub mod known;
pub(crate) mod msgid;
pub mod people;
mod read;
mod schema;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::error::{Error, Result};
use crate::integrity::Verdict;
use crate::media::MediaKind;
use crate::progress::Progress;
use crate::vault::catalog::{self, Chain, Record};
use crate::vault::keys::{hex, VaultSecret};
use crate::vault::place::Place;

pub(crate) use read::conversation_kind;
pub use read::{ConversationState, KnownMessage, MediaState, ObjectFacts, OrphanState, Use};

/// The index's file in a vault.
pub const INDEX_FILE: &str = "index/index.db";

/// Segments applied in one transaction when many are (an import, a
/// catch-up, a rebuild): each commit writes every page it changed again.
pub(crate) const COMMIT_EVERY: usize = 40;

/// Page cache of the writing connection, large enough for bulk loads
/// (import, rebuild); SQLite only fills it as pages are used.
const CACHE_KIB: i64 = 48 * 1024;

/// Why the index was (re)built from the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rebuilt {
    /// There was none (a vault made before indexes, or one deleted).
    Missing,
    /// It could not be opened with this vault's key: damaged, or another
    /// vault's.
    Unreadable,
    /// Made by another version of dmvault.
    OtherVersion,
    /// It reflects a log this vault no longer has (older, newer or another).
    Stale,
    /// The user asked (`dmvault index rebuild`).
    Forced,
    /// The catalog was compacted (`dmvault forget`): the index is made
    /// anew, so that nothing forgotten stays in its free pages.
    Compacted,
}

impl fmt::Display for Rebuilt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rebuilt::Missing => "there was none",
            Rebuilt::Unreadable => "it was damaged or is another vault's",
            Rebuilt::OtherVersion => "it was made by another version of dmvault",
            Rebuilt::Stale => "it did not match the catalog",
            Rebuilt::Forced => "you asked for it",
            Rebuilt::Compacted => "the catalog was compacted by `dmvault forget`",
        })
    }
}

/// The open index: one connection, which writes and reads what a command
/// asks (an import asks for the messages it knows once, at its start: see
/// [`known`]).
pub struct Index {
    conn: Mutex<Connection>,
    /// A dry run is applying uncommitted records, which only `conn` sees.
    dry_run: AtomicBool,
    path: PathBuf,
    /// What a compaction cut short left, as the last update found it.
    leftovers: Mutex<Leftovers>,
}

/// What a compaction cut short left in `catalog/`: readers ignore it, and
/// the next writer deletes it (see [`crate::vault::compact`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Segments a complete compaction replaced (keys, in order).
    pub replaced: Vec<String>,
    /// Segments of a compaction that was not completed (keys, in order).
    pub partial: Vec<String>,
}

impl Leftovers {
    /// Nothing is left.
    pub fn is_empty(&self) -> bool {
        self.replaced.is_empty() && self.partial.is_empty()
    }
}

/// Turns an SQLite error into the library's.
pub(crate) fn sql_err(e: rusqlite::Error) -> Error {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        // ENOSPC, so that a full disk is reported as one wherever it hits.
        return Error::write(Path::new(INDEX_FILE), std::io::Error::from_raw_os_error(28));
    }
    Error::Index {
        detail: e.to_string(),
    }
}

impl Index {
    /// Opens the index of the vault at `vault`, (re)building it if needed,
    /// and brings it up to date with the log. Returns it with the log's
    /// chain, and why it was rebuilt, if it was.
    ///
    /// # Errors
    /// [`Error::Catalog`] when a segment the index lacks is damaged;
    /// [`Error::Index`] when the index cannot be written.
    pub fn open(
        vault: &Place,
        secret: &VaultSecret,
        progress: &dyn Progress,
    ) -> Result<(Index, Chain, Option<Rebuilt>)> {
        Index::open_with(vault, secret, progress, false)
    }

    /// As [`Index::open`], but a damaged or missing segment only stops the
    /// update there, for `verify`, which reports it.
    ///
    /// # Errors
    /// [`Error::Index`] when the index cannot be written.
    pub fn open_tolerant(
        vault: &Place,
        secret: &VaultSecret,
        progress: &dyn Progress,
    ) -> Result<(Index, Option<Rebuilt>)> {
        Index::open_with(vault, secret, progress, true).map(|(i, _, r)| (i, r))
    }

    fn open_with(
        vault: &Place,
        secret: &VaultSecret,
        progress: &dyn Progress,
        tolerant: bool,
    ) -> Result<(Index, Chain, Option<Rebuilt>)> {
        let live = catalog::live_segments(vault, secret, tolerant)?;
        let path = vault.local().join(INDEX_FILE);
        let dir = path.parent().unwrap_or(vault.local());
        if !dir.is_dir() {
            crate::vault::fsutil::create_private_dir(dir).map_err(|e| Error::write(dir, e))?;
        }
        let existed = path.exists();
        let (index, mut rebuilt) = match Index::connect(&path, secret) {
            Ok(i) => (i, None),
            Err(reason) => {
                remove_files(&path)?;
                let i = Index::connect(&path, secret).map_err(|_| Error::Index {
                    detail: format!("cannot create {}", path.display()),
                })?;
                (i, existed.then_some(reason))
            }
        };
        if !existed {
            rebuilt = Some(Rebuilt::Missing).filter(|_| !live.segments.is_empty());
        }
        let before = index.chain()?.seq();
        if !index.head_matches(vault, &live, secret)? {
            index.reset(secret)?;
            rebuilt = Some(Rebuilt::Stale);
        }
        if index.update(vault, &live, secret, progress, tolerant)? {
            rebuilt = Some(Rebuilt::Compacted);
        }
        let chain = index.chain()?;
        if rebuilt == Some(Rebuilt::Stale) && before > 0 && before <= chain.base {
            rebuilt = Some(Rebuilt::Compacted);
        }
        Ok((index, chain, rebuilt))
    }

    /// Opens a write-only importer's own index at `path` (outside the
    /// vault): it reflects the inbox segments this importer wrote, which it
    /// cannot read back, so it is never checked against them. One that
    /// cannot be used is started anew (then with a new epoch).
    ///
    /// # Errors
    /// [`Error::Index`] when it cannot be written.
    pub fn open_importer(path: &Path, secret: &VaultSecret) -> Result<(Index, Chain)> {
        let dir = path.parent().unwrap_or(path);
        crate::vault::fsutil::create_private_dir(dir).map_err(|e| Error::write(dir, e))?;
        let index = match Index::connect(path, secret) {
            Ok(i) => i,
            Err(_) => {
                remove_files(path)?;
                Index::connect(path, secret).map_err(|_| Error::Index {
                    detail: format!("cannot create {}", path.display()),
                })?
            }
        };
        let chain = index.chain()?;
        Ok((index, chain))
    }

    /// Removes an index's files (a write-only importer's, to start a new
    /// epoch).
    pub(crate) fn remove(path: &Path) -> Result<()> {
        remove_files(path)
    }

    /// Empties the index and builds it again from the log. With
    /// `tolerant` (for `verify`), a damaged or missing segment ends the
    /// rebuild there; otherwise it is an error, and the index stays the
    /// log's prefix up to it.
    ///
    /// # Errors
    /// As [`Index::open`].
    pub fn rebuild(
        &self,
        vault: &Place,
        secret: &VaultSecret,
        progress: &dyn Progress,
        tolerant: bool,
    ) -> Result<()> {
        let live = catalog::live_segments(vault, secret, tolerant)?;
        self.reset(secret)?;
        self.update(vault, &live, secret, progress, tolerant)
            .map(|_| ())
    }

    /// Deletes the index's files and makes it anew, empty (the index is
    /// then the log's empty prefix). Unlike deleting its rows, this leaves
    /// nothing of what it held in free pages.
    ///
    /// # Errors
    /// [`Error::Index`] when it cannot be made again.
    pub fn reset(&self, secret: &VaultSecret) -> Result<()> {
        let mut conn = self.conn();
        *conn = Connection::open_in_memory().map_err(sql_err)?;
        remove_files(&self.path)?;
        let fresh = Index::connect(&self.path, secret).map_err(|why| Error::Index {
            detail: format!("cannot create {}: {why}", self.path.display()),
        })?;
        *conn = fresh.conn.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok(())
    }

    /// What a compaction cut short left, as the last update found it.
    pub fn leftovers(&self) -> Leftovers {
        self.leftovers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Opens (or creates) the database with the vault's key; the reason to
    /// rebuild when it cannot be used.
    fn connect(path: &Path, secret: &VaultSecret) -> std::result::Result<Index, Rebuilt> {
        // Made private first: SQLite gives its WAL and journal the mode of
        // the database file.
        private_file(path).map_err(|_| Rebuilt::Unreadable)?;
        let (conn, tables) = open_conn(path, secret).map_err(|_| Rebuilt::Unreadable)?;
        if tables == 0 {
            conn.execute_batch(&format!(
                "BEGIN; {} INSERT INTO meta VALUES ('schema', {}); COMMIT;",
                schema::SCHEMA,
                schema::SCHEMA_VERSION
            ))
            .map_err(|_| Rebuilt::Unreadable)?;
        }
        let version: Option<i64> = conn
            .query_row("SELECT v FROM meta WHERE k = 'schema'", [], |r| r.get(0))
            .optional()
            .map_err(|_| Rebuilt::Unreadable)?;
        if version != Some(schema::SCHEMA_VERSION) {
            return Err(Rebuilt::OtherVersion);
        }
        Ok(Index {
            conn: Mutex::new(conn),
            dry_run: AtomicBool::new(false),
            path: path.to_owned(),
            leftovers: Mutex::default(),
        })
    }

    /// The database's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The MACs of the segments the index reflects.
    pub fn chain(&self) -> Result<Chain> {
        let conn = self.conn();
        let base: Option<(i64, Vec<u8>)> = conn
            .query_row(
                "SELECT b.v, h.v FROM meta b, meta h WHERE b.k = 'base' AND h.k = 'base_head'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql_err)?;
        let (base, base_head) = base.unwrap_or_default();
        let mut st = conn
            .prepare("SELECT mac FROM segments ORDER BY seq")
            .map_err(sql_err)?;
        let macs = st
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .map_err(sql_err)?
            .map(|m| Ok(m.map_err(sql_err)?.try_into().unwrap_or([0; 32])))
            .collect::<Result<Vec<[u8; 32]>>>()?;
        Ok(Chain {
            base: u64::try_from(base).unwrap_or(0),
            base_head: base_head.try_into().unwrap_or([0; 32]),
            macs,
        })
    }

    /// Whether the index's head is a segment of this log: the log has it,
    /// and its MAC is the one recorded.
    fn head_matches(
        &self,
        vault: &Place,
        live: &catalog::LiveSegments,
        secret: &VaultSecret,
    ) -> Result<bool> {
        let head: Option<(i64, Vec<u8>)> = self
            .conn()
            .query_row(
                "SELECT seq, mac FROM segments ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql_err)?;
        let Some((seq, mac)) = head else {
            return Ok(true);
        };
        let seq = u64::try_from(seq).unwrap_or(0);
        let Some(key) = live.key(seq) else {
            return Ok(false);
        };
        Ok(
            catalog::read_segment(vault, key, seq, None, secret)
                .is_ok_and(|s| s.mac[..] == mac[..]),
        )
    }

    /// Brings the index up to the log's head, and notes what a compaction
    /// cut short left. Returns whether a compaction made it start anew.
    fn update(
        &self,
        vault: &Place,
        live: &catalog::LiveSegments,
        secret: &VaultSecret,
        progress: &dyn Progress,
        tolerant: bool,
    ) -> Result<bool> {
        let mut partial = Vec::new();
        let mut from = 0;
        let mut anew = false;
        while let Some(i) = self.catch_up(
            vault,
            &live.segments[from..],
            secret,
            progress,
            tolerant,
            &mut partial,
        )? {
            self.reset(secret)?;
            from += i;
            anew = true;
        }
        let base = self.chain()?.base;
        let mut replaced = live.replaced.clone();
        replaced.extend(
            live.segments
                .iter()
                .filter(|(n, _)| *n <= base)
                .map(|(_, k)| k.clone()),
        );
        *self.leftovers.lock().unwrap_or_else(|e| e.into_inner()) = Leftovers { replaced, partial };
        Ok(anew)
    }

    /// Applies the segments after the index's head. A compaction met on
    /// the way (a complete one: one cut short ends the chain before it, and
    /// its segments go to `partial`) replaces what the index holds: then
    /// the position of its first segment is returned, and the caller makes
    /// the index anew and applies from there.
    ///
    /// Segments are read (decrypted, authenticated, parsed) on a thread of
    /// their own while this one applies them; many are applied in
    /// transactions of [`COMMIT_EVERY`] segments, each a prefix of the log.
    fn catch_up(
        &self,
        vault: &Place,
        segments: &[(u64, String)],
        secret: &VaultSecret,
        progress: &dyn Progress,
        tolerant: bool,
        partial: &mut Vec<String>,
    ) -> Result<Option<usize>> {
        let chain = self.chain()?;
        let from = segments
            .iter()
            .position(|(n, _)| *n > chain.seq())
            .unwrap_or(segments.len());
        let todo = segments.len() - from;
        if todo == 0 {
            return Ok(None);
        }
        if todo > 1 {
            progress.phase_items("Updating the index (catalog segments)", Some(todo as u64));
            self.begin_bulk()?;
        }
        let empty = chain.seq() == 0;
        let caught = std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            s.spawn(move || {
                // A chain that starts at a compaction names its own `prev`.
                let mut prev = (!empty || segments[from].0 == 1).then_some(chain.head());
                for (i, (seq, key)) in segments.iter().enumerate().skip(from) {
                    let read = catalog::read_segment(vault, key, *seq, prev.as_ref(), secret);
                    prev = read.as_ref().ok().map(|s| s.mac);
                    if tx.send((i, read)).is_err() || prev.is_none() {
                        break;
                    }
                }
            });
            let read = rx.into_iter();
            self.apply_read(read, segments, empty, todo > 1, progress, tolerant, partial)
        });
        let committed = self.commit_bulk(false);
        let caught = caught?;
        committed.map(|()| caught)
    }

    /// Applies what [`Index::catch_up`] read, in order (see there).
    #[allow(clippy::too_many_arguments)]
    fn apply_read(
        &self,
        read: impl Iterator<Item = (usize, Result<catalog::Segment>)>,
        segments: &[(u64, String)],
        mut empty: bool,
        bulk: bool,
        progress: &dyn Progress,
        tolerant: bool,
        partial: &mut Vec<String>,
    ) -> Result<Option<usize>> {
        let last = segments.last().map_or(0, |(n, _)| *n);
        let bad = |seq: u64, detail: &str| Error::Catalog {
            segment: catalog::segment_name(seq),
            detail: detail.into(),
        };
        for (applied, (i, segment)) in read.enumerate() {
            let seq = segments[i].0;
            let segment = match segment {
                Ok(s) => s,
                Err(_) if tolerant => break,
                Err(e) => return Err(e),
            };
            if let Some(c) = segment.compaction() {
                if c.replaces + 1 != seq || c.old_head != hex(&segment.prev) {
                    if tolerant {
                        break;
                    }
                    return Err(bad(
                        seq,
                        "starts a compaction that does not follow the chain",
                    ));
                }
                if last < seq + c.segments.max(1) - 1 {
                    partial.extend(segments[i..].iter().map(|(_, k)| k.clone()));
                    return Ok(None);
                }
                if !empty {
                    return Ok(Some(i));
                }
            } else if seq != 1 && empty {
                // The chain's start was checked to be a compaction when it
                // was listed; it changed since.
                if tolerant {
                    break;
                }
                return Err(bad(
                    seq - 1,
                    "missing: the chain of segments has a gap (a segment was deleted)",
                ));
            }
            self.apply_segment(seq, segment.mac, &segment.records)?;
            empty = false;
            if bulk {
                progress.advance(1);
                if applied % COMMIT_EVERY == COMMIT_EVERY - 1 {
                    self.commit_bulk(true)?;
                }
            }
        }
        Ok(None)
    }

    /// Applies segment `seq` (with its MAC) in one transaction with the new
    /// head (inside the open bulk transaction, if any: see
    /// [`Index::begin_bulk`]). A segment another process applied first is
    /// skipped.
    pub(crate) fn apply_segment(&self, seq: u64, mac: [u8; 32], records: &[Record]) -> Result<()> {
        let mut conn = self.conn();
        if self.dry_run.load(Ordering::Relaxed) {
            // A dry run: records are applied, never committed.
            return apply_nested(&mut conn, records);
        }
        if !conn.is_autocommit() {
            // In the bulk transaction, without a savepoint (whose journal
            // would keep a copy of every page the transaction touched, in
            // memory): a failure rolls the whole transaction back, to the
            // last commit, a prefix of the log the next open catches up from.
            let applied = apply_with_head(&conn, seq, mac, records);
            if applied.is_err() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            crate::fault::point("index");
            return applied;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        apply_with_head(&tx, seq, mac, records)?;
        crate::fault::point("index");
        tx.commit().map_err(sql_err)?;
        crate::fault::point("index-commit");
        Ok(())
    }

    /// Opens a transaction that the next segments are applied in, so that
    /// a bulk load commits the index every few segments instead of each
    /// (every commit writes each page it changed once more, encrypted).
    /// The index stays a prefix of the log whenever it commits. Nothing in
    /// a dry run.
    pub(crate) fn begin_bulk(&self) -> Result<()> {
        if self.dry_run.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.conn()
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(sql_err)
    }

    /// Commits what the bulk transaction applied; with `more`, opens the
    /// next one.
    pub(crate) fn commit_bulk(&self, more: bool) -> Result<()> {
        let conn = self.conn();
        if self.dry_run.load(Ordering::Relaxed) || conn.is_autocommit() {
            return Ok(());
        }
        conn.execute_batch("COMMIT").map_err(sql_err)?;
        crate::fault::point("index-commit");
        if more {
            conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_err)?;
        }
        Ok(())
    }

    /// Starts a dry run: what is applied from now on is undone by
    /// [`Index::end_dry_run`].
    pub(crate) fn begin_dry_run(&self) -> Result<()> {
        self.conn().execute_batch("BEGIN").map_err(sql_err)?;
        self.dry_run.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Undoes what a dry run applied.
    pub(crate) fn end_dry_run(&self) -> Result<()> {
        self.dry_run.store(false, Ordering::Relaxed);
        let conn = self.conn();
        if conn.is_autocommit() {
            return Ok(());
        }
        conn.execute_batch("ROLLBACK").map_err(sql_err)
    }

    /// Applies records without a segment (a dry run).
    pub(crate) fn apply_uncommitted(&self, records: &[Record]) -> Result<()> {
        apply_nested(&mut self.conn(), records)
    }
}

/// A connection to the index with the vault's key and dmvault's settings;
/// the number of tables it has (0: a new database).
fn open_conn(path: &Path, secret: &VaultSecret) -> rusqlite::Result<(Connection, i64)> {
    configure_sqlite();
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    let key = format!("x'{}'", hex(secret.index_key()));
    conn.pragma_update(None, "key", &key)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    conn.busy_timeout(std::time::Duration::from_secs(60))?;
    // Fails here, on the first read, when the key does not fit.
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Checkpoints (which sync) once per 64 MiB of log rather than 4 MiB.
    conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
    bits::register(&conn)?;
    msgid::register(&conn)?;
    crate::conversation::search::register(&conn)?;
    // Every statement dmvault uses stays prepared.
    conn.set_prepared_statement_cache_capacity(128);
    Ok((conn, tables))
}

/// SQLite's process-wide settings, made before its first connection: no
/// memory statistics, whose global mutex every allocation takes (the
/// import's reading and writing threads would wait on each other for it).
#[allow(unsafe_code)]
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: called once, before any connection (it is refused, and
        // harmless, once SQLite is initialised); the option takes an int.
        unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                std::ffi::c_int::from(0u8),
            );
        }
    });
}

/// Creates `path` empty with mode 0600 unless it exists.
fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Applies a segment's records and records it as the head, unless the
/// index is not at the segment before it (another process applied it, or
/// a rebuild is under way: the next open catches up).
fn apply_with_head(tx: &Connection, seq: u64, mac: [u8; 32], records: &[Record]) -> Result<()> {
    let head: i64 = tx
        .query_row(
            "SELECT coalesce(max(seq), (SELECT v FROM meta WHERE k = 'base'), 0) FROM segments",
            [],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    let mut head = u64::try_from(head).unwrap_or(0);
    if let (0, Some(Record::Compaction(c))) = (head, records.first()) {
        // The first segment of an index whose chain starts at a compaction.
        let old_head = crate::vault::keys::unhex(&c.old_head).unwrap_or_default();
        tx.execute(
            "INSERT OR REPLACE INTO meta VALUES ('base', ?), ('base_head', ?)",
            params![i64::try_from(c.replaces).unwrap_or(i64::MAX), old_head],
        )
        .map_err(sql_err)?;
        head = c.replaces;
    }
    if head + 1 != seq {
        return Ok(());
    }
    apply::Applier::new(tx).apply_all(records)?;
    tx.execute(
        "INSERT INTO segments VALUES (?, ?)",
        params![i64::try_from(seq).unwrap_or(i64::MAX), &mac[..]],
    )
    .map_err(sql_err)?;
    Ok(())
}

fn apply_nested(conn: &mut Connection, records: &[Record]) -> Result<()> {
    let sp = conn.savepoint().map_err(sql_err)?;
    apply::Applier::new(&sp).apply_all(records)?;
    sp.commit().map_err(sql_err)
}

/// Removes the index and its WAL and shared-memory files.
fn remove_files(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::write(Path::new(&p), e)),
        }
    }
    Ok(())
}

/// The number stored for a media kind.
pub(crate) fn kind_code(k: MediaKind) -> i64 {
    match k {
        MediaKind::Image => 0,
        MediaKind::Gif => 1,
        MediaKind::Video => 2,
    }
}

/// The media kind of a stored number.
pub fn kind_from_code(c: i64) -> MediaKind {
    match c {
        1 => MediaKind::Gif,
        2 => MediaKind::Video,
        _ => MediaKind::Image,
    }
}

/// The number stored for a verdict.
pub fn verdict_code(v: Verdict) -> i64 {
    match v {
        Verdict::Ok => 0,
        Verdict::Damaged => 1,
        Verdict::Unreadable => 2,
    }
}
