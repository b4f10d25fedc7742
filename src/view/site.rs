//! `export --html DIR`: the viewer's pages as a static site that opens from
//! `file://` with no server.
//!
//! ```text
//! DIR/index.html, app.js, style.css   the viewer's own pages and script
//! DIR/data/site.js                    conversations, people, counts
//! DIR/data/c/<n>/info.js              a conversation: names, months, pages
//! DIR/data/c/<n>/<page>.js            100 messages each, oldest page 0
//! DIR/data/media/<page>.js            the gallery, newest first
//! DIR/media/<object>.<ext>            the media, decrypted
//! ```
//!
//! Data files are scripts (`DMV_DATA(key, json)`): a page opened from
//! `file://` may load scripts but not fetch files. The script reads one
//! page of a conversation at a time and images load as they scroll into
//! view, so a conversation of 100,000 messages opens at once. The user
//! asked for plaintext here; every file is still the owner's only (0600,
//! folders 0700). Exporting again into the same folder rewrites the data
//! files and copies only the media that is not there yet.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};

use crate::conversation::list::{conversations, months, page, Anchor, ConversationSummary};
use crate::conversation::transcript::{info, Item};
use crate::error::{Error, Result};
use crate::export::{self, ExportSummary};
use crate::index::people::Directory;
use crate::progress::Progress;
use crate::query::{rows, Filter, Row};
use crate::vault::fsutil;
use crate::vault::store::ObjectId;
use crate::vault::Vault;

/// Messages on one page of a conversation.
const PAGE: u32 = 100;
/// Gallery rows in one data file.
const MEDIA_PAGE: usize = 500;

/// What `export --html` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteSummary {
    /// Conversations written.
    pub conversations: u64,
    /// Messages written.
    pub messages: u64,
    /// The media copied (or found already there).
    #[serde(flatten)]
    pub media: ExportSummary,
}

/// Writes the static site of the conversations and media `filter` selects
/// into `out`. The conversation filter picks the conversations (all their
/// messages are written); every filter picks the media copied, and media
/// left out shows as such.
///
/// # Errors
/// When `out` is inside the vault, is a folder with other files in it that
/// no earlier `export --html` wrote, or cannot be written.
pub fn export_html(
    vault: &Vault,
    out: &Path,
    filter: &Filter,
    progress: &dyn Progress,
) -> Result<SiteSummary> {
    crate::vault::ensure_outside(vault.path(), out)?;
    refuse_foreign(out)?;
    fsutil::create_private_dir(out).map_err(|e| Error::write(out, e))?;
    export::remove_leftovers(out, vault.path());
    let index = &vault.index;
    let dir = Directory::load(index)?;
    let mut summary = SiteSummary::default();
    let selected: Vec<Row> = rows(index, filter)?;
    let files = copy_media(vault, out, &selected, &mut summary.media, progress)?;
    let chosen: Vec<ConversationSummary> = conversations(index, &dir)?
        .into_iter()
        .filter(|c| filter.conversation.as_ref().is_none_or(|id| *id == c.id))
        .collect();
    progress.phase_items("Writing pages", Some(chosen.len() as u64));
    let mut pages_of: HashMap<String, usize> = HashMap::new();
    let mut listed = Vec::new();
    for (n, c) in chosen.iter().enumerate() {
        let written = write_conversation(vault, &dir, out, n, &c.id, &files, &mut pages_of)?;
        summary.conversations += 1;
        summary.messages += written;
        let mut entry = serde_json::to_value(c).map_err(json_err)?;
        entry["dir"] = json!(n);
        listed.push(entry);
        progress.advance(1);
    }
    let media_pages = write_gallery(out, &selected, &files, &pages_of)?;
    let site = json!({
        "conversations": listed,
        "people": index.people()?,
        "media_pages": media_pages,
    });
    let script = format!("window.DMV_SITE = {};\n", to_json(&site)?);
    write(out, "data/site.js", script.as_bytes())?;
    write_pages(out)?;
    progress.finish();
    Ok(summary)
}

/// A folder with files in it is written into only when an earlier
/// `export --html` made it (its `data/site.js` says so).
fn refuse_foreign(out: &Path) -> Result<()> {
    let Ok(mut entries) = std::fs::read_dir(out) else {
        return Ok(());
    };
    if entries.next().is_none() || out.join("data").join("site.js").is_file() {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "{} already holds files that `export --html` did not write; choose an empty or new folder",
        out.display()
    )))
}

/// Copies each selected object once, to `media/<object>.<ext>`; returns
/// where each object went.
fn copy_media(
    vault: &Vault,
    out: &Path,
    selected: &[Row],
    summary: &mut ExportSummary,
    progress: &dyn Progress,
) -> Result<HashMap<String, String>> {
    let mut first: HashMap<&str, &Row> = HashMap::new();
    for r in selected {
        if let Some(o) = r.object.as_deref() {
            first.entry(o).or_insert(r);
        }
    }
    let mut todo: Vec<(&str, &Row)> = first.into_iter().collect();
    todo.sort_by_key(|(o, _)| *o);
    progress.phase(
        "Copying media",
        Some(todo.iter().filter_map(|(_, r)| r.size).sum()),
    );
    let vault_in_out = fsutil::is_inside(vault.path(), out);
    let mut files = HashMap::new();
    for (_, row) in todo {
        let poster = poster_row(vault, row);
        for r in std::iter::once(row).chain(poster.as_ref()) {
            let (Some(facts), Some(object)) = (r.facts(), r.object.as_deref()) else {
                continue;
            };
            let rel = format!("media/{object}.{}", export::extension(r));
            if export::export_one(
                vault,
                out,
                vault_in_out,
                Path::new(&rel),
                &facts,
                r,
                summary,
            )?
            .is_some()
            {
                files.insert(object.to_owned(), rel);
            }
            progress.advance(facts.size);
        }
        // Only for an image that is there: its poster leads to it.
        let copied = row.object.as_deref().filter(|o| files.contains_key(*o));
        if let Some(object) = copied {
            if let Some(rel) = made_poster(vault, out, vault_in_out, row)? {
                files.insert(made_key(object), rel);
            }
        }
    }
    Ok(files)
}

/// Where [`copy_media`] notes the poster made for an object.
fn made_key(object: &str) -> String {
    format!("poster-of:{object}")
}

/// A large image without a stored poster gets one made now, as the server
/// of `dmvault view` makes it when asked (a static site has no server):
/// `media/<object>.poster.jpg`, kept from an earlier export. Its path, or
/// `None` for any other row.
#[cfg(feature = "ffmpeg")]
fn made_poster(vault: &Vault, out: &Path, vault_in_out: bool, row: &Row) -> Result<Option<String>> {
    let (Some(object), Some(size), None) = (row.object.as_deref(), row.size, &row.poster) else {
        return Ok(None);
    };
    let Some(id) = ObjectId::parse(object) else {
        return Ok(None);
    };
    let Some(name) = vault.index.object_name(&id)? else {
        return Ok(None);
    };
    if !crate::poster::on_demand(&name, size) {
        return Ok(None);
    }
    let rel = format!("media/{object}.poster.jpg");
    let dest = out.join(&rel);
    if vault_in_out && crate::vault::ensure_outside(vault.path(), &dest).is_err() {
        return Ok(None);
    }
    if !dest.is_file() {
        let Some(jpeg) = crate::poster::of_object(vault, &id, &name) else {
            return Ok(None);
        };
        write(out, &rel, &jpeg)?;
    }
    Ok(Some(rel))
}

#[cfg(not(feature = "ffmpeg"))]
fn made_poster(_: &Vault, _: &Path, _: bool, _: &Row) -> Result<Option<String>> {
    Ok(None)
}

/// A row for a row's poster (a JPEG), to copy it as a file.
fn poster_row(vault: &Vault, row: &Row) -> Option<Row> {
    let id = ObjectId::parse(row.poster.as_deref()?)?;
    let facts = vault.index.poster(&id).ok()??;
    let (blake3, sha256) = facts.hashes?;
    let mut r = row.clone();
    r.object.clone_from(&row.poster);
    r.size = Some(facts.size);
    r.blake3 = Some(blake3);
    r.sha256 = Some(sha256);
    r.original_name = Some("poster.jpg".into());
    r.kind = crate::media::MediaKind::Image;
    Some(r)
}

/// Writes a conversation's pages and info; returns its message count and
/// notes each message's page in `pages_of` (by conversation and id).
fn write_conversation(
    vault: &Vault,
    dir: &Directory,
    out: &Path,
    n: usize,
    id: &str,
    files: &HashMap<String, String>,
    pages_of: &mut HashMap<String, usize>,
) -> Result<u64> {
    let index = &vault.index;
    let mut anchor = Anchor::First;
    let mut messages = 0;
    let mut number = 0;
    loop {
        let p = page(index, dir, id, &anchor, PAGE)?;
        let last = p.items.iter().rev().find_map(|i| match i {
            Item::Message(m) => Some(m.id.clone()),
            Item::Event(_) => None,
        });
        let mut value = serde_json::to_value(&p).map_err(json_err)?;
        for item in value["items"].as_array_mut().into_iter().flatten() {
            if let Some(m) = item["id"].as_str() {
                pages_of.insert(format!("{id}/{m}"), number);
                messages += 1;
            }
            for media in item["media"].as_array_mut().into_iter().flatten() {
                let file = |k: &str| media[k].as_str().and_then(|o| files.get(o));
                let made = media["object"]
                    .as_str()
                    .and_then(|o| files.get(&made_key(o)));
                let (f, p) = (json!(file("object")), json!(file("poster").or(made)));
                media["file"] = f;
                media["poster"] = p;
            }
        }
        data_file(out, &format!("c/{n}/{number}"), &value)?;
        number += 1;
        match (p.more_after, last) {
            (true, Some(last)) => anchor = Anchor::After(last),
            _ => break,
        }
    }
    let mut about = serde_json::to_value(info(index, dir, id)?).map_err(json_err)?;
    let mut ms = serde_json::to_value(months(index, id)?).map_err(json_err)?;
    for m in ms.as_array_mut().into_iter().flatten() {
        let at = m["first_id"].as_str().map(|f| format!("{id}/{f}"));
        m["page"] = json!(at.and_then(|k| pages_of.get(&k)));
    }
    about["months"] = ms;
    about["pages"] = json!(number);
    data_file(out, &format!("c/{n}/info"), &about)?;
    Ok(messages)
}

/// The gallery's rows, newest first, in files of [`MEDIA_PAGE`]; returns
/// how many files.
fn write_gallery(
    out: &Path,
    selected: &[Row],
    files: &HashMap<String, String>,
    pages_of: &HashMap<String, usize>,
) -> Result<usize> {
    let mut rows = Vec::with_capacity(selected.len());
    for r in selected.iter().rev() {
        let mut v = serde_json::to_value(r).map_err(json_err)?;
        v["file"] = json!(r.object.as_deref().and_then(|o| files.get(o)));
        let made = r.object.as_deref().and_then(|o| files.get(&made_key(o)));
        v["poster"] = json!(r.poster.as_deref().and_then(|o| files.get(o)).or(made));
        let at = match (&r.conversation_id, &r.message_id) {
            (Some(c), Some(m)) => pages_of.get(&format!("{c}/{m}")),
            _ => None,
        };
        v["page"] = json!(at);
        rows.push(v);
    }
    let chunks: Vec<&[Value]> = rows.chunks(MEDIA_PAGE).collect();
    for (k, chunk) in chunks.iter().enumerate() {
        data_file(out, &format!("media/{k}"), &Value::from(chunk.to_vec()))?;
    }
    Ok(chunks.len())
}

/// The pages and script, the static page loading `data/site.js` first,
/// under a Content-Security-Policy like the server's.
fn write_pages(out: &Path) -> Result<()> {
    let html = include_str!("assets/index.html")
        .replace(
            "<meta charset=\"utf-8\">",
            &format!(
                "<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
                super::CSP_STATIC
            ),
        )
        .replace(
            "<script src=\"app.js\" defer></script>",
            "<script src=\"data/site.js\"></script>\n<script src=\"app.js\" defer></script>",
        );
    write(out, "index.html", html.as_bytes())?;
    write(out, "app.js", include_bytes!("assets/app.js"))?;
    write(out, "style.css", include_bytes!("assets/style.css"))
}

fn data_file(out: &Path, key: &str, value: &Value) -> Result<()> {
    let key_json = to_json(&json!(key))?;
    let script = format!("DMV_DATA({key_json}, {});\n", to_json(value)?);
    write(out, &format!("data/{key}.js"), script.as_bytes())
}

/// JSON that is also safe inside a script: `<` is escaped, so no text can
/// close a `<script>` should the file ever be inlined.
fn to_json(v: &Value) -> Result<String> {
    let s = serde_json::to_string(v).map_err(json_err)?;
    Ok(s.replace('<', "\\u003c")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029"))
}

fn write(out: &Path, rel: &str, bytes: &[u8]) -> Result<()> {
    let path = out.join(rel);
    fsutil::create_private_dir(fsutil::parent_dir(&path)).map_err(|e| Error::write(&path, e))?;
    fsutil::replace_private(&path, bytes).map_err(|e| Error::write(&path, e))
}

fn json_err(e: serde_json::Error) -> Error {
    Error::Invalid(format!("cannot write the site's data: {e}"))
}
