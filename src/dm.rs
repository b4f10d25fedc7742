//! The DM data model: conversations, events and messages, as X archives
//! write them (see `docs/archive-format.md` in the shared docs, §2).
//!
//! Every field that appeared or disappeared over the years is optional.
//! Ids stay strings: snowflakes exceed 2^53 and some tools (and XChat) use
//! ids that are not numbers at all.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::time::{DateError, Timestamp};

/// Whether a conversation is between two people or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    /// Two people (or one person with themselves): id `A-B`.
    OneToOne,
    /// A group: a numeric id without `-`.
    Group,
}

impl ConversationKind {
    /// Classifies a conversation by the file it came from and its id.
    ///
    /// Group files hold only groups. The single file of 2018 holds both, and
    /// there a group is an id without `-` (never infer it from the number of
    /// participants).
    pub fn classify(from_group_file: bool, conversation_id: &str) -> ConversationKind {
        if from_group_file || !conversation_id.contains('-') {
            ConversationKind::Group
        } else {
            ConversationKind::OneToOne
        }
    }

    /// `one_to_one` or `group`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::OneToOne => "one_to_one",
            ConversationKind::Group => "group",
        }
    }
}

/// One array element of a DM data file: a conversation or a chunk of one,
/// its events not yet parsed. Each event is parsed on its own
/// ([`Event`]), so that one bad event costs only itself.
///
/// X splits conversations into chunks of at most 1000 messages that share
/// the `conversationId`; merge them by id.
#[derive(Debug, Deserialize)]
pub struct ConversationEntry<'a> {
    /// The `dmConversation` object.
    #[serde(rename = "dmConversation", borrow)]
    pub conversation: Conversation<'a>,
}

/// The `dmConversation` object.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation<'a> {
    /// `A-B` (1:1, numeric order), a numeric group id, or anything else.
    #[serde(deserialize_with = "id")]
    pub conversation_id: String,
    /// Events, newest first as X writes them, as they are in the file.
    #[serde(default, borrow)]
    pub messages: Vec<&'a serde_json::value::RawValue>,
}

/// One event of a conversation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `messageCreate` or `welcomeMessageCreate` (see [`Message::welcome`]).
    Message(Message),
    /// `reactionCreate` (2020 archives): a reaction as its own event.
    Reaction(Reaction),
    /// `joinConversation`: the owner was added to a group.
    JoinConversation(GroupEvent),
    /// `participantsJoin`: people were added to a group.
    ParticipantsJoin(GroupEvent),
    /// `participantsLeave`: people left a group.
    ParticipantsLeave(GroupEvent),
    /// `conversationNameUpdate`: a group was renamed.
    ConversationNameUpdate(GroupEvent),
    /// Any other event type, kept as it was.
    Other {
        /// The event type (the object's only key).
        kind: String,
        /// Its value.
        value: serde_json::Value,
    },
}

/// A `messageCreate` or `welcomeMessageCreate` event.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// True for `welcomeMessageCreate` (an automated welcome message).
    #[serde(skip)]
    pub welcome: bool,
    /// The event id: the key for merging and for media file names.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Who sent it. Always present in real archives.
    #[serde(default, deserialize_with = "opt_id")]
    pub sender_id: Option<String>,
    /// Absent in groups (2020+) or `"0"` (2018).
    #[serde(default, deserialize_with = "opt_id")]
    pub recipient_id: Option<String>,
    /// HTML-escaped text as in the archive; absent in headers files.
    #[serde(default)]
    pub text: Option<String>,
    /// Media attached to the message (0 or 1 in practice).
    #[serde(default)]
    pub media_urls: Vec<String>,
    /// Links (about 2021+).
    #[serde(default)]
    pub urls: Vec<UrlEntity>,
    /// Reactions (about 2021+).
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    /// When it was sent.
    #[serde(deserialize_with = "created_at")]
    pub created_at: Timestamp,
    /// Earlier versions of the text (2024-11+).
    #[serde(default)]
    pub edit_history: Vec<Edit>,
}

/// A link in a message.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct UrlEntity {
    /// The t.co link.
    #[serde(default)]
    pub url: Option<String>,
    /// Where it points.
    #[serde(default)]
    pub expanded: Option<String>,
    /// How it was displayed.
    #[serde(default)]
    pub display: Option<String>,
}

/// A reaction, inside a message (2021+) or as its own event (2020).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reaction {
    /// Who reacted.
    #[serde(default, deserialize_with = "opt_id")]
    pub sender_id: Option<String>,
    /// `like`, `agree`, `funny`, `emoji`, … (kept open).
    #[serde(default)]
    pub reaction_key: Option<String>,
    /// The reaction event's id.
    #[serde(default, deserialize_with = "opt_id")]
    pub event_id: Option<String>,
    /// When.
    #[serde(default, deserialize_with = "opt_created_at")]
    pub created_at: Option<Timestamp>,
}

/// An earlier version of a message's text.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Edit {
    /// The text as it was.
    #[serde(default)]
    pub edited_text: Option<String>,
    /// When it was edited (epoch seconds in the archive).
    #[serde(default, deserialize_with = "opt_epoch_seconds")]
    pub created_at_sec: Option<Timestamp>,
}

/// The fields of the group events (join, leave, rename).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupEvent {
    /// Who did it.
    #[serde(default, deserialize_with = "opt_id")]
    pub initiating_user_id: Option<String>,
    /// `participantsJoin` / `participantsLeave`: who joined or left.
    #[serde(default, deserialize_with = "ids")]
    pub user_ids: Vec<String>,
    /// `joinConversation`: the members at that moment.
    #[serde(default, deserialize_with = "ids")]
    pub participants_snapshot: Vec<String>,
    /// `conversationNameUpdate`: the new name.
    #[serde(default)]
    pub name: Option<String>,
    /// When.
    #[serde(default, deserialize_with = "opt_created_at")]
    pub created_at: Option<Timestamp>,
}

impl Event {
    /// The message, for `messageCreate` and `welcomeMessageCreate`.
    pub fn as_message(&self) -> Option<&Message> {
        match self {
            Event::Message(m) => Some(m),
            _ => None,
        }
    }

    /// User ids this event shows to be (or have been) in the conversation:
    /// the union the archive-format doc prescribes for group participants.
    pub fn participant_ids(&self) -> Vec<&str> {
        match self {
            Event::Message(m) => m.sender_id.iter().map(String::as_str).collect(),
            Event::JoinConversation(g)
            | Event::ParticipantsJoin(g)
            | Event::ParticipantsLeave(g)
            | Event::ConversationNameUpdate(g) => g
                .initiating_user_id
                .iter()
                .chain(&g.user_ids)
                .chain(&g.participants_snapshot)
                .map(String::as_str)
                .collect(),
            Event::Reaction(_) | Event::Other { .. } => Vec::new(),
        }
    }
}

/// Undoes the HTML escaping X applies to DM text and group names (`&amp;`,
/// `&lt;`, `&gt;`, `&quot;`, `&#39;` and numeric references), for showing
/// them. Anything else stays as it is.
pub fn unescape_html(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('&') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let entity = rest[1..]
            .find(';')
            .filter(|&j| j <= 10)
            .map(|j| &rest[1..=j]);
        let decoded = entity.and_then(|e| match e {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let num = e.strip_prefix('#')?;
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(h) => u32::from_str_radix(h, 16).ok()?,
                    None => num.parse().ok()?,
                };
                char::from_u32(code)
            }
        });
        match (decoded, entity) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &rest[e.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

thread_local! {
    /// Notes about dates that were clamped or left out, while collecting.
    static DATE_NOTES: std::cell::RefCell<Option<Vec<String>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `parse` and returns what it gave with the notes about the dates it
/// clamped into the years 0000–9999 or left out as no date (the reader of
/// archives reports them with the record's position). Outside this, such
/// dates are handled the same way without a note.
pub(crate) fn with_date_notes<T>(parse: impl FnOnce() -> T) -> (T, Vec<String>) {
    DATE_NOTES.with(|n| *n.borrow_mut() = Some(Vec::new()));
    let out = parse();
    let notes = DATE_NOTES
        .with(|n| n.borrow_mut().take())
        .unwrap_or_default();
    (out, notes)
}

fn note(text: impl FnOnce() -> String) {
    DATE_NOTES.with(|n| {
        if let Some(v) = n.borrow_mut().as_mut() {
            v.push(text());
        }
    });
}

/// At most 40 characters of an archive's value, for a message.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    format!("{out:?}")
}

/// A string, or an integer written as a number (kept as its digits).
struct Text;

impl<'de> Visitor<'de> for Text {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an integer")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// An id: a string, or (leniently) an integer.
pub(crate) fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(Text)
}

pub(crate) fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct OptText;
    impl<'de> Visitor<'de> for OptText {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, an integer or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            id(d).map(Some)
        }
    }
    d.deserialize_option(OptText)
}

fn ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    struct Id(#[serde(deserialize_with = "id")] String);
    Ok(<Option<Vec<Id>>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .map(|Id(s)| s)
        .collect())
}

/// A date field: text, or epoch milliseconds written as a number.
fn date_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    opt_id(d)
}

fn created_at<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let s = date_text(d)?.ok_or_else(|| de::Error::custom("createdAt is null"))?;
    match Timestamp::parse(&s) {
        Ok(t) => Ok(t),
        Err(DateError::OutOfRange { clamped }) => {
            note(|| {
                format!(
                    "createdAt {} is outside the years 0000-9999; kept as {clamped}",
                    shorten(&s)
                )
            });
            Ok(clamped)
        }
        Err(DateError::Invalid) => Err(de::Error::custom(format_args!(
            "createdAt {} is neither an ISO-8601 date nor epoch milliseconds",
            shorten(&s)
        ))),
    }
}

/// An optional date: one that is no date is left out (with a note).
fn opt_date(
    field: &str,
    s: Option<String>,
    parse: fn(&str) -> Result<Timestamp, DateError>,
) -> Option<Timestamp> {
    let s = s?;
    match parse(&s) {
        Ok(t) => Some(t),
        Err(DateError::OutOfRange { clamped }) => {
            note(|| {
                format!(
                    "{field} {} is outside the years 0000-9999; kept as {clamped}",
                    shorten(&s)
                )
            });
            Some(clamped)
        }
        Err(DateError::Invalid) => {
            note(|| format!("{field} {} is not a date; it was left out", shorten(&s)));
            None
        }
    }
}

fn opt_created_at<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    Ok(opt_date("createdAt", date_text(d)?, Timestamp::parse))
}

/// `createdAtSec`: epoch seconds in archives, RFC 3339 in the catalog.
fn opt_epoch_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    Ok(opt_date(
        "createdAtSec",
        date_text(d)?,
        |s| match Timestamp::parse_epoch_seconds(s) {
            Err(DateError::Invalid) => Timestamp::parse(s),
            other => other,
        },
    ))
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object such as {\"messageCreate\": {...}}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        let kind: std::borrow::Cow<'de, str> = map
            .next_key()?
            .ok_or_else(|| de::Error::custom("empty event object"))?;
        let event = match &*kind {
            "messageCreate" => Event::Message(map.next_value()?),
            "welcomeMessageCreate" => {
                let mut m: Message = map.next_value()?;
                m.welcome = true;
                Event::Message(m)
            }
            "reactionCreate" => Event::Reaction(map.next_value()?),
            "joinConversation" => Event::JoinConversation(map.next_value()?),
            "participantsJoin" => Event::ParticipantsJoin(map.next_value()?),
            "participantsLeave" => Event::ParticipantsLeave(map.next_value()?),
            "conversationNameUpdate" => Event::ConversationNameUpdate(map.next_value()?),
            other => Event::Other {
                kind: other.to_owned(),
                value: map.next_value()?,
            },
        };
        // Events have one key; tolerate (and ignore) anything after it.
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(event)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn html_escapes_are_undone_for_showing() {
        assert_eq!(
            super::unescape_html("5 &lt; 7 &amp;&amp; 7 &gt; 3"),
            "5 < 7 && 7 > 3"
        );
        assert_eq!(
            super::unescape_html("&quot;x&quot; &#39;y&#x27; &#128514;"),
            "\"x\" 'y' \u{1F602}"
        );
        assert_eq!(
            super::unescape_html("AT&T & co &bogus; &#xZZ;"),
            "AT&T & co &bogus; &#xZZ;"
        );
        assert_eq!(super::unescape_html("&"), "&");
    }
    use super::*;

    fn event(json: &str) -> Event {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn message_2025_with_all_fields() {
        let e = event(
            r#"{"messageCreate":{"recipientId":"715628873967271936","reactions":[{"senderId":"985853854234431488","reactionKey":"like","eventId":"1853170796341927937","createdAt":"2024-11-03T20:22:02.762Z"}],
            "urls":[{"url":"https://t.co/rg2eQMVoh8","expanded":"https://twitter.com/messages/media/1801707819273478425","display":"pic.twitter.com/rg2eQMVoh8"}],
            "text":"hi &amp; bye","mediaUrls":["https://video.twimg.com/dm_video/1801707799862206464/vid/avc1/576x1024/RyOR8PWiQbr1Y-kIMROi4XlOcEMFLJAsOCOaehNSZ_Q.mp4?tag=1"],
            "senderId":"985853854234431488","id":"1801707819273478425","createdAt":"2024-06-14T20:06:32.948Z",
            "editHistory":[{"editedText":"hi","createdAtSec":"1718395600"}]}}"#,
        );
        let m = e.as_message().unwrap();
        assert!(!m.welcome);
        assert_eq!(m.id, "1801707819273478425");
        assert_eq!(m.text.as_deref(), Some("hi &amp; bye"));
        assert_eq!(m.reactions[0].reaction_key.as_deref(), Some("like"));
        assert_eq!(
            m.edit_history[0].created_at_sec,
            Timestamp::from_millis(1_718_395_600_000)
        );
        assert_eq!(m.created_at.to_string(), "2024-06-14T20:06:32.948Z");
    }

    #[test]
    fn message_2018_epoch_ms_and_surrogate_pairs() {
        let e = event(
            r#"{"messageCreate" : {"recipientId" : "0","text" : "ok \uD83D\uDE02","mediaUrls" : [ ],"senderId" : "17874544","id" : "1028877841251819524","createdAt" : "1534138567670"}}"#,
        );
        let m = e.as_message().unwrap();
        assert_eq!(m.text.as_deref(), Some("ok 😂"));
        assert_eq!(m.created_at.to_string(), "2018-08-13T05:36:07.670Z");
        assert!(m.urls.is_empty() && m.reactions.is_empty());
    }

    #[test]
    fn welcome_message_keeps_media() {
        let e = event(
            r#"{"welcomeMessageCreate":{"recipientId":"1138981","text":"x","mediaUrls":["https://ton.twitter.com/dm/811261807717400579/811261120958763008/4-5pVOC8.jpg"],"senderId":"30973","id":"817753538117779456","createdAt":"2017-01-07T15:23:31.270Z"}}"#,
        );
        let m = e.as_message().unwrap();
        assert!(m.welcome);
        assert_eq!(m.media_urls.len(), 1);
    }

    #[test]
    fn group_events_and_participants() {
        let j = event(
            r#"{"joinConversation":{"initiatingUserId":"1","participantsSnapshot":["2","3"],"createdAt":"2020-05-29T19:26:14.801Z"}}"#,
        );
        assert_eq!(j.participant_ids(), vec!["1", "2", "3"]);
        let l = event(
            r#"{"participantsLeave":{"userIds":["4"],"createdAt":"2020-12-24T20:31:08.721Z"}}"#,
        );
        assert_eq!(l.participant_ids(), vec!["4"]);
        let n = event(
            r#"{"conversationNameUpdate":{"initiatingUserId":"5","name":"Book club","createdAt":"2024-07-19T20:41:59.789Z"}}"#,
        );
        match n {
            Event::ConversationNameUpdate(g) => assert_eq!(g.name.as_deref(), Some("Book club")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reaction_event_2020() {
        let r = event(
            r#"{ "reactionCreate" : { "senderId" : "131644899", "reactionKey" : "like", "eventId" : "1271822478856327174", "createdAt" : "2020-06-13T15:12:04.979Z" } }"#,
        );
        assert!(matches!(r, Event::Reaction(ref x) if x.reaction_key.as_deref() == Some("like")));
    }

    #[test]
    fn unknown_event_is_kept() {
        let e = event(r#"{"pollCreate":{"question":"?","id":"9"}}"#);
        match e {
            Event::Other { kind, value } => {
                assert_eq!(kind, "pollCreate");
                assert_eq!(value["id"], "9");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_sender_is_tolerated_missing_id_is_not() {
        let e = event(r#"{"messageCreate":{"id":"1","createdAt":"2026-09-01T12:00:00.001Z"}}"#);
        assert_eq!(e.as_message().unwrap().sender_id, None);
        let err = serde_json::from_str::<Event>(
            r#"{"messageCreate":{"createdAt":"2026-09-01T12:00:00.001Z"}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("missing field `id`"), "{err}");
    }

    #[test]
    fn classification() {
        assert_eq!(
            ConversationKind::classify(false, "15379293-803214192"),
            ConversationKind::OneToOne
        );
        assert_eq!(
            ConversationKind::classify(false, "561940599037624322"),
            ConversationKind::Group
        );
        assert_eq!(
            ConversationKind::classify(true, "convo_you_created"),
            ConversationKind::Group
        );
        assert_eq!(
            ConversationKind::classify(false, "803214192-803214192"),
            ConversationKind::OneToOne
        );
    }
}
