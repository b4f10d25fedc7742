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
//! Nothing bad in one place stops the rest: a data file that is not valid
//! JSON is read up to the error; an event (or conversation element) that
//! is valid JSON but not what dmvault expects is skipped alone, and a date
//! outside the years 0000–9999 is clamped; each is reported with its file,
//! line and column in the [`ReadReport`].

mod layout;
mod names;
pub use names::NamesRead;
mod nested;
pub mod source;
pub mod ytd;
mod zipread;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::dm::{ConversationEntry, ConversationKind, Event};
use crate::error::{Error, Result};
use crate::progress::Progress;
use layout::{DataKind, GenerationFacts, Manifest, SMALL_FILE_LIMIT};
use nested::{NestedReader, NestedSource};
use source::{Container, Entry};
use ytd::{Pos, ScanError};
use zipread::ZipReader;

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
    /// The owner's display name then (`account.js`, or the manifest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Where the owner's id and names came from: `manifest.js` or
    /// `account.js` (for the names harvest).
    #[serde(skip)]
    pub owner_file: Option<&'static str>,
    /// `archiveInfo.generationDate` of the manifest.
    pub generation_date: Option<String>,
    /// `archiveInfo.isPartialArchive` of the manifest.
    pub partial: bool,
}

/// A DM data file of the archive.
#[derive(Debug, Clone)]
pub struct DataFile {
    /// The entry (path and uncompressed size).
    pub entry: Entry,
    /// A group file (`direct-message(s)-group*.js`).
    pub group: bool,
}

/// Where a media file is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaLocation {
    /// An entry of the container.
    Entry(Entry),
    /// An entry of a media ZIP inside the container (2019).
    Nested {
        /// The media ZIP, an entry of the container.
        zip: Entry,
        /// The entry inside it.
        entry: Entry,
    },
}

impl fmt::Display for MediaLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaLocation::Entry(e) => f.write_str(&e.path),
            MediaLocation::Nested { zip, entry } => write!(f, "{}!{}", zip.path, entry.path),
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
    /// Its events, as in the file (those that could be read).
    pub events: Vec<Event>,
}

/// What happened to a record of a data file that was not read as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// The record was left out: it is valid JSON but not what dmvault
    /// expects (a field of another type, a date that is no date).
    Skipped,
    /// The record was kept with a value changed or left out (a date
    /// outside the years 0000–9999 clamped, an optional date that is no
    /// date).
    Adjusted,
}

/// A record (an event, or a conversation element) of a data file that was
/// not read as written, and where it is.
#[derive(Debug, Clone, Serialize)]
pub struct RecordIssue {
    /// The data file.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// 1-based byte column.
    pub column: u64,
    /// Skipped or adjusted.
    pub kind: IssueKind,
    /// What is wrong, and what was done.
    pub detail: String,
}

impl fmt::Display for RecordIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.detail
        )
    }
}

/// The largest array element of a data file that is read: X writes at most
/// 1000 messages in one (a few MiB at most); a larger one is skipped and
/// reported, so that memory stays bounded whatever a file holds.
const MAX_ELEMENT: usize = 64 << 20;

/// An element too large to read, as an issue.
fn too_large(file: &DataFile, pos: Pos, bytes: u64) -> RecordIssue {
    RecordIssue {
        file: file.entry.path.clone(),
        line: pos.line,
        column: pos.column,
        kind: IssueKind::Skipped,
        detail: format!(
            "this conversation element is {} MiB, more than X writes in one (at most 1000 messages); it was skipped",
            bytes >> 20
        ),
    }
}

/// At most this many record issues are kept per data file; the rest are
/// counted.
const MAX_ISSUES_PER_FILE: usize = 50;

/// What reading the data files found wrong. Problems do not stop reading.
#[derive(Debug, Default)]
pub struct ReadReport {
    /// Data files that could not be read to the end, with why.
    pub problems: Vec<Error>,
    /// Records skipped or adjusted (at most 50 per file).
    pub issues: Vec<RecordIssue>,
    /// Records skipped beyond those listed.
    pub more_skipped: u64,
    /// Records adjusted beyond those listed.
    pub more_adjusted: u64,
}

impl ReadReport {
    /// Adds what reading other files found.
    pub fn merge(&mut self, other: ReadReport) {
        self.problems.extend(other.problems);
        self.issues.extend(other.issues);
        self.more_skipped += other.more_skipped;
        self.more_adjusted += other.more_adjusted;
    }

    /// Records skipped in all (some input was not read).
    pub fn skipped(&self) -> u64 {
        self.more_skipped
            + self
                .issues
                .iter()
                .filter(|i| i.kind == IssueKind::Skipped)
                .count() as u64
    }

    fn add(&mut self, issue: RecordIssue, listed_in_file: &mut usize) {
        if *listed_in_file < MAX_ISSUES_PER_FILE {
            *listed_in_file += 1;
            self.issues.push(issue);
        } else if issue.kind == IssueKind::Skipped {
            self.more_skipped += 1;
        } else {
            self.more_adjusted += 1;
        }
    }
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
    header_files: Vec<DataFile>,
    media_dirs: Vec<(String, bool)>,
    warnings: Vec<String>,
    skipped: Vec<String>,
    media: Option<Vec<MediaFile>>,
    nested: HashMap<Entry, NestedSource>,
    spill_dir: PathBuf,
    /// What is left of the memory media ZIPs may be inflated into.
    nested_memory: u64,
}

const MEDIA_DIRS: [(&str, bool); 4] = [
    ("direct_messages_media", false),
    ("direct_message_media", false),
    ("direct_messages_group_media", true),
    ("direct_message_group_media", true),
];

impl Archive {
    /// Opens a ZIP file or folder as an X archive.
    ///
    /// # Errors
    /// [`Error::NotZip`], [`Error::TruncatedZip`], [`Error::NotXArchive`],
    /// [`Error::NotAFile`] or [`Error::Io`] when the input as a whole cannot
    /// be used.
    pub fn open(path: &Path) -> Result<Archive> {
        let (container, listing) = Container::open(path)?;
        let root = layout::find_root(&listing.entries).ok_or_else(|| Error::NotXArchive {
            path: path.to_path_buf(),
        })?;
        let mut archive = Archive {
            path: path.to_path_buf(),
            container,
            entries: listing.entries,
            root,
            info: ArchiveInfo {
                generation: Generation::G1_2018,
                account_id: None,
                username: None,
                display_name: None,
                owner_file: None,
                generation_date: None,
                partial: false,
            },
            dm_files: Vec::new(),
            xchat_files: Vec::new(),
            header_files: Vec::new(),
            media_dirs: Vec::new(),
            warnings: listing.notes,
            skipped: listing.skipped,
            media: None,
            nested: HashMap::new(),
            spill_dir: std::env::temp_dir(),
            nested_memory: nested::IN_MEMORY,
        };
        let manifest = archive.read_manifest();
        let listed = archive.add_manifest_files(manifest.as_ref());
        archive.add_files_by_name(&listed, manifest.is_some());
        archive.read_owner();
        let facts = archive.generation_facts();
        archive.info.generation = Generation::detect(facts);
        if archive.has_xchat_events() {
            archive.warnings.push(
                "this archive holds end-to-end encrypted XChat events (message-event.js); X exports them as ciphertext only, so they cannot be imported".into(),
            );
        }
        Ok(archive)
    }

    /// Where a media ZIP that is compressed inside the archive is inflated
    /// to when it is too large for memory (encrypted with a key that only
    /// this process holds, and unlinked at once). The system's temp folder
    /// unless set; `import` sets the vault's `tmp/`.
    pub fn set_spill_dir(&mut self, dir: &Path) {
        self.spill_dir = dir.to_path_buf();
    }

    fn entries_at<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| e.path == path)
    }

    /// The manifest (2020+), if there is one and it can be read.
    fn read_manifest(&mut self) -> Option<Manifest> {
        let path = format!("{}data/manifest.js", self.root);
        let entry = self.entries_at(&path).next()?.clone();
        match self.read_small::<Manifest>(&entry) {
            Ok(m) => Some(m),
            Err(e) => {
                self.warnings
                    .push(format!("{e}; finding the DM files by their names instead"));
                None
            }
        }
    }

    /// Adds the data files and media folders the manifest lists, and its
    /// owner and archive facts. Returns the paths it listed.
    fn add_manifest_files(&mut self, manifest: Option<&Manifest>) -> BTreeSet<String> {
        let mut listed = BTreeSet::new();
        let Some(m) = manifest else {
            return listed;
        };
        let dt = &m.data_types;
        for (t, kind) in [
            (&dt.direct_messages, DataKind::OneToOne),
            (&dt.direct_messages_group, DataKind::Group),
            (&dt.message_event, DataKind::XChat),
        ] {
            for name in &t.files {
                let p = format!("{}{}", self.root, name.trim_start_matches("./"));
                let found: Vec<Entry> = self.entries_at(&p).cloned().collect();
                if found.is_empty() {
                    self.warnings.push(format!(
                        "the manifest lists {name} but the archive does not contain it; its messages are not in this archive"
                    ));
                }
                for e in found {
                    self.add_data_file(e, kind);
                }
                listed.insert(p);
            }
        }
        for (t, group) in [
            (&dt.direct_messages, false),
            (&dt.direct_messages_media, false),
            (&dt.direct_messages_group, true),
            (&dt.direct_messages_group_media, true),
        ] {
            if let Some(dir) = &t.media_directory {
                self.add_media_dir(format!("{}{}", self.root, dir.trim_end_matches('/')), group);
            }
        }
        self.info.account_id.clone_from(&m.user_info.account_id);
        self.info.username.clone_from(&m.user_info.user_name);
        self.info.display_name.clone_from(&m.user_info.display_name);
        if self.info.account_id.is_some() {
            self.info.owner_file = Some("manifest.js");
        }
        self.info
            .generation_date
            .clone_from(&m.archive_info.generation_date);
        self.info.partial = m.archive_info.is_partial_archive;
        if self.info.partial {
            self.warnings.push(
                "the manifest says this is a partial archive (isPartialArchive); import the other parts too".into(),
            );
        }
        listed
    }

    /// Adds the DM files found by name, at the top or in `data/` (never in
    /// `assets/`), and the media folders of every generation.
    fn add_files_by_name(&mut self, listed: &BTreeSet<String>, has_manifest: bool) {
        let mut found = Vec::new();
        for e in &self.entries {
            let Some(rel) = e.path.strip_prefix(self.root.as_str()) else {
                continue;
            };
            let name = rel.strip_prefix("data/").unwrap_or(rel);
            if name.contains('/') || listed.contains(&e.path) {
                continue;
            }
            if let Some(kind) = layout::classify_data_file(name) {
                found.push((e.clone(), kind));
            }
            if let Some(group) = layout::classify_headers_file(name) {
                self.header_files.push(DataFile {
                    entry: e.clone(),
                    group,
                });
            }
        }
        for (e, kind) in found {
            if has_manifest {
                self.warnings.push(format!(
                    "{} is not listed in the manifest; it was read anyway",
                    e.path
                ));
            }
            self.add_data_file(e, kind);
        }
        for top in [self.root.clone(), format!("{}data/", self.root)] {
            for (dir, group) in MEDIA_DIRS {
                self.add_media_dir(format!("{top}{dir}"), group);
            }
        }
    }

    /// The owner, from `account.js` when the manifest did not say.
    fn read_owner(&mut self) {
        let found = [
            format!("{}data/account.js", self.root),
            format!("{}account.js", self.root),
        ]
        .into_iter()
        .find_map(|p| self.entries_at(&p).next().cloned());
        let Some(entry) = found else { return };
        match self.read_small::<layout::Account>(&entry) {
            Ok(acc) => {
                match (&self.info.account_id, &acc.account_id) {
                    (None, Some(_)) => {
                        self.info.account_id = acc.account_id;
                        self.info.owner_file = Some("account.js");
                        self.info.display_name.clone_from(&acc.display_name);
                    }
                    (None, None) => {}
                    (Some(a), Some(b)) if a != b => self.warnings.push(format!(
                        "{} names account {b} but the manifest names {a}; using the manifest's",
                        entry.path
                    )),
                    _ => {}
                }
                if self.info.username.is_none() {
                    self.info.username = acc.username;
                }
                if self.info.display_name.is_none() {
                    self.info.display_name = acc.display_name;
                }
            }
            Err(e) => self.warnings.push(e.to_string()),
        }
    }

    fn generation_facts(&self) -> GenerationFacts {
        let manifest_path = format!("{}data/manifest.js", self.root);
        let manifest = self.entries_at(&manifest_path).next().is_some();
        let singular = [
            format!("{}direct_message_media/", self.root),
            format!("{}direct_message_group_media/", self.root),
        ];
        GenerationFacts {
            manifest,
            xchat: !self.xchat_files.is_empty(),
            plural_names: self
                .dm_files
                .iter()
                .any(|f| f.entry.path.contains("direct-messages")),
            group_file: self.dm_files.iter().any(|f| f.group),
            singular_media_folder: self
                .entries
                .iter()
                .any(|e| singular.iter().any(|s| e.path.starts_with(s.as_str()))),
        }
    }

    fn add_data_file(&mut self, entry: Entry, kind: DataKind) {
        let list = if kind == DataKind::XChat {
            &mut self.xchat_files
        } else {
            &mut self.dm_files
        };
        if !list.iter().any(|f| f.entry == entry) {
            list.push(DataFile {
                entry,
                group: kind == DataKind::Group,
            });
        }
    }

    fn add_media_dir(&mut self, dir: String, group: bool) {
        if !self.media_dirs.iter().any(|(d, _)| *d == dir) {
            self.media_dirs.push((dir, group));
        }
    }

    /// Parses `manifest.js` or `account.js` (see [`layout`]).
    fn read_small<T: serde::de::DeserializeOwned>(&mut self, entry: &Entry) -> Result<T> {
        if entry.size > SMALL_FILE_LIMIT {
            return Err(Error::Entry {
                archive: self.path.clone(),
                entry: entry.path.clone(),
                detail: format!(
                    "it is {} MiB, where X's is a few KiB; it was not read",
                    entry.size >> 20
                ),
            });
        }
        let archive = self.path.clone();
        let reader = self.container.open_entry(&archive, entry)?;
        ytd::parse_small(reader, SMALL_FILE_LIMIT).map_err(|e| self.scan_error(&entry.path, e))
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

    /// Things worth knowing that lose nothing.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Input that was not read, one sentence each: entries with unsafe
    /// names, symlinks out of the folder, media ZIPs that cannot be read.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Total uncompressed size of the DM data files.
    pub fn dm_bytes(&self) -> u64 {
        self.dm_files
            .iter()
            .chain(&self.xchat_files)
            .map(|f| f.entry.size)
            .sum()
    }

    /// Streams every conversation element of every DM data file.
    ///
    /// `on_chunk` is called once per array element, in file order, with
    /// the events that could be read. A data file that is not valid JSON is
    /// read up to the bad element, and its error is put in the report; a
    /// record that is valid JSON but cannot be read is skipped alone and
    /// reported; the other files are still read. When `on_chunk` fails,
    /// reading stops and that error is returned.
    ///
    /// Progress is reported in bytes of DM data read.
    pub fn read_conversations(
        &mut self,
        progress: &dyn Progress,
        on_chunk: impl FnMut(ConversationChunk) -> Result<()>,
    ) -> Result<ReadReport> {
        let files = self.dm_files.clone();
        self.read_chunks(&files, progress, on_chunk)
    }

    /// The headers files (`direct-message-headers.js`, …): the DM files'
    /// events without text. X sometimes ships a conversation only there.
    pub fn header_files(&self) -> &[DataFile] {
        &self.header_files
    }

    /// Streams the conversation elements of the headers files, as
    /// [`Archive::read_conversations`] does those of the DM files.
    ///
    /// # Errors
    /// As [`Archive::read_conversations`].
    pub fn read_headers(
        &mut self,
        progress: &dyn Progress,
        on_chunk: impl FnMut(ConversationChunk) -> Result<()>,
    ) -> Result<ReadReport> {
        let files = self.header_files.clone();
        self.read_chunks(&files, progress, on_chunk)
    }

    fn read_chunks(
        &mut self,
        files: &[DataFile],
        progress: &dyn Progress,
        mut on_chunk: impl FnMut(ConversationChunk) -> Result<()>,
    ) -> Result<ReadReport> {
        let mut report = ReadReport::default();
        let archive = self.path.clone();
        for file in files.iter().cloned() {
            let mut stop: Option<Error> = None;
            let mut listed = 0;
            let outcome = {
                let reader = match self.container.open_entry(&archive, &file.entry) {
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
                ytd::for_each_element_within(reader, MAX_ELEMENT, |element, pos| {
                    let mut issue = |i| report.add(i, &mut listed);
                    let bytes = match element {
                        ytd::Element::Json(bytes) => bytes,
                        ytd::Element::TooLarge(n) => {
                            issue(too_large(&file, pos, n));
                            return Ok(());
                        }
                    };
                    let element = Element {
                        file: &file,
                        bytes,
                        pos,
                    };
                    let Some(chunk) = element.parse(&mut issue)? else {
                        return Ok(());
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
                report.problems.push(self.scan_error(&file.entry.path, e));
            }
        }
        Ok(report)
    }

    /// True when some XChat file holds at least one event (read up to the
    /// first; an empty `message-event.js` is common and worth no warning).
    /// A file that cannot be read counts as holding events.
    fn has_xchat_events(&mut self) -> bool {
        let archive = self.path.clone();
        for file in self.xchat_files.clone() {
            let Ok(reader) = self.container.open_entry(&archive, &file.entry) else {
                return true;
            };
            let mut found = false;
            let r = ytd::for_each_element_within(reader, 0, |_, _| {
                found = true;
                Err(<serde_json::Error as serde::de::Error>::custom("found"))
            });
            if found || r.is_err() {
                return true;
            }
        }
        false
    }

    /// Counts the XChat events (elements of `message-event.js`), which
    /// cannot be imported.
    pub fn count_xchat_events(&mut self, progress: &dyn Progress) -> (u64, ReadReport) {
        let mut report = ReadReport::default();
        let mut total = 0;
        let archive = self.path.clone();
        for file in self.xchat_files.clone() {
            let reader = match self.container.open_entry(&archive, &file.entry) {
                Ok(r) => r,
                Err(e) => {
                    report.problems.push(e);
                    continue;
                }
            };
            let mut n = 0;
            let r = ytd::for_each_element_within(
                Counting {
                    inner: reader,
                    progress,
                },
                MAX_ELEMENT,
                |_, _| {
                    n += 1;
                    Ok(())
                },
            );
            total += n;
            if let Err(e) = r {
                report.problems.push(self.scan_error(&file.entry.path, e));
            }
        }
        (total, report)
    }

    /// Every file in the DM media folders, media ZIPs (2019) opened and
    /// listed. Hidden files (`.DS_Store`, …) are left out. A media ZIP that
    /// cannot be read is added to [`Archive::skipped`].
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

    /// The media folder an entry is in, and whether it is a group folder;
    /// `None` outside them, or for hidden and `__MACOSX` files.
    fn media_dir_of(&self, path: &str) -> Option<bool> {
        let (dir, group) = self
            .media_dirs
            .iter()
            .find(|(d, _)| path.starts_with(d.as_str()) && path[d.len()..].starts_with('/'))?;
        let name = path.rsplit('/').next().unwrap_or(path);
        (!name.starts_with('.') && !path[dir.len()..].contains("/__MACOSX/")).then_some(*group)
    }

    fn list_media(&mut self) -> Vec<MediaFile> {
        let mut out = Vec::new();
        let mut zips = Vec::new();
        for e in &self.entries {
            let Some(group) = self.media_dir_of(&e.path) else {
                continue;
            };
            let name = e.path.rsplit('/').next().unwrap_or(&e.path);
            if name.to_ascii_lowercase().ends_with(".zip") {
                zips.push((e.clone(), group));
                continue;
            }
            out.push(MediaFile {
                location: MediaLocation::Entry(e.clone()),
                name: name.to_owned(),
                group,
                size: e.size,
            });
        }
        for (zip, group) in zips {
            if let Err(e) = self.list_nested(&zip, group, &mut out) {
                self.skipped.push(e.to_string());
            }
        }
        out
    }

    /// Lists a media ZIP inside the archive, made readable once.
    fn list_nested(&mut self, zip: &Entry, group: bool, out: &mut Vec<MediaFile>) -> Result<()> {
        let archive = self.path.clone();
        let source = self.container.nested_source(
            &archive,
            zip,
            &self.spill_dir,
            &mut self.nested_memory,
        )?;
        let entry_err = |e: std::io::Error| Error::Entry {
            archive: archive.clone(),
            entry: zip.path.clone(),
            detail: format!("not a readable ZIP: {e}"),
        };
        let mut reader = open_nested(&source).map_err(entry_err)?;
        let listing =
            source::list_zip(&mut reader, &format!("{}: ", zip.path)).map_err(entry_err)?;
        self.skipped.extend(listing.skipped);
        self.warnings.extend(listing.notes);
        for inner in listing.entries {
            let name = inner
                .path
                .rsplit('/')
                .next()
                .unwrap_or(&inner.path)
                .to_owned();
            if name.starts_with('.') || inner.path.contains("__MACOSX/") {
                continue;
            }
            out.push(MediaFile {
                size: inner.size,
                location: MediaLocation::Nested {
                    zip: zip.clone(),
                    entry: inner,
                },
                name,
                group,
            });
        }
        self.nested.insert(zip.clone(), source);
        Ok(())
    }

    /// A new reader of the media files (one per worker thread). Media ZIPs
    /// inside the archive are shared, not read again.
    pub fn media_reader(&self) -> Result<MediaReader> {
        let (container, _) = Container::open(&self.path)?;
        Ok(MediaReader {
            path: self.path.clone(),
            container,
            sources: self.nested.clone(),
            zips: HashMap::new(),
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
    pub fn open_entry(&mut self, entry: &Entry) -> Result<Box<dyn Read + '_>> {
        let archive = self.path.clone();
        self.container.open_entry(&archive, entry)
    }
}

fn open_nested(source: &NestedSource) -> std::io::Result<ZipReader<NestedReader>> {
    ZipReader::new(source.reader()?, || source.reader()).map_err(|e| match e {
        zip::result::ZipError::Io(e) => e,
        other => std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string()),
    })
}

/// One array element of a data file, being parsed.
struct Element<'a> {
    file: &'a DataFile,
    bytes: &'a [u8],
    pos: Pos,
}

impl Element<'_> {
    /// The element as a chunk of conversation, its unreadable events left
    /// out; `None` when the element itself is not a conversation. Each
    /// record left out or adjusted goes to `issue`. Only a JSON syntax
    /// error (after which the element boundaries cannot be trusted) is an
    /// error.
    fn parse(
        &self,
        issue: &mut dyn FnMut(RecordIssue),
    ) -> Result<Option<ConversationChunk>, serde_json::Error> {
        let entry: ConversationEntry<'_> = match serde_json::from_slice(self.bytes) {
            Ok(e) => e,
            Err(e) if e.classify() == serde_json::error::Category::Data => {
                let at = ytd::locate(self.pos, &e);
                issue(self.issue(
                    at.line,
                    at.column,
                    IssueKind::Skipped,
                    format!("{}; this conversation element was skipped", at.detail),
                ));
                return Ok(None);
            }
            Err(e) => return self.mended(e, issue),
        };
        let c = entry.conversation;
        let mut events = Vec::with_capacity(c.messages.len());
        // Positions are worked out only when needed, each from the last
        // one (events come in order), so finding them costs one pass.
        let mut known = (0, self.pos);
        for raw in c.messages {
            let offset = raw.get().as_ptr() as usize - self.bytes.as_ptr() as usize;
            let mut at = || {
                let (from, pos) = known;
                let p = ytd::position_in(pos, &self.bytes[from..], offset.saturating_sub(from));
                known = (offset.max(from), p);
                p
            };
            let (parsed, notes) =
                crate::dm::with_date_notes(|| serde_json::from_str::<Event>(raw.get()));
            match parsed {
                Ok(event) => {
                    for n in notes {
                        let at = at();
                        issue(self.issue(at.line, at.column, IssueKind::Adjusted, n));
                    }
                    events.push(event);
                }
                Err(e) => {
                    let where_ = ytd::locate(at(), &e);
                    issue(self.issue(
                        where_.line,
                        where_.column,
                        IssueKind::Skipped,
                        format!("{}; this event was skipped", where_.detail),
                    ));
                }
            }
        }
        Ok(Some(ConversationChunk {
            kind: ConversationKind::classify(self.file.group, &c.conversation_id),
            conversation_id: c.conversation_id,
            file: self.file.entry.path.clone(),
            events,
        }))
    }

    /// An element that is not valid JSON only for characters JSON does not
    /// allow inside strings (a raw control character, half of an emoji,
    /// bytes that are not UTF-8) is read with them replaced, and the
    /// replacement reported; any other syntax error is returned.
    fn mended(
        &self,
        e: serde_json::Error,
        issue: &mut dyn FnMut(RecordIssue),
    ) -> Result<Option<ConversationChunk>, serde_json::Error> {
        let Some((bytes, fixes)) = ytd::mend(self.bytes) else {
            return Err(e);
        };
        issue(self.issue(
            self.pos.line,
            self.pos.column,
            IssueKind::Adjusted,
            format!(
                "{fixes} characters that JSON does not allow inside a string (raw control characters, half of an emoji, bytes that are not UTF-8) were replaced"
            ),
        ));
        Element {
            bytes: &bytes,
            ..*self
        }
        .parse(issue)
    }

    fn issue(&self, line: u64, column: u64, kind: IssueKind, detail: String) -> RecordIssue {
        RecordIssue {
            file: self.file.entry.path.clone(),
            line,
            column,
            kind,
            detail,
        }
    }
}

/// An independent reader of an archive's media files, for parallel
/// workers: each has its own handle on the ZIP file (or folder) and on
/// each media ZIP, whose bytes are shared.
pub struct MediaReader {
    path: PathBuf,
    container: Container,
    sources: HashMap<Entry, NestedSource>,
    zips: HashMap<Entry, ZipReader<NestedReader>>,
}

impl MediaReader {
    /// Opens one media file for streaming. It yields at most the size its
    /// ZIP header declares.
    pub fn open(&mut self, file: &MediaFile) -> Result<Box<dyn Read + '_>> {
        match &file.location {
            MediaLocation::Entry(e) => self.container.open_entry(&self.path, e),
            MediaLocation::Nested { zip, entry } => {
                let err = |detail: String| Error::Entry {
                    archive: self.path.clone(),
                    entry: format!("{}!{}", zip.path, entry.path),
                    detail,
                };
                if !self.zips.contains_key(zip) {
                    let source = self
                        .sources
                        .get(zip)
                        .ok_or_else(|| err("its media ZIP was not listed".into()))?;
                    let z = open_nested(source).map_err(|e| err(e.to_string()))?;
                    self.zips.insert(zip.clone(), z);
                }
                let z = self
                    .zips
                    .get_mut(zip)
                    .ok_or_else(|| err("its media ZIP was not opened".into()))?;
                match entry.at {
                    source::At::Zip(at, _) => {
                        z.open(at, entry.size).map_err(|e| err(e.to_string()))
                    }
                    source::At::File => Err(err("not in its media ZIP".into())),
                }
            }
        }
    }
}

impl MediaReader {
    /// Reads one media file whole (it must be small enough for memory),
    /// with the checks of [`Self::open`].
    pub fn read(&mut self, file: &MediaFile) -> Result<Vec<u8>> {
        if let MediaLocation::Entry(e) = &file.location {
            return self.container.read_entry(&self.path, e);
        }
        let archive = self.path.clone();
        source::read_whole(self.open(file)?, file.size).map_err(|e| Error::Entry {
            archive,
            entry: file.name.clone(),
            detail: e.to_string(),
        })
    }
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
