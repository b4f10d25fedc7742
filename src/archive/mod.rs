//! Reading X archives of every generation, ZIP or folder.
//!
//! [`Archive::open`] finds the archive's top (the container's top or one
//! folder down), reads `manifest.js` when there is one and otherwise finds
//! the DM files by name, and works out the [`Generation`]. Conversations are
//! then streamed with [`Archive::read_conversations`]: one
//! [`ConversationChunk`] per array element, so a data file of any size is
//! read in bounded memory. [`Archive::media_files`] lists the DM media
//! folders, including the media ZIPs of 2019 archives.
//!
//! One unreadable data file never stops the others: its error is collected
//! in the [`ReadReport`] and the archive counts as partially read.

pub mod source;
pub mod ytd;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::dm::{ConversationEntry, ConversationKind, Event};
use crate::error::{Error, Result};
use crate::progress::Progress;
use source::{Container, Entry};
use ytd::ScanError;

/// The largest compressed media ZIP (inside a ZIP) read into memory.
const MAX_NESTED_IN_MEMORY: u64 = 1 << 30;

/// The shape of archive X produced at a given time (archive-format doc §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Generation {
    /// May–Oct 2018: files at the top, groups inside `direct-message.js`, no media folder.
    #[serde(rename = "g1_2018")]
    G1_2018,
    /// Late 2018–2019: singular names, group file, `direct_message_media/` (zipped from mid-2019).
    #[serde(rename = "g2_2019")]
    G2_2019,
    /// Jan–Mar 2020: plural names (`direct-messages.js`), no manifest.
    #[serde(rename = "g3_2020")]
    G3_2020,
    /// Mid-March 2020 on: `data/manifest.js`.
    #[serde(rename = "g4_manifest")]
    G4Manifest,
    /// 2025 on: a manifest archive that also has XChat `message-event.js`.
    #[serde(rename = "g5_xchat")]
    G5Xchat,
}

impl Generation {
    /// The machine name used in `--json` (`g1_2018` …).
    pub fn as_str(self) -> &'static str {
        match self {
            Generation::G1_2018 => "g1_2018",
            Generation::G2_2019 => "g2_2019",
            Generation::G3_2020 => "g3_2020",
            Generation::G4Manifest => "g4_manifest",
            Generation::G5Xchat => "g5_xchat",
        }
    }

    /// A description for people.
    pub fn describe(self) -> &'static str {
        match self {
            Generation::G1_2018 => {
                "2018 GDPR archive (files at the top, groups inside direct-message.js, no DM media)"
            }
            Generation::G2_2019 => {
                "late 2018–2019 archive (direct-message*.js, direct_message_media)"
            }
            Generation::G3_2020 => "early 2020 archive (direct-messages*.js, no manifest)",
            Generation::G4Manifest => "2020+ archive with data/manifest.js",
            Generation::G5Xchat => "2025+ archive with data/manifest.js and encrypted XChat events",
        }
    }
}

/// What the archive says about itself.
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveInfo {
    /// Its generation.
    pub generation: Generation,
    /// The owner's account id (`account.js` or the manifest).
    pub account_id: Option<String>,
    /// The owner's handle when the archive was made.
    pub username: Option<String>,
    /// `archiveInfo.generationDate` of the manifest.
    pub generation_date: Option<String>,
    /// `archiveInfo.isPartialArchive` of the manifest.
    pub partial: bool,
}

/// A DM data file of the archive.
#[derive(Debug, Clone)]
pub struct DataFile {
    /// Path in the container.
    pub path: String,
    /// A group file (`direct-message(s)-group*.js`).
    pub group: bool,
    /// Uncompressed size.
    pub size: u64,
}

/// Where a media file is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaLocation {
    /// An entry of the container.
    Entry(String),
    /// An entry of a media ZIP inside the container (2019).
    Nested {
        /// The media ZIP's path in the container.
        zip: String,
        /// The entry inside it.
        entry: String,
    },
}

impl std::fmt::Display for MediaLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaLocation::Entry(p) => f.write_str(p),
            MediaLocation::Nested { zip, entry } => write!(f, "{zip}!{entry}"),
        }
    }
}

/// A file in a DM media folder.
#[derive(Debug, Clone)]
pub struct MediaFile {
    /// Where it is.
    pub location: MediaLocation,
    /// Its file name (`<event id>-<token>.<ext>`).
    pub name: String,
    /// In a group media folder.
    pub group: bool,
    /// Size in bytes.
    pub size: u64,
}

/// One element of a DM data file: a conversation or a chunk of one.
#[derive(Debug, Clone)]
pub struct ConversationChunk {
    /// The conversation id.
    pub conversation_id: String,
    /// 1:1 or group.
    pub kind: ConversationKind,
    /// The data file it came from.
    pub file: String,
    /// Its events, as in the file.
    pub events: Vec<Event>,
}

/// What reading the data files found wrong. Problems do not stop reading.
#[derive(Debug, Default)]
pub struct ReadReport {
    /// Data files that could not be read to the end, with why.
    pub problems: Vec<Error>,
}

/// An opened X archive.
pub struct Archive {
    path: PathBuf,
    container: Container,
    entries: Vec<Entry>,
    root: String,
    info: ArchiveInfo,
    dm_files: Vec<DataFile>,
    xchat_files: Vec<DataFile>,
    media_dirs: Vec<(String, bool)>,
    warnings: Vec<String>,
    skipped: usize,
    media: Option<Vec<MediaFile>>,
}

const MEDIA_DIRS: [(&str, bool); 4] = [
    ("direct_messages_media", false),
    ("direct_message_media", false),
    ("direct_messages_group_media", true),
    ("direct_message_group_media", true),
];

/// What a file name says a data file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataKind {
    OneToOne,
    Group,
    XChat,
}

/// `direct-message(s)(-group)(-partN).js` and `message-event(-partN).js`;
/// headers, mute and other files are not DM data.
fn classify_data_file(name: &str) -> Option<DataKind> {
    let base = name.strip_suffix(".js")?;
    let base = match base.rfind("-part") {
        Some(i) if base[i + 5..].bytes().all(|b| b.is_ascii_digit()) && base.len() > i + 5 => {
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

fn is_archive_marker(name: &str) -> bool {
    matches!(name, "manifest.js" | "account.js") || classify_data_file(name).is_some()
}

impl Archive {
    /// Opens a ZIP file or folder as an X archive.
    ///
    /// # Errors
    /// [`Error::NotZip`], [`Error::TruncatedZip`], [`Error::NotXArchive`] or
    /// [`Error::Io`] when the input as a whole cannot be used.
    pub fn open(path: &Path) -> Result<Archive> {
        let (container, listing) = Container::open(path)?;
        let entries = listing.entries;
        let mut warnings = listing.skipped;
        let skipped = warnings.len();
        let names: HashSet<&str> = entries.iter().map(|e| e.path.as_str()).collect();

        let root = find_root(&entries).ok_or_else(|| Error::NotXArchive {
            path: path.to_path_buf(),
        })?;
        let mut archive = Archive {
            path: path.to_path_buf(),
            container,
            entries: Vec::new(),
            root: root.clone(),
            info: ArchiveInfo {
                generation: Generation::G1_2018,
                account_id: None,
                username: None,
                generation_date: None,
                partial: false,
            },
            dm_files: Vec::new(),
            xchat_files: Vec::new(),
            media_dirs: Vec::new(),
            warnings: Vec::new(),
            skipped,
            media: None,
        };

        // The manifest (2020+).
        let manifest_path = format!("{root}data/manifest.js");
        let manifest: Option<Value> = if names.contains(manifest_path.as_str()) {
            match archive.read_small::<Value>(&manifest_path) {
                Ok(v) => Some(v),
                Err(e) => {
                    warnings.push(format!("{e}; finding the DM files by their names instead"));
                    None
                }
            }
        } else {
            None
        };
        let size_of = |p: &str| entries.iter().find(|e| e.path == p).map(|e| e.size);

        let mut listed: BTreeSet<String> = BTreeSet::new();
        if let Some(m) = &manifest {
            let dt = &m["dataTypes"];
            for (key, kind) in [
                ("directMessages", DataKind::OneToOne),
                ("directMessagesGroup", DataKind::Group),
                ("messageEvent", DataKind::XChat),
            ] {
                for f in dt[key]["files"].as_array().into_iter().flatten() {
                    let Some(name) = f["fileName"].as_str() else {
                        continue;
                    };
                    let p = format!("{root}{}", name.trim_start_matches("./"));
                    listed.insert(p.clone());
                    match size_of(&p) {
                        Some(size) => archive.add_data_file(p, kind, size),
                        None => warnings.push(format!(
                            "the manifest lists {name} but the archive does not contain it; its messages are not in this archive"
                        )),
                    }
                }
            }
            for (key, group) in [
                ("directMessages", false),
                ("directMessagesMedia", false),
                ("directMessagesGroup", true),
                ("directMessagesGroupMedia", true),
            ] {
                if let Some(dir) = dt[key]["mediaDirectory"].as_str() {
                    archive.add_media_dir(format!("{root}{}", dir.trim_end_matches('/')), group);
                }
            }
            let ui = &m["userInfo"];
            archive.info.account_id = ui["accountId"].as_str().map(str::to_owned);
            archive.info.username = ui["userName"].as_str().map(str::to_owned);
            let ai = &m["archiveInfo"];
            archive.info.generation_date = ai["generationDate"].as_str().map(str::to_owned);
            archive.info.partial = ai["isPartialArchive"].as_bool().unwrap_or(false)
                || ai["isPartialArchive"].as_str() == Some("true");
            if archive.info.partial {
                warnings.push(
                    "the manifest says this is a partial archive (isPartialArchive); import the other parts too".into(),
                );
            }
        }

        // DM files found by name, at the top or in data/ (never in assets/).
        for e in &entries {
            let Some(rel) = e.path.strip_prefix(root.as_str()) else {
                continue;
            };
            let name = rel.strip_prefix("data/").unwrap_or(rel);
            if name.contains('/') {
                continue;
            }
            let Some(kind) = classify_data_file(name) else {
                continue;
            };
            if listed.contains(&e.path) {
                continue;
            }
            if manifest.is_some() {
                warnings.push(format!(
                    "{} is not listed in the manifest; it was read anyway",
                    e.path
                ));
            }
            archive.add_data_file(e.path.clone(), kind, e.size);
        }
        for top in [root.clone(), format!("{root}data/")] {
            for (dir, group) in MEDIA_DIRS {
                archive.add_media_dir(format!("{top}{dir}"), group);
            }
        }

        // The owner, from account.js when the manifest did not say.
        for p in [
            format!("{root}data/account.js"),
            format!("{root}account.js"),
        ] {
            if !names.contains(p.as_str()) {
                continue;
            }
            match archive.read_small::<Value>(&p) {
                Ok(v) => {
                    let acc = &v[0]["account"];
                    let id = acc["accountId"].as_str();
                    let user = acc["username"].as_str();
                    match (&archive.info.account_id, id) {
                        (None, _) => archive.info.account_id = id.map(str::to_owned),
                        (Some(a), Some(b)) if a != b => warnings.push(format!(
                            "{p} names account {b} but the manifest names {a}; using the manifest's"
                        )),
                        _ => {}
                    }
                    if archive.info.username.is_none() {
                        archive.info.username = user.map(str::to_owned);
                    }
                }
                Err(e) => warnings.push(e.to_string()),
            }
            break;
        }

        archive.info.generation = if manifest.is_some() || names.contains(manifest_path.as_str()) {
            if archive.xchat_files.is_empty() {
                Generation::G4Manifest
            } else {
                Generation::G5Xchat
            }
        } else if archive
            .dm_files
            .iter()
            .any(|f| f.path.contains("direct-messages"))
        {
            Generation::G3_2020
        } else if archive.dm_files.iter().any(|f| f.group)
            || entries.iter().any(|e| {
                e.path.starts_with(&format!("{root}direct_message_media/"))
                    || e.path
                        .starts_with(&format!("{root}direct_message_group_media/"))
            })
        {
            Generation::G2_2019
        } else {
            Generation::G1_2018
        };
        if !archive.xchat_files.is_empty() {
            warnings.push(
                "this archive holds end-to-end encrypted XChat events (message-event.js); X exports them as ciphertext only, so they cannot be imported".into(),
            );
        }
        archive.entries = entries;
        archive.warnings = warnings;
        Ok(archive)
    }

    fn add_data_file(&mut self, path: String, kind: DataKind, size: u64) {
        let list = if kind == DataKind::XChat {
            &mut self.xchat_files
        } else {
            &mut self.dm_files
        };
        if !list.iter().any(|f| f.path == path) {
            list.push(DataFile {
                path,
                group: kind == DataKind::Group,
                size,
            });
        }
    }

    fn add_media_dir(&mut self, dir: String, group: bool) {
        if !self.media_dirs.iter().any(|(d, _)| *d == dir) {
            self.media_dirs.push((dir, group));
        }
    }

    fn read_small<T: serde::de::DeserializeOwned>(&mut self, path: &str) -> Result<T> {
        let archive = self.path.clone();
        let reader = self.container.open_entry(&archive, path)?;
        ytd::parse_small(reader).map_err(|e| self.scan_error(path, e))
    }

    fn scan_error(&self, file: &str, e: ScanError) -> Error {
        match e {
            ScanError::Io(e) => Error::Entry {
                archive: self.path.clone(),
                entry: file.to_owned(),
                detail: e.to_string(),
            },
            ScanError::Syntax(s) => Error::Json {
                archive: self.path.clone(),
                file: file.to_owned(),
                line: s.line,
                column: s.column,
                detail: s.detail,
            },
        }
    }

    /// The path the archive was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Generation, owner and manifest facts.
    pub fn info(&self) -> &ArchiveInfo {
        &self.info
    }

    /// Where the archive starts in its container (`""` or `folder/`).
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The DM data files that will be read (1:1 and group).
    pub fn dm_files(&self) -> &[DataFile] {
        &self.dm_files
    }

    /// XChat `message-event.js` files.
    pub fn xchat_files(&self) -> &[DataFile] {
        &self.xchat_files
    }

    /// Things worth knowing that did not stop anything.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// True when some entries were skipped as unsafe (absolute paths, `..`,
    /// symlinks out of the folder).
    pub fn skipped_entries(&self) -> usize {
        self.skipped
    }

    /// Total uncompressed size of the DM data files.
    pub fn dm_bytes(&self) -> u64 {
        self.dm_files
            .iter()
            .chain(&self.xchat_files)
            .map(|f| f.size)
            .sum()
    }

    /// Streams every conversation element of every DM data file.
    ///
    /// `on_chunk` is called once per array element, in file order. A data
    /// file that is not valid JSON is read up to the bad element, and its
    /// error is put in the report; the other files are still read. When
    /// `on_chunk` fails, reading stops and that error is returned.
    ///
    /// Progress is reported in bytes of DM data read.
    pub fn read_conversations(
        &mut self,
        progress: &dyn Progress,
        mut on_chunk: impl FnMut(ConversationChunk) -> Result<()>,
    ) -> Result<ReadReport> {
        let mut report = ReadReport::default();
        let archive = self.path.clone();
        for file in self.dm_files.clone() {
            let mut stop: Option<Error> = None;
            let outcome = {
                let reader = match self.container.open_entry(&archive, &file.path) {
                    Ok(r) => r,
                    Err(e) => {
                        report.problems.push(e);
                        continue;
                    }
                };
                let reader = Counting {
                    inner: reader,
                    progress,
                };
                ytd::for_each_element(reader, |bytes, _| {
                    let entry: ConversationEntry = serde_json::from_slice(bytes)?;
                    let c = entry.conversation;
                    let chunk = ConversationChunk {
                        kind: ConversationKind::classify(file.group, &c.conversation_id),
                        conversation_id: c.conversation_id,
                        file: file.path.clone(),
                        events: c.messages,
                    };
                    on_chunk(chunk).map_err(|e| {
                        stop = Some(e);
                        <serde_json::Error as serde::de::Error>::custom("stopped")
                    })
                })
            };
            if let Some(e) = stop {
                return Err(e);
            }
            if let Err(e) = outcome {
                report.problems.push(self.scan_error(&file.path, e));
            }
        }
        Ok(report)
    }

    /// Counts the XChat events (elements of `message-event.js`), which
    /// cannot be imported.
    pub fn count_xchat_events(&mut self, progress: &dyn Progress) -> (u64, ReadReport) {
        let mut report = ReadReport::default();
        let mut total = 0;
        let archive = self.path.clone();
        for file in self.xchat_files.clone() {
            let reader = match self.container.open_entry(&archive, &file.path) {
                Ok(r) => r,
                Err(e) => {
                    report.problems.push(e);
                    continue;
                }
            };
            let mut n = 0;
            let r = ytd::for_each_element(
                Counting {
                    inner: reader,
                    progress,
                },
                |_, _| {
                    n += 1;
                    Ok(())
                },
            );
            total += n;
            if let Err(e) = r {
                report.problems.push(self.scan_error(&file.path, e));
            }
        }
        (total, report)
    }

    /// Every file in the DM media folders, media ZIPs (2019) opened and
    /// listed. Hidden files (`.DS_Store`, …) are left out. Problems with a
    /// media ZIP are added to the warnings.
    pub fn media_files(&mut self) -> &[MediaFile] {
        if self.media.is_none() {
            let files = self.list_media();
            self.media = Some(files);
        }
        self.media.as_deref().unwrap_or_default()
    }

    /// The media files listed by an earlier [`Archive::media_files`] call
    /// (empty before it).
    pub fn cached_media_files(&self) -> &[MediaFile] {
        self.media.as_deref().unwrap_or_default()
    }

    fn list_media(&mut self) -> Vec<MediaFile> {
        let mut out = Vec::new();
        let archive = self.path.clone();
        let mut nested = Vec::new();
        for e in &self.entries {
            let Some(&(ref dir, group)) = self.media_dirs.iter().find(|(d, _)| {
                e.path.starts_with(d.as_str()) && e.path[d.len()..].starts_with('/')
            }) else {
                continue;
            };
            let name = e.path.rsplit('/').next().unwrap_or(&e.path);
            if name.starts_with('.') || e.path[dir.len()..].contains("/__MACOSX/") {
                continue;
            }
            if name.to_ascii_lowercase().ends_with(".zip") {
                nested.push((e.path.clone(), group));
                continue;
            }
            out.push(MediaFile {
                location: MediaLocation::Entry(e.path.clone()),
                name: name.to_owned(),
                group,
                size: e.size,
            });
        }
        for (zip_path, group) in nested {
            match self
                .container
                .open_nested_zip(&archive, &zip_path, MAX_NESTED_IN_MEMORY)
            {
                Ok(z) => {
                    for i in 0..z.len() {
                        let Ok(data) = z.by_index_data(i) else {
                            continue;
                        };
                        let Ok(inner) = data.name() else { continue };
                        if data.is_dir() || inner.ends_with('/') {
                            continue;
                        }
                        let inner = &*inner;
                        if !source::is_safe_relative(inner) {
                            self.skipped += 1;
                            self.warnings.push(format!(
                                "{zip_path}: entry {inner:?} has an absolute path or `..` and was not read"
                            ));
                            continue;
                        }
                        let name = inner.rsplit('/').next().unwrap_or(inner);
                        if name.starts_with('.') || inner.contains("__MACOSX/") {
                            continue;
                        }
                        let size = data.size();
                        out.push(MediaFile {
                            location: MediaLocation::Nested {
                                zip: zip_path.clone(),
                                entry: inner.to_owned(),
                            },
                            name: name.to_owned(),
                            group,
                            size,
                        });
                    }
                }
                Err(e) => {
                    self.skipped += 1;
                    self.warnings.push(e.to_string());
                }
            }
        }
        out
    }
}

/// An independent reader of an archive's media files, for parallel
/// workers: each has its own handle on the ZIP file (or folder).
pub struct MediaReader {
    path: PathBuf,
    container: Container,
    nested: HashMap<String, zip::ZipArchive<source::NestedReader>>,
}

impl MediaReader {
    /// Opens one media file for streaming.
    pub fn open(&mut self, file: &MediaFile) -> Result<Box<dyn Read + '_>> {
        match &file.location {
            MediaLocation::Entry(p) => self.container.open_entry(&self.path, p),
            MediaLocation::Nested { zip, entry } => {
                if !self.nested.contains_key(zip) {
                    let z =
                        self.container
                            .open_nested_zip(&self.path, zip, MAX_NESTED_IN_MEMORY)?;
                    self.nested.insert(zip.clone(), z);
                }
                let z = self.nested.get_mut(zip).expect("just inserted");
                let f = z.by_name(entry).map_err(|e| Error::Entry {
                    archive: self.path.clone(),
                    entry: format!("{zip}!{entry}"),
                    detail: e.to_string(),
                })?;
                Ok(Box::new(f))
            }
        }
    }
}

impl Archive {
    /// A new reader of the media files (one per worker thread).
    pub fn media_reader(&self) -> Result<MediaReader> {
        let (container, _) = Container::open(&self.path)?;
        Ok(MediaReader {
            path: self.path.clone(),
            container,
            nested: HashMap::new(),
        })
    }

    /// True when the archive is a ZIP file (false: a folder).
    pub fn is_zip(&self) -> bool {
        matches!(self.container, Container::Zip(_))
    }

    /// Every entry of the container (path and size).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Opens any entry of the container for reading.
    pub fn open_entry(&mut self, path: &str) -> Result<Box<dyn Read + '_>> {
        let archive = self.path.clone();
        self.container.open_entry(&archive, path)
    }
}

/// Finds the archive's top: the container's top, or one folder down.
fn find_root(entries: &[Entry]) -> Option<String> {
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

/// Counts bytes read for progress.
struct Counting<'a, R> {
    inner: R,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
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
}
