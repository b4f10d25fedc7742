//! Integrity benchmarks (issue 4), on real media made by FFmpeg:
//!
//! - the import with the FFmpeg check on against the same import with
//!   `--no-probe` (goal: within 15 %);
//! - `verify --read-data` against `restic check --read-data` on the same
//!   data (the 1 GiB corpus of the import bench, whose vault and restic
//!   repository that bench leaves behind; goal: faster);
//! - `verify --decode`: MB/s and multiples of real time.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{measure_env, peer_version, run, warm};

/// One media file of the corpus.
struct Item {
    name: String,
    url: String,
    id: u64,
}

/// A DM media file's name in the archive and its URL in the message, as X
/// writes them for message `id` (videos' URLs carry `video_size`, such as
/// `1280x720/`, or nothing).
pub(super) fn dm_media_names(
    id: u64,
    kind: &str,
    token: &str,
    ext: &str,
    video_size: &str,
) -> (String, String) {
    let media_id = id - 9;
    let url = match kind {
        "video" => format!(
            "https://video.twimg.com/dm_video/{media_id}/vid/avc1/{video_size}{token}.{ext}?tag=1"
        ),
        "gif" => format!("https://video.twimg.com/dm_gif/{media_id}/{token}.{ext}"),
        _ => format!("https://ton.twitter.com/dm/{id}/{media_id}/{token}.{ext}"),
    };
    (format!("{id}-{token}.{ext}"), url)
}

pub(super) fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test-pattern video with noise (so that it does not compress), H.264
/// and AAC, as `ffmpeg` encodes it.
pub(super) struct Clip<'a> {
    pub(super) src: &'a str,
    pub(super) size: &'a str,
    /// The sound's frequency, Hz.
    pub(super) tone: u32,
    pub(super) seconds: u32,
    pub(super) noise: u32,
    pub(super) hue: u32,
    pub(super) bitrate: &'a str,
}

/// Encodes `clip` to `out` (MP4, its index first).
pub(super) fn video(out: &Path, clip: &Clip<'_>) {
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("{}=s={}:r=30", clip.src, clip.size),
        "-f",
        "lavfi",
        "-i",
        &format!("sine=f={}", clip.tone),
        "-t",
        &clip.seconds.to_string(),
        "-vf",
        &format!("noise=alls={}:allf=t,hue=H=t*{}", clip.noise, clip.hue),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-b:v",
        clip.bitrate,
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-movflags",
        "+faststart",
        "-shortest",
        out.to_str().unwrap(),
    ]);
}

/// A dm_gif-style loop: a short silent MP4 of `secs` seconds.
pub(super) fn gif_loop(out: &Path, secs: usize, hue: u32, bitrate: &str) {
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc=s=480x270:r=15:d={secs},noise=alls=15:allf=t,hue=H={hue}"),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-b:v",
        bitrate,
        "-pix_fmt",
        "yuv420p",
        "-an",
        "-movflags",
        "+faststart",
        out.to_str().unwrap(),
    ]);
}

/// The bench archives' manifest: one DM file.
pub(super) const MANIFEST: &[u8] = br#"window.__THAR_CONFIG = { "userInfo" : { "accountId" : "1062514387293179904", "userName" : "bench" }, "dataTypes" : { "directMessages" : { "mediaDirectory" : "data/direct_messages_media", "files" : [ { "fileName" : "data/direct-messages.js", "globalName" : "YTD.direct_messages.part0", "count" : "1" } ] } } }"#;

/// The DM file: one conversation, one message per (media URL, message id).
pub(super) fn messages_js<'a>(items: impl Iterator<Item = (&'a str, u64)>) -> String {
    let mut js = String::from("window.YTD.direct_messages.part0 = [\n  {\n    \"dmConversation\" : {\n      \"conversationId\" : \"1000-1062514387293179904\",\n      \"messages\" : [");
    for (i, (url, id)) in items.enumerate() {
        js.push_str(&format!(
            "{}\n        {{\n          \"messageCreate\" : {{\n            \"recipientId\" : \"1000\",\n            \"text\" : \"look\",\n            \"mediaUrls\" : [ \"{url}\" ],\n            \"senderId\" : \"1062514387293179904\",\n            \"id\" : \"{id}\",\n            \"createdAt\" : \"2024-06-14T20:06:32.948Z\"\n          }}\n        }}",
            if i > 0 { "," } else { "" },
        ));
    }
    js.push_str("\n      ]\n    }\n  }\n]");
    js
}

/// Real H.264/AAC videos, GIF-style MP4s and JPEGs, with a fifth of the
/// bytes duplicated under other names, as an X archive ZIP and unpacked.
/// Returns (media bytes, video bytes, video seconds).
fn write_real_corpus(work: &Path, videos: u32, seconds: u32) -> io::Result<(u64, u64, f64)> {
    let dir = work.join("real-media");
    let tmp = work.join("real-media.tmp");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let mut items: Vec<(PathBuf, Item)> = Vec::new();
    let mut id: u64 = 1_700_000_000_000_000_000;
    let mut next = |ext: &str, kind: &str, k: u32| {
        id += 1_000_003;
        let token = format!("real{kind}{k:04}");
        let (name, url) = dm_media_names(id, kind, &token, ext, "1280x720/");
        Item { name, url, id }
    };
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    for k in 0..videos {
        let it = next("mp4", "video", k);
        let out = tmp.join(&it.name);
        video(
            &out,
            &Clip {
                src: ["testsrc2", "mandelbrot", "smptehdbars", "rgbtestsrc"][k as usize % 4],
                size: "1280x720",
                tone: 300 + 50 * k,
                seconds,
                noise: 12 + k % 5,
                hue: k + 1,
                bitrate: "8M",
            },
        );
        items.push((out, it));
    }
    for k in 0..20 {
        let it = next("mp4", "gif", k);
        let out = tmp.join(&it.name);
        gif_loop(&out, 3, k, "2M");
        items.push((out, it));
    }
    let frames = tmp.join("frames");
    fs::create_dir_all(&frames)?;
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=1280x720:r=10:d=15,noise=alls=25:allf=t",
        "-q:v",
        "3",
        &format!("{}/f%03d.jpg", s(&frames)),
    ]);
    let mut jpgs: Vec<PathBuf> = fs::read_dir(&frames)?.map(|e| e.unwrap().path()).collect();
    jpgs.sort();
    for (k, f) in jpgs.iter().enumerate() {
        let it = next("jpg", "image", k as u32);
        let out = tmp.join(&it.name);
        fs::rename(f, &out)?;
        items.push((out, it));
    }
    fs::remove_dir(&frames)?;
    // A fifth of the bytes again under other names (yearly archives overlap).
    let total: u64 = items
        .iter()
        .map(|(p, _)| fs::metadata(p).unwrap().len())
        .sum();
    let mut dup = 0;
    let originals: Vec<PathBuf> = items.iter().map(|(p, _)| p.clone()).collect();
    for (k, p) in originals.iter().step_by(3).enumerate() {
        if dup * 5 >= total {
            break;
        }
        let kind = if p.to_string_lossy().contains("realvideo") {
            "video"
        } else if p.to_string_lossy().contains("realgif") {
            "gif"
        } else {
            "image"
        };
        let ext = if kind == "image" { "jpg" } else { "mp4" };
        let it = next(ext, kind, 9000 + k as u32);
        let out = tmp.join(&it.name);
        fs::copy(p, &out)?;
        dup += fs::metadata(&out)?.len();
        items.push((out, it));
    }

    // The archive: a manifest and one message per file.
    let js = messages_js(items.iter().map(|(_, it)| (it.url.as_str(), it.id)));
    let zip_path = work.join("real-media.zip");
    let mut w = zip::ZipWriter::new(io::BufWriter::new(fs::File::create(
        work.join("real-media.zip.tmp"),
    )?));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    w.start_file("data/manifest.js", deflated)?;
    w.write_all(MANIFEST)?;
    w.start_file("data/direct-messages.js", deflated)?;
    w.write_all(js.as_bytes())?;
    let (mut bytes, mut video_bytes, mut video_s) = (0u64, 0u64, 0f64);
    for (p, it) in &items {
        w.start_file(format!("data/direct_messages_media/{}", it.name), deflated)?;
        let data = fs::read(p)?;
        w.write_all(&data)?;
        bytes += data.len() as u64;
        if it.name.ends_with(".mp4") {
            video_bytes += data.len() as u64;
            video_s += if it.name.contains("realvideo") {
                f64::from(seconds)
            } else {
                3.0
            };
        }
    }
    w.finish()?.flush()?;
    fs::rename(work.join("real-media.zip.tmp"), &zip_path)?;
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&tmp, &dir)?;
    Ok((bytes, video_bytes, video_s))
}

/// The real-media corpus (`real-media.zip` and the folder `real-media`),
/// made once; returns its counts line (media bytes, video bytes, video
/// seconds).
pub fn ensure_real_corpus(work: &Path) -> String {
    let meta = work.join("real-media.counts");
    let zip = work.join("real-media.zip");
    let counts = fs::read_to_string(&meta)
        .ok()
        .filter(|_| zip.exists() && work.join("real-media").is_dir());
    counts.unwrap_or_else(|| {
        eprintln!(
            "bench: generating real media with ffmpeg in {} (about a minute)",
            work.display()
        );
        let (b, vb, vs) = write_real_corpus(work, 12, 15).unwrap();
        let line = format!("{b} {vb} {vs}");
        fs::write(&meta, &line).unwrap();
        line
    })
}

pub fn integrity_bench(work: &Path) {
    let zip = work.join("real-media.zip");
    let counts = ensure_real_corpus(work);
    let mut c = counts.split_whitespace();
    let bytes: u64 = c.next().unwrap().parse().unwrap();
    let video_bytes: u64 = c.next().unwrap().parse().unwrap();
    let video_s: f64 = c.next().unwrap().parse().unwrap();

    let runs = work.join("integrity-runs");
    let _ = fs::remove_dir_all(&runs);
    let home = runs.join("home");
    fs::create_dir_all(&home).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let home_s = s(&home);
    let env = [("HOME", home_s.as_str())];
    let bin = env!("CARGO_BIN_EXE_dmvault");
    let id = s(&runs.join("identity.txt"));
    let zip_s = s(&zip);

    // Import with and without the FFmpeg check, each twice into new vaults; the faster run counts.
    let best = |probe: bool| -> (f64, f64, serde_json::Value) {
        let mut best: Option<(f64, f64, serde_json::Value)> = None;
        for k in 0..2 {
            let vault = s(&runs.join(format!(
                "vault-{}-{k}",
                if probe { "probe" } else { "noprobe" }
            )));
            run(&[bin, "init", "--vault", &vault, "-i", &id, "--json"], &env);
            let mut cmd = vec![
                bin,
                "import",
                "--vault",
                &vault,
                "-i",
                &id,
                "--json",
                "--no-progress",
            ];
            if !probe {
                cmd.push("--no-probe");
            }
            cmd.push(&zip_s);
            warm(&zip);
            let _ = Command::new("sync").status();
            let (wall, rss, out) = measure_env(&cmd, &env);
            let sum: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
            if best.as_ref().is_none_or(|b| wall < b.0) {
                best = Some((wall, rss, sum));
            }
        }
        best.unwrap()
    };
    let (t_off, rss_off, _) = best(false);
    let (t_on, rss_on, sum_on) = best(true);
    assert_eq!(sum_on["media_damaged"], 0, "real media are whole: {sum_on}");
    assert_eq!(sum_on["media_unreadable"], 0, "{sum_on}");

    let probe_vault = s(&runs.join("vault-probe-0"));
    warm(&runs.join("vault-probe-0"));
    let (t_decode, rss_decode, out) = measure_env(
        &[
            bin,
            "verify",
            "--vault",
            &probe_vault,
            "-i",
            &id,
            "--json",
            "--decode",
        ],
        &env,
    );
    let vs: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(vs["errors"], 0, "{out}");
    let decoded_s = vs["seconds_decoded"].as_f64().unwrap_or(0.0);

    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "## integrity: {:.0} MiB of real media made by FFmpeg ({:.0} MiB of H.264 video and GIF-MP4, {:.0} s of it; JPEGs), a fifth duplicated",
        mib(bytes),
        mib(video_bytes),
        video_s
    );
    println!();
    println!("| run | wall s | MB/s | peak RSS MiB |");
    println!("|---|---|---|---|");
    println!(
        "| dmvault import --no-probe | {t_off:.2} | {:.0} | {rss_off:.0} |",
        bytes as f64 / 1e6 / t_off
    );
    println!(
        "| dmvault import (FFmpeg check on) | {t_on:.2} | {:.0} | {rss_on:.0} |",
        bytes as f64 / 1e6 / t_on
    );
    println!(
        "| dmvault verify --decode | {t_decode:.2} | {:.0} (of video) | {rss_decode:.0} |",
        video_bytes as f64 / 1e6 / t_decode
    );
    println!();
    let overhead = (t_on / t_off - 1.0) * 100.0;
    println!(
        "- the FFmpeg check costs {overhead:.0} % of the import's wall time (goal <= 15 %: {})",
        if overhead <= 15.0 { "met" } else { "NOT met" }
    );
    println!(
        "- verify --decode: {:.0} MB/s of video, {:.1}x real time ({decoded_s:.0} s of media decoded in {t_decode:.1} s)",
        video_bytes as f64 / 1e6 / t_decode,
        decoded_s / t_decode
    );

    // verify --read-data against restic check --read-data, on the 1 GiB
    // corpus the import bench stored in both.
    let import_runs = work.join("import-1g-runs");
    let vault = import_runs.join("vault");
    let repo = import_runs.join("restic");
    let data_bytes = super::du(&vault);
    if !vault.is_dir() {
        println!("- verify --read-data vs restic: not measured (run the import bench first: `cargo bench --bench bench -- import integrity`)");
        println!();
        return;
    }
    let ihome = s(&import_runs.join("home"));
    let ienv = [("HOME", ihome.as_str())];
    let (vault_s, iid) = (s(&vault), s(&import_runs.join("identity.txt")));
    warm(&vault);
    let (t_dm, rss_dm, out) = measure_env(
        &[
            bin,
            "verify",
            "--vault",
            &vault_s,
            "-i",
            &iid,
            "--json",
            "--read-data",
        ],
        &ienv,
    );
    let vsum: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(vsum["errors"], 0, "{out}");
    println!();
    println!("| check of the 1 GiB import corpus | wall s | MB/s | peak RSS MiB |");
    println!("|---|---|---|---|");
    println!(
        "| dmvault verify --read-data | {t_dm:.2} | {:.0} | {rss_dm:.0} |",
        data_bytes as f64 / 1e6 / t_dm
    );
    match (peer_version("restic", "version"), repo.is_dir()) {
        (Some(_), true) => {
            let repo_s = s(&repo);
            let renv = [
                ("HOME", ihome.as_str()),
                ("RESTIC_PASSWORD", "bench"),
                ("RESTIC_REPOSITORY", repo_s.as_str()),
            ];
            warm(&repo);
            let (t_r, rss_r, _) = measure_env(&["restic", "check", "--read-data"], &renv);
            println!(
                "| restic check --read-data | {t_r:.2} | {:.0} | {rss_r:.0} |",
                data_bytes as f64 / 1e6 / t_r
            );
            println!();
            println!(
                "- verify --read-data: {:.2}x restic check --read-data's speed (goal > 1x: {})",
                t_r / t_dm,
                if t_r > t_dm { "met" } else { "NOT met" }
            );
        }
        _ => {
            println!("- restic check --read-data: not measured (restic or its repository missing)")
        }
    }
    println!();
}
