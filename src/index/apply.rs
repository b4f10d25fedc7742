//! Applying log records to the index: each record type to its rows, then
//! linking orphan files to the references that name them.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{params, Connection, OptionalExtension};

use super::msgid::MsgId;
use super::{kind_code, sql_err, verdict_code};
use crate::error::Result;
use crate::media::expected_file_name;
use crate::vault::catalog::{
    ConversationRecord, FileFacts, InboxMergedRecord, IntegrityRecord, MediaRecord, MessageRecord,
    OrphanRecord, PosterRecord, Record,
};
use crate::vault::keys::unhex;

/// Applies records inside one transaction.
pub(super) struct Applier<'t> {
    tx: &'t Connection,
    users: HashMap<String, i64>,
    conversations: HashMap<String, i64>,
    /// Message ids whose orphans must be linked again.
    prefixes: BTreeSet<String>,
    /// The first message these records added (the full-text index takes
    /// the new messages in one statement at the end).
    first_new: Option<i64>,
    /// The run of new messages being noted: archive, first and last number.
    run: Option<(u32, i64, i64)>,
    /// Messages each archive showed, counted here and added to
    /// `archive_messages` once, at the end.
    shown: HashMap<u32, u64>,
    /// Users whose sightings changed: the name shown is chosen again.
    named: BTreeSet<String>,
}

impl<'t> Applier<'t> {
    pub fn new(tx: &'t Connection) -> Self {
        Applier {
            tx,
            users: HashMap::new(),
            conversations: HashMap::new(),
            prefixes: BTreeSet::new(),
            first_new: None,
            run: None,
            shown: HashMap::new(),
            named: BTreeSet::new(),
        }
    }

    /// Applies every record, then links orphans.
    pub fn apply_all(mut self, records: &[Record]) -> Result<()> {
        for r in records {
            self.apply(r).map_err(sql_err)?;
        }
        self.flush_run().map_err(sql_err)?;
        self.flush_counts().map_err(sql_err)?;
        for p in std::mem::take(&mut self.prefixes) {
            self.link_orphans(&p).map_err(sql_err)?;
        }
        for user in std::mem::take(&mut self.named) {
            super::people::choose(self.tx, &user).map_err(sql_err)?;
        }
        if let Some(first) = self.first_new {
            self.tx
                .prepare_cached(
                    "INSERT INTO message_text(rowid, text)
                     SELECT n, text FROM messages WHERE n >= ?",
                )
                .and_then(|mut st| st.execute([first]))
                .map_err(sql_err)?;
        }
        Ok(())
    }

    fn apply(&mut self, r: &Record) -> rusqlite::Result<()> {
        match r {
            Record::Archive(a) => {
                self.tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO archives(n, name, size, sha256, blake3, generation,
                       generation_date, account_id, username, imported_at, stat, done, reader)
                     VALUES (?,?,?,?,?,?,?,?,?,?,?,0,?)",
                    )?
                    .execute(params![
                        a.n,
                        a.name,
                        i64::try_from(a.size).unwrap_or(i64::MAX),
                        a.sha256,
                        a.blake3,
                        a.generation,
                        a.generation_date,
                        a.account_id,
                        a.username,
                        a.imported_at.millis(),
                        a.stat
                            .as_ref()
                            .map(|s| serde_json::to_string(s).unwrap_or_default()),
                        a.reader,
                    ])?;
            }
            Record::ArchiveDone {
                n, sha256, blake3, ..
            } => {
                self.tx
                    .prepare_cached(
                        "UPDATE archives SET done = 1, sha256 = coalesce(?, sha256),
                         blake3 = coalesce(?, blake3) WHERE n = ?",
                    )?
                    .execute(params![sha256, blake3, n])?;
            }
            Record::ArchiveRead { n, reader } => {
                self.tx
                    .prepare_cached("UPDATE archives SET reader = max(reader, ?) WHERE n = ?")?
                    .execute(params![reader, n])?;
            }
            Record::Conversation(c) => self.conversation(c)?,
            Record::Message(m) => self.message(m)?,
            Record::Seen { message, archive } => self.shown_again(*archive, message)?,
            Record::SeenRanges { archive, ranges } => {
                // Kept as ranges: no message row changes.
                let mut st = self
                    .tx
                    .prepare_cached("INSERT OR IGNORE INTO archive_ranges VALUES (?, ?, ?)")?;
                let mut added = 0;
                for &(a, b) in ranges.iter().filter(|(a, b)| a <= b) {
                    let first = i64::try_from(a).unwrap_or(i64::MAX);
                    let last = i64::try_from(b).unwrap_or(i64::MAX);
                    if st.execute(params![archive, first, last])? == 1 {
                        added += usize::try_from(b - a).unwrap_or(usize::MAX - 1) + 1;
                    }
                }
                self.count_messages(*archive, added);
            }
            Record::Media(m) => self.media(m)?,
            Record::Orphan(o) => self.orphan(o)?,
            Record::Object(o) => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO objects(id, size, stored) VALUES (?, ?, ?)
                         ON CONFLICT(id) DO UPDATE SET size = excluded.size, stored = excluded.stored",
                    )?
                    .execute(params![
                        &o.id.0[..],
                        i64::try_from(o.size).unwrap_or(i64::MAX),
                        i64::try_from(o.stored).unwrap_or(i64::MAX)
                    ])?;
            }
            Record::Integrity(i) => self.integrity(i)?,
            Record::Poster(p) => self.poster(p)?,
            Record::Importer { id, added } => {
                self.tx
                    .prepare_cached("INSERT OR IGNORE INTO importers VALUES (?, ?, NULL)")?
                    .execute(params![id, added.millis()])?;
            }
            Record::ImporterRevoked { id, at } => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO importers VALUES (?1, ?2, ?2)
                         ON CONFLICT(id) DO UPDATE SET revoked = coalesce(revoked, ?2)",
                    )?
                    .execute(params![id, at.millis()])?;
            }
            Record::InboxMerged(m) => self.inbox_merged(m)?,
            Record::Forgotten(f) => self.forgotten(f)?,
            // Its chain's start is noted with the segment (`apply_with_head`).
            Record::Compaction(_) => {}
            Record::Name(r) => {
                super::people::add_sighting(self.tx, r)?;
                self.named.insert(r.user.clone());
            }
        }
        Ok(())
    }

    /// Notes that `archive` showed message `n` (new to the vault): runs of
    /// numbers become one range row.
    fn note_shown(&mut self, archive: u32, n: i64) -> rusqlite::Result<()> {
        match &mut self.run {
            Some((a, _, last)) if *a == archive && *last + 1 == n => *last = n,
            _ => {
                self.flush_run()?;
                self.run = Some((archive, n, n));
            }
        }
        Ok(())
    }

    /// Writes the run of new messages noted so far as a range row.
    fn flush_run(&mut self) -> rusqlite::Result<()> {
        if let Some((a, first, last)) = self.run.take() {
            self.tx
                .prepare_cached("INSERT OR IGNORE INTO archive_ranges VALUES (?, ?, ?)")?
                .execute(params![a, first, last])?;
        }
        Ok(())
    }

    /// A known message (by id) that `archive` showed again: a range of one.
    /// Counted once, whichever record says it.
    fn shown_again(&mut self, archive: u32, id: &str) -> rusqlite::Result<()> {
        // The run being noted may hold it: written first, so the lookup sees it.
        self.flush_run()?;
        let known = self
            .tx
            .prepare_cached(super::read::KNOWN)?
            .query_row(params![MsgId(id), archive], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?))
            })
            .optional()?;
        let Some((n, false)) = known else {
            return Ok(());
        };
        self.tx
            .prepare_cached("INSERT OR IGNORE INTO archive_ranges VALUES (?, ?, ?)")?
            .execute(params![archive, n, n])?;
        self.count_messages(archive, 1);
        Ok(())
    }

    /// Keeps the number of messages each archive showed (for the summary of
    /// an archive imported before, without a pass over every message).
    fn count_messages(&mut self, archive: u32, added: usize) {
        *self.shown.entry(archive).or_default() += u64::try_from(added).unwrap_or(u64::MAX);
    }

    /// Adds the counts gathered to `archive_messages`.
    fn flush_counts(&mut self) -> rusqlite::Result<()> {
        for (archive, added) in std::mem::take(&mut self.shown) {
            if added == 0 {
                continue;
            }
            self.tx
                .prepare_cached(
                    "INSERT INTO archive_messages VALUES (?1, ?2)
                     ON CONFLICT(archive) DO UPDATE SET messages = messages + ?2",
                )?
                .execute(params![archive, i64::try_from(added).unwrap_or(i64::MAX)])?;
        }
        Ok(())
    }

    fn user(&mut self, id: &str) -> rusqlite::Result<i64> {
        intern(self.tx, &mut self.users, USERS, id)
    }

    fn conversation_n(&mut self, id: &str) -> rusqlite::Result<i64> {
        intern(self.tx, &mut self.conversations, CONVERSATIONS, id)
    }

    fn conversation(&mut self, c: &ConversationRecord) -> rusqlite::Result<()> {
        let n = self.conversation_n(&c.id)?;
        self.tx
            .prepare_cached(
                "UPDATE conversations SET kind = coalesce(kind, ?),
                 archives = bits_add(archives, ?) WHERE n = ?",
            )?
            .execute(params![kind_of_conversation(c.kind), c.archive, n])?;
        for p in &c.participants {
            let u = self.user(p)?;
            self.tx
                .prepare_cached("INSERT OR IGNORE INTO participants VALUES (?, ?)")?
                .execute(params![n, u])?;
        }
        for name in &c.names {
            self.tx
                .prepare_cached("INSERT OR IGNORE INTO conversation_names VALUES (?, ?, ?, ?)")?
                .execute(params![n, name.at.map(|t| t.millis()), name.name, name.by])?;
        }
        for e in &c.events {
            let users =
                (!e.users.is_empty()).then(|| serde_json::to_string(&e.users).unwrap_or_default());
            // The same event from another archive is kept once.
            self.tx
                .prepare_cached(
                    "INSERT INTO events SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
                     WHERE NOT EXISTS (SELECT 1 FROM events WHERE conversation = ?1
                       AND kind = ?2 AND at IS ?3 AND by IS ?4 AND users IS ?5
                       AND key IS ?6 AND event_id IS ?7 AND detail IS ?8)",
                )?
                .execute(params![
                    n,
                    e.kind.code(),
                    e.at.map(|t| t.millis()),
                    e.by,
                    users,
                    e.key,
                    e.event_id,
                    e.detail
                ])?;
        }
        Ok(())
    }

    fn message(&mut self, m: &MessageRecord) -> rusqlite::Result<()> {
        let conversation = self.conversation_n(&m.conversation)?;
        let sender = m.sender.as_deref().map(|s| self.user(s)).transpose()?;
        let recipient = m.recipient.as_deref().map(|s| self.user(s)).transpose()?;
        let urls = (!m.urls.is_empty()).then(|| serde_json::to_string(&m.urls).unwrap_or_default());
        let inserted = self
            .tx
            .prepare_cached(
                "INSERT INTO messages(id, conversation, sender, recipient, created_at, text,
                   welcome, urls, archive, headers_only) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT(id) DO NOTHING",
            )?
            .execute(params![
                MsgId(&m.id),
                conversation,
                sender,
                recipient,
                m.created_at.millis(),
                m.text,
                m.welcome,
                urls,
                m.archive,
                m.headers_only,
            ])?;
        if inserted == 0 {
            // Known: this archive shows it too, and may complete it.
            if !m.headers_only {
                self.complete(m, urls.as_deref())?;
            }
            return self.shown_again(m.archive, &m.id);
        }
        self.count_messages(m.archive, 1);
        let n = self.tx.last_insert_rowid();
        self.first_new.get_or_insert(n);
        self.note_shown(m.archive, n)?;
        self.details(n, m)
    }

    /// A message known only from a headers file, now read from a DM file:
    /// its text, links, reactions and edits are added (its number, and so
    /// the archives that showed it, stay).
    fn complete(&mut self, m: &MessageRecord, urls: Option<&str>) -> rusqlite::Result<()> {
        let n: Option<i64> = self
            .tx
            .prepare_cached(
                "UPDATE messages SET text = ?, welcome = ?, urls = ?, headers_only = 0
                 WHERE id = ? AND headers_only RETURNING n",
            )?
            .query_row(params![m.text, m.welcome, urls, MsgId(&m.id)], |r| r.get(0))
            .optional()?;
        let Some(n) = n else { return Ok(()) };
        // Its empty entry in the full-text index is replaced (a message new
        // in these records gets its text indexed at the end instead).
        if self.first_new.is_none_or(|first| n < first) {
            self.tx
                .prepare_cached(
                    "INSERT INTO message_text(message_text, rowid, text) VALUES ('delete', ?, NULL)",
                )?
                .execute([n])?;
            self.tx
                .prepare_cached("INSERT INTO message_text(rowid, text) VALUES (?, ?)")?
                .execute(params![n, m.text])?;
        }
        self.details(n, m)
    }

    /// A new message's reactions and edits.
    fn details(&mut self, n: i64, m: &MessageRecord) -> rusqlite::Result<()> {
        for r in &m.reactions {
            self.tx
                .prepare_cached("INSERT INTO reactions VALUES (?, ?, ?, ?, ?)")?
                .execute(params![
                    n,
                    r.sender_id,
                    r.reaction_key,
                    r.event_id,
                    r.created_at.map(|t| t.millis())
                ])?;
        }
        for e in &m.edits {
            self.tx
                .prepare_cached("INSERT INTO edits VALUES (?, ?, ?)")?
                .execute(params![
                    n,
                    e.edited_text,
                    e.created_at_sec.map(|t| t.millis())
                ])?;
        }
        Ok(())
    }

    fn facts(&self, f: &FileFacts) -> rusqlite::Result<()> {
        let (b, s) = (unhex(&f.blake3), unhex(&f.sha256));
        self.tx
            .prepare_cached(
                "INSERT INTO objects(id, size, blake3, sha256) VALUES (?, ?, ?, ?)
                 ON CONFLICT(id) DO UPDATE SET blake3 = coalesce(blake3, excluded.blake3),
                   sha256 = coalesce(sha256, excluded.sha256)",
            )?
            .execute(params![
                &f.object.0[..],
                i64::try_from(f.size).unwrap_or(i64::MAX),
                b,
                s
            ])?;
        Ok(())
    }

    fn media(&mut self, m: &MediaRecord) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO media(message, url, ordinal, kind) VALUES (?, ?, ?, ?)
                 ON CONFLICT(message, url) DO NOTHING",
            )?
            .execute(params![m.message, m.url, m.ordinal, kind_code(m.kind)])?;
        self.tx
            .prepare_cached(
                "UPDATE media SET archives = bits_add(archives, ?) WHERE message = ? AND url = ?",
            )?
            .execute(params![m.archive, m.message, m.url])?;
        if let Some(f) = &m.file {
            self.facts(f)?;
            // The first archive that had the file gives its name.
            self.tx
                .prepare_cached(
                    "UPDATE media SET file_archives = bits_add(file_archives, ?),
                       original_name = CASE WHEN object IS NULL THEN ? ELSE original_name END,
                       object = coalesce(object, ?)
                     WHERE message = ? AND url = ?",
                )?
                .execute(params![
                    m.archive,
                    m.original_name,
                    &f.object.0[..],
                    m.message,
                    m.url
                ])?;
        }
        self.prefixes.insert(m.message.clone());
        Ok(())
    }

    fn orphan(&mut self, o: &OrphanRecord) -> rusqlite::Result<()> {
        self.facts(&o.file)?;
        self.tx
            .prepare_cached(
                "INSERT INTO orphans(name, blake3, prefix, grp, object, archives)
                 VALUES (?, ?, ?, ?, ?, bits_add(x'', ?))
                 ON CONFLICT(name, blake3) DO UPDATE SET archives = bits_add(archives, ?)",
            )?
            .execute(params![
                o.name,
                o.file.blake3,
                o.prefix,
                o.group,
                &o.file.object.0[..],
                o.archive,
                o.archive
            ])?;
        if let Some(p) = &o.prefix {
            self.prefixes.insert(p.clone());
        }
        Ok(())
    }

    fn poster(&self, p: &PosterRecord) -> rusqlite::Result<()> {
        let hash = |h: &str| crate::vault::keys::unhex(h).unwrap_or_default();
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO posters VALUES (?, ?, ?, ?, ?, ?)")?
            .execute(params![
                &p.of.0[..],
                &p.object.0[..],
                i64::try_from(p.size).unwrap_or(i64::MAX),
                i64::try_from(p.stored).unwrap_or(i64::MAX),
                hash(&p.blake3),
                hash(&p.sha256)
            ])?;
        Ok(())
    }

    fn forgotten(&self, f: &crate::vault::ledger::ForgottenRecord) -> rusqlite::Result<()> {
        for (kind, hashes) in [
            (0, &f.messages),
            (1, &f.contents),
            (2, &f.conversations),
            (3, &f.people),
        ] {
            for h in hashes {
                self.tx
                    .prepare_cached("INSERT OR IGNORE INTO forgotten VALUES (?, ?)")?
                    .execute(params![unhex(h).unwrap_or_default(), kind])?;
            }
        }
        self.tx
            .prepare_cached(
                "INSERT INTO forgettings(at, scope, messages, contents) VALUES (?, ?, ?, ?)",
            )?
            .execute(params![
                f.at.millis(),
                f.scope,
                f.messages.len() as i64,
                f.contents.len() as i64
            ])?;
        Ok(())
    }

    fn inbox_merged(&self, m: &InboxMergedRecord) -> rusqlite::Result<()> {
        let mac = unhex(&m.mac).unwrap_or_default();
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO inbox_merged VALUES (?, ?, ?, ?)")?
            .execute(params![
                m.importer,
                m.epoch,
                i64::try_from(m.seq).unwrap_or(i64::MAX),
                mac
            ])?;
        for (n, archive) in &m.archives {
            self.tx
                .prepare_cached("INSERT OR REPLACE INTO inbox_archives VALUES (?, ?, ?, ?)")?
                .execute(params![m.importer, m.epoch, n, archive])?;
        }
        Ok(())
    }

    fn integrity(&self, i: &IntegrityRecord) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO integrity VALUES (?, ?, ?, ?)")?
            .execute(params![
                &i.object.0[..],
                verdict_code(i.report.verdict),
                serde_json::to_string(&i.report).unwrap_or_default(),
                i.checked_at.millis()
            ])?;
        Ok(())
    }

    /// Links the orphan files named after message `prefix` to its
    /// references: a file that was an orphan in one archive becomes an
    /// ordinary reference once another archive shows its message. A
    /// reference takes the orphan named as its file would be, or, when it
    /// has no file, the only orphan of its message. A link, once made, stays.
    fn link_orphans(&self, prefix: &str) -> rusqlite::Result<()> {
        let orphans: Vec<(i64, String)> = self
            .tx
            .prepare_cached("SELECT n, name FROM orphans WHERE prefix = ? ORDER BY name, blake3")?
            .query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if orphans.is_empty() {
            return Ok(());
        }
        let refs: Vec<(i64, String, bool, Option<i64>)> = self
            .tx
            .prepare_cached(
                "SELECT n, url, object IS NOT NULL, orphan FROM media WHERE message = ?",
            )?
            .query_map([prefix], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (n, url, has_file, linked) in refs {
            let want = expected_file_name(prefix, &url);
            let exact = orphans.iter().find(|(_, name)| Some(name) == want.as_ref());
            let chosen = match (exact, orphans.as_slice()) {
                (Some(o), _) => Some(o.0),
                (None, [only]) if !has_file && linked.is_none() => Some(only.0),
                _ => None,
            };
            let Some(o) = chosen else { continue };
            self.tx
                .prepare_cached("UPDATE orphans SET linked = 1 WHERE n = ?")?
                .execute([o])?;
            self.tx
                .prepare_cached("UPDATE media SET orphan = coalesce(orphan, ?) WHERE n = ?")?
                .execute([o, n])?;
        }
        Ok(())
    }
}

/// How a table of ids (`users`, `conversations`) adds one and finds it.
type InternSql = [&'static str; 2];
const USERS: InternSql = [
    "INSERT OR IGNORE INTO users(id) VALUES (?)",
    "SELECT n FROM users WHERE id = ?",
];
const CONVERSATIONS: InternSql = [
    "INSERT OR IGNORE INTO conversations(id) VALUES (?)",
    "SELECT n FROM conversations WHERE id = ?",
];

/// The row number of `id` in a table of ids, added if new; `cache`
/// remembers the ones met (and is emptied past 100,000).
fn intern(
    tx: &Connection,
    cache: &mut HashMap<String, i64>,
    sql: InternSql,
    id: &str,
) -> rusqlite::Result<i64> {
    if let Some(&n) = cache.get(id) {
        return Ok(n);
    }
    tx.prepare_cached(sql[0])?.execute([id])?;
    let n = tx.prepare_cached(sql[1])?.query_row([id], |r| r.get(0))?;
    if cache.len() > 100_000 {
        cache.clear();
    }
    cache.insert(id.to_owned(), n);
    Ok(n)
}

fn kind_of_conversation(k: crate::dm::ConversationKind) -> i64 {
    match k {
        crate::dm::ConversationKind::OneToOne => 1,
        crate::dm::ConversationKind::Group => 2,
    }
}
