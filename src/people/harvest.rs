//! Names harvested offline from an archive's own files.
//!
//! - Tweet files (`tweets.js`, `tweet.js`, `tweets-partN.js`,
//!   `deleted-tweets.js`, `community-tweet.js`): `entities.user_mentions[]`
//!   (id, handle, name); replies (`in_reply_to_user_id_str` with
//!   `in_reply_to_screen_name`); media `source_user_id_str` with the handle
//!   in `expanded_url`.
//! - The owner: `account.js`, the manifest's `userInfo`, and
//!   `screen-name-change.js` (the handle history).
//!
//! Tweet files can be gigabytes; they are read element by element by the
//! same streaming reader as the DM files, and only distinct
//! (id, handle, name, source, file) sightings are kept, with their first
//! and last dates and how often they were seen.

use std::collections::HashMap;

use serde::Deserialize;

use super::{clean_handle, clean_user_id, NameSource};
use crate::time::Timestamp;
use crate::vault::catalog::{ArchiveNo, NameRecord};

/// The kind of a file that carries names, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameFile {
    /// A tweet file.
    Tweets,
    /// `account.js`.
    Account,
    /// `screen-name-change.js`.
    ScreenNameChange,
}

impl NameFile {
    /// Classifies a data file's name (without its folder).
    pub fn classify(name: &str) -> Option<NameFile> {
        let base = name.strip_suffix(".js")?;
        let base = match base.rfind("-part") {
            Some(i) if base.len() > i + 5 && base[i + 5..].bytes().all(|b| b.is_ascii_digit()) => {
                &base[..i]
            }
            _ => base,
        };
        match base {
            "tweet" | "tweets" | "deleted-tweet" | "deleted-tweets" | "community-tweet"
            | "community-tweets" => Some(NameFile::Tweets),
            "account" => Some(NameFile::Account),
            "screen-name-change" => Some(NameFile::ScreenNameChange),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    user: String,
    handle: Option<String>,
    name: Option<String>,
    source: NameSource,
    file: String,
}

#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    count: u64,
}

/// The sightings gathered from one archive.
#[derive(Debug, Default)]
pub struct Harvest {
    seen: HashMap<Key, Seen>,
    /// Tweets read.
    pub tweets: u64,
}

#[derive(Deserialize)]
struct Tweet {
    #[serde(default)]
    tweet: Option<Box<Tweet>>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default, deserialize_with = "crate::dm::opt_id")]
    in_reply_to_user_id_str: Option<String>,
    #[serde(default)]
    in_reply_to_screen_name: Option<String>,
    #[serde(default)]
    entities: Option<Entities>,
    #[serde(default)]
    extended_entities: Option<Entities>,
}

#[derive(Deserialize, Default)]
struct Entities {
    #[serde(default)]
    user_mentions: Vec<Mention>,
    #[serde(default)]
    media: Vec<Media>,
}

#[derive(Deserialize)]
struct Mention {
    #[serde(default, deserialize_with = "crate::dm::opt_id")]
    id_str: Option<String>,
    #[serde(default, deserialize_with = "crate::dm::opt_id")]
    id: Option<String>,
    #[serde(default)]
    screen_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Media {
    #[serde(default)]
    expanded_url: Option<String>,
    #[serde(default, deserialize_with = "crate::dm::opt_id")]
    source_user_id_str: Option<String>,
}

impl Harvest {
    /// Notes one sighting (ignored unless the id is a user id and the
    /// handle, when given, is a handle).
    pub fn note(
        &mut self,
        user: &str,
        handle: Option<&str>,
        name: Option<&str>,
        source: NameSource,
        file: &str,
        at: Option<Timestamp>,
    ) {
        let Some(user) = clean_user_id(user) else {
            return;
        };
        let handle = handle.and_then(clean_handle);
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| n.chars().take(200).collect::<String>());
        if handle.is_none() && name.is_none() {
            return;
        }
        let key = Key {
            user,
            handle,
            name,
            source,
            file: file.to_owned(),
        };
        let s = self.seen.entry(key).or_default();
        s.count += 1;
        if let Some(t) = at {
            s.first = Some(s.first.map_or(t, |f| f.min(t)));
            s.last = Some(s.last.map_or(t, |l| l.max(t)));
        }
    }

    /// Takes one element of a tweet file.
    ///
    /// # Errors
    /// When the element is not a tweet (its JSON has the wrong shape).
    pub fn tweet_element(&mut self, file: &str, bytes: &[u8]) -> Result<(), serde_json::Error> {
        let mut t: Tweet = serde_json::from_slice(bytes)?;
        if let Some(inner) = t.tweet.take() {
            t = *inner;
        }
        self.tweets += 1;
        let at = t
            .created_at
            .as_deref()
            .and_then(Timestamp::parse_tweet_date);
        if let (Some(id), Some(h)) = (&t.in_reply_to_user_id_str, &t.in_reply_to_screen_name) {
            self.note(id, Some(h), None, NameSource::Reply, file, at);
        }
        let entities = t.entities.iter().chain(t.extended_entities.iter());
        let mut media_seen = Vec::new();
        for e in entities {
            for m in &e.user_mentions {
                if let Some(id) = m.id_str.as_ref().or(m.id.as_ref()) {
                    let (h, n) = (m.screen_name.as_deref(), m.name.as_deref());
                    self.note(id, h, n, NameSource::Mention, file, at);
                }
            }
            for m in &e.media {
                let (Some(id), Some(url)) = (&m.source_user_id_str, &m.expanded_url) else {
                    continue;
                };
                // `entities` and `extended_entities` repeat the same media.
                if media_seen.contains(&(id, url)) {
                    continue;
                }
                media_seen.push((id, url));
                if let Some(h) = handle_in_status_url(url) {
                    self.note(id, Some(h), None, NameSource::Media, file, at);
                }
            }
        }
        Ok(())
    }

    /// Takes one element of `screen-name-change.js`: the handle before the
    /// change was in use until then, the one after from then on.
    ///
    /// # Errors
    /// When the element has the wrong shape.
    pub fn screen_name_change_element(
        &mut self,
        file: &str,
        bytes: &[u8],
    ) -> Result<(), serde_json::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Element {
            screen_name_change: Outer,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Outer {
            #[serde(default, deserialize_with = "crate::dm::opt_id")]
            account_id: Option<String>,
            screen_name_change: Change,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Change {
            #[serde(default)]
            changed_at: Option<String>,
            #[serde(default)]
            changed_from: Option<String>,
            #[serde(default)]
            changed_to: Option<String>,
        }
        let e: Element = serde_json::from_slice(bytes)?;
        let Some(id) = e.screen_name_change.account_id else {
            return Ok(());
        };
        let c = e.screen_name_change.screen_name_change;
        let at = c
            .changed_at
            .as_deref()
            .and_then(Timestamp::parse_created_at);
        let source = NameSource::ScreenNameChange;
        if let Some(from) = c.changed_from.as_deref() {
            // In use until just before the change.
            let until = at.map(|t| Timestamp::from_millis_clamped(t.millis() - 1));
            self.note(&id, Some(from), None, source, file, until);
        }
        if let Some(to) = c.changed_to.as_deref() {
            self.note(&id, Some(to), None, source, file, at);
        }
        Ok(())
    }

    /// The sightings as catalog records of archive `archive`, in a stable
    /// order.
    pub fn into_records(self, archive: ArchiveNo) -> Vec<NameRecord> {
        let mut out: Vec<NameRecord> = self
            .seen
            .into_iter()
            .map(|(k, s)| NameRecord {
                user: k.user,
                handle: k.handle,
                name: k.name,
                note: None,
                source: k.source,
                file: Some(k.file),
                archive: Some(archive),
                first_seen: s.first,
                last_seen: s.last,
                count: s.count,
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.user, a.source, &a.handle, &a.name, &a.file)
                .cmp(&(&b.user, b.source, &b.handle, &b.name, &b.file))
        });
        out
    }

    /// How many distinct sightings were gathered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Nothing was gathered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// The handle in `https://x.com/<handle>/status/…` (or twitter.com).
pub fn handle_in_status_url(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let rest = rest.strip_prefix("www.").unwrap_or(rest);
    let rest = rest
        .strip_prefix("twitter.com/")
        .or_else(|| rest.strip_prefix("x.com/"))
        .or_else(|| rest.strip_prefix("mobile.twitter.com/"))?;
    let (handle, tail) = rest.split_once('/')?;
    (tail.starts_with("status/") && handle != "i" && clean_handle(handle).is_some())
        .then_some(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tweet_gives_mentions_replies_and_media_sources() {
        let t = br#"{"tweet":{"created_at":"Wed Aug 09 16:19:22 +0000 2023",
          "in_reply_to_user_id_str":"9144232","in_reply_to_screen_name":"xardox",
          "entities":{"user_mentions":[{"name":"Don Hopkins","screen_name":"xardox","id_str":"9144232","id":"9144232"}],
            "media":[{"expanded_url":"https://x.com/Someone_1/status/1/video/1","source_user_id_str":"42"}]},
          "extended_entities":{"media":[{"expanded_url":"https://x.com/Someone_1/status/1/video/1","source_user_id_str":"42"}]}}}"#;
        let mut h = Harvest::default();
        h.tweet_element("tweets.js", t).unwrap();
        // A 2019 tweet: no wrapper, ids as numbers.
        h.tweet_element(
            "tweet.js",
            br#"{"created_at":"Thu Jan 03 10:00:00 +0000 2019","in_reply_to_user_id_str":-1,
                "entities":{"user_mentions":[{"screen_name":"xardox","name":"Don","id":9144232}]}}"#,
        )
        .unwrap();
        assert!(h.tweet_element("tweet.js", b"[1]").is_err());
        let recs = h.into_records(3);
        type Seen<'a> = (&'a str, Option<&'a str>, Option<&'a str>, NameSource, u64);
        let got: Vec<Seen> = recs
            .iter()
            .map(|r| {
                (
                    r.user.as_str(),
                    r.handle.as_deref(),
                    r.name.as_deref(),
                    r.source,
                    r.count,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("42", Some("Someone_1"), None, NameSource::Media, 1),
                (
                    "9144232",
                    Some("xardox"),
                    Some("Don"),
                    NameSource::Mention,
                    1
                ),
                (
                    "9144232",
                    Some("xardox"),
                    Some("Don Hopkins"),
                    NameSource::Mention,
                    1
                ),
                ("9144232", Some("xardox"), None, NameSource::Reply, 1),
            ]
        );
        assert_eq!(recs[0].archive, Some(3));
        assert_eq!(
            recs[0].first_seen.unwrap().to_string(),
            "2023-08-09T16:19:22.000Z"
        );
    }

    #[test]
    fn handle_history() {
        let mut h = Harvest::default();
        h.screen_name_change_element(
            "screen-name-change.js",
            br#"{"screenNameChange":{"accountId":"2444552670","screenNameChange":{"changedAt":"2014-04-15T19:08:25.000Z","changedFrom":"A_lot_lance","changedTo":"Jack_L_Lance"}}}"#,
        )
        .unwrap();
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn status_urls() {
        assert_eq!(
            handle_in_status_url("https://twitter.com/abc_1/status/12/photo/1"),
            Some("abc_1")
        );
        assert_eq!(handle_in_status_url("https://x.com/i/status/12"), None);
        assert_eq!(handle_in_status_url("https://example.com/a/status/1"), None);
        assert_eq!(
            NameFile::classify("tweets-part2.js"),
            Some(NameFile::Tweets)
        );
        assert_eq!(NameFile::classify("like.js"), None);
    }
}
