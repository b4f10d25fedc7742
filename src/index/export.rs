//! `dmvault export-sqlite`: the catalog as a plain SQLite database, for
//! Datasette or `sqlite3`. Its tables are documented in `docs/cli.md`
//! ("export-sqlite"); later capabilities add theirs.

use std::path::Path;

use serde::Serialize;

use super::{private_file, remove_files, sql_err, Index};
use crate::error::{Error, Result};

/// The plain database's tables, with foreign keys and indexes. Times are
/// RFC 3339 UTC text, hashes and ids lowercase hex, archive lists
/// comma-separated archive numbers (`archives.n`).
const SCHEMA: &str = "
CREATE TABLE out.archives(n INTEGER PRIMARY KEY, name TEXT NOT NULL, size INTEGER,
  sha256 TEXT, blake3 TEXT, generation TEXT, generation_date TEXT, account_id TEXT,
  username TEXT, imported_at TEXT, complete INTEGER NOT NULL);
CREATE TABLE out.conversations(id TEXT PRIMARY KEY, kind TEXT, name TEXT, archives TEXT);
CREATE TABLE out.participants(conversation_id TEXT NOT NULL REFERENCES conversations(id),
  user_id TEXT NOT NULL, PRIMARY KEY(conversation_id, user_id));
CREATE TABLE out.conversation_names(conversation_id TEXT NOT NULL REFERENCES conversations(id),
  at TEXT, name TEXT NOT NULL, by_user_id TEXT);
CREATE TABLE out.messages(id TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations(id), sender_id TEXT,
  recipient_id TEXT, created_at TEXT NOT NULL, text TEXT, welcome INTEGER NOT NULL,
  urls TEXT, first_archive INTEGER REFERENCES archives(n), archives TEXT NOT NULL,
  headers_only INTEGER NOT NULL);
CREATE INDEX out.messages_by_conversation ON messages(conversation_id, created_at);
CREATE INDEX out.messages_by_sender ON messages(sender_id);
CREATE TABLE out.objects(id TEXT PRIMARY KEY, size INTEGER NOT NULL, stored_size INTEGER,
  blake3 TEXT, sha256 TEXT, verdict TEXT, container TEXT, codec TEXT, audio_codec TEXT,
  duration_s REAL, width INTEGER, height INTEGER, bit_rate INTEGER, decode_errors INTEGER,
  verdict_detail TEXT, checked_at TEXT);
CREATE TABLE out.media(message_id TEXT NOT NULL REFERENCES messages(id), url TEXT NOT NULL,
  ordinal INTEGER NOT NULL, kind TEXT NOT NULL, original_name TEXT,
  object_id TEXT REFERENCES objects(id), size INTEGER, sha256 TEXT, blake3 TEXT, verdict TEXT,
  duration_s REAL, width INTEGER, height INTEGER, codec TEXT, archives TEXT NOT NULL,
  file_archives TEXT NOT NULL, PRIMARY KEY(message_id, url));
CREATE INDEX out.media_by_object ON media(object_id);
CREATE TABLE out.orphans(name TEXT NOT NULL, message_id TEXT,
  in_group_folder INTEGER NOT NULL, object_id TEXT NOT NULL REFERENCES objects(id),
  archives TEXT NOT NULL, claimed INTEGER NOT NULL);
CREATE TABLE out.reactions(message_id TEXT NOT NULL REFERENCES messages(id), sender_id TEXT,
  reaction TEXT, event_id TEXT, created_at TEXT);
CREATE INDEX out.reactions_by_message ON reactions(message_id);
CREATE TABLE out.edits(message_id TEXT NOT NULL REFERENCES messages(id), text TEXT,
  created_at TEXT);
CREATE INDEX out.edits_by_message ON edits(message_id);
CREATE TABLE out.events(conversation_id TEXT NOT NULL REFERENCES conversations(id),
  kind TEXT NOT NULL, at TEXT, by_user_id TEXT, user_ids TEXT, reaction TEXT, event_id TEXT,
  detail TEXT);
CREATE INDEX out.events_by_conversation ON events(conversation_id, at);
CREATE TABLE out.people(user_id TEXT PRIMARY KEY, handle TEXT, handle_source TEXT,
  name TEXT, name_source TEXT, note TEXT);
CREATE TABLE out.names(user_id TEXT NOT NULL, handle TEXT, name TEXT, note TEXT,
  source TEXT NOT NULL, file TEXT, archive INTEGER REFERENCES archives(n), first_seen TEXT,
  last_seen TEXT, count INTEGER NOT NULL);
CREATE INDEX out.names_by_user ON names(user_id);
";

/// SQL for a name source's text, from its code (see `NameSource::code`).
macro_rules! source {
    ($c:literal) => {
        concat!(
            "CASE ",
            $c,
            " WHEN 0 THEN 'user' WHEN 1 THEN 'account' WHEN 2 THEN 'manifest'
             WHEN 3 THEN 'screen_name_change' WHEN 4 THEN 'mention' WHEN 5 THEN 'reply'
             WHEN 6 THEN 'media' END"
        )
    };
}

/// RFC 3339 text of a time column in milliseconds.
macro_rules! iso {
    ($c:literal) => {
        concat!(
            "strftime('%Y-%m-%dT%H:%M:%fZ', ",
            $c,
            " / 1000.0, 'unixepoch')"
        )
    };
}

const COPY: &[&str] = &[
    concat!("INSERT INTO out.archives SELECT n, name, size, sha256, blake3, generation,
      generation_date, account_id, username, ", iso!("imported_at"), ", done FROM archives"),
    "INSERT INTO out.conversations SELECT id,
      CASE kind WHEN 1 THEN 'one_to_one' WHEN 2 THEN 'group' END, NULL, bits_list(archives)
      FROM conversations",
    "INSERT INTO out.participants SELECT c.id, u.id FROM participants p
      JOIN conversations c ON c.n = p.conversation JOIN users u ON u.n = p.user",
    concat!("INSERT INTO out.conversation_names SELECT c.id, ", iso!("x.at"), ", x.name, x.by
      FROM conversation_names x JOIN conversations c ON c.n = x.conversation"),
    concat!("INSERT INTO out.messages SELECT CAST(m.id AS TEXT), c.id, s.id, r.id, ", iso!("m.created_at"), ",
      m.text, m.welcome, m.urls, m.archive,
      coalesce((SELECT group_concat(r.archive, ',')
        FROM archive_ranges r WHERE m.n BETWEEN r.first AND r.last), ''), m.headers_only
      FROM messages m
      JOIN conversations c ON c.n = m.conversation
      LEFT JOIN users s ON s.n = m.sender LEFT JOIN users r ON r.n = m.recipient ORDER BY m.n"),
    concat!("INSERT INTO out.objects SELECT lower(hex(o.id)), o.size, o.stored,
      lower(hex(o.blake3)), lower(hex(o.sha256)),
      CASE i.verdict WHEN 0 THEN 'ok' WHEN 1 THEN 'damaged' WHEN 2 THEN 'unreadable' END,
      i.report ->> '$.container', i.report ->> '$.codec', i.report ->> '$.audio_codec',
      i.report ->> '$.duration_s', i.report ->> '$.width', i.report ->> '$.height',
      i.report ->> '$.bit_rate', i.report ->> '$.errors', i.report ->> '$.detail', ",
      iso!("i.checked_at"), " FROM objects o LEFT JOIN integrity i ON i.object = o.id"),
    "INSERT INTO out.media SELECT m.message, m.url, m.ordinal,
      CASE m.kind WHEN 0 THEN 'image' WHEN 1 THEN 'gif' ELSE 'video' END,
      CASE WHEN m.object IS NOT NULL THEN m.original_name ELSE o.name END,
      x.id, x.size, x.sha256, x.blake3, x.verdict, x.duration_s, x.width, x.height, x.codec,
      bits_list(m.archives),
      bits_list(CASE WHEN o.n IS NULL THEN m.file_archives ELSE bits_or(m.file_archives, o.archives) END)
      FROM media m LEFT JOIN orphans o ON o.n = m.orphan
      LEFT JOIN out.objects x ON x.id = lower(hex(coalesce(m.object, o.object)))",
    "INSERT INTO out.orphans SELECT name, prefix, grp, lower(hex(object)), bits_list(archives),
      linked FROM orphans",
    concat!("INSERT INTO out.reactions SELECT CAST(m.id AS TEXT), x.sender, x.key, x.event_id, ",
      iso!("x.created_at"), " FROM reactions x JOIN messages m ON m.n = x.message"),
    concat!("INSERT INTO out.edits SELECT CAST(m.id AS TEXT), x.text, ", iso!("x.created_at"),
      " FROM edits x JOIN messages m ON m.n = x.message"),
    concat!("INSERT INTO out.events SELECT c.id,
      CASE x.kind WHEN 0 THEN 'join_conversation' WHEN 1 THEN 'participants_join'
        WHEN 2 THEN 'participants_leave' WHEN 3 THEN 'reaction' ELSE 'other' END, ",
      iso!("x.at"), ", x.by, x.users, x.key, x.event_id, x.detail
      FROM events x JOIN conversations c ON c.n = x.conversation ORDER BY c.id, x.at"),
    concat!("INSERT INTO out.people SELECT u.id, p.handle, ", source!("p.handle_source"), ",
      p.name, ", source!("p.name_source"), ", p.note
      FROM users u LEFT JOIN people p ON p.user = u.id
      UNION SELECT p.user, p.handle, ", source!("p.handle_source"), ", p.name, ",
      source!("p.name_source"), ", p.note FROM people p"),
    concat!("INSERT INTO out.names SELECT user, handle, display, note, ", source!("source"),
      ", file, archive, ", iso!("first_seen"), ", ", iso!("last_seen"), ", count
      FROM names ORDER BY n"),
];

/// What `export-sqlite` wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SqliteExport {
    /// The database written.
    pub path: String,
    /// Messages in it.
    pub messages: u64,
    /// Media references in it.
    pub media: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

impl Index {
    /// Writes the catalog as a plain (unencrypted) SQLite database at
    /// `out`, which must not exist: it is written under a temp name beside
    /// it and renamed into place when complete (mode 0600).
    ///
    /// # Errors
    /// An I/O error (already exists) when `out` exists; I/O errors;
    /// [`Error::Index`].
    pub fn export_sqlite(&self, out: &Path) -> Result<SqliteExport> {
        if out.symlink_metadata().is_ok() {
            return Err(exists(out));
        }
        let dir = crate::vault::fsutil::parent_dir(out);
        let (file, tmp) = crate::vault::fsutil::temp_file(dir).map_err(|e| Error::write(dir, e))?;
        drop(file);
        let written = self.write_plain(&tmp);
        let published = written.and_then(|()| match crate::vault::fsutil::publish(&tmp, out) {
            Ok(true) => Ok(()),
            Ok(false) => Err(exists(out)),
            Err(e) => Err(Error::write(out, e)),
        });
        if published.is_err() {
            remove_files(&tmp)?;
        }
        published?;
        let conn = self.conn();
        let count = |sql: &str| -> Result<u64> {
            conn.query_row(sql, [], |r| r.get::<_, i64>(0))
                .map(|v| u64::try_from(v).unwrap_or(0))
                .map_err(sql_err)
        };
        Ok(SqliteExport {
            path: out.display().to_string(),
            messages: count("SELECT count(*) FROM messages WHERE NOT headers_only")?,
            media: count("SELECT count(*) FROM media")?,
            bytes: std::fs::metadata(out).map_or(0, |m| m.len()),
        })
    }

    fn write_plain(&self, tmp: &Path) -> Result<()> {
        private_file(tmp).map_err(|e| Error::write(tmp, e))?;
        let names = super::people::Directory::load(self)?;
        let conn = self.conn();
        // An empty key: SQLCipher writes a plain SQLite file.
        conn.execute(
            "ATTACH DATABASE ? AS out KEY ''",
            [tmp.to_string_lossy().as_ref()],
        )
        .map_err(sql_err)?;
        let mut sql = String::from("BEGIN;");
        sql.push_str(SCHEMA);
        for c in COPY {
            sql.push_str(c);
            sql.push(';');
        }
        sql.push_str("COMMIT;");
        let copied = conn.execute_batch(&sql).map_err(sql_err);
        let copied = copied.and_then(|()| name_conversations(&conn, &names));
        if copied.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        let detached = conn.execute_batch("DETACH DATABASE out").map_err(sql_err);
        copied.and(detached)
    }
}

/// Gives each conversation of the plain database the name shown for it.
fn name_conversations(conn: &rusqlite::Connection, names: &super::people::Directory) -> Result<()> {
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM out.conversations")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .map_err(sql_err)?;
    let mut st = conn
        .prepare("UPDATE out.conversations SET name = ? WHERE id = ?")
        .map_err(sql_err)?;
    for id in &ids {
        if let Some(name) = names.conversation_name(id) {
            st.execute([name, id.as_str()]).map_err(sql_err)?;
        }
    }
    Ok(())
}

fn exists(out: &Path) -> Error {
    Error::write(out, std::io::Error::from(std::io::ErrorKind::AlreadyExists))
}
