//! Where things are in an archive: its top, its DM data files and media
//! folders (from the manifest, or by name), its owner, its generation.
//!
//! `manifest.js` and `account.js` are parsed as streams into the few
//! fields dmvault uses; everything else in them is skipped unread, and at
//! most [`SMALL_FILE_LIMIT`] bytes are read, so a hostile file cannot make
//! dmvault hold much of it.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

use super::source::Entry;
use super::Generation;

/// The most of `manifest.js` or `account.js` that is read (real ones are a
/// few KiB).
pub(crate) const SMALL_FILE_LIMIT: u64 = 16 << 20;

/// What a file name says a data file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataKind {
    OneToOne,
    Group,
    XChat,
}

/// `direct-message(s)(-group)(-partN).js` and `message-event(-partN).js`;
/// headers, mute and other files are not DM data.
pub(crate) fn classify_data_file(name: &str) -> Option<DataKind> {
    let base = name.strip_suffix(".js")?;
    let base = match base.rfind("-part") {
        Some(i) if base.len() > i + 5 && base[i + 5..].bytes().all(|b| b.is_ascii_digit()) => {
            &base[..i]
        }
        _ => base,
    };
    match base {
        "direct-message" | "direct-messages" => Some(DataKind::OneToOne),
        "direct-message-group" | "direct-messages-group" => Some(DataKind::Group),
        "message-event" | "message-events" => Some(DataKind::XChat),
        _ => None,
    }
}

/// `direct-message(s)(-group)-headers(-partN).js`: the same events as the
/// DM files without text; `Some(true)` for a group one.
pub(crate) fn classify_headers_file(name: &str) -> Option<bool> {
    let base = name.strip_suffix(".js")?;
    let base = match base.rfind("-part") {
        Some(i) if base.len() > i + 5 && base[i + 5..].bytes().all(|b| b.is_ascii_digit()) => {
            &base[..i]
        }
        _ => base,
    };
    match base {
        "direct-message-headers" | "direct-messages-headers" => Some(false),
        "direct-message-group-headers" | "direct-messages-group-headers" => Some(true),
        _ => None,
    }
}

fn is_archive_marker(name: &str) -> bool {
    matches!(name, "manifest.js" | "account.js") || classify_data_file(name).is_some()
}

/// Finds the archive's top: the container's top, or one folder down.
pub(crate) fn find_root(entries: &[Entry]) -> Option<String> {
    let qualifies = |root: &str| {
        entries.iter().any(|e| {
            let Some(rel) = e.path.strip_prefix(root) else {
                return false;
            };
            let rel = rel.strip_prefix("data/").unwrap_or(rel);
            !rel.contains('/') && is_archive_marker(rel)
        })
    };
    if qualifies("") {
        return Some(String::new());
    }
    let mut tops: Vec<String> = entries
        .iter()
        .filter_map(|e| e.path.split_once('/').map(|(top, _)| format!("{top}/")))
        .filter(|t| t != "assets/" && t != "__MACOSX/")
        .collect();
    tops.sort();
    tops.dedup();
    tops.into_iter().find(|t| qualifies(t))
}

/// What decides an archive's generation.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GenerationFacts {
    /// It has `data/manifest.js` (readable or not).
    pub manifest: bool,
    /// It has XChat `message-event.js` files.
    pub xchat: bool,
    /// A DM data file has the plural name (`direct-messages…`).
    pub plural_names: bool,
    /// It has a group data file.
    pub group_file: bool,
    /// It has a singular-named media folder (`direct_message(_group)_media/`).
    pub singular_media_folder: bool,
}

impl Generation {
    /// The generation these facts show (archive-format doc §1).
    pub(crate) fn detect(f: GenerationFacts) -> Generation {
        match f {
            GenerationFacts {
                manifest: true,
                xchat: true,
                ..
            } => Generation::G5Xchat,
            GenerationFacts { manifest: true, .. } => Generation::G4Manifest,
            GenerationFacts {
                plural_names: true, ..
            } => Generation::G3_2020,
            GenerationFacts {
                group_file: true, ..
            }
            | GenerationFacts {
                singular_media_folder: true,
                ..
            } => Generation::G2_2019,
            _ => Generation::G1_2018,
        }
    }
}

/// The parts of `manifest.js` dmvault uses.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    #[serde(default)]
    pub user_info: UserInfo,
    #[serde(default)]
    pub archive_info: ArchiveInfoJson,
    #[serde(default)]
    pub data_types: DataTypes,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserInfo {
    #[serde(default, deserialize_with = "loose_string")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    pub user_name: Option<String>,
    #[serde(default, deserialize_with = "loose_string")]
    pub display_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArchiveInfoJson {
    #[serde(default, deserialize_with = "loose_string")]
    pub generation_date: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    pub is_partial_archive: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DataTypes {
    #[serde(default)]
    pub direct_messages: DataType,
    #[serde(default)]
    pub direct_messages_group: DataType,
    #[serde(default)]
    pub direct_messages_media: DataType,
    #[serde(default)]
    pub direct_messages_group_media: DataType,
    #[serde(default)]
    pub message_event: DataType,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DataType {
    #[serde(default, deserialize_with = "file_names")]
    pub files: Vec<String>,
    #[serde(default, deserialize_with = "loose_string")]
    pub media_directory: Option<String>,
}

/// The owner, from the first element of `account.js`.
#[derive(Debug, Default)]
pub(crate) struct Account {
    pub account_id: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
}

impl<'de> Deserialize<'de> for Account {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Account, D::Error> {
        #[derive(Deserialize)]
        struct Element {
            #[serde(default)]
            account: Fields,
        }
        #[derive(Default, Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Fields {
            #[serde(default, deserialize_with = "loose_string")]
            account_id: Option<String>,
            #[serde(default, deserialize_with = "loose_string")]
            username: Option<String>,
            #[serde(default, deserialize_with = "loose_string")]
            account_display_name: Option<String>,
        }
        struct First;
        impl<'de> Visitor<'de> for First {
            type Value = Account;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of accounts")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Account, A::Error> {
                let first: Option<Element> = seq.next_element()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                let f = first.map(|e| e.account).unwrap_or_default();
                Ok(Account {
                    account_id: f.account_id,
                    username: f.username,
                    display_name: f.account_display_name,
                })
            }
        }
        d.deserialize_seq(First)
    }
}

/// A string; any other JSON value (skipped unread) is `None`.
fn loose_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(Loose(|v| match v {
        Scalar::Str(s) => Some(s),
        _ => None,
    }))
}

/// `true` or `"true"`; anything else is false.
fn loose_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    d.deserialize_any(Loose(|v| match v {
        Scalar::Bool(b) => b,
        Scalar::Str(s) => s == "true",
        Scalar::Other => false,
    }))
}

/// The `fileName` of each element of a manifest's `files` array.
fn file_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct File {
        #[serde(default, deserialize_with = "loose_string")]
        file_name: Option<String>,
    }
    let files: Option<Vec<File>> = Option::deserialize(d)?;
    Ok(files
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| f.file_name)
        .collect())
}

enum Scalar {
    Str(String),
    Bool(bool),
    Other,
}

/// Takes a string or a bool; skips anything else without keeping it.
struct Loose<F>(F);

impl<'de, T, F: FnOnce(Scalar) -> T> Visitor<'de> for Loose<F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok((self.0)(Scalar::Str(v.to_owned())))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        Ok((self.0)(Scalar::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
        Ok((self.0)(Scalar::Other))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<T, E> {
        Ok((self.0)(Scalar::Other))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
        Ok((self.0)(Scalar::Other))
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok((self.0)(Scalar::Other))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok((self.0)(Scalar::Other))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok((self.0)(Scalar::Other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_file_names() {
        use DataKind::*;
        let cases = [
            ("direct-message.js", Some(OneToOne)),
            ("direct-message-part1.js", Some(OneToOne)),
            ("direct-messages.js", Some(OneToOne)),
            ("direct-messages-part12.js", Some(OneToOne)),
            ("direct-message-group.js", Some(Group)),
            ("direct-messages-group-part2.js", Some(Group)),
            ("message-event.js", Some(XChat)),
            ("direct-message-headers.js", None),
            ("direct-message-group-headers.js", None),
            ("direct-messages-headers-part1.js", None),
            ("direct-message-mute.js", None),
            ("direct-messages-part.js", None),
            ("tweets.js", None),
        ];
        for (name, want) in cases {
            assert_eq!(classify_data_file(name), want, "{name}");
        }
    }

    #[test]
    fn manifest_fields_of_any_type_do_not_stop_reading() {
        let m: Manifest = serde_json::from_str(
            r#"{"userInfo":{"accountId":12,"userName":"a"},"archiveInfo":{"isPartialArchive":"true","sizeBytes":[1,2,{"x":3}]},
                "dataTypes":{"directMessages":{"files":[{"fileName":"data/direct-messages.js","count":"3"},{"fileName":7}],"mediaDirectory":"data/direct_messages_media"},"tweets":{"files":[]}}}"#,
        )
        .unwrap();
        assert_eq!(m.user_info.account_id, None);
        assert_eq!(m.user_info.user_name.as_deref(), Some("a"));
        assert!(m.archive_info.is_partial_archive);
        assert_eq!(
            m.data_types.direct_messages.files,
            ["data/direct-messages.js"]
        );
        let a: Account = serde_json::from_str(
            r#"[{"account":{"accountId":"1","username":"u","extra":[1,2,3]}},{"account":{"accountId":"2"}},3]"#,
        )
        .unwrap();
        assert_eq!(
            (a.account_id.as_deref(), a.username.as_deref()),
            (Some("1"), Some("u"))
        );
    }
}
