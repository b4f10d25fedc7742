//! `/media/<object>`: a stored file (or a poster), decrypted as it is sent, with HTTP
//! ranges. A seek decrypts only the 64 KiB chunks it lands in (age's
//! `StreamReader` seeks); sizes come from the catalog.
//!
//! `/poster/<object>`: a large image's poster, made in memory when a page
//! asks (see [`crate::poster`]); any other file itself.

use std::io::{Read, Seek, SeekFrom};

use super::{text, Context, Reply, Request};
use crate::vault::store::ObjectId;

/// A single range of `bytes=`: inclusive (first, last), or `Err` for one
/// that cannot be served, `Ok(None)` for no (usable) Range header.
fn range(spec: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = spec.and_then(|s| s.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        // Several ranges: the whole file, as RFC 9110 allows.
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let r = match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(first), Ok(last)) if first <= last => (first, last.min(size.saturating_sub(1))),
        (Ok(first), Err(_)) if b.is_empty() => (first, size.saturating_sub(1)),
        (Err(_), Ok(n)) if a.is_empty() && n > 0 => {
            (size.saturating_sub(n), size.saturating_sub(1))
        }
        _ => return Err(()),
    };
    if size == 0 || r.0 >= size {
        return Err(());
    }
    Ok(Some(r))
}

/// The type a browser needs, from the file's name.
fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("mp4" | "m4v") => "video/mp4",
        Some("mov") => "video/quicktime",
        Some("webm") => "video/webm",
        _ => "application/octet-stream",
    }
}

pub(super) fn answer(ctx: &Context<'_>, req: &Request, id: &str) -> Reply {
    let Some(id) = ObjectId::parse(id) else {
        return text(404, "no such object");
    };
    let index = &ctx.vault.index;
    let (facts, content_type) = match (index.object(&id), index.object_name(&id)) {
        (Ok(Some(f)), Ok(Some(n))) => (f, content_type(&n)),
        (Ok(_), Ok(_)) => match index.poster(&id) {
            Ok(Some(f)) => (f, "image/jpeg"),
            Ok(None) => return text(404, "no media file with that name in this vault"),
            Err(e) => return text(500, &e.to_string()),
        },
        (Err(e), _) | (_, Err(e)) => return text(500, &e.to_string()),
    };
    let size = facts.size;
    let wanted = match range(req.header("Range"), size) {
        Ok(r) => r,
        Err(()) => {
            return text(416, "range not satisfiable")
                .with_header("Content-Range", &format!("bytes */{size}"));
        }
    };
    let mut object = match ctx
        .vault
        .store()
        .open_seekable(&id, ctx.vault.secret().identity())
    {
        Ok(o) => o,
        Err(e) => return text(500, &format!("the object cannot be read: {e}")),
    };
    let (first, last, status) = match wanted {
        Some((a, b)) => (a, b, 206),
        None => (0, size.saturating_sub(1), 200),
    };
    if first > 0 {
        if let Err(e) = object.seek(SeekFrom::Start(first)) {
            return text(500, &format!("the object cannot be read: {e}"));
        }
    }
    let len = if size == 0 { 0 } else { last - first + 1 };
    let body: Box<dyn Read + Send> = Box::new(object.take(len));
    let mut r = Reply::new(status, body, len)
        .with_header("Content-Type", content_type)
        .with_header("Accept-Ranges", "bytes");
    if status == 206 {
        r = r.with_header("Content-Range", &format!("bytes {first}-{last}/{size}"));
    }
    r
}

/// A large image's poster, made now (never written anywhere), or for any
/// other file (or without FFmpeg) the file itself.
pub(super) fn poster(ctx: &Context<'_>, req: &Request, id: &str) -> Reply {
    #[cfg(feature = "ffmpeg")]
    if let Some(jpeg) = ObjectId::parse(id).and_then(|o| poster_now(ctx, &o)) {
        let len = jpeg.len() as u64;
        return Reply::new(200, Box::new(std::io::Cursor::new(jpeg)), len)
            .with_header("Content-Type", "image/jpeg");
    }
    answer(ctx, req, id)
}

/// Posters made while the server runs, in memory (never on disk), up to
/// [`Made::BYTES`]: a page shown again is not decoded again.
#[cfg(feature = "ffmpeg")]
#[derive(Default)]
struct Made {
    posters: std::collections::HashMap<ObjectId, Vec<u8>>,
    bytes: usize,
}

#[cfg(feature = "ffmpeg")]
impl Made {
    /// About 1,500 posters.
    const BYTES: usize = 32 << 20;

    fn keep(&mut self, id: ObjectId, jpeg: &[u8]) {
        if self.bytes + jpeg.len() > Self::BYTES {
            *self = Made::default();
        }
        self.bytes += jpeg.len();
        self.posters.insert(id, jpeg.to_vec());
    }
}

/// A large image's poster: made before in this run, or made now. At most
/// as many images are decoded at once as there are cores: a page of photos
/// asks for all of theirs together.
#[cfg(feature = "ffmpeg")]
fn poster_now(ctx: &Context<'_>, id: &ObjectId) -> Option<Vec<u8>> {
    use std::sync::{Condvar, LazyLock, Mutex};
    static BUSY: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());
    static MADE: LazyLock<Mutex<Made>> = LazyLock::new(Mutex::default);
    let index = &ctx.vault.index;
    let (size, name) = (index.object(id).ok()??.size, index.object_name(id).ok()??);
    if !crate::poster::on_demand(&name, size) {
        return None;
    }
    let made = || MADE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(jpeg) = made().posters.get(id) {
        return Some(jpeg.clone());
    }
    let jpeg = decode_one(&BUSY, || crate::poster::of_object(ctx.vault, id, &name))?;
    made().keep(*id, &jpeg);
    Some(jpeg)
}

/// Runs `decode` once fewer decodes than there are cores are running.
#[cfg(feature = "ffmpeg")]
fn decode_one<T>(
    busy: &'static (std::sync::Mutex<usize>, std::sync::Condvar),
    decode: impl FnOnce() -> T,
) -> T {
    /// A decode's place, given back however the decode ends.
    struct Slot(&'static (std::sync::Mutex<usize>, std::sync::Condvar));
    impl Drop for Slot {
        fn drop(&mut self) {
            *self.0 .0.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
            self.0 .1.notify_one();
        }
    }
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let mut n = busy.0.lock().unwrap_or_else(|e| e.into_inner());
    while *n >= cores {
        n = busy.1.wait(n).unwrap_or_else(|e| e.into_inner());
    }
    *n += 1;
    drop(n);
    let _slot = Slot(busy);
    decode()
}

#[cfg(test)]
mod tests {
    use super::range;

    #[test]
    fn ranges() {
        assert_eq!(range(None, 100), Ok(None));
        assert_eq!(range(Some("bytes=0-"), 100), Ok(Some((0, 99))));
        assert_eq!(range(Some("bytes=10-19"), 100), Ok(Some((10, 19))));
        assert_eq!(range(Some("bytes=90-200"), 100), Ok(Some((90, 99))));
        assert_eq!(range(Some("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(range(Some("bytes=100-"), 100), Err(()));
        assert_eq!(range(Some("bytes=5-1"), 100), Err(()));
        assert_eq!(range(Some("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(range(Some("items=0-1"), 100), Ok(None));
    }
}
