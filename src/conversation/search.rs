//! Full-text search over message text (SQLite FTS5, in the encrypted
//! index).
//!
//! The query is words (all must appear), `"quoted phrases"` (the words in
//! that order) and `prefix*` (any word starting so). Case and accents
//! matter as FTS5's `unicode61` tokenizer says: case does not. Nothing else
//! of FTS5's syntax is taken, so a query can never be a syntax error.

use rusqlite::{named_params, params};
use serde::Serialize;

use super::{read_message, MessageView, MESSAGE_COLUMNS, MESSAGE_JOINS};
use crate::dm::unescape_html;
use crate::error::{Error, Result};
use crate::index::people::Directory;
use crate::index::{kind_code, sql_err, Index};
use crate::media::MediaKind;
use crate::time::Timestamp;

/// What to search for.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SearchQuery {
    /// The words, phrases and prefixes.
    pub text: String,
    /// Only this conversation (its id).
    pub conversation: Option<String>,
    /// Only messages from this user id.
    pub sender: Option<String>,
    /// Sent at or after.
    pub since: Option<Timestamp>,
    /// Sent before.
    pub until: Option<Timestamp>,
    /// Only messages with media of this kind.
    pub kind: Option<MediaKind>,
    /// Only messages with media.
    pub has_media: bool,
    /// At most this many results (default 20).
    pub limit: Option<u32>,
    /// Skip this many results first.
    pub offset: u32,
}

impl SearchQuery {
    /// A query for `text`, everything else unset.
    pub fn new(text: &str) -> SearchQuery {
        SearchQuery {
            text: text.to_owned(),
            ..SearchQuery::default()
        }
    }
}

/// A message that matched.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// The message.
    #[serde(flatten)]
    pub message: MessageView,
    /// Its text around the first match (at most about 30 words), each
    /// matching word in `**`.
    pub snippet: String,
}

/// The user's query as FTS5 takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Every word, quoted (so that FTS5's operators are words like any
    /// other), `*` kept for a prefix; all must appear.
    pub fts: String,
    /// The phrases, each as [`normalize`] makes it, one per line: the
    /// full-text index keeps no positions, so their order is checked on
    /// the text of the messages its words found.
    pub phrases: Option<String>,
    /// Each word, and whether it is a prefix (to mark them in snippets).
    pub words: Vec<(String, bool)>,
}

/// The words of a text as the index's tokenizer sees them (near enough):
/// runs of letters and digits, lowercased.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A text as [`Parsed::phrases`] compares it: its words (HTML escapes
/// undone), space-separated, with a space on each side.
pub fn normalize(text: &str) -> String {
    format!(" {} ", words(&unescape_html(text)).join(" "))
}

/// Parses the user's query: words, `"quoted phrases"` and `prefix*`.
///
/// # Errors
/// [`Error::Invalid`] when there is nothing to search for.
pub fn parse_query(text: &str) -> Result<Parsed> {
    let (mut terms, mut phrases, mut marks) = (Vec::new(), Vec::new(), Vec::new());
    let mut rest = text.trim();
    while !rest.is_empty() {
        let quoted = rest.starts_with('"');
        let (term, after) = if let Some(r) = rest.strip_prefix('"') {
            match r.find('"') {
                Some(end) => (&r[..end], &r[end + 1..]),
                None => (r, ""),
            }
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        let prefix = term.ends_with('*') || after.starts_with('*');
        let after = after.strip_prefix('*').unwrap_or(after);
        let ws = words(term);
        for (i, w) in ws.iter().enumerate() {
            let star = if prefix && i + 1 == ws.len() { "*" } else { "" };
            terms.push(format!("\"{w}\"{star}"));
            marks.push((w.clone(), !star.is_empty()));
        }
        if ws.len() > 1 && !prefix {
            phrases.push(ws.join(" "));
        } else if ws.len() > 1 && quoted {
            phrases.push(ws[..ws.len() - 1].join(" "));
        }
        rest = after.trim_start();
    }
    if terms.is_empty() {
        return Err(Error::Invalid(format!(
            "{text:?} has no words to search for; give words, \"a phrase\" or a prefix*"
        )));
    }
    Ok(Parsed {
        fts: terms.join(" "),
        phrases: (!phrases.is_empty()).then(|| phrases.join("\n")),
        words: marks,
    })
}

/// The text around the first word that matches, matching words in `**`:
/// from 8 words before it to 22 after, `…` where text was cut.
pub fn snippet(text: &str, marks: &[(String, bool)]) -> String {
    // Words and what separates them, in order.
    let mut pieces: Vec<(&str, bool)> = Vec::new();
    let (mut start, mut in_word) = (0, false);
    for (i, c) in text.char_indices() {
        let word = c.is_alphanumeric();
        if i > start && word != in_word {
            pieces.push((&text[start..i], in_word));
            start = i;
        }
        in_word = word;
    }
    if start < text.len() {
        pieces.push((&text[start..], in_word));
    }
    let hit = |w: &str| {
        let w = w.to_lowercase();
        marks.iter().any(|(m, prefix)| {
            if *prefix {
                w.starts_with(m.as_str())
            } else {
                w == *m
            }
        })
    };
    let words: Vec<usize> = (0..pieces.len()).filter(|&i| pieces[i].1).collect();
    let first = words.iter().position(|&i| hit(pieces[i].0)).unwrap_or(0);
    let from = words.get(first.saturating_sub(8)).copied().unwrap_or(0);
    let to = words.get(first + 22).copied().unwrap_or(pieces.len());
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    for &(p, is_word) in &pieces[from..to] {
        let p = if is_word { p } else { &*p.replace('\n', " ") };
        if is_word && hit(p) {
            out.push_str(&format!("**{p}**"));
        } else {
            out.push_str(p);
        }
    }
    if to < pieces.len() {
        out.push('…');
    }
    out.trim().to_owned()
}

/// Registers `has_phrases(text, phrases)`: whether a message's text holds
/// every phrase (one per line, [`normalize`]d), which the full-text index
/// cannot tell.
pub(crate) fn register(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("has_phrases", 2, flags, |ctx| {
        let text = ctx.get::<Option<String>>(0)?.unwrap_or_default();
        let Some(phrases) = ctx.get::<Option<String>>(1)? else {
            return Ok(true);
        };
        let text = normalize(&text);
        Ok(phrases.lines().all(|p| text.contains(&format!(" {p} "))))
    })
}

/// The matches, newest first, as message numbers: what the full-text and
/// the covering index of numbers, times, conversations and senders tell
/// without reading a message.
const CANDIDATES: &str = "SELECT m.n FROM message_text
  JOIN messages m INDEXED BY messages_by_n ON m.n = message_text.rowid
WHERE message_text MATCH :q
  AND (:conv IS NULL OR m.conversation = (SELECT n FROM conversations WHERE id = :conv))
  AND (:sender IS NULL OR m.sender = (SELECT n FROM users WHERE id = :sender))
  AND (:since IS NULL OR m.created_at >= :since) AND (:until IS NULL OR m.created_at < :until)
  AND (NOT :media OR m.n IN (SELECT msg.n FROM media md
    JOIN messages msg ON msg.id = msg_key(md.message) WHERE :kind IS NULL OR md.kind = :kind))
ORDER BY m.created_at DESC, m.n DESC LIMIT :cap";

/// Whether message `?1` holds the phrases `?2`.
const CHECK: &str = "SELECT has_phrases(m.text, ?2) FROM messages m WHERE m.n = ?1";

/// The messages whose text matches, newest first.
///
/// The full-text index finds the candidates, the covering index sorts them
/// (and filters them by conversation, sender, time and media); phrases are
/// then checked one candidate at a time, newest first, until the page is
/// full: a common word costs a sort of numbers, not a read of every
/// message that has it.
///
/// # Errors
/// [`Error::Invalid`] for a query without words; [`Error::Index`].
pub fn search(index: &Index, dir: &Directory, q: &SearchQuery) -> Result<Vec<Hit>> {
    let parsed = parse_query(&q.text)?;
    let conn = index.conn();
    let checks = parsed.phrases.is_some();
    let (limit, offset) = (q.limit.unwrap_or(20) as usize, q.offset as usize);
    let mut chosen = Vec::new();
    let mut find = || -> rusqlite::Result<()> {
        let mut st = conn.prepare_cached(CANDIDATES)?;
        let mut rows = st.query(named_params! {
            ":q": parsed.fts,
            ":conv": q.conversation,
            ":sender": q.sender,
            ":since": q.since.map(Timestamp::millis),
            ":until": q.until.map(Timestamp::millis),
            ":media": q.has_media || q.kind.is_some(),
            ":kind": q.kind.map(kind_code),
            // A page needs no more; with checks to make, there is no telling.
            ":cap": if checks { -1 } else { i64::try_from(offset + limit).unwrap_or(-1) },
        })?;
        let mut check = conn.prepare_cached(CHECK)?;
        let mut skipped = 0;
        while chosen.len() < limit {
            let Some(r) = rows.next()? else { break };
            let n: i64 = r.get(0)?;
            if parsed.phrases.is_some()
                && !check.query_row(params![n, parsed.phrases], |r| r.get::<_, bool>(0))?
            {
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            chosen.push(n);
        }
        Ok(())
    };
    find().map_err(sql_err)?;
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m {MESSAGE_JOINS} WHERE m.n = ?"
        ))
        .map_err(sql_err)?;
    let mut out = Vec::with_capacity(chosen.len());
    for n in chosen {
        let message = st
            .query_row([n], |r| read_message(r, 0, dir))
            .map_err(sql_err)?;
        out.push(Hit {
            snippet: snippet(message.text.as_deref().unwrap_or(""), &parsed.words),
            message,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{normalize, parse_query};

    fn fts(q: &str) -> (String, Option<String>) {
        let p = parse_query(q).unwrap();
        (p.fts, p.phrases)
    }

    #[test]
    fn queries_become_quoted_words_and_phrases() {
        assert_eq!(fts("blue One"), ("\"blue\" \"one\"".into(), None));
        assert_eq!(
            fts("\"the Blue\" frid*"),
            ("\"the\" \"blue\" \"frid\"*".into(), Some("the blue".into()))
        );
        assert_eq!(fts("AND OR NOT (x").0, "\"and\" \"or\" \"not\" \"x\"");
        assert_eq!(fts("say \"unclosed"), ("\"say\" \"unclosed\"".into(), None));
        assert_eq!(fts("don't"), ("\"don\" \"t\"".into(), Some("don t".into())));
        assert_eq!(
            fts("\"see you at*\""),
            ("\"see\" \"you\" \"at\"*".into(), Some("see you".into()))
        );
        assert!(parse_query("  \"\" * ").is_err());
        assert_eq!(normalize("Hello, &amp; World!"), " hello world ");
        let marks = parse_query("typ* world").unwrap().words;
        assert_eq!(
            super::snippet("Fixed the typo, world!", &marks),
            "Fixed the **typo**, **world**!"
        );
        let long: String = (0..60).map(|i| format!("w{i} ")).collect::<String>() + "typos";
        let s = super::snippet(&long, &marks);
        assert!(s.starts_with("…w52 ") && s.ends_with("**typos**"), "{s}");
    }
}
