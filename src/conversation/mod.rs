//! Reading conversations: messages as a person reads them (names, text
//! with links expanded, reactions, edits, media), a conversation's
//! transcript ([`transcript`]) and full-text search ([`search`]).

pub mod list;
pub mod search;
pub mod transcript;

use rusqlite::Row;
use serde::Serialize;

use crate::dm::{unescape_html, ConversationKind, UrlEntity};
use crate::index::people::Directory;
use crate::media::MediaKind;
use crate::time::Timestamp;

/// A message as shown.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    /// Its id.
    pub id: String,
    /// Its conversation.
    pub conversation_id: String,
    /// The conversation's name, when it has one.
    pub conversation_name: Option<String>,
    /// `one_to_one` or `group`.
    pub conversation_kind: Option<ConversationKind>,
    /// Who sent it.
    pub sender_id: Option<String>,
    /// The sender's handle, when anyone named them.
    pub sender_handle: Option<String>,
    /// The sender's display name, likewise.
    pub sender_name: Option<String>,
    /// When.
    pub created_at: Timestamp,
    /// The text as a person reads it: HTML escapes undone, `t.co` links
    /// replaced by where they point, links to its own media left out.
    pub text: Option<String>,
    /// An automated welcome message.
    pub welcome: bool,
    /// Known only from a headers file: who, when and where, but no text.
    pub headers_only: bool,
    /// The links it held.
    pub links: Vec<UrlEntity>,
    /// Reactions to it.
    pub reactions: Vec<ReactionView>,
    /// Earlier versions of its text, oldest first.
    pub edits: Vec<EditView>,
    /// Its media.
    pub media: Vec<MediaBrief>,
}

/// A reaction, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct ReactionView {
    /// Who reacted.
    pub sender_id: Option<String>,
    /// Their name or handle, when anyone named them.
    pub sender_name: Option<String>,
    /// X's key: `like`, `funny`, `agree`, …
    pub key: Option<String>,
    /// The emoji X shows for the key, when dmvault knows it.
    pub emoji: Option<&'static str>,
    /// When.
    pub at: Option<Timestamp>,
}

/// An earlier version of a message's text.
#[derive(Debug, Clone, Serialize)]
pub struct EditView {
    /// The text then (HTML escapes undone).
    pub text: Option<String>,
    /// When it was edited.
    pub at: Option<Timestamp>,
}

/// A media file of a message, in brief.
#[derive(Debug, Clone, Serialize)]
pub struct MediaBrief {
    /// image, gif or video.
    pub kind: MediaKind,
    /// Position among the message's media (orphan files named after the
    /// message: 0).
    pub ordinal: u32,
    /// The file's name in the archive.
    pub original_name: Option<String>,
    /// Plaintext size; `None` when no archive had the file.
    pub size: Option<u64>,
    /// `ok`, `damaged`, `unreadable`, `unchecked`, or `missing`.
    pub integrity: &'static str,
    /// Why the verdict is not `ok`, as FFmpeg said.
    pub integrity_detail: Option<String>,
    /// The object holding the file (hex), when there is one.
    pub object: Option<String>,
    /// The object holding its poster (hex), when it has one.
    pub poster: Option<String>,
}

/// The emoji X shows for a reaction key.
pub fn reaction_emoji(key: &str) -> Option<&'static str> {
    Some(match key {
        "like" => "\u{2764}\u{fe0f}",
        "funny" => "\u{1f602}",
        "surprised" => "\u{1f632}",
        "sad" => "\u{1f622}",
        "excited" => "\u{1f525}",
        "agree" => "\u{1f44d}",
        "disagree" => "\u{1f44e}",
        _ => return None,
    })
}

/// The text a person reads: escapes undone, each `t.co` link replaced by
/// where it points, links to the message's own media left out.
pub fn shown_text(text: &str, links: &[UrlEntity]) -> String {
    let mut out = unescape_html(text).into_owned();
    for l in links {
        let Some(short) = l.url.as_deref().filter(|u| !u.is_empty()) else {
            continue;
        };
        let long = l.expanded.as_deref().unwrap_or(short);
        let own_media = long.contains("/messages/media/");
        out = out.replace(short, if own_media { "" } else { long });
    }
    out.trim().to_owned()
}

/// The columns of a message row that [`read_message`] reads, given the
/// `messages m` it selects from.
pub(crate) const MESSAGE_COLUMNS: &str = "CAST(m.id AS TEXT), c.id, c.kind, su.id, m.created_at,
  m.text, m.welcome, m.urls, m.headers_only,
  (SELECT json_group_array(json_array(x.sender, x.key, x.created_at)) FROM reactions x
    WHERE x.message = m.n),
  (SELECT json_group_array(json_array(x.text, x.created_at)) FROM edits x
    WHERE x.message = m.n),
  (SELECT json_group_array(json_array(x.kind, x.ordinal, x.name, x.size, x.verdict, x.object,
       x.detail, x.poster)) FROM (
     SELECT md.kind AS kind, md.ordinal AS ordinal,
       CASE WHEN md.object IS NOT NULL THEN md.original_name ELSE o.name END AS name,
       ob.size AS size, lower(hex(coalesce(md.object, o.object))) AS object,
       i.report ->> '$.detail' AS detail,
       (SELECT lower(hex(p.object)) FROM posters p
         WHERE p.of = coalesce(md.object, o.object)) AS poster,
       CASE WHEN coalesce(md.object, o.object) IS NULL THEN 'missing'
         ELSE CASE i.verdict WHEN 0 THEN 'ok' WHEN 1 THEN 'damaged' WHEN 2 THEN 'unreadable'
         ELSE 'unchecked' END END AS verdict
     FROM media md LEFT JOIN orphans o ON o.n = md.orphan
     LEFT JOIN objects ob ON ob.id = coalesce(md.object, o.object)
     LEFT JOIN integrity i ON i.object = coalesce(md.object, o.object)
     WHERE md.message = CAST(m.id AS TEXT)
     UNION ALL
     SELECT CASE WHEN lower(o.name) GLOB '*.mp4' OR lower(o.name) GLOB '*.mov'
         OR lower(o.name) GLOB '*.webm' OR lower(o.name) GLOB '*.m4v' THEN 2 ELSE 0 END,
       0, o.name, ob.size, lower(hex(o.object)), i.report ->> '$.detail',
       (SELECT lower(hex(p.object)) FROM posters p WHERE p.of = o.object),
       CASE i.verdict WHEN 0 THEN 'ok' WHEN 1 THEN 'damaged' WHEN 2 THEN 'unreadable'
         ELSE 'unchecked' END
     FROM orphans o LEFT JOIN objects ob ON ob.id = o.object
     LEFT JOIN integrity i ON i.object = o.object
     WHERE o.prefix = CAST(m.id AS TEXT) AND o.linked = 0
     ORDER BY 2, 3) x)";

/// The joins [`MESSAGE_COLUMNS`] needs.
pub(crate) const MESSAGE_JOINS: &str = "JOIN conversations c ON c.n = m.conversation
  LEFT JOIN users su ON su.n = m.sender";

/// Reads a row of [`MESSAGE_COLUMNS`] (starting at column `at`).
pub(crate) fn read_message(
    r: &Row<'_>,
    at: usize,
    dir: &Directory,
) -> rusqlite::Result<MessageView> {
    let json = |i: usize| -> rusqlite::Result<Vec<serde_json::Value>> {
        Ok(r.get::<_, Option<String>>(at + i)?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    };
    let time = |v: &serde_json::Value| v.as_i64().map(Timestamp::from_millis_clamped);
    let text_of = |v: &serde_json::Value| v.as_str().map(|s| unescape_html(s).into_owned());
    let links: Vec<UrlEntity> = r
        .get::<_, Option<String>>(at + 7)?
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let conversation_id: String = r.get(at + 1)?;
    let sender_id: Option<String> = r.get(at + 3)?;
    let shown = sender_id
        .as_deref()
        .map(|s| dir.shown(s))
        .unwrap_or_default();
    let reactions = json(9)?
        .iter()
        .map(|x| {
            let sender = x[0].as_str().map(str::to_owned);
            let key = x[1].as_str().map(str::to_owned);
            ReactionView {
                sender_name: sender.as_deref().and_then(|s| dir.shown(s).short()),
                emoji: key.as_deref().and_then(reaction_emoji),
                sender_id: sender,
                key,
                at: time(&x[2]),
            }
        })
        .collect();
    let mut edits: Vec<EditView> = json(10)?
        .iter()
        .map(|x| EditView {
            text: text_of(&x[0]),
            at: time(&x[1]),
        })
        .collect();
    edits.sort_by_key(|e| e.at);
    let media = json(11)?
        .iter()
        .map(|x| MediaBrief {
            kind: crate::index::kind_from_code(x[0].as_i64().unwrap_or(0)),
            ordinal: x[1]
                .as_u64()
                .and_then(|o| u32::try_from(o).ok())
                .unwrap_or(0),
            original_name: x[2].as_str().map(str::to_owned),
            size: x[3].as_u64(),
            integrity: match x[4].as_str() {
                Some("ok") => "ok",
                Some("damaged") => "damaged",
                Some("unreadable") => "unreadable",
                Some("missing") => "missing",
                _ => "unchecked",
            },
            object: x[5].as_str().filter(|o| !o.is_empty()).map(str::to_owned),
            integrity_detail: x[6].as_str().map(str::to_owned),
            poster: x[7].as_str().map(str::to_owned),
        })
        .collect();
    Ok(MessageView {
        id: r.get(at)?,
        conversation_name: dir.conversation_name(&conversation_id).map(str::to_owned),
        conversation_id,
        conversation_kind: r
            .get::<_, Option<i64>>(at + 2)?
            .map(crate::index::conversation_kind),
        sender_handle: shown.handle,
        sender_name: shown.name,
        sender_id,
        created_at: Timestamp::from_millis_clamped(r.get(at + 4)?),
        text: r
            .get::<_, Option<String>>(at + 5)?
            .map(|t| shown_text(&t, &links)),
        welcome: r.get(at + 6)?,
        headers_only: r.get(at + 8)?,
        links,
        reactions,
        edits,
        media,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_expanded_and_own_media_links_dropped() {
        let links = vec![
            UrlEntity {
                url: Some("https://t.co/abc".into()),
                expanded: Some("https://example.com/page".into()),
                display: Some("example.com/page".into()),
            },
            UrlEntity {
                url: Some("https://t.co/pic".into()),
                expanded: Some("https://twitter.com/messages/media/123".into()),
                display: None,
            },
        ];
        assert_eq!(
            shown_text("look &amp; see https://t.co/abc https://t.co/pic", &links),
            "look & see https://example.com/page"
        );
        assert_eq!(reaction_emoji("funny"), Some("\u{1f602}"));
        assert_eq!(reaction_emoji("new_kind"), None);
    }
}
