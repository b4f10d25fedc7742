//! Linking DM media files to the messages that reference them.
//!
//! The rule (archive-format doc §3.2, verified on every real reference):
//!
//! ```text
//! file = <event id> "-" <last path segment of the mediaUrl, without ?query, #fragment or :size>
//! ```
//!
//! in `direct_messages_media/` (1:1) or `direct_messages_group_media/`
//! (group), or their older singular names. The *event* id is used, not the
//! id inside the URL (they differ for welcome messages). When no file has
//! that exact name, a file is still taken if it is the only one whose name
//! starts with `<event id>-`. Files no reference points to are orphans; they
//! are kept, keyed by their numeric prefix.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// What kind of media a reference points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A photo (`ton.twitter.com/dm/…`).
    Image,
    /// An animated GIF, stored as MP4 (`video.twimg.com/dm_gif/…`).
    Gif,
    /// A video (`video.twimg.com/dm_video/…`).
    Video,
}

impl MediaKind {
    /// Judges the kind from a media URL: `dm_gif` is a GIF, `dm_video` (or
    /// any other video URL) a video, everything else an image.
    pub fn from_url(url: &str) -> MediaKind {
        let path = strip_query(url);
        if path.contains("/dm_gif/") || path.contains("tweet_video/") {
            MediaKind::Gif
        } else if path.contains("/dm_video/")
            || path.contains("video.twimg.com/")
            || has_video_ext(path)
        {
            MediaKind::Video
        } else {
            MediaKind::Image
        }
    }

    /// `image`, `gif` or `video`.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Gif => "gif",
            MediaKind::Video => "video",
        }
    }

    /// Parses `image`, `gif` or `video`.
    pub fn parse(s: &str) -> Option<MediaKind> {
        match s {
            "image" => Some(MediaKind::Image),
            "gif" => Some(MediaKind::Gif),
            "video" => Some(MediaKind::Video),
            _ => None,
        }
    }
}

fn has_video_ext(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".mp4", ".mov", ".m4v", ".webm"]
        .iter()
        .any(|e| lower.ends_with(e))
}

fn strip_query(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

/// The last path segment of a media URL, without query, fragment or a
/// `:large`-style size suffix: the part of the media file name after
/// `<event id>-`.
pub fn url_file_segment(url: &str) -> Option<&str> {
    let path = strip_query(url.trim());
    let seg = path.rsplit('/').next()?;
    // `…/abc.jpg:large` (authenticated online forms); a colon never occurs in
    // the tokens X uses for file names.
    let seg = seg.split(':').next().unwrap_or(seg);
    (!seg.is_empty()).then_some(seg)
}

/// The file name a reference should have: `<event id>-<segment>`.
pub fn expected_file_name(event_id: &str, url: &str) -> Option<String> {
    url_file_segment(url).map(|seg| format!("{event_id}-{seg}"))
}

/// Splits a media file name at its **first** `-` into the numeric id and
/// the rest. Tokens may contain `-` and may start with one
/// (`1009016500223660037--apdtXu1.jpg`).
pub fn split_file_name(name: &str) -> Option<(&str, &str)> {
    let (id, rest) = name.split_once('-')?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !rest.is_empty())
        .then_some((id, rest))
}

/// Finds media files by the linking rule and remembers which were used.
///
/// `T` is whatever the caller uses to locate a file; the index only needs
/// each file's name and whether it sits in a group media folder.
#[derive(Debug)]
pub struct MediaIndex<T> {
    files: Vec<IndexedFile<T>>,
    by_name: HashMap<String, Vec<usize>>,
    by_id: HashMap<String, Vec<usize>>,
}

#[derive(Debug)]
struct IndexedFile<T> {
    file: T,
    name: String,
    group: bool,
    used: bool,
}

impl<T> MediaIndex<T> {
    /// Builds the index over `(name, in a group folder, file)` triples.
    pub fn new(files: impl IntoIterator<Item = (String, bool, T)>) -> Self {
        let mut index = MediaIndex {
            files: Vec::new(),
            by_name: HashMap::new(),
            by_id: HashMap::new(),
        };
        for (name, group, file) in files {
            let i = index.files.len();
            if let Some((id, _)) = split_file_name(&name) {
                index.by_id.entry(id.to_owned()).or_default().push(i);
            }
            index.by_name.entry(name.clone()).or_default().push(i);
            index.files.push(IndexedFile {
                file,
                name,
                group,
                used: false,
            });
        }
        index
    }

    /// Number of files indexed.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when no file is indexed.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Resolves one reference and marks the file used.
    ///
    /// Prefers the exact name in a folder of the conversation's kind, then
    /// the exact name anywhere, then the only file named `<event id>-*`.
    pub fn resolve(&mut self, event_id: &str, url: &str, group: bool) -> Option<&T> {
        let i = self.find(event_id, url, group)?;
        self.files[i].used = true;
        Some(&self.files[i].file)
    }

    fn find(&self, event_id: &str, url: &str, group: bool) -> Option<usize> {
        if let Some(name) = expected_file_name(event_id, url) {
            if let Some(hits) = self.by_name.get(&name) {
                return hits
                    .iter()
                    .copied()
                    .find(|&i| self.files[i].group == group)
                    .or_else(|| hits.first().copied());
            }
        }
        match self.by_id.get(event_id).map(Vec::as_slice) {
            Some([only]) => Some(*only),
            _ => None,
        }
    }

    /// Files that no resolved reference pointed to, with their numeric
    /// prefix (the message id they were named after) when they have one.
    pub fn orphans(&self) -> impl Iterator<Item = (&T, Option<&str>)> + '_ {
        self.files
            .iter()
            .filter(|f| !f.used)
            .map(|f| (&f.file, split_file_name(&f.name).map(|(id, _)| id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_of_every_url_form() {
        let cases = [
            ("https://ton.twitter.com/dm/1295402019486826501/1295401984464506880/frZt6Efm.jpg", "frZt6Efm.jpg"),
            (
                "https://video.twimg.com/dm_gif/1438832023758643208/P9Y2VFNkXGsDaBc1ghT5C6szqk1cyk2xCrPzKbQoEFURiu5QgH.mp4",
                "P9Y2VFNkXGsDaBc1ghT5C6szqk1cyk2xCrPzKbQoEFURiu5QgH.mp4",
            ),
            (
                "https://video.twimg.com/dm_video/1309937012871442433/vid/720x1280/9swOhPYzPOFLZEW9zXEyR7I3mg8ABX5pUcZBXGKwaHs.mp4?tag=1",
                "9swOhPYzPOFLZEW9zXEyR7I3mg8ABX5pUcZBXGKwaHs.mp4",
            ),
            (
                "https://video.twimg.com/dm_video/1801707799862206464/vid/avc1/576x1024/RyOR8PWiQbr1Y-kIMROi4XlOcEMFLJAsOCOaehNSZ_Q.mp4?tag=1",
                "RyOR8PWiQbr1Y-kIMROi4XlOcEMFLJAsOCOaehNSZ_Q.mp4",
            ),
            ("https://ton.twitter.com/1.1/ton/data/dm/1/2/abc.jpg:large", "abc.jpg"),
            ("https://ton.x.com/i/ton/data/dm/1/2/abc.png?x=1#frag", "abc.png"),
        ];
        for (url, seg) in cases {
            assert_eq!(url_file_segment(url), Some(seg), "{url}");
        }
        assert_eq!(url_file_segment("https://ton.twitter.com/dm/"), None);
    }

    #[test]
    fn kinds() {
        assert_eq!(
            MediaKind::from_url("https://ton.twitter.com/dm/1/2/a.jpg"),
            MediaKind::Image
        );
        assert_eq!(
            MediaKind::from_url("https://video.twimg.com/dm_gif/1/a.mp4"),
            MediaKind::Gif
        );
        assert_eq!(
            MediaKind::from_url("https://video.twimg.com/dm_video/1/vid/1x1/a.mp4?tag=1"),
            MediaKind::Video
        );
    }

    #[test]
    fn split_at_first_dash_only() {
        assert_eq!(
            split_file_name("1009016500223660037--apdtXu1.jpg"),
            Some(("1009016500223660037", "-apdtXu1.jpg"))
        );
        assert_eq!(
            split_file_name("817753538117779456-4-5pVOC8.jpg"),
            Some(("817753538117779456", "4-5pVOC8.jpg"))
        );
        assert_eq!(split_file_name("notes-1.txt"), None);
        assert_eq!(split_file_name("123-"), None);
        assert_eq!(split_file_name("123"), None);
    }

    #[test]
    fn resolution_rules() {
        let mut idx = MediaIndex::new([
            ("1-a.jpg".to_owned(), false, "one"),
            ("1-a.jpg".to_owned(), true, "one-group"),
            ("2-x.mp4".to_owned(), false, "two"),
            ("3-p.jpg".to_owned(), false, "three-a"),
            ("3-q.jpg".to_owned(), false, "three-b"),
            ("99-orphan.png".to_owned(), false, "orphan"),
        ]);
        // exact name, folder of the right kind preferred
        assert_eq!(
            idx.resolve("1", "https://ton.twitter.com/dm/1/9/a.jpg", true),
            Some(&"one-group")
        );
        assert_eq!(
            idx.resolve("1", "https://ton.twitter.com/dm/1/9/a.jpg", false),
            Some(&"one")
        );
        // unique prefix fallback
        assert_eq!(
            idx.resolve(
                "2",
                "https://video.twimg.com/dm_video/5/vid/1x1/other.mp4",
                false
            ),
            Some(&"two")
        );
        // ambiguous prefix: missing
        assert_eq!(
            idx.resolve("3", "https://ton.twitter.com/dm/3/9/zzz.jpg", false),
            None
        );
        // event id, not URL id
        assert_eq!(
            idx.resolve("7", "https://ton.twitter.com/dm/1/9/a.jpg", false),
            None
        );
        let orphans: Vec<_> = idx.orphans().map(|(f, id)| (*f, id)).collect();
        assert_eq!(
            orphans,
            vec![
                ("three-a", Some("3")),
                ("three-b", Some("3")),
                ("orphan", Some("99"))
            ]
        );
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;

    fn config() -> ProptestConfig {
        crate::testing::proptest_config(512)
    }

    /// A few ids and tokens, so that names and references meet.
    const IDS: &[&str] = &["1", "12", "007", "3", "", "x", "1-2"];
    const SEGMENTS: &[&str] = &["a.jpg", "b.mp4", "-c.png", "a-b.MOV", "é.gif", "😀", ""];

    fn id() -> impl Strategy<Value = String> {
        prop_oneof![
            select(IDS).prop_map(str::to_owned),
            "[0-9]{1,20}",
            any::<String>(),
        ]
    }

    fn url() -> impl Strategy<Value = String> {
        let head = select(
            &[
                "https://ton.twitter.com/dm/1/2/",
                "https://video.twimg.com/dm_gif/1/",
                "https://video.twimg.com/dm_video/1/vid/1x1/",
                "https://pbs.twimg.com/tweet_video/",
                "https://ton.x.com/i/ton/data/dm/1/2/",
                " ",
                "/",
                "",
            ][..],
        );
        let tail = select(&["", "?tag=1", "#f", ":large", "?a/b.mp4", "/", " ", "é"][..]);
        prop_oneof![
            (head, select(SEGMENTS), tail).prop_map(|(h, s, t)| format!("{h}{s}{t}")),
            "[a-z:/?#.é😀 -]{0,30}",
            any::<String>(),
        ]
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            (select(IDS), select(SEGMENTS)).prop_map(|(i, s)| format!("{i}-{s}")),
            "[0-9]{0,3}-{0,2}[a-z.é😀-]{0,6}",
            any::<String>(),
        ]
    }

    fn is_id(s: &str) -> bool {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
    }

    /// A reference to the file `name`: `<id>-<token>` gives the id and a
    /// URL that ends in the token.
    fn reference_to(name: &str) -> (String, String) {
        let (id, token) = name.split_once('-').unwrap_or((name, ""));
        let url = format!("https://ton.twitter.com/dm/1/2/{token}?tag=1");
        (id.to_owned(), url)
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn url_functions_never_panic(url in url(), id in id()) {
            let seg = url_file_segment(&url);
            if let Some(seg) = seg {
                prop_assert!(!seg.is_empty() && url.contains(seg));
                prop_assert!(!seg.contains(['/', '?', '#', ':']), "{:?}", seg);
            }
            let kind = MediaKind::from_url(&url);
            prop_assert_eq!(MediaKind::parse(kind.as_str()), Some(kind));
            let name = expected_file_name(&id, &url);
            prop_assert_eq!(name.is_some(), seg.is_some());
            if let (Some(name), Some(seg)) = (name, seg) {
                let prefix = format!("{id}-");
                prop_assert!(name.starts_with(&prefix));
                if is_id(&id) {
                    prop_assert_eq!(split_file_name(&name), Some((id.as_str(), seg)));
                }
            }
        }

        #[test]
        fn split_file_name_gives_the_id_and_the_rest(name in name()) {
            if let Some((id, rest)) = split_file_name(&name) {
                prop_assert!(is_id(id), "{:?}", id);
                prop_assert!(!rest.is_empty());
                prop_assert_eq!(format!("{id}-{rest}"), name.clone());
            }
        }

        #[test]
        fn split_file_name_finds_every_id(id in "[0-9]{1,20}", rest in any::<String>()) {
            let name = format!("{id}-{rest}");
            let want = (!rest.is_empty()).then_some((id.as_str(), rest.as_str()));
            prop_assert_eq!(split_file_name(&name), want);
        }

        #[test]
        fn index_never_panics_and_keeps_its_books(
            files in vec((name(), any::<bool>()), 0..12),
            refs in vec((any::<Option<prop::sample::Index>>(), id(), url(), any::<bool>()), 0..12),
        ) {
            let mut index = MediaIndex::new(
                files.iter().enumerate().map(|(i, (name, group))| (name.clone(), *group, i)),
            );
            prop_assert_eq!(index.len(), files.len());
            let mut used = vec![false; files.len()];
            for (to, id, url, group) in refs {
                let (id, url) = match to {
                    Some(to) if !files.is_empty() => reference_to(&files[to.index(files.len())].0),
                    _ => (id, url),
                };
                let Some(&i) = index.resolve(&id, &url, group) else { continue };
                let name = &files[i].0;
                prop_assert!(
                    expected_file_name(&id, &url).as_ref() == Some(name)
                        || split_file_name(name).map(|(n, _)| n) == Some(id.as_str()),
                    "{:?} {:?} resolved to {:?}", id, url, name
                );
                // A file of the conversation's kind is preferred.
                let same_kind = |(n, g): &(String, bool)| n == name && *g == group;
                prop_assert!(files[i].1 == group || !files.iter().any(same_kind));
                used[i] = true;
            }
            let orphans: Vec<_> = index.orphans().map(|(&i, id)| (i, id)).collect();
            let want: Vec<_> = (0..files.len())
                .filter(|&i| !used[i])
                .map(|i| (i, split_file_name(&files[i].0).map(|(id, _)| id)))
                .collect();
            prop_assert_eq!(orphans, want);
        }
    }
}
