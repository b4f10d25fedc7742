//! Posters: a small JPEG of a video's first picture (its first key frame)
//! or of a large image, made by FFmpeg in memory.
//!
//! - **Videos** get theirs when the content is imported (about 8 ms for a
//!   10 MB 720p H.264 clip): the vault keeps it as an encrypted derived
//!   object (a `poster` record names it), so nothing is written in
//!   plaintext and `verify` checks it like any object. A browser cannot
//!   show a video's picture without loading the video.
//! - **Large images** get theirs when the viewer shows them
//!   ([`on_demand`]), in memory, never in the vault (`export --html`
//!   writes them into its folder, a static site having no server): a
//!   browser can show the
//!   image itself, and decoding a 5 MB phone photo costs 45-65 ms, which
//!   at import doubled the CPU time of photo-heavy archives (see
//!   `docs/benchmarks.md`, *media*). Image posters an earlier release
//!   stored are still served.
//!
//! `unsafe` sets fields of a decoder context before it is opened, as
//! `probe` does for its pixel budget.
#![allow(unsafe_code)]

use std::io::{Read, Seek};

use ffmpeg::format::Pixel;
use ffmpeg::media::Type;
use ffmpeg::software::scaling;
use ffmpeg_next as ffmpeg;

use crate::probe::{budgeted_context, init, next_packet, open_input};

/// A poster's longer side, in pixels.
pub const EDGE: u32 = 320;
/// Images smaller than this get no poster in the viewer: they are small
/// already.
pub const LARGE_IMAGE: u64 = 512 << 10;
/// Packets fed to the decoder before it must have given a picture.
const MAX_PACKETS: u32 = 64;

/// Whether an import makes a file's poster, by its name: every video
/// (GIFs are MP4 files too, and get one).
pub fn wanted(name: &str) -> bool {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    matches!(ext.as_deref(), Some("mp4" | "m4v" | "mov" | "webm" | "mkv"))
}

/// Whether the viewer makes a file's poster when a page shows it: images
/// of [`LARGE_IMAGE`] or more.
pub fn on_demand(name: &str, size: u64) -> bool {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    matches!(
        ext.as_deref(),
        Some("jpg" | "jpeg" | "png" | "webp" | "gif" | "bmp")
    ) && size >= LARGE_IMAGE
}

/// The poster of a stored object, decrypted as FFmpeg reads it.
pub fn of_object(
    vault: &crate::vault::Vault,
    id: &crate::vault::store::ObjectId,
    name: &str,
) -> Option<Vec<u8>> {
    let reader = vault
        .store()
        .open_seekable(id, vault.secret().identity())
        .ok()?;
    make(reader, name)
}

/// A JPEG of at most [`EDGE`] pixels a side, or `None` when FFmpeg cannot
/// decode a picture.
pub fn make<R: Read + Seek + Send + 'static>(reader: R, name: &str) -> Option<Vec<u8>> {
    init();
    let mut input = open_input(reader, name).ok()?;
    let (index, params) = input
        .streams()
        .best(Type::Video)
        .map(|s| (s.index(), s.parameters()))?;
    let mut context = budgeted_context(params).ok()?;
    let mut packet = ffmpeg::Packet::empty();
    let (mut read_errors, mut fed) = (0, 0);
    // A JPEG's size is in the picture, not in the container: its packet
    // is read before the decoder is opened, to choose `lowres` by it.
    let mut pending = false;
    // SAFETY: fields of a context this function owns, set before the
    // decoder is opened: only key frames are decoded, without the loop
    // filter (invisible at a quarter of the size), and a picture is given
    // out as soon as it is decoded (no waiting to reorder frames). A JPEG
    // is decoded at a half, a quarter or an eighth of its size when that
    // is still larger than the poster (the decoder's `lowres`): a phone
    // photo of 4032x3024 decodes to 504x378, without most of the inverse
    // DCT and with 64 times less picture to scale down.
    unsafe {
        let c = context.as_mut_ptr();
        (*c).skip_frame = ffmpeg::ffi::AVDiscard::AVDISCARD_NONKEY;
        (*c).skip_loop_filter = ffmpeg::ffi::AVDiscard::AVDISCARD_ALL;
        (*c).flags |= ffmpeg::ffi::AV_CODEC_FLAG_LOW_DELAY as i32;
        (*c).flags2 |= ffmpeg::ffi::AV_CODEC_FLAG2_FAST;
        if (*c).codec_id == ffmpeg::ffi::AVCodecID::AV_CODEC_ID_MJPEG {
            pending = next_packet(&mut packet, &mut input, &mut read_errors);
            let facts = packet.data().and_then(crate::imagecheck::check);
            let longer = facts.and_then(|f| Some(f.width?.max(f.height?)));
            (*c).lowres = lowres(longer.unwrap_or(0));
        }
    }
    let mut decoder = context.decoder().video().ok()?;
    // The first picture: decoding one frame costs a few milliseconds where
    // a later one costs every frame before it (a second of a noisy 720p
    // clip took 0.9 s).
    let mut frame = ffmpeg::frame::Video::empty();
    while fed < MAX_PACKETS
        && (std::mem::take(&mut pending) || next_packet(&mut packet, &mut input, &mut read_errors))
    {
        if packet.stream() != index || decoder.send_packet(&packet).is_err() {
            continue;
        }
        fed += 1;
        // After a key frame's packet, the decoder is drained: it gives that
        // picture now instead of after the frames it would reorder.
        if packet.is_key() {
            let _ = decoder.send_eof();
        }
        if decoder.receive_frame(&mut frame).is_ok() {
            return encode(&frame);
        }
        if packet.is_key() {
            return None;
        }
    }
    let _ = decoder.send_eof();
    decoder.receive_frame(&mut frame).ok()?;
    encode(&frame)
}

/// How many times a picture whose longer side is `longer` pixels can be
/// halved (at most 3: JPEG's 1/8) and still be at least [`EDGE`].
fn lowres(longer: u32) -> i32 {
    let mut k = 0;
    while k < 3 && longer >> (k + 1) >= EDGE {
        k += 1;
    }
    k
}

/// The frame scaled to fit [`EDGE`] and encoded as a JPEG.
fn encode(frame: &ffmpeg::frame::Video) -> Option<Vec<u8>> {
    let (w, h) = (frame.width(), frame.height());
    if w == 0 || h == 0 {
        return None;
    }
    let longer = w.max(h);
    // Scaled to fit, even, as 4:2:0 JPEG wants.
    let side = |v: u32| {
        let v = if longer > EDGE {
            u32::try_from(u64::from(v) * u64::from(EDGE) / u64::from(longer)).unwrap_or(EDGE)
        } else {
            v
        };
        (v / 2 * 2).max(2)
    };
    let (tw, th) = (side(w), side(h));
    let mut scaler = scaling::Context::get(
        frame.format(),
        w,
        h,
        Pixel::YUVJ420P,
        tw,
        th,
        scaling::Flags::BICUBIC,
    )
    .ok()?;
    let mut small = ffmpeg::frame::Video::new(Pixel::YUVJ420P, tw, th);
    scaler.run(frame, &mut small).ok()?;
    small.set_pts(Some(0));
    let codec = ffmpeg::encoder::find(ffmpeg::codec::Id::MJPEG)?;
    let mut enc = ffmpeg::codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .ok()?;
    enc.set_width(tw);
    enc.set_height(th);
    enc.set_format(Pixel::YUVJ420P);
    enc.set_time_base(ffmpeg::Rational(1, 25));
    // A generous rate for one small picture: the encoder's best quality.
    enc.set_bit_rate(8_000_000);
    let mut enc = enc.open_as(codec).ok()?;
    enc.send_frame(&small).ok()?;
    enc.send_eof().ok()?;
    let mut out = ffmpeg::Packet::empty();
    enc.receive_packet(&mut out).ok()?;
    out.data().map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_jpegs_are_decoded_small_but_never_below_the_poster() {
        assert_eq!(lowres(64), 0);
        assert_eq!(lowres(639), 0);
        assert_eq!(lowres(640), 1);
        assert_eq!(lowres(1280), 2);
        assert_eq!(lowres(4032), 3);
        assert_eq!(lowres(1 << 20), 3);
        // A phone photo: its poster is as large as the poster edge allows.
        let dir = tempfile_dir();
        let jpg = dir.join("photo.jpg");
        let ok = std::process::Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
            ])
            .arg("testsrc2=s=4032x3024,noise=alls=20:allf=t")
            .args(["-frames:v", "1", "-q:v", "3"])
            .arg(&jpg)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return; // no ffmpeg CLI: the unit above still ran
        }
        let data = std::fs::read(&jpg).unwrap();
        let poster = make(std::io::Cursor::new(data), "photo.jpg").expect("a poster");
        let facts = crate::imagecheck::check(&poster).expect("a whole JPEG");
        assert_eq!((facts.width, facts.height), (Some(EDGE), Some(240)));
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("dmvault-poster-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn videos_get_posters_at_import_and_large_images_in_the_viewer() {
        assert!(wanted("a.mp4") && wanted("b.MOV"));
        assert!(!wanted("c.jpg") && !wanted("e.txt"));
        assert!(on_demand("c.jpg", LARGE_IMAGE) && !on_demand("d.jpg", LARGE_IMAGE - 1));
        assert!(!on_demand("a.mp4", 1 << 30) && !on_demand("e.txt", 1 << 30));
    }

    #[test]
    fn posters_of_fixture_videos_are_small_jpegs() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/media");
        for name in [
            "video-testsrc.mp4",
            "video-smptebars.mp4",
            "image-mandelbrot.jpg",
        ] {
            let data = std::fs::read(root.join(name)).unwrap();
            let jpeg = make(std::io::Cursor::new(data), name).expect(name);
            assert!(jpeg.starts_with(&[0xFF, 0xD8]), "{name}: a JPEG");
            let facts = crate::imagecheck::check(&jpeg).expect("a whole JPEG");
            let (w, h) = (facts.width.unwrap(), facts.height.unwrap());
            assert!(w <= EDGE && h <= EDGE && w > 0 && h > 0, "{name}: {w}x{h}");
        }
        let noise: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0])
            .collect();
        assert!(make(std::io::Cursor::new(noise), "x.mp4").is_none());
    }
}
