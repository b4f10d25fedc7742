//! The index's tables (see `docs/vault-format.md`, "The index").
//!
//! Provenance (which archives showed a row) is a bit set per row, a BLOB
//! whose bit `k - 1` stands for archive `k` (see [`super::bits`]): a message
//! seen again in a later archive costs a bit, not a row.

/// Bumped when the tables change: an index of another version is rebuilt.
pub const SCHEMA_VERSION: i64 = 8;

/// The tables, created in an empty database.
pub const SCHEMA: &str = "
CREATE TABLE meta(k TEXT PRIMARY KEY, v ANY) STRICT;
-- The log's segments this index reflects, in order: the last is the head.
CREATE TABLE segments(seq INTEGER PRIMARY KEY, mac BLOB NOT NULL) STRICT;
CREATE TABLE archives(
  n INTEGER PRIMARY KEY, name TEXT NOT NULL, size INTEGER NOT NULL,
  sha256 TEXT NOT NULL, blake3 TEXT NOT NULL, generation TEXT NOT NULL,
  generation_date TEXT, account_id TEXT, username TEXT,
  imported_at INTEGER NOT NULL, stat TEXT, done INTEGER NOT NULL DEFAULT 0,
  reader INTEGER NOT NULL DEFAULT 2) STRICT;
-- The messages each archive showed, as ranges of message numbers
-- (inclusive): the run of messages it added, and those it showed again
-- (the log's `seen_ranges`). A yearly archive that repeats the whole
-- history adds a few rows; no message row changes.
CREATE TABLE archive_ranges(archive INTEGER NOT NULL, first INTEGER NOT NULL,
  last INTEGER NOT NULL, PRIMARY KEY(archive, first)) STRICT, WITHOUT ROWID;
-- How many messages each archive showed (kept by apply: counting them
-- would be a pass over every message).
CREATE TABLE archive_messages(archive INTEGER PRIMARY KEY, messages INTEGER NOT NULL) STRICT;
CREATE TABLE users(n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE) STRICT;
CREATE TABLE conversations(
  n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind INTEGER,
  archives BLOB NOT NULL DEFAULT x'') STRICT;
CREATE TABLE participants(
  conversation INTEGER NOT NULL, user INTEGER NOT NULL,
  PRIMARY KEY(conversation, user)) STRICT, WITHOUT ROWID;
CREATE TABLE conversation_names(
  conversation INTEGER NOT NULL, at INTEGER, name TEXT NOT NULL, by TEXT,
  UNIQUE(conversation, at, name, by)) STRICT;
-- A message's id is an integer when it is a snowflake, text otherwise
-- (see `msgid.rs`); `msg_key(text)` turns an id into that form.
CREATE TABLE messages(
  n INTEGER PRIMARY KEY, id ANY NOT NULL UNIQUE,
  conversation INTEGER NOT NULL, sender INTEGER, recipient INTEGER,
  created_at INTEGER NOT NULL, text TEXT, welcome INTEGER NOT NULL,
  urls TEXT, archive INTEGER NOT NULL, headers_only INTEGER NOT NULL DEFAULT 0) STRICT;
CREATE INDEX messages_by_conversation ON messages(conversation, created_at);
-- Search sorts what the full-text index found by time, and filters it by
-- conversation and sender: this covers it without reading whole rows
-- (which a common word makes hundreds of thousands of).
CREATE INDEX messages_by_n ON messages(n, created_at, conversation, sender);
-- Messages only headers files showed (no text): few, found at once.
CREATE INDEX messages_headers_only ON messages(n) WHERE headers_only;
CREATE TABLE reactions(
  message INTEGER NOT NULL, sender TEXT, key TEXT, event_id TEXT, created_at INTEGER) STRICT;
CREATE INDEX reactions_by_message ON reactions(message);
CREATE TABLE edits(
  message INTEGER NOT NULL, text TEXT, created_at INTEGER) STRICT;
CREATE INDEX edits_by_message ON edits(message);
CREATE VIRTUAL TABLE message_text USING fts5(
  text, content='messages', content_rowid='n', detail=column);
CREATE TABLE objects(
  id BLOB PRIMARY KEY, size INTEGER NOT NULL, stored INTEGER,
  blake3 BLOB, sha256 BLOB) STRICT, WITHOUT ROWID;
CREATE TABLE media(
  n INTEGER PRIMARY KEY, message TEXT NOT NULL, url TEXT NOT NULL,
  ordinal INTEGER NOT NULL, kind INTEGER NOT NULL, original_name TEXT,
  object BLOB, orphan INTEGER,
  archives BLOB NOT NULL DEFAULT x'', file_archives BLOB NOT NULL DEFAULT x'',
  UNIQUE(message, url)) STRICT;
CREATE INDEX media_by_object ON media(object);
CREATE TABLE orphans(
  n INTEGER PRIMARY KEY, name TEXT NOT NULL, blake3 TEXT NOT NULL, prefix TEXT,
  grp INTEGER NOT NULL, object BLOB NOT NULL,
  archives BLOB NOT NULL DEFAULT x'', linked INTEGER NOT NULL DEFAULT 0,
  UNIQUE(name, blake3)) STRICT;
CREATE INDEX orphans_by_prefix ON orphans(prefix);
-- A conversation's other events (joins, leaves, 2020 reactions, unknown
-- kinds); `users` is a JSON array of user ids.
CREATE TABLE events(
  conversation INTEGER NOT NULL, kind INTEGER NOT NULL, at INTEGER, by TEXT,
  users TEXT, key TEXT, event_id TEXT, detail TEXT) STRICT;
CREATE INDEX events_by_conversation ON events(conversation, at);
-- Every sighting of a handle or name (log order is `n`), and for each
-- user the one shown (see `people::resolve`), kept up to date by apply.
CREATE TABLE names(
  n INTEGER PRIMARY KEY, user TEXT NOT NULL, handle TEXT, display TEXT, note TEXT,
  source INTEGER NOT NULL, file TEXT, archive INTEGER, first_seen INTEGER,
  last_seen INTEGER, count INTEGER NOT NULL) STRICT;
CREATE INDEX names_by_user ON names(user);
CREATE INDEX names_by_handle ON names(handle COLLATE NOCASE);
CREATE TABLE people(
  user TEXT PRIMARY KEY, handle TEXT, handle_source INTEGER, handle_seen INTEGER,
  name TEXT, name_source INTEGER, name_seen INTEGER, note TEXT) STRICT, WITHOUT ROWID;
CREATE TABLE integrity(
  object BLOB PRIMARY KEY, verdict INTEGER NOT NULL, report TEXT NOT NULL,
  checked_at INTEGER NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE posters(
  of BLOB PRIMARY KEY, object BLOB NOT NULL, size INTEGER NOT NULL,
  stored INTEGER NOT NULL, blake3 BLOB NOT NULL, sha256 BLOB NOT NULL) STRICT, WITHOUT ROWID;
CREATE INDEX posters_by_object ON posters(object);
-- The erasure ledger: keyed hashes of forgotten message ids (kind 0) and
-- contents (kind 1), and each forgetting's date, scope and counts.
CREATE TABLE forgotten(hash BLOB PRIMARY KEY, kind INTEGER NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE forgettings(
  n INTEGER PRIMARY KEY, at INTEGER NOT NULL, scope TEXT NOT NULL,
  messages INTEGER NOT NULL, contents INTEGER NOT NULL) STRICT;
-- Write-only importer keys; revoked ones keep their row.
CREATE TABLE importers(id TEXT PRIMARY KEY, added INTEGER NOT NULL, revoked INTEGER) STRICT;
-- How far each importer epoch is merged, and the vault's numbers of the
-- archives it started.
CREATE TABLE inbox_merged(
  importer TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL, mac BLOB NOT NULL,
  PRIMARY KEY(importer, epoch)) STRICT, WITHOUT ROWID;
CREATE TABLE inbox_archives(
  importer TEXT NOT NULL, epoch TEXT NOT NULL, n INTEGER NOT NULL, archive INTEGER NOT NULL,
  PRIMARY KEY(importer, epoch, n)) STRICT, WITHOUT ROWID;
";
