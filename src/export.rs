//! `export`: selected media, decrypted, into a folder the user chose.
//!
//! Names are deterministic, collision-free and safe on Windows:
//!
//! ```text
//! <conversation id>/<YYYY-MM-DD_HHMMSS> <sender id> <message id>[-n].<ext>
//! orphans/<original file name>
//! ```
//!
//! `-n` numbers a message's second, third … media. Each file's modification
//! time is set to the time the message was sent, and `index.json` beside
//! them describes every exported file. A file that is already there with
//! the same content is left alone; a different file is never overwritten
//! (it is reported). Every file is checked against its recorded SHA-256
//! before it gets its final name.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{is_disk_full, Error, Result};
use crate::media::MediaKind;
use crate::progress::Progress;
use crate::query::{rows, Filter, Row};
use crate::vault::catalog::FileFacts;
use crate::vault::fsutil;
use crate::vault::keys::hex;
use crate::vault::store::{for_each_block, ObjectError};
use crate::vault::Vault;

/// What an export did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportSummary {
    /// Files written.
    pub written: u64,
    /// Files already there with the same content.
    pub unchanged: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Files not written: a different file has the name, or the object is
    /// damaged. One sentence each.
    pub problems: Vec<String>,
    /// The number of problems that are damaged objects.
    pub damaged: u64,
}

/// One exported file, as `index.json` describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Path relative to the export folder, `/`-separated.
    pub path: String,
    /// The message (for an orphan: its file name's numeric prefix).
    pub message_id: Option<String>,
    /// Conversation.
    pub conversation_id: Option<String>,
    /// `one_to_one` or `group`.
    pub conversation_kind: Option<String>,
    /// Sender.
    pub sender_id: Option<String>,
    /// The sender's handle, when anyone named them.
    pub sender_handle: Option<String>,
    /// The sender's display name, likewise.
    pub sender_name: Option<String>,
    /// The conversation's name, when it has one.
    pub conversation_name: Option<String>,
    /// Sent at (RFC 3339 UTC).
    pub created_at: Option<String>,
    /// image, gif or video.
    pub kind: String,
    /// Name in the archive.
    pub original_name: Option<String>,
    /// Size.
    pub size: u64,
    /// SHA-256.
    pub sha256: String,
    /// BLAKE3.
    pub blake3: String,
    /// Message text (HTML-escaped, as in the archive).
    pub text: Option<String>,
    /// Archives it was seen in.
    pub archives: Vec<String>,
    /// An orphan file.
    pub orphan: bool,
}

/// The longest file or folder name export writes, in bytes of UTF-8: Linux
/// and macOS allow 255 bytes, Windows and exFAT 255 UTF-16 units (never
/// more than the bytes), and a margin is kept.
pub const MAX_NAME_BYTES: usize = 240;

impl IndexEntry {
    fn new(row: &Row, rel: &Path, facts: &FileFacts) -> IndexEntry {
        IndexEntry {
            path: rel.to_string_lossy().replace('\\', "/"),
            message_id: row.message_id.clone(),
            conversation_id: row.conversation_id.clone(),
            conversation_kind: row.conversation_kind.map(|k| k.as_str().to_owned()),
            sender_id: row.sender_id.clone(),
            sender_handle: row.sender_handle.clone(),
            sender_name: row.sender_name.clone(),
            conversation_name: row.conversation_name.clone(),
            created_at: row.created_at.map(|t| t.to_string()),
            kind: row.kind.as_str().to_owned(),
            original_name: row.original_name.clone(),
            size: facts.size,
            sha256: facts.sha256.clone(),
            blake3: facts.blake3.clone(),
            text: row.text.clone(),
            archives: row.archives.clone(),
            orphan: row.orphan,
        }
    }
}

/// Makes one path component safe on Windows and POSIX: no characters
/// Windows forbids, no control characters, no trailing dots or spaces, no
/// reserved device names, not hidden (no leading dot), and at most
/// [`MAX_NAME_BYTES`]. A longer name is cut at a character boundary and
/// gets the first 8 hex digits of the BLAKE3 of the whole name before its
/// extension, so names that differ only after the cut stay apart and keep
/// their extension.
pub fn safe_component(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    while out.ends_with('.') || out.ends_with(' ') {
        out.pop();
    }
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    let stem = out.split('.').next().unwrap_or("").to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit());
    if reserved {
        out.insert(0, '_');
    }
    fit(out)
}

/// Cuts a name to [`MAX_NAME_BYTES`] (see [`safe_component`]).
fn fit(name: String) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name;
    }
    let tag = &blake3::hash(name.as_bytes()).to_hex()[..8];
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext))
            if !ext.is_empty()
                && ext.len() <= 10
                && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            (stem, format!(".{ext}"))
        }
        _ => (name.as_str(), String::new()),
    };
    let room = MAX_NAME_BYTES - tag.len() - 1 - ext.len();
    let mut cut = room.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{tag}{ext}", &stem[..cut])
}

pub(crate) fn extension(row: &Row) -> String {
    row.original_name
        .as_deref()
        .and_then(|n| n.rsplit_once('.').map(|(_, e)| e))
        .filter(|e| !e.is_empty() && e.len() <= 5 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| match row.kind {
            MediaKind::Image => "jpg".into(),
            MediaKind::Gif | MediaKind::Video => "mp4".into(),
        })
}

/// The relative path a row is exported to. `shared_name` says that
/// another orphan of the export has the same file name (different content):
/// then the name gets the first 8 hex digits of the content's BLAKE3.
pub fn export_path(row: &Row, shared_name: bool) -> PathBuf {
    if row.orphan {
        let name = row.original_name.as_deref().unwrap_or("orphan");
        let name = match (shared_name, row.blake3.as_deref()) {
            (true, Some(b3)) => match name.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}-{}.{ext}", &b3[..8]),
                None => format!("{name}-{}", &b3[..8]),
            },
            _ => name.to_owned(),
        };
        return PathBuf::from("orphans").join(safe_component(&name));
    }
    let conv_id = row
        .conversation_id
        .as_deref()
        .unwrap_or("unknown-conversation");
    // A named conversation's folder has its name first and its id after
    // (names change; ids stay): `Birch Owl (48213377-1062514387293179904)`.
    let conv = safe_component(&match &row.conversation_name {
        Some(name) => format!("{name} ({conv_id})"),
        None => conv_id.to_owned(),
    });
    let when = row.created_at.map_or_else(
        || "unknown-date".to_owned(),
        |t| {
            let c = t.to_civil();
            format!(
                "{:04}-{:02}-{:02}_{:02}{:02}{:02}",
                c.year, c.month, c.day, c.hour, c.minute, c.second
            )
        },
    );
    // `@handle` when the sender has one, else the name, else the id.
    let sender = match (&row.sender_handle, &row.sender_name, &row.sender_id) {
        (Some(h), _, _) => format!("@{h}"),
        (None, Some(n), _) => n.clone(),
        (None, None, id) => id.clone().unwrap_or_else(|| "unknown".into()),
    };
    let id = row.message_id.as_deref().unwrap_or("unknown");
    let n = if row.ordinal > 0 {
        format!("-{}", row.ordinal + 1)
    } else {
        String::new()
    };
    let name = format!("{when} {sender} {id}{n}.{}", extension(row));
    PathBuf::from(conv).join(safe_component(&name))
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    for_each_block(&mut File::open(path)?, |b| {
        h.update(b);
        Ok::<(), std::io::Error>(())
    })?;
    Ok(hex(&h.finalize()))
}

/// Reads the `index.json` of an earlier export into the folder. One that
/// dmvault did not write is never touched: the export stops before
/// writing anything.
fn read_index(index_path: &Path) -> Result<BTreeMap<String, IndexEntry>> {
    let text = match fs::read_to_string(index_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(Error::ForeignIndex {
                path: index_path.to_owned(),
            })
        }
        Err(e) => return Err(Error::read(index_path, e)),
    };
    let old: Vec<IndexEntry> = serde_json::from_str(&text).map_err(|_| Error::ForeignIndex {
        path: index_path.to_owned(),
    })?;
    Ok(old.into_iter().map(|e| (e.path.clone(), e)).collect())
}

/// Writes `index.json` (mode 0600: it holds every message text) through a
/// temp file, replacing the one dmvault wrote before.
fn write_index(out: &Path, index: &BTreeMap<String, IndexEntry>) -> Result<()> {
    let entries: Vec<&IndexEntry> = index.values().collect();
    let text = serde_json::to_string_pretty(&entries).expect("serialisable");
    let path = out.join("index.json");
    fsutil::replace_private(&path, text.as_bytes()).map_err(|e| Error::write(&path, e))
}

/// Removes the temp files a killed export left (plaintext, named as
/// [`fsutil::temp_file`] names them) anywhere in the export folder, but
/// not in the vault should it be inside it (its temp files are its
/// writers').
pub(crate) fn remove_leftovers(out: &Path, vault: &Path) {
    let vault = fsutil::resolve(vault);
    for e in walkdir::WalkDir::new(out)
        .max_depth(3)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| !e.file_type().is_dir() || fsutil::resolve(e.path()) != vault)
        .flatten()
    {
        if e.file_type().is_file() && fsutil::is_temp_name(&e.file_name().to_string_lossy()) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Exports the rows `filter` selects into `out`.
///
/// The folder and those in it are created readable by the owner only, and
/// so is every file. Nothing is written into the vault, and no file that
/// is already there is overwritten; temp files a killed export left are
/// removed first.
///
/// # Errors
/// When `out` is inside the vault, holds an `index.json` dmvault did not
/// write, cannot be created, or the disk is full (what was written stays,
/// with its index). Other per-file problems are collected in the summary.
pub fn export(
    vault: &Vault,
    out: &Path,
    filter: &Filter,
    progress: &dyn Progress,
) -> Result<ExportSummary> {
    crate::vault::ensure_outside(vault.path(), out)?;
    let mut index = read_index(&out.join("index.json"))?;
    fsutil::create_private_dir(out).map_err(|e| Error::write(out, e))?;
    remove_leftovers(out, vault.path());
    let vault_in_out = fsutil::is_inside(vault.path(), out);
    let selected: Vec<Row> = rows(&vault.index, filter)?
        .into_iter()
        .filter(|r| r.object.is_some())
        .collect();
    let mut summary = ExportSummary::default();
    let mut orphan_names: HashMap<Option<String>, usize> = HashMap::new();
    for r in selected.iter().filter(|r| r.orphan) {
        *orphan_names.entry(r.original_name.clone()).or_default() += 1;
    }
    progress.phase(
        "Exporting",
        Some(selected.iter().filter_map(|r| r.size).sum()),
    );
    let mut stop = None;
    for row in &selected {
        let Some(facts) = row.facts() else { continue };
        let shared = row.orphan && orphan_names.get(&row.original_name).is_some_and(|&n| n > 1);
        let rel = export_path(row, shared);
        match export_one(vault, out, vault_in_out, &rel, &facts, row, &mut summary) {
            Ok(Some(entry)) => {
                index.insert(entry.path.clone(), entry);
            }
            Ok(None) => {}
            Err(e) => {
                stop = Some(e);
                break;
            }
        }
        progress.advance(facts.size);
    }
    write_index(out, &index)?;
    progress.finish();
    match stop {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// Exports one row to `out/rel`. Returns its index entry when the file is
/// there (written now or before), `None` when it was not written (the
/// reason is in the summary), and an error only when the export must stop
/// (a full disk).
pub(crate) fn export_one(
    vault: &Vault,
    out: &Path,
    vault_in_out: bool,
    rel: &Path,
    facts: &FileFacts,
    row: &Row,
    summary: &mut ExportSummary,
) -> Result<Option<IndexEntry>> {
    let dest = out.join(rel);
    let entry = IndexEntry::new(row, rel, facts);
    // The vault may be inside the export folder (`export .` beside it),
    // and a conversation may be named like it: nothing goes into it.
    if vault_in_out && crate::vault::ensure_outside(vault.path(), &dest).is_err() {
        summary.problems.push(format!(
            "{}: would be inside the vault {}; it was not written (export into another folder)",
            dest.display(),
            vault.path().display()
        ));
        return Ok(None);
    }
    if dest.exists() {
        return Ok(match sha256_file(&dest) {
            Ok(h) if h == facts.sha256 => {
                summary.unchanged += 1;
                Some(entry)
            }
            _ => {
                summary.problems.push(format!(
                    "{}: a different file is already there; it was left alone (move it away and export again)",
                    dest.display()
                ));
                None
            }
        });
    }
    let result = fsutil::create_private_dir(fsutil::parent_dir(&dest))
        .map_err(WriteError::Io)
        .and_then(|()| write_one(vault, facts, &dest, row));
    match result {
        Ok(()) => {
            summary.written += 1;
            summary.bytes += facts.size;
            Ok(Some(entry))
        }
        Err(WriteError::Damaged(why)) => {
            summary.damaged += 1;
            summary.problems.push(format!(
                "{}: object {} is damaged ({why}); run `dmvault verify` and import the archive again to heal it",
                rel.display(),
                facts.object
            ));
            Ok(None)
        }
        Err(WriteError::Unreadable(e)) => {
            summary.problems.push(format!(
                "{}: object {} cannot be read ({e}); check the vault's disk and run `dmvault verify`",
                rel.display(),
                facts.object
            ));
            Ok(None)
        }
        Err(WriteError::Io(e)) if is_disk_full(&e) => Err(Error::write(&dest, e)),
        Err(WriteError::Io(e)) => {
            summary
                .problems
                .push(format!("{}: cannot be written: {e}", dest.display()));
            Ok(None)
        }
    }
}

/// Which side of a copy failed.
enum Copy {
    Read(std::io::Error),
    Write(std::io::Error),
}

impl From<std::io::Error> for Copy {
    fn from(e: std::io::Error) -> Copy {
        Copy::Read(e)
    }
}

enum WriteError {
    /// The object is not what was written.
    Damaged(String),
    /// The object's file cannot be read.
    Unreadable(std::io::Error),
    /// The export folder cannot be written.
    Io(std::io::Error),
}

fn write_one(vault: &Vault, facts: &FileFacts, dest: &Path, row: &Row) -> Result<(), WriteError> {
    let object_error = |e: ObjectError| match e {
        ObjectError::Unreadable(e) => WriteError::Unreadable(e),
        ObjectError::Corrupt(why) => WriteError::Damaged(why),
    };
    let mut reader = vault
        .store()
        .open(&facts.object, vault.secret().identity())
        .map_err(object_error)?;
    let (file, tmp) = fsutil::temp_file(fsutil::parent_dir(dest)).map_err(WriteError::Io)?;
    let result = (|| {
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let mut h = Sha256::new();
        for_each_block(&mut reader, |b| {
            h.update(b);
            w.write_all(b).map_err(Copy::Write)
        })
        .map_err(|e| match e {
            Copy::Write(e) => WriteError::Io(e),
            Copy::Read(e) => object_error(ObjectError::from_io(e)),
        })?;
        if hex(&h.finalize()) != facts.sha256 {
            return Err(WriteError::Damaged(
                "its content does not match the recorded SHA-256".into(),
            ));
        }
        let f = w.into_inner().map_err(|e| WriteError::Io(e.into_error()))?;
        if let Some(t) = row.created_at {
            let _ = f.set_modified(system_time(t));
        }
        f.sync_all().map_err(WriteError::Io)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    crate::fault::point("export-tmp");
    match fsutil::publish(&tmp, dest) {
        Ok(true) => Ok(()),
        Ok(false) => Err(WriteError::Io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "appeared while exporting",
        ))),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(WriteError::Io(e))
        }
    }
}

/// A timestamp as the operating system's file time.
fn system_time(t: crate::time::Timestamp) -> std::time::SystemTime {
    let ms = t.millis();
    let d = std::time::Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        std::time::UNIX_EPOCH + d
    } else {
        std::time::UNIX_EPOCH - d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_safe_names() {
        assert_eq!(safe_component("a:b?c*d"), "a_b_c_d");
        assert_eq!(safe_component("CON"), "_CON");
        assert_eq!(safe_component("com1.jpg"), "_com1.jpg");
        assert_eq!(safe_component("name. "), "name");
        assert_eq!(safe_component(""), "_");
        assert_eq!(safe_component("12-34"), "12-34");
    }
}
