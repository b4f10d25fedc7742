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

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::media::MediaKind;
use crate::progress::Progress;
use crate::query::{rows, Filter, Row};
use crate::vault::fsutil;
use crate::vault::keys::hex;
use crate::vault::store::fill;
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

/// Makes one path component safe on Windows and POSIX.
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
    if out.is_empty() {
        out.push('_');
    }
    let stem = out.split('.').next().unwrap_or("").to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit());
    if reserved {
        out.insert(0, '_');
    }
    if out.chars().count() > 120 {
        out = out.chars().take(120).collect();
    }
    out
}

fn extension(row: &Row) -> String {
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
    let conv = safe_component(
        row.conversation_id
            .as_deref()
            .unwrap_or("unknown-conversation"),
    );
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
    let sender = row.sender_id.as_deref().unwrap_or("unknown");
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
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = fill(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Exports the rows `filter` selects into `out`.
///
/// # Errors
/// When `out` cannot be created or `index.json` cannot be written. Per-file
/// problems are collected in the summary instead.
pub fn export(
    vault: &Vault,
    out: &Path,
    filter: &Filter,
    progress: &dyn Progress,
) -> Result<ExportSummary> {
    let selected: Vec<Row> = rows(&vault.catalog, filter)
        .into_iter()
        .filter(|r| r.object.is_some())
        .collect();
    fs::create_dir_all(out).map_err(|e| Error::write(out, e))?;
    let mut summary = ExportSummary::default();
    let mut index: BTreeMap<String, IndexEntry> = BTreeMap::new();
    let index_path = out.join("index.json");
    if let Ok(text) = fs::read_to_string(&index_path) {
        if let Ok(old) = serde_json::from_str::<Vec<IndexEntry>>(&text) {
            index.extend(old.into_iter().map(|e| (e.path.clone(), e)));
        }
    }
    let mut orphan_names: std::collections::HashMap<Option<String>, usize> =
        std::collections::HashMap::new();
    for r in selected.iter().filter(|r| r.orphan) {
        *orphan_names.entry(r.original_name.clone()).or_default() += 1;
    }
    progress.phase(
        "Exporting",
        Some(selected.iter().filter_map(|r| r.size).sum()),
    );
    for row in &selected {
        let Some(facts) = row.facts() else { continue };
        let shared = row.orphan && orphan_names.get(&row.original_name).is_some_and(|&n| n > 1);
        let rel = export_path(row, shared);
        let dest = out.join(&rel);
        let rel_str = rel.to_string_lossy().replace('\\', "/");
        let entry = IndexEntry {
            path: rel_str.clone(),
            message_id: row.message_id.clone(),
            conversation_id: row.conversation_id.clone(),
            conversation_kind: row.conversation_kind.map(|k| k.as_str().to_owned()),
            sender_id: row.sender_id.clone(),
            created_at: row.created_at.map(|t| t.to_string()),
            kind: row.kind.as_str().to_owned(),
            original_name: row.original_name.clone(),
            size: facts.size,
            sha256: facts.sha256.clone(),
            blake3: facts.blake3.clone(),
            text: row.text.clone(),
            archives: row.archives.clone(),
            orphan: row.orphan,
        };
        if dest.exists() {
            match sha256_file(&dest) {
                Ok(h) if h == facts.sha256 => {
                    summary.unchanged += 1;
                    index.insert(rel_str, entry);
                }
                _ => summary.problems.push(format!(
                    "{}: a different file is already there; it was left alone (move it away and export again)",
                    dest.display()
                )),
            }
            progress.advance(facts.size);
            continue;
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::write(parent, e))?;
        }
        match write_one(vault, &facts, &dest, row) {
            Ok(()) => {
                summary.written += 1;
                summary.bytes += facts.size;
                index.insert(rel_str, entry);
            }
            Err(WriteError::Damaged(why)) => {
                summary.damaged += 1;
                summary.problems.push(format!(
                    "{}: object {} is damaged ({why}); run `dmvault verify` and import the archive again to heal it",
                    rel.display(),
                    facts.object
                ));
            }
            Err(WriteError::Io(e)) => return Err(Error::write(&dest, e)),
        }
        progress.advance(facts.size);
    }
    let entries: Vec<&IndexEntry> = index.values().collect();
    let text = serde_json::to_string_pretty(&entries).expect("serialisable");
    let tmp = out.join(".index.json.tmp");
    fs::write(&tmp, text).map_err(|e| Error::write(&tmp, e))?;
    fs::rename(&tmp, &index_path).map_err(|e| Error::write(&index_path, e))?;
    progress.finish();
    Ok(summary)
}

enum WriteError {
    Damaged(String),
    Io(std::io::Error),
}

fn write_one(
    vault: &Vault,
    facts: &crate::vault::catalog::FileFacts,
    dest: &Path,
    row: &Row,
) -> Result<(), WriteError> {
    let store = vault.store();
    let mut reader = store
        .open(&facts.object, vault.secret().identity())
        .map_err(|e| WriteError::Damaged(e.to_string()))?;
    let dir = dest.parent().expect("has a parent");
    let (file, tmp) = fsutil::temp_file(dir).map_err(WriteError::Io)?;
    let result = (|| {
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match fill(&mut reader, &mut buf) {
                Ok(n) => n,
                Err(e) => return Err(WriteError::Damaged(e.to_string())),
            };
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            w.write_all(&buf[..n]).map_err(WriteError::Io)?;
        }
        if hex(&h.finalize()) != facts.sha256 {
            return Err(WriteError::Damaged(
                "its content does not match the recorded SHA-256".into(),
            ));
        }
        let f = w.into_inner().map_err(|e| WriteError::Io(e.into_error()))?;
        if let Some(t) = row.created_at {
            let _ = f.set_modified(system_time(t));
        }
        f.sync_all().map_err(WriteError::Io)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
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
