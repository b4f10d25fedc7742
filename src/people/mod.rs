//! People: names for the numeric user ids of X archives.
//!
//! X archives name DM participants by id only. dmvault gathers what the
//! archive itself says about ids ([`harvest`]: the tweet files' mentions,
//! replies and media sources; the owner's `account.js`, manifest and
//! handle changes) and what the user gives ([`userfile`]: a CSV names file,
//! a vCard, or `dmvault people set`). Every sighting is kept as a
//! [`NameRecord`](crate::vault::catalog::NameRecord) with its source and
//! dates; [`resolve`] picks the name shown: the user's over the owner files'
//! over the tweets' (newest first). An id nobody named stays an id.

pub mod harvest;
pub mod set;
pub mod userfile;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Where a name was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    /// Given by the user (`people set`, `people import`).
    User,
    /// The owner's `account.js`.
    Account,
    /// The owner, in `manifest.js` `userInfo`.
    Manifest,
    /// The owner's handle history, `screen-name-change.js`.
    ScreenNameChange,
    /// `entities.user_mentions[]` of a tweet.
    Mention,
    /// `in_reply_to_user_id_str` with `in_reply_to_screen_name`.
    Reply,
    /// A media item's `source_user_id_str` with the handle in `expanded_url`.
    Media,
}

impl NameSource {
    /// Every source, in the order of [`NameSource::code`].
    pub const ALL: [NameSource; 7] = [
        NameSource::User,
        NameSource::Account,
        NameSource::Manifest,
        NameSource::ScreenNameChange,
        NameSource::Mention,
        NameSource::Reply,
        NameSource::Media,
    ];

    /// The name used in JSON and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            NameSource::User => "user",
            NameSource::Account => "account",
            NameSource::Manifest => "manifest",
            NameSource::ScreenNameChange => "screen_name_change",
            NameSource::Mention => "mention",
            NameSource::Reply => "reply",
            NameSource::Media => "media",
        }
    }

    /// Its number in the index.
    pub fn code(self) -> i64 {
        match self {
            NameSource::User => 0,
            NameSource::Account => 1,
            NameSource::Manifest => 2,
            NameSource::ScreenNameChange => 3,
            NameSource::Mention => 4,
            NameSource::Reply => 5,
            NameSource::Media => 6,
        }
    }

    /// The source of an index number.
    pub fn from_code(c: i64) -> Option<NameSource> {
        NameSource::ALL.into_iter().find(|s| s.code() == c)
    }

    /// How much a name from here is trusted: the user's, then the owner
    /// files', then the tweets'.
    fn rank(self) -> u8 {
        match self {
            NameSource::User => 0,
            NameSource::Account | NameSource::Manifest | NameSource::ScreenNameChange => 1,
            NameSource::Mention | NameSource::Reply | NameSource::Media => 2,
        }
    }
}

/// One sighting of a user's handle or name, as the index keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sighting {
    /// The handle (without `@`).
    pub handle: Option<String>,
    /// The display name.
    pub name: Option<String>,
    /// A note (user-given only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Where.
    pub source: NameSource,
    /// The archive's data file (`tweets.js`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The archive's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// First seen (a tweet's date; for the user's, when it was set).
    pub first_seen: Option<Timestamp>,
    /// Last seen.
    pub last_seen: Option<Timestamp>,
    /// In the log's order (later records have larger numbers).
    #[serde(skip)]
    pub order: i64,
}

/// A value chosen for a person, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chosen {
    /// The value.
    pub value: String,
    /// Its source.
    pub source: NameSource,
    /// The latest date it was seen (or set).
    pub seen: Option<Timestamp>,
}

/// The handle, name and note shown for a user.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Resolved {
    /// Best handle.
    pub handle: Option<Chosen>,
    /// Best display name.
    pub name: Option<Chosen>,
    /// The user's note.
    pub note: Option<String>,
}

/// Picks what is shown for one user from their sightings.
///
/// For each of handle and name: the user's latest value (an empty one
/// clears it, so that a harvested value shows again); else the value with
/// the best source (owner files before tweets), and among those the one
/// seen last. Nothing is guessed: no sighting, no value.
pub fn resolve(sightings: &[Sighting]) -> Resolved {
    let pick = |get: fn(&Sighting) -> Option<&String>| -> Option<Chosen> {
        let user = sightings
            .iter()
            .filter(|s| s.source == NameSource::User && get(s).is_some())
            .max_by_key(|s| s.order);
        if let Some(v) = user.and_then(|u| get(u).filter(|v| !v.is_empty()).map(|v| (u, v))) {
            return Some(Chosen {
                value: v.1.clone(),
                source: NameSource::User,
                seen: v.0.last_seen,
            });
        }
        sightings
            .iter()
            .filter(|s| s.source != NameSource::User)
            .filter(|s| get(s).is_some_and(|v| !v.is_empty()))
            .min_by_key(|s| {
                (
                    s.source.rank(),
                    std::cmp::Reverse(s.last_seen),
                    std::cmp::Reverse(s.order),
                )
            })
            .map(|s| Chosen {
                value: get(s).cloned().unwrap_or_default(),
                source: s.source,
                seen: s.last_seen,
            })
    };
    let note = sightings
        .iter()
        .filter(|s| s.source == NameSource::User && s.note.is_some())
        .max_by_key(|s| s.order)
        .and_then(|s| s.note.clone())
        .filter(|n| !n.is_empty());
    Resolved {
        handle: pick(|s| s.handle.as_ref()),
        name: pick(|s| s.name.as_ref()),
        note,
    }
}

/// A handle as X allows them: 1 to 50 of `A-Z a-z 0-9 _` (old accounts
/// have up to 20; the limit is generous). A leading `@` is dropped.
pub fn clean_handle(h: &str) -> Option<String> {
    let h = h.trim();
    let h = h.strip_prefix('@').unwrap_or(h);
    (!h.is_empty() && h.len() <= 50 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then(|| h.to_owned())
}

/// A user id as archives write them: digits, not `0` or `-1`.
pub fn clean_user_id(id: &str) -> Option<String> {
    let id = id.trim();
    (!id.is_empty()
        && id.len() <= 20
        && id.bytes().all(|b| b.is_ascii_digit())
        && !id.trim_start_matches('0').is_empty())
    .then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(source: NameSource, handle: &str, name: &str, last: i64, order: i64) -> Sighting {
        Sighting {
            handle: Some(handle.into()),
            name: Some(name.into()),
            note: None,
            source,
            file: None,
            archive: None,
            first_seen: None,
            last_seen: Timestamp::from_millis(last),
            order,
        }
    }

    #[test]
    fn the_user_wins_then_owner_files_then_the_newest_tweet() {
        let tweets = vec![
            s(NameSource::Mention, "old", "Old", 10, 1),
            s(NameSource::Reply, "new", "", 20, 2),
        ];
        let r = resolve(&tweets);
        assert_eq!(r.handle.unwrap().value, "new");
        assert_eq!(r.name.unwrap().value, "Old", "an empty name is no name");
        let mut all = tweets.clone();
        all.push(s(NameSource::Account, "owner", "Owner", 5, 3));
        assert_eq!(resolve(&all).handle.unwrap().source, NameSource::Account);
        all.push(s(NameSource::User, "mine", "Mine", 1, 4));
        assert_eq!(resolve(&all).name.unwrap().value, "Mine");
        // The user clears the name: the best harvested one shows again.
        all.push(s(NameSource::User, "mine", "", 2, 5));
        assert_eq!(resolve(&all).name.unwrap().value, "Owner");
        assert_eq!(resolve(&all).handle.unwrap().value, "mine");
        assert!(resolve(&[]).handle.is_none());
    }

    #[test]
    fn ids_and_handles_are_checked() {
        assert_eq!(
            clean_handle("@Jack_L_Lance").as_deref(),
            Some("Jack_L_Lance")
        );
        assert_eq!(clean_handle("i/web"), None);
        assert_eq!(clean_handle(""), None);
        assert_eq!(clean_user_id("-1"), None);
        assert_eq!(clean_user_id("0"), None);
        assert_eq!(clean_user_id(" 144119186 ").as_deref(), Some("144119186"));
    }
}
