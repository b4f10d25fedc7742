//! Integrity verdicts and what FFmpeg found, as the catalog records them.
//! The checks themselves are in `probe` (feature `ffmpeg`).

use serde::{Deserialize, Serialize};

/// The integrity verdict of a media file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Opens and demuxes to the end without errors.
    Ok,
    /// A recognised container with truncation or corrupt packets.
    Damaged,
    /// Not a media file FFmpeg can open.
    Unreadable,
}

impl Verdict {
    /// `ok`, `damaged` or `unreadable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Damaged => "damaged",
            Verdict::Unreadable => "unreadable",
        }
    }

    /// Parses `ok`, `damaged` or `unreadable`.
    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "ok" => Some(Verdict::Ok),
            "damaged" => Some(Verdict::Damaged),
            "unreadable" => Some(Verdict::Unreadable),
            _ => None,
        }
    }
}

/// What probing a file found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// The verdict.
    pub verdict: Verdict,
    /// Container (FFmpeg demuxer name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`, `jpeg_pipe`).
    #[serde(default)]
    pub container: Option<String>,
    /// Codec of the main stream (`h264`, `mjpeg`, `png`, …).
    #[serde(default)]
    pub codec: Option<String>,
    /// Codec of the audio stream, if any.
    #[serde(default)]
    pub audio_codec: Option<String>,
    /// Duration in seconds (container's), for videos.
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// Picture width.
    #[serde(default)]
    pub width: Option<u32>,
    /// Picture height.
    #[serde(default)]
    pub height: Option<u32>,
    /// Bit rate in bits per second.
    #[serde(default)]
    pub bit_rate: Option<u64>,
    /// Problems counted (read errors, corrupt packets, log errors).
    #[serde(default)]
    pub errors: u64,
    /// Why it is not `ok`, in a sentence.
    #[serde(default)]
    pub detail: Option<String>,
}

impl ProbeReport {
    #[cfg_attr(not(feature = "ffmpeg"), allow(dead_code))]
    pub(crate) fn unreadable(detail: String) -> ProbeReport {
        ProbeReport {
            verdict: Verdict::Unreadable,
            container: None,
            codec: None,
            audio_codec: None,
            duration_s: None,
            width: None,
            height: None,
            bit_rate: None,
            errors: 0,
            detail: Some(detail),
        }
    }
}
