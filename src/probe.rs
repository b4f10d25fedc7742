//! Media integrity with FFmpeg (the system libraries, through ffmpeg-next).
//!
//! FFmpeg reads through custom I/O from memory or from a decrypting
//! stream: plaintext never touches disk.
//!
//! [`probe`] is the check made at import: open the container, read the
//! facts (container, codec, duration, size, bit rate), and **demux every
//! packet**, because a header read passes a video cut in half (see
//! measurements: ffprobe-style checks pass truncated files). A file is
//! - `ok`: it opens and demuxes to the end without errors;
//! - `damaged`: a recognised container with truncation or corrupt packets:
//!   read errors, packets FFmpeg flags corrupt, errors in FFmpeg's log, an
//!   end well before the container's duration, H.264/HEVC packets whose
//!   NAL length framing is broken, or (images) a picture that does not
//!   decode with `err_detect=explode`;
//! - `unreadable`: not a media file FFmpeg can open (or an image of 0×0).
//!
//! [`decode`] (for `verify --decode`) decodes every video frame (not a
//! stream copy), counts decode errors, and compares the decoded duration
//! with the container's.

#![allow(unsafe_code)]

use std::cell::Cell;
use std::io::{Read, Seek};
use std::sync::{Arc, Once};

use ffmpeg::codec::decoder::Check;
use ffmpeg::format::context::StreamIo;
use ffmpeg::media::Type;
use ffmpeg_next as ffmpeg;
use serde::Serialize;

pub use crate::integrity::{ProbeReport, Verdict};

/// What a full decode found (`verify --decode`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodeReport {
    /// Video frames decoded.
    pub frames: u64,
    /// Decode errors (failed packets or frames, corrupt frames, log errors).
    pub errors: u64,
    /// Time of the last decoded frame's end, in seconds.
    pub decoded_s: f64,
    /// The container's duration, in seconds.
    pub container_s: Option<f64>,
    /// Decodes without errors to (about) the container's end.
    pub ok: bool,
    /// Why not, in a sentence.
    pub detail: Option<String>,
}

static INIT: Once = Once::new();

thread_local! {
    static LOG_ERRORS: Cell<u64> = const { Cell::new(0) };
}

/// Counts FFmpeg's error messages on the thread that logs them (demuxing
/// and single-threaded decoding log on the caller's thread). Replacing the
/// default callback also keeps FFmpeg from printing to stderr.
#[cfg(target_arch = "x86_64")]
unsafe extern "C" fn log_callback(
    _avcl: *mut std::ffi::c_void,
    level: std::ffi::c_int,
    _fmt: *const std::ffi::c_char,
    _args: *mut ffmpeg::ffi::__va_list_tag,
) {
    if level <= ffmpeg::ffi::AV_LOG_ERROR {
        LOG_ERRORS.with(|c| c.set(c.get() + 1));
    }
}

pub(crate) fn init() {
    INIT.call_once(|| {
        let _ = ffmpeg::init();
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the callback has the signature FFmpeg expects on this
        // architecture, touches no argument, and only bumps a thread-local.
        unsafe {
            ffmpeg::ffi::av_log_set_callback(Some(log_callback));
        }
        #[cfg(not(target_arch = "x86_64"))]
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Quiet);
    });
}

fn take_log_errors() -> u64 {
    LOG_ERRORS.with(|c| c.replace(0))
}

/// Bytes shared between the caller and FFmpeg's reader.
#[derive(Clone)]
pub struct SharedBytes(pub Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Pictures that only FFmpeg can check (WebP, BMP, …) are decoded, and a
/// decoded picture takes 4 bytes a pixel: larger ones are not decoded
/// (their verdict stays `unchecked`), and FFmpeg refuses frames beyond it
/// whatever the file says (videos too, in `verify --decode`), so a small
/// file cannot make dmvault allocate gigabytes. X's DM photos are at most
/// 4096 × 4096 (17 megapixels), its videos 1920 × 1080.
pub const MAX_DECODE_PIXELS: u64 = 40_000_000;

/// The largest JPEG, PNG or GIF whose structure is walked (it is read
/// whole to do so); a larger one stays `unchecked`.
const IMAGE_WALK_LIMIT: u64 = 64 << 20;

/// Probes media held in memory. `name` (the file name) helps FFmpeg pick
/// the format. `None`: not checked (a picture beyond
/// [`MAX_DECODE_PIXELS`]).
pub fn probe_bytes(data: Arc<Vec<u8>>, name: &str) -> Option<ProbeReport> {
    if let Some(facts) = crate::imagecheck::check(&data) {
        return Some(image_report(facts, data.len()));
    }
    probe(std::io::Cursor::new(SharedBytes(data)), name)
}

/// The report for a JPEG, PNG or GIF whose structure was walked (no
/// decoding: see `imagecheck`).
fn image_report(f: crate::imagecheck::ImageFacts, _size: usize) -> ProbeReport {
    ProbeReport {
        verdict: if f.problem.is_some() {
            Verdict::Damaged
        } else {
            Verdict::Ok
        },
        container: Some(f.container.to_owned()),
        codec: Some(f.codec.to_owned()),
        audio_codec: None,
        duration_s: None,
        width: f.width,
        height: f.height,
        bit_rate: None,
        errors: u64::from(f.problem.is_some()),
        detail: f.problem,
    }
}

/// Probes media from any seekable reader (e.g. a decrypting object
/// stream). `None`: not checked (a picture beyond [`MAX_DECODE_PIXELS`],
/// or a JPEG, PNG or GIF of more than 64 MiB).
pub fn probe<R: Read + Seek + Send + 'static>(mut reader: R, name: &str) -> Option<ProbeReport> {
    init();
    take_log_errors();
    let mut magic = [0u8; 32];
    let got = crate::vault::store::fill(&mut reader, &mut magic).unwrap_or(0);
    let size = reader.seek(std::io::SeekFrom::End(0)).unwrap_or(0);
    if reader.seek(std::io::SeekFrom::Start(0)).is_err() {
        return Some(ProbeReport::unreadable("cannot be read back".into()));
    }
    let head = &magic[..got];
    if crate::imagecheck::webp_size(head)
        .is_some_and(|(w, h)| u64::from(w) * u64::from(h) > MAX_DECODE_PIXELS)
    {
        return None;
    }
    if crate::imagecheck::check(head).is_some() {
        // A JPEG, PNG or GIF: walk its structure instead of decoding it;
        // one too large to hold is left unchecked (X's photos are a few MiB).
        if size > IMAGE_WALK_LIMIT {
            return None;
        }
        let mut data = Vec::new();
        if reader.read_to_end(&mut data).is_err() {
            return Some(ProbeReport::unreadable("cannot be read to its end".into()));
        }
        if let Some(facts) = crate::imagecheck::check(&data) {
            return Some(image_report(facts, data.len()));
        }
    }
    Some(probe_with_ffmpeg(
        reader,
        name,
        is_image_signature(head),
        size,
    ))
}

/// Opens the media with FFmpeg, demuxes every packet, and (images) decodes
/// the picture.
fn probe_with_ffmpeg<R: Read + Seek + Send + 'static>(
    reader: R,
    name: &str,
    image_signature: bool,
    size: u64,
) -> ProbeReport {
    let mut input = match open_input(reader, name) {
        Ok(i) => i,
        Err(e) => return ProbeReport::unreadable(e),
    };
    let Some(main) = describe(&input, size) else {
        return ProbeReport::unreadable("no streams".into());
    };
    let mut report = main.report.clone();
    if main.params.medium() == Type::Video
        && !main.image
        && (report.width.is_none() || report.height.is_none())
    {
        return ProbeReport {
            verdict: Verdict::Damaged,
            errors: 1,
            detail: Some("its video stream has no picture size".into()),
            ..report
        };
    }
    let stats = demux_all(&mut input, &main, &mut report);
    let mut problems = stats.problems();
    if main.image && (stats.image_errors > 0 || stats.image_frames == 0 || report.width.is_none()) {
        if !image_signature {
            return ProbeReport {
                verdict: Verdict::Unreadable,
                detail: Some(
                    "not an image: no JPEG, PNG, GIF or WebP signature, and it does not decode"
                        .into(),
                ),
                ..report
            };
        }
        problems.push("the picture does not decode (cut short or corrupt)".into());
    }
    if let Some(total) = report.duration_s.filter(|&t| t > 0.5) {
        if stats.end_s < total * 0.9 {
            problems.push(format!(
                "it ends at {:.2} s of {total:.2} s: cut short",
                stats.end_s
            ));
        }
    }
    report.errors = stats.errors();
    if !problems.is_empty() {
        report.errors = report.errors.max(1);
        report.verdict = Verdict::Damaged;
        report.detail = Some(problems.join("; "));
    }
    report
}

/// The stream a probe checks, and what the container says of it.
struct MainStream {
    index: usize,
    params: ffmpeg::codec::Parameters,
    /// A picture container (`*_pipe`, `image2`, `webp`…), not a video.
    image: bool,
    /// The NAL length size of H.264/HEVC in MP4.
    nal_len: Option<usize>,
    /// The facts, before demuxing (verdict `ok`).
    report: ProbeReport,
}

/// The container's facts and its main stream (the best video stream, or
/// the first stream); `None` when it has no streams.
fn describe(input: &ffmpeg::format::context::Input, size: u64) -> Option<MainStream> {
    let container = input.format().name().to_owned();
    let container_s = container_seconds(input);
    let bit_rate = u64::try_from(input.bit_rate())
        .ok()
        .filter(|&b| b > 0)
        .or_else(|| {
            container_s
                .filter(|&t| t > 0.0)
                .map(|t| bits_per_second(size, t))
        });
    let audio = input
        .streams()
        .best(Type::Audio)
        .map(|s| s.parameters().id().name().to_owned());
    let (index, params) = input
        .streams()
        .best(Type::Video)
        .or_else(|| input.streams().next())
        .map(|s| (s.index(), s.parameters()))?;
    let image = is_image_container(&container);
    // SAFETY: reading two integers of the stream's own parameters.
    let (w, h) = unsafe {
        let p = &*params.as_ptr();
        (p.width, p.height)
    };
    Some(MainStream {
        index,
        nal_len: nal_length_size(&params),
        report: ProbeReport {
            verdict: Verdict::Ok,
            container: Some(container),
            codec: Some(params.id().name().to_owned()),
            audio_codec: audio,
            duration_s: if image { None } else { container_s },
            width: u32::try_from(w).ok().filter(|&w| w > 0),
            height: u32::try_from(h).ok().filter(|&h| h > 0),
            bit_rate,
            errors: 0,
            detail: None,
        },
        image,
        params,
    })
}

/// Bits per second of `size` bytes played over `seconds`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // positive, far below 2^64
fn bits_per_second(size: u64, seconds: f64) -> u64 {
    (size as f64 * 8.0 / seconds) as u64
}

/// What demuxing found.
#[derive(Default)]
struct PacketStats {
    read_errors: u64,
    corrupt: u64,
    bad_framing: u64,
    log_errors: u64,
    /// Where the last packet ends, in seconds from the stream's start.
    end_s: f64,
    image_frames: u64,
    image_errors: u64,
}

impl PacketStats {
    fn problems(&self) -> Vec<String> {
        [
            (self.read_errors, "read errors"),
            (self.corrupt, "packets flagged corrupt"),
            (self.bad_framing, "packets with broken NAL framing"),
            (self.log_errors, "errors reported by FFmpeg"),
        ]
        .into_iter()
        .filter(|&(n, _)| n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect()
    }

    fn errors(&self) -> u64 {
        self.read_errors + self.corrupt + self.bad_framing + self.log_errors + self.image_errors
    }
}

/// A decoder context that refuses frames beyond [`MAX_DECODE_PIXELS`].
pub(crate) fn budgeted_context(
    params: ffmpeg::codec::Parameters,
) -> Result<ffmpeg::codec::Context, ffmpeg::Error> {
    let mut c = ffmpeg::codec::Context::from_parameters(params)?;
    // SAFETY: setting one integer of a context this function owns, before
    // the decoder is opened.
    unsafe {
        (*c.as_mut_ptr()).max_pixels = i64::try_from(MAX_DECODE_PIXELS).unwrap_or(i64::MAX);
    }
    Ok(c)
}

/// An image decoder for pictures FFmpeg recognises but `imagecheck` does
/// not walk (WebP, …), with err_detect=explode and the pixel budget.
fn image_decoder(params: &ffmpeg::codec::Parameters) -> Option<ffmpeg::decoder::Video> {
    let mut d = budgeted_context(params.clone()).ok()?.decoder();
    d.check(Check::EXPLODE);
    d.video().ok()
}

/// Reads every packet: counts corrupt packets and broken NAL framing,
/// finds where the stream ends, and (images) decodes the picture, whose
/// size goes into `report`. Videos are not decoded here.
fn demux_all(
    input: &mut ffmpeg::format::context::Input,
    main: &MainStream,
    report: &mut ProbeReport,
) -> PacketStats {
    let mut stats = PacketStats::default();
    let mut decoder = if main.image {
        image_decoder(&main.params)
    } else {
        None
    };
    let mut frame = ffmpeg::frame::Video::empty();
    let mut packet = ffmpeg::Packet::empty();
    while next_packet(&mut packet, input, &mut stats.read_errors) {
        stats.corrupt += u64::from(packet.is_corrupt());
        let Some(stream) = input.stream(packet.stream()) else {
            continue;
        };
        if let Some(ts) = packet.pts().or(packet.dts()) {
            let start = stream.start_time();
            stats.end_s = stats.end_s.max(end_seconds(
                ts,
                packet.duration(),
                stream.time_base(),
                start,
            ));
        }
        if packet.stream() != main.index {
            continue;
        }
        if let (Some(n), Some(data)) = (main.nal_len, packet.data()) {
            stats.bad_framing += u64::from(!nal_framing_ok(data, n));
        }
        if let Some(d) = decoder.as_mut() {
            stats.image_errors += u64::from(d.send_packet(&packet).is_err());
            while d.receive_frame(&mut frame).is_ok() {
                stats.image_frames += 1;
                if frame.width() > 0 && frame.height() > 0 {
                    report.width = Some(frame.width());
                    report.height = Some(frame.height());
                }
            }
        }
    }
    if let Some(d) = decoder.as_mut() {
        let _ = d.send_eof();
        while d.receive_frame(&mut frame).is_ok() {
            stats.image_frames += 1;
        }
    }
    stats.log_errors = take_log_errors();
    stats
}

/// Where something at `ts` lasting `duration` (both in `tb` units) ends,
/// in seconds from the stream's `start`.
fn end_seconds(ts: i64, duration: i64, tb: ffmpeg::Rational, start: i64) -> f64 {
    let end = ts.saturating_add(duration.max(0)) as f64 * f64::from(tb.numerator())
        / f64::from(tb.denominator().max(1));
    end - seconds_in(start, tb).unwrap_or(0.0)
}

/// Decodes every frame of the main video stream (`verify --decode`).
pub fn decode<R: Read + Seek + Send + 'static>(reader: R, name: &str) -> DecodeReport {
    init();
    take_log_errors();
    let fail = |detail: String| DecodeReport {
        frames: 0,
        errors: 1,
        decoded_s: 0.0,
        container_s: None,
        ok: false,
        detail: Some(detail),
    };
    let mut input = match open_input(reader, name) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let container_s = container_seconds(&input);
    let Some((vindex, params, tb, start)) = input
        .streams()
        .best(Type::Video)
        .map(|s| (s.index(), s.parameters(), s.time_base(), s.start_time()))
    else {
        return fail("no video stream".into());
    };
    let mut decoder = match budgeted_context(params).and_then(|c| c.decoder().video()) {
        Ok(d) => d,
        Err(e) => return fail(format!("no decoder: {e}")),
    };
    let mut errors = 0u64;
    let mut frames = 0u64;
    let mut end_s = 0f64;
    let mut frame = ffmpeg::frame::Video::empty();
    let mut packet = ffmpeg::Packet::empty();
    let mut receive = |d: &mut ffmpeg::decoder::Video,
                       frames: &mut u64,
                       errors: &mut u64,
                       end_s: &mut f64| loop {
        match d.receive_frame(&mut frame) {
            Ok(()) => {
                *frames += 1;
                if frame.is_corrupt() {
                    *errors += 1;
                }
                if let Some(ts) = frame.timestamp().or(frame.pts()) {
                    *end_s = end_s.max(end_seconds(ts, frame.packet().duration, tb, start));
                }
            }
            Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => break,
            Err(ffmpeg::Error::Eof) => break,
            Err(_) => {
                *errors += 1;
                break;
            }
        }
    };
    let mut read_errors = 0;
    while next_packet(&mut packet, &mut input, &mut read_errors) {
        if packet.stream() != vindex {
            continue;
        }
        if decoder.send_packet(&packet).is_err() {
            errors += 1;
        }
        receive(&mut decoder, &mut frames, &mut errors, &mut end_s);
    }
    let _ = decoder.send_eof();
    receive(&mut decoder, &mut frames, &mut errors, &mut end_s);
    errors += read_errors + take_log_errors();
    let mut problems = Vec::new();
    if errors > 0 {
        problems.push(format!("{errors} decode errors"));
    }
    if frames == 0 {
        problems.push("no frame decodes".into());
    }
    if let Some(total) = container_s.filter(|&t| t > 0.5) {
        if end_s < total * 0.9 {
            problems.push(format!(
                "decoded frames end at {end_s:.2} s of {total:.2} s"
            ));
        }
    }
    DecodeReport {
        frames,
        errors,
        decoded_s: end_s,
        container_s,
        ok: problems.is_empty(),
        detail: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

/// The demuxers dmvault lets FFmpeg use: containers that hold their own
/// data (DM media are MP4 videos and GIFs, JPEG, PNG, GIF and WebP
/// pictures; the others are what a phone or an old archive may hold).
const LOCAL_FORMATS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,ogg,\
gif,image2,png_pipe,jpeg_pipe,webp_pipe,bmp_pipe,tiff_pipe,mjpeg,h264,hevc,mp3,aac,wav";

/// Refuses every file or URL a demuxer asks to open besides the media
/// itself: a hostile "video" cannot make dmvault fetch a URL or read a
/// local file.
unsafe extern "C" fn deny_io_open(
    _s: *mut ffmpeg::ffi::AVFormatContext,
    _pb: *mut *mut ffmpeg::ffi::AVIOContext,
    _url: *const std::ffi::c_char,
    _flags: std::ffi::c_int,
    _options: *mut *mut ffmpeg::ffi::AVDictionary,
) -> std::ffi::c_int {
    // AVERROR(EPERM)
    -1
}

/// Opens media through custom I/O on `reader`; the error is a sentence.
pub(crate) fn open_input<R: Read + Seek + Send + 'static>(
    reader: R,
    name: &str,
) -> Result<ffmpeg::format::context::Input, String> {
    let mut io = StreamIo::from_read_seek(reader)
        .map_err(|e| format!("FFmpeg could not set up reading: {e}"))?;
    // X's media announce their format in their first bytes (ftyp, JPEG and
    // PNG signatures); probing 64 KiB instead of 1 MiB rejects a file of
    // random bytes early instead of trying every demuxer on a megabyte.
    let mut options = ffmpeg::Dictionary::new();
    options.set("formatprobesize", "65536");
    // Packets as they are stored: no codec parsers (their work is a
    // decoder's, and `decode` does that), no timestamps filled in from them.
    options.set("fflags", "+noparse+nofillin");
    // Media come from other people. Only containers that hold their own
    // data are read: no playlists (HLS, DASH, concat) or other formats
    // that name further files or URLs, and no protocol may be opened
    // besides the bytes given here (see `deny_io_open`).
    options.set("format_whitelist", LOCAL_FORMATS);
    options.set("protocol_whitelist", "none");
    let name = std::ffi::CString::new(name.replace('\0', "_")).map_err(|e| e.to_string())?;
    // Like ffmpeg-next's `input_from_stream`, but without
    // `avformat_find_stream_info`: the stream parameters come from the
    // container (moov/avcC for MP4), and that call decodes frames to guess
    // them again, with a decoder per stream and thread: seconds of CPU and
    // hundreds of MiB for a 720p clip, far more than demuxing it all.
    // SAFETY: the context is allocated here, given the StreamIo's AVIO
    // context with the custom-I/O flag (so FFmpeg does not free it), and on
    // success handed to `Input`, which owns both and closes the context
    // before it drops the StreamIo. On failure avformat_open_input frees
    // the context itself.
    unsafe {
        let mut ps = ffmpeg::ffi::avformat_alloc_context();
        if ps.is_null() {
            return Err("FFmpeg is out of memory".into());
        }
        (*ps).pb = io.as_mut_ptr();
        (*ps).flags |= ffmpeg::ffi::AVFMT_FLAG_CUSTOM_IO;
        (*ps).io_open = Some(deny_io_open);
        let mut opts = options.disown();
        let r =
            ffmpeg::ffi::avformat_open_input(&mut ps, name.as_ptr(), std::ptr::null(), &mut opts);
        drop(ffmpeg::Dictionary::own(opts));
        if r < 0 {
            return Err(format!(
                "FFmpeg cannot open it as media: {}",
                ffmpeg::Error::from(r)
            ));
        }
        Ok(ffmpeg::format::context::Input::wrap_with_custom_io(ps, io))
    }
}

/// The container's duration: the format's, or its longest stream's (the
/// format's own needs `avformat_find_stream_info`, which we skip).
fn container_seconds(input: &ffmpeg::format::context::Input) -> Option<f64> {
    seconds(input.duration()).or_else(|| {
        input
            .streams()
            .filter_map(|s| {
                let d = s.duration();
                (d > 0).then(|| {
                    d as f64 * f64::from(s.time_base().numerator())
                        / f64::from(s.time_base().denominator().max(1))
                })
            })
            .reduce(f64::max)
    })
}

/// Reads the next packet; false at the end, or after too many read
/// errors (each counted in `read_errors`).
pub(crate) fn next_packet(
    packet: &mut ffmpeg::Packet,
    input: &mut ffmpeg::format::context::Input,
    read_errors: &mut u64,
) -> bool {
    loop {
        // ffmpeg-next's `Packet::read` does not release the packet's previous
        // buffer (av_read_frame expects a blank packet): replacing the packet
        // drops, and so unrefs, it. Reusing one packet leaked every buffer.
        *packet = ffmpeg::Packet::empty();
        match packet.read(input) {
            Ok(()) => return true,
            Err(ffmpeg::Error::Eof) => return false,
            Err(_) => {
                *read_errors += 1;
                if *read_errors > 50 {
                    return false;
                }
            }
        }
    }
}

fn seconds(av_time: i64) -> Option<f64> {
    (av_time > 0).then(|| av_time as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE))
}

fn seconds_in(ts: i64, tb: ffmpeg::Rational) -> Option<f64> {
    (ts != ffmpeg::ffi::AV_NOPTS_VALUE)
        .then(|| ts as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator().max(1)))
}

/// JPEG, PNG, GIF or WebP magic bytes.
fn is_image_signature(head: &[u8]) -> bool {
    head.starts_with(&[0xFF, 0xD8, 0xFF])
        || head.starts_with(b"\x89PNG\r\n\x1a\n")
        || head.starts_with(b"GIF8")
        || (head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP")
}

fn is_image_container(name: &str) -> bool {
    name.ends_with("_pipe") || name == "image2" || name == "png" || name == "webp"
}

/// The NAL length size of H.264/HEVC in MP4 (`avcC`/`hvcC` extradata), or
/// `None` for other codecs and Annex-B streams.
fn nal_length_size(params: &ffmpeg::codec::Parameters) -> Option<usize> {
    let id = params.id();
    // SAFETY: reading the parameters' own extradata pointer and size,
    // valid for the lifetime of `params`.
    let extra: &[u8] = unsafe {
        let p = &*params.as_ptr();
        if p.extradata.is_null() || p.extradata_size <= 0 {
            return None;
        }
        std::slice::from_raw_parts(p.extradata, usize::try_from(p.extradata_size).ok()?)
    };
    match id {
        ffmpeg::codec::Id::H264 if extra.len() > 4 && extra[0] == 1 => {
            Some(usize::from(extra[4] & 3) + 1)
        }
        ffmpeg::codec::Id::HEVC if extra.len() > 21 && extra[0] == 1 => {
            Some(usize::from(extra[21] & 3) + 1)
        }
        _ => None,
    }
}

/// A packet of length-prefixed NAL units must be exactly covered by them,
/// and every NAL header must have its forbidden bit clear.
fn nal_framing_ok(data: &[u8], len_size: usize) -> bool {
    let mut i = 0;
    while i < data.len() {
        if i + len_size > data.len() {
            return false;
        }
        let n = data[i..i + len_size]
            .iter()
            .fold(0usize, |a, &b| (a << 8) | usize::from(b));
        i += len_size;
        if n == 0 || i + n > data.len() || data[i] & 0x80 != 0 {
            return false;
        }
        i += n;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nal_framing() {
        assert!(nal_framing_ok(&[0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x41], 4));
        assert!(
            !nal_framing_ok(&[0, 0, 0, 9, 0x65, 1], 4),
            "length past the end"
        );
        assert!(!nal_framing_ok(&[0, 0, 0, 1, 0xE5], 4), "forbidden bit");
        assert!(
            !nal_framing_ok(&[0, 0, 0, 1, 0x65, 0, 0], 4),
            "trailing bytes"
        );
    }

    #[test]
    fn random_bytes_are_unreadable() {
        let mut x: u32 = 7;
        let data: Vec<u8> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect();
        let r = probe_bytes(Arc::new(data.clone()), "x.mp4").unwrap();
        assert_eq!(r.verdict, Verdict::Unreadable, "{r:?}");
        let r = probe_bytes(Arc::new(data), "x.jpg").unwrap();
        assert_eq!(r.verdict, Verdict::Unreadable, "{r:?}");
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;

    /// Every committed fixture medium (real ffmpeg output) is `ok`; cut in
    /// half it is `damaged`, not passed as a header-only check would.
    #[test]
    fn fixture_media_whole_and_cut() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/media");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let data = std::fs::read(&p).unwrap();
            let whole = probe_bytes(Arc::new(data.clone()), &name).unwrap();
            assert_eq!(whole.verdict, Verdict::Ok, "{name}: {whole:?}");
            assert!(
                whole.width.is_some() && whole.height.is_some(),
                "{name}: {whole:?}"
            );
            let cut = probe_bytes(Arc::new(data[..data.len() / 2].to_vec()), &name).unwrap();
            assert_eq!(cut.verdict, Verdict::Damaged, "{name} cut in half: {cut:?}");
            if name.ends_with(".mp4") {
                assert!(
                    whole.duration_s.is_some_and(|d| d > 0.5),
                    "{name}: {whole:?}"
                );
                assert_eq!(whole.codec.as_deref(), Some("h264"));
                let d = decode(std::io::Cursor::new(data.clone()), &name);
                assert!(d.ok && d.frames > 0, "{name}: {d:?}");
                let d = decode(std::io::Cursor::new(data[..data.len() / 2].to_vec()), &name);
                assert!(!d.ok, "{name} cut: {d:?}");
            }
            n += 1;
        }
        assert!(n >= 10);
    }
}
