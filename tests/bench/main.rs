#![allow(
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)] // measuring harness; its corpus is reworked with issue 13
//! `just bench`: dmvault measured side by side with what people use today.
//!
//! Inspect benchmark (issue 2): an archive whose `data/direct-messages.js`
//! is 1 GiB, inside a deflated ZIP, as X ships big archives. dmvault's
//! `inspect` on the ZIP is timed next to the way the popular Python parsers
//! read the same file unpacked (`json.loads` of the text after the `=`).
//! Wall time and peak RSS of each are measured by the same harness
//! (`getrusage` of the child, through Python's `resource` module).
//!
//! Media benchmark (issue 13, `media.rs`): the headline. Real media shaped
//! like users' (H.264 videos, GIF loops, phone photos, screenshots, a
//! quarter repeated) in a deflated ZIP: dmvault's import, re-import and
//! `verify --read-data` next to restic and borg, medians of 3, with the
//! goals printed PASS/MISS.
//!
//! Reference (issue 3's import benchmark): 1 GiB of random bytes named as
//! DM media (Deflated entries, a realistic size mix, a quarter of the
//! bytes duplicated), imported with `--no-probe` (FFmpeg would reject
//! random bytes at once) and timed next to `restic backup` and `borg
//! create` of the same files unpacked, twice each; no goals. Peers that are
//! not installed are skipped with a note.
//!
//! Scale benchmark (issue 8, `scale.rs`): a heavy account (2 M messages in
//! 3,000 conversations, 12,000 JPEGs) and the same account's five
//! cumulative yearly archives. `inspect`, a first import and an unchanged
//! re-import, `stats` and `ls` are timed (median of 3 for all but the
//! first imports), with peak RSS and the vault's size without `objects/`,
//! against issue 8's goals (printed PASS/MISS, never failing the run).
//! `DMVAULT_BENCH_SCALE_MESSAGES` shrinks the corpus proportionally.
//!
//! Generated data lives in `tests/bench/work/` (git-ignored) and is reused
//! between runs; delete it to regenerate. Run with `cargo bench --bench bench`,
//! or one section: `cargo bench --bench bench -- scale`.
//! Without `--bench` (as `cargo test --benches` runs it) it only checks that
//! the generators and the measuring harness work, on a few MiB (and 3,000
//! messages for the scale section), dmvault only.

#[path = "../garage.rs"]
mod garage;
mod integrity;
mod media;
mod s3;
mod scale;

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Deterministic xorshift, so the corpus is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[rustfmt::skip]
const WORDS: &[&str] = &[
    "hey", "lol", "see", "you", "tomorrow", "the", "video", "is", "so", "good", "&amp;", "thanks", "what", "time",
    "are", "we", "meeting", "haha", "ok", "sounds", "great", "did", "watch", "it", "yet", "love", "this", "photo",
    "\\uD83D\\uDE02", "where", "at", "café", "home", "soon", "night", "morning", "wow", "really", "yes", "no",
];

/// Writes a `direct-messages.js` of about `target` bytes in the 2021+ layout,
/// with conversations split into chunks of 1000 messages like X does.
/// Returns (messages, media references).
fn write_dm_file(path: &Path, target: u64) -> io::Result<(u64, u64)> {
    let mut w = CountingWriter {
        inner: BufWriter::with_capacity(1 << 20, File::create(path)?),
        n: 0,
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let owner: u64 = 1_062_514_387_293_179_904;
    write!(w, "window.YTD.direct_messages.part0 = [")?;
    let (mut messages, mut media) = (0u64, 0u64);
    let mut id: u64 = 1_500_000_000_000_000_000;
    let mut first = true;
    while w.n < target {
        let other = 100_000_000 + rng.below(1_000_000_000_000);
        let (a, b) = if other < owner {
            (other, owner)
        } else {
            (owner, other)
        };
        let chunk = 1 + rng.below(1000);
        if !first {
            write!(w, ",")?;
        }
        first = false;
        write!(
            w,
            "\n  {{\n    \"dmConversation\" : {{\n      \"conversationId\" : \"{a}-{b}\",\n      \"messages\" : ["
        )?;
        for i in 0..chunk {
            id += 1 + rng.below(1 << 40);
            let (from, to) = if rng.below(2) == 0 {
                (owner, other)
            } else {
                (other, owner)
            };
            let nwords = 1 + rng.below(25);
            let mut text = String::new();
            for k in 0..nwords {
                if k > 0 {
                    text.push(' ');
                }
                text.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
            }
            let with_media = rng.below(10) == 0;
            let (media_urls, urls) = if with_media {
                media += 1;
                let token: String = (0..8)
                    .map(|_| (b'a' + rng.below(26) as u8) as char)
                    .collect();
                (
                    format!("\"https://ton.twitter.com/dm/{id}/{}/{token}.jpg\"", id - 7),
                    format!(
                        "\n            {{\n              \"url\" : \"https://t.co/{token}\",\n              \"expanded\" : \"https://twitter.com/messages/media/{id}\",\n              \"display\" : \"pic.twitter.com/{token}\"\n            }}\n          "
                    ),
                )
            } else {
                (" ".to_owned(), " ".to_owned())
            };
            let secs = 1_400_000_000 + (id >> 22) / 1000 % 300_000_000;
            let reactions = if rng.below(8) == 0 {
                format!("\n            {{\n              \"senderId\" : \"{to}\",\n              \"reactionKey\" : \"like\",\n              \"eventId\" : \"{}\",\n              \"createdAt\" : \"2023-05-01T10:00:00.000Z\"\n            }}\n          ", id + 3)
            } else {
                " ".to_owned()
            };
            write!(
                w,
                "{}\n        {{\n          \"messageCreate\" : {{\n            \"recipientId\" : \"{to}\",\n            \"reactions\" : [{reactions}],\n            \"urls\" : [{urls}],\n            \"text\" : \"{text}\",\n            \"mediaUrls\" : [{media_urls}],\n            \"senderId\" : \"{from}\",\n            \"id\" : \"{id}\",\n            \"createdAt\" : \"{}\",\n            \"editHistory\" : [ ]\n          }}\n        }}",
                if i > 0 { "," } else { "" },
                iso(secs, id % 1000),
            )?;
            messages += 1;
        }
        write!(w, "\n      ]\n    }}\n  }}")?;
    }
    write!(w, "\n]")?;
    w.inner.flush()?;
    Ok((messages, media))
}

fn iso(secs: u64, ms: u64) -> String {
    dmvault::time::Timestamp::from_millis((secs * 1000 + ms) as i64)
        .unwrap()
        .to_string()
}

struct CountingWriter<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `data/manifest.js` of the bench archives: DM files and media folders as
/// X lists them.
const MANIFEST: &str = r#"window.__THAR_CONFIG = {
  "userInfo" : { "accountId" : "1062514387293179904", "userName" : "bench", "displayName" : "Bench" },
  "archiveInfo" : { "sizeBytes" : "0", "generationDate" : "2026-11-01T00:00:00.000Z", "isPartialArchive" : false, "maxPartSizeBytes" : "53687091200" },
  "dataTypes" : {
    "directMessages" : { "mediaDirectory" : "data/direct_messages_media", "files" : [ { "fileName" : "data/direct-messages.js", "globalName" : "YTD.direct_messages.part0", "count" : "0" } ] },
    "directMessagesGroup" : { "mediaDirectory" : "data/direct_messages_group_media", "files" : [ ] }
  }
}"#;

/// Builds `<name>.zip` holding `twitter-bench/data/direct-messages.js`
/// (deflated), a manifest and an account file.
fn write_zip(js: &Path, zip_path: &Path) -> io::Result<()> {
    let tmp = zip_path.with_extension("zip.tmp");
    let mut w = zip::ZipWriter::new(BufWriter::new(File::create(&tmp)?));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    w.start_file("twitter-bench/data/manifest.js", deflated)?;
    w.write_all(MANIFEST.as_bytes())?;
    w.start_file("twitter-bench/data/direct-messages.js", deflated)?;
    io::copy(&mut File::open(js)?, &mut w)?;
    w.finish()?.flush()?;
    fs::rename(tmp, zip_path)
}

/// Wall seconds and peak RSS (MiB) of a command, measured by Python's
/// `resource.getrusage(RUSAGE_CHILDREN)` around it.
fn measure(cmd: &[&str]) -> (f64, f64, String) {
    measure_env(cmd, &[])
}

/// [`measure`] with extra environment variables for the command.
fn measure_env(cmd: &[&str], env: &[(&str, &str)]) -> (f64, f64, String) {
    let (wall, rss, _, out) = measure_cpu(cmd, env);
    (wall, rss, out)
}

/// [`measure_env`], with the command's CPU seconds (user + system) too.
fn measure_cpu(cmd: &[&str], env: &[(&str, &str)]) -> (f64, f64, f64, String) {
    let harness = "import resource,subprocess,sys,time\n\
t=time.perf_counter()\n\
p=subprocess.run(sys.argv[1:],stdout=subprocess.PIPE)\n\
dt=time.perf_counter()-t\n\
if p.returncode: sys.exit('command failed: %d' % p.returncode)\n\
r=resource.getrusage(resource.RUSAGE_CHILDREN)\n\
print(dt, r.ru_maxrss/1024.0, r.ru_utime+r.ru_stime)\n\
sys.stdout.write(p.stdout.decode()[:4000])";
    let out = Command::new("python3")
        .arg("-c")
        .arg(harness)
        .args(cmd)
        .envs(env.iter().copied())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let mut it = first.split_whitespace().map(|x| x.parse::<f64>().unwrap());
    let (wall, rss, cpu) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    (wall, rss, cpu, rest.to_owned())
}

const PY_PARSE: &str = "import json,sys\n\
t=open(sys.argv[1],encoding='utf-8').read()\n\
d=json.loads(t[t.index('=')+1:])\n\
print(sum(len(c['dmConversation']['messages']) for c in d))";

fn inspect_bench(work: &Path, size: u64, label: &str, verdict: bool) {
    fs::create_dir_all(work).unwrap();
    let js = work.join(format!("direct-messages-{label}.js"));
    let zip = work.join(format!("dm-{label}.zip"));
    let meta = work.join(format!("dm-{label}.counts"));
    if !zip.exists() || !js.exists() || !meta.exists() {
        eprintln!(
            "bench: generating a {label} direct-messages.js and its ZIP in {}",
            work.display()
        );
        let (messages, media) = write_dm_file(&js, size).unwrap();
        write_zip(&js, &zip).unwrap();
        fs::write(&meta, format!("{messages} {media}")).unwrap();
    }
    let counts = fs::read_to_string(&meta).unwrap();
    let mut c = counts.split_whitespace();
    let messages: u64 = c.next().unwrap().parse().unwrap();
    let media: u64 = c.next().unwrap().parse().unwrap();
    let js_len = fs::metadata(&js).unwrap().len();
    let zip_len = fs::metadata(&zip).unwrap().len();

    let bin = env!("CARGO_BIN_EXE_dmvault");
    let (t_dm, rss_dm, out) = measure(&[bin, "inspect", "--json", zip.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("inspect --json output");
    assert_eq!(
        v["messages"].as_u64(),
        Some(messages),
        "inspect counted every message"
    );
    assert_eq!(v["media_refs"].as_u64(), Some(media));
    let (t_py, rss_py, out) = measure(&["python3", "-c", PY_PARSE, js.to_str().unwrap()]);
    let py_events: u64 = out.trim().parse().unwrap();
    assert_eq!(py_events, messages, "python read the same messages");

    let mib = js_len as f64 / (1 << 20) as f64;
    println!(
        "## inspect: data/direct-messages.js of {mib:.0} MiB ({messages} messages), ZIP of {:.0} MiB",
        zip_len as f64 / (1 << 20) as f64
    );
    println!();
    println!("| reader | input | wall s | MB/s | peak RSS MiB |");
    println!("|---|---|---|---|---|");
    println!(
        "| dmvault inspect | deflated ZIP | {t_dm:.2} | {:.0} | {rss_dm:.0} |",
        js_len as f64 / 1e6 / t_dm
    );
    println!(
        "| python3 json.loads | unpacked file | {t_py:.2} | {:.0} | {rss_py:.0} |",
        js_len as f64 / 1e6 / t_py
    );
    println!();
    let speedup = t_py / t_dm;
    if !verdict {
        return;
    }
    println!(
        "dmvault is {speedup:.1}x faster than Python (goal >= 3x: {}); peak RSS {rss_dm:.0} MiB (goal < 256 MiB: {})",
        if speedup >= 3.0 { "met" } else { "NOT met" },
        if rss_dm < 256.0 { "met" } else { "NOT met" }
    );
    println!();
}

// ---------------------------------------------------------------------------
// Import benchmark (issue 3)

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Image,
    Gif,
    Video,
}

/// One distinct content of the media corpus: regenerated from its seed.
struct Content {
    seed: u64,
    size: u64,
    kind: Kind,
}

/// Changes whenever the media corpus generator does: a cached corpus of
/// another version is made again.
const CORPUS_VERSION: &str = "media-v2";

/// What the generated media corpus holds (cached next to it).
#[derive(Debug, Default, Clone, PartialEq)]
struct Corpus {
    /// Media files (each referenced by one message).
    files: u64,
    /// Distinct contents among them.
    distinct: u64,
    /// Bytes of all media files.
    bytes: u64,
    /// Bytes of the distinct contents.
    distinct_bytes: u64,
    /// Messages in `direct-messages.js` (with and without media).
    messages: u64,
    images: u64,
    gifs: u64,
    videos: u64,
}

impl Corpus {
    fn to_line(&self) -> String {
        format!(
            "{CORPUS_VERSION} {} {} {} {} {} {} {} {}",
            self.files,
            self.distinct,
            self.bytes,
            self.distinct_bytes,
            self.messages,
            self.images,
            self.gifs,
            self.videos
        )
    }
    fn parse(s: &str) -> Option<Corpus> {
        let s = s.strip_prefix(CORPUS_VERSION)?.strip_prefix(' ')?;
        let v: Vec<u64> = s
            .split_whitespace()
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?;
        let [files, distinct, bytes, distinct_bytes, messages, images, gifs, videos] = v[..] else {
            return None;
        };
        Some(Corpus {
            files,
            distinct,
            bytes,
            distinct_bytes,
            messages,
            images,
            gifs,
            videos,
        })
    }
    fn dup_bytes(&self) -> u64 {
        self.bytes - self.distinct_bytes
    }
}

/// A size in `lo..hi`, skewed toward `lo` (the product of two uniform
/// draws, so the mean is a quarter of the way up); integers only, so the
/// corpus is the same everywhere.
fn skewed(rng: &mut Rng, lo: u64, hi: u64) -> u64 {
    let p = (hi - lo) as u128 * rng.below(1 << 16) as u128 * rng.below(1 << 16) as u128;
    lo + (p >> 32) as u64
}

fn token(rng: &mut Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len)
        .map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize] as char)
        .collect()
}

/// One `messageCreate` in the 2021+ layout, with at most one media URL.
fn message_json(id: u64, from: u64, to: u64, text: &str, media: Option<(&str, &str)>) -> String {
    let (media_urls, urls) = match media {
        Some((url, tco)) => (
            format!("\"{url}\""),
            format!(
                "\n            {{\n              \"url\" : \"https://t.co/{tco}\",\n              \"expanded\" : \"https://twitter.com/messages/media/{id}\",\n              \"display\" : \"pic.twitter.com/{tco}\"\n            }}\n          "
            ),
        ),
        None => (" ".to_owned(), " ".to_owned()),
    };
    let secs = 1_400_000_000 + (id >> 22) / 1000 % 300_000_000;
    format!(
        "\n        {{\n          \"messageCreate\" : {{\n            \"recipientId\" : \"{to}\",\n            \"reactions\" : [ ],\n            \"urls\" : [{urls}],\n            \"text\" : \"{text}\",\n            \"mediaUrls\" : [{media_urls}],\n            \"senderId\" : \"{from}\",\n            \"id\" : \"{id}\",\n            \"createdAt\" : \"{}\",\n            \"editHistory\" : [ ]\n          }}\n        }}",
        iso(secs, id % 1000),
    )
}

/// The seed of content `i`. Every xorshift stream is a stretch of the same
/// cycle, so seeds taken from one generator would make contents that are
/// shifted copies of each other (which chunking backup tools would find and
/// deduplicate, unlike real media); hashed seeds start far apart.
fn splitmix64(i: u64) -> u64 {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

/// Writes `size` pseudo-random (incompressible) bytes from `seed` to `out`.
fn write_content(
    seed: u64,
    size: u64,
    buf: &mut [u8],
    out: &mut [&mut dyn Write],
) -> io::Result<()> {
    let mut rng = Rng(seed);
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        for c in buf[..n.div_ceil(8) * 8].chunks_exact_mut(8) {
            c.copy_from_slice(&rng.next().to_le_bytes());
        }
        for w in out.iter_mut() {
            w.write_all(&buf[..n])?;
        }
        left -= n as u64;
    }
    Ok(())
}

/// Generates the import corpus: an X archive ZIP (nested one folder deep,
/// manifest, `direct-messages.js` with one message per media file and some
/// text-only messages, media entries Deflated as X stores them) holding at
/// least `target` bytes of incompressible media of which at least 20 % are
/// duplicates (the same bytes under another name, for another message),
/// and the same media files unpacked in the folder `dir`. Sizes are divided
/// by `scale` (1 for the real bench).
fn write_media_corpus(zip_path: &Path, dir: &Path, target: u64, scale: u64) -> io::Result<Corpus> {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    // 1. What to write: contents, and the file (content) of each media message.
    let mut contents: Vec<Content> = Vec::new();
    let mut files: Vec<usize> = Vec::new();
    let (mut total, mut distinct) = (0u64, 0u64);
    while total < target || (total - distinct) * 5 < total {
        let short_of_dups = (total - distinct) * 4 < total;
        let c = if !contents.is_empty() && short_of_dups && rng.below(2) == 0 {
            rng.below(contents.len() as u64) as usize
        } else {
            let kind = match rng.below(100) {
                0..70 => Kind::Image,
                70..85 => Kind::Gif,
                _ => Kind::Video,
            };
            let (lo, hi) = match kind {
                Kind::Image => (50_000, 1_000_000),
                Kind::Gif => (200_000, 3_000_000),
                Kind::Video => (2_000_000, 60_000_000),
            };
            let size = skewed(&mut rng, lo / scale, hi / scale);
            contents.push(Content {
                seed: splitmix64(contents.len() as u64),
                size,
                kind,
            });
            distinct += size;
            contents.len() - 1
        };
        total += contents[c].size;
        files.push(c);
    }
    let mut corpus = Corpus {
        files: files.len() as u64,
        distinct: contents.len() as u64,
        bytes: total,
        distinct_bytes: distinct,
        ..Default::default()
    };

    // 2. direct-messages.js: conversations of 1-20 media messages, with
    // 0-4 text messages before each; media file names follow X's rule.
    let owner: u64 = 1_062_514_387_293_179_904;
    let mut js = String::from("window.YTD.direct_messages.part0 = [");
    let mut names: Vec<String> = Vec::new();
    let mut id: u64 = 1_500_000_000_000_000_000;
    let mut next_file = 0;
    while next_file < files.len() {
        let other = 100_000_000 + rng.below(1_000_000_000_000);
        let (a, b) = if other < owner {
            (other, owner)
        } else {
            (owner, other)
        };
        if next_file > 0 {
            js.push(',');
        }
        js.push_str(&format!(
            "\n  {{\n    \"dmConversation\" : {{\n      \"conversationId\" : \"{a}-{b}\",\n      \"messages\" : ["
        ));
        let media_here = (1 + rng.below(20) as usize).min(files.len() - next_file);
        let mut first = true;
        for _ in 0..media_here {
            for k in 0..=rng.below(5) {
                id += 1 + rng.below(1 << 40);
                let (from, to) = if rng.below(2) == 0 {
                    (owner, other)
                } else {
                    (other, owner)
                };
                let nwords = 1 + rng.below(25);
                let text: Vec<&str> = (0..nwords)
                    .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
                    .collect();
                let media = if k == 0 {
                    let kind = contents[files[next_file]].kind;
                    let t = token(&mut rng, if kind == Kind::Image { 8 } else { 40 });
                    let mid = id - 7;
                    let url = match kind {
                        Kind::Image => {
                            corpus.images += 1;
                            format!("https://ton.twitter.com/dm/{id}/{mid}/{t}.jpg")
                        }
                        Kind::Gif => {
                            corpus.gifs += 1;
                            format!("https://video.twimg.com/dm_gif/{mid}/{t}.mp4")
                        }
                        Kind::Video => {
                            corpus.videos += 1;
                            format!(
                                "https://video.twimg.com/dm_video/{mid}/vid/1280x720/{t}.mp4?tag=1"
                            )
                        }
                    };
                    let ext = if kind == Kind::Image { "jpg" } else { "mp4" };
                    names.push(format!("{id}-{t}.{ext}"));
                    next_file += 1;
                    Some((url, token(&mut rng, 10)))
                } else {
                    None
                };
                if !first {
                    js.push(',');
                }
                first = false;
                js.push_str(&message_json(
                    id,
                    from,
                    to,
                    &text.join(" "),
                    media.as_ref().map(|(u, t)| (u.as_str(), t.as_str())),
                ));
                corpus.messages += 1;
            }
        }
        js.push_str("\n      ]\n    }\n  }");
    }
    js.push_str("\n]");

    // 3. The ZIP and the unpacked folder, written together.
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    let tmp = zip_path.with_extension("zip.tmp");
    let mut w = zip::ZipWriter::new(BufWriter::with_capacity(1 << 20, File::create(&tmp)?));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("twitter-bench/data/manifest.js", deflated)?;
    w.write_all(MANIFEST.as_bytes())?;
    w.start_file("twitter-bench/data/direct-messages.js", deflated)?;
    w.write_all(js.as_bytes())?;
    let mut buf = vec![0u8; 1 << 20];
    for (name, &c) in names.iter().zip(&files) {
        w.start_file(
            format!("twitter-bench/data/direct_messages_media/{name}"),
            deflated,
        )?;
        let mut f = BufWriter::with_capacity(1 << 20, File::create(dir.join(name))?);
        write_content(
            contents[c].seed,
            contents[c].size,
            &mut buf,
            &mut [&mut w, &mut f],
        )?;
        f.flush()?;
    }
    w.finish()?.flush()?;
    fs::rename(tmp, zip_path)?;
    Ok(corpus)
}

/// Unpacks a ZIP (one the bench made) into `dst`.
fn unzip_to(src: &Path, dst: &Path) {
    let mut z = zip::ZipArchive::new(File::open(src).unwrap()).unwrap();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let Some(rel) = f.enclosed_name() else {
            continue;
        };
        let out = dst.join(rel);
        fs::create_dir_all(out.parent().unwrap()).unwrap();
        io::copy(&mut f, &mut File::create(&out).unwrap()).unwrap();
    }
}

/// Reads files (recursively) to the end, so they sit in the page cache.
fn warm(path: &Path) {
    if path.is_dir() {
        for e in fs::read_dir(path).unwrap() {
            warm(&e.unwrap().path());
        }
    } else {
        io::copy(&mut File::open(path).unwrap(), &mut io::sink()).unwrap();
    }
}

/// Bytes of the files under `path`.
fn du(path: &Path) -> u64 {
    if path.is_dir() {
        fs::read_dir(path)
            .unwrap()
            .map(|e| du(&e.unwrap().path()))
            .sum()
    } else {
        fs::symlink_metadata(path).map_or(0, |m| m.len())
    }
}

/// Runs a command (not timed) and returns its stdout; panics on failure.
fn run(cmd: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The version line of a peer program, or `None` when it is not installed.
fn peer_version(program: &str, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// One measured run: (tool, first/second, wall s, peak RSS MiB, repo bytes after).
struct Run {
    tool: &'static str,
    run: &'static str,
    wall: f64,
    rss: f64,
    stored: u64,
}

/// The `--json` lines of an import: (archive line, summary line).
fn import_lines(out: &str) -> (serde_json::Value, serde_json::Value) {
    let mut archive = serde_json::Value::Null;
    let mut summary = serde_json::Value::Null;
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("import --json line");
        match v["message_type"].as_str() {
            Some("archive") => archive = v,
            Some("summary") => summary = v,
            _ => {}
        }
    }
    assert!(!summary.is_null(), "no summary in {out}");
    (archive, summary)
}

/// Import benchmark: dmvault's first and second import of a media-heavy
/// archive, next to `restic backup` and `borg create` of the same media
/// unpacked (with `peers`; the smoke run has none and prints no verdict).
fn import_bench(work: &Path, target: u64, scale: u64, label: &str, peers: bool) {
    fs::create_dir_all(work).unwrap();
    let zip = work.join(format!("media-{label}.zip"));
    let dir = work.join(format!("media-{label}"));
    let meta = work.join(format!("media-{label}.counts"));
    let cached = fs::read_to_string(&meta)
        .ok()
        .and_then(|s| Corpus::parse(&s))
        .filter(|_| zip.exists() && dir.is_dir());
    let corpus = match cached {
        Some(c) => c,
        None => {
            eprintln!(
                "bench: generating a {label} media archive and its unpacked media in {}",
                work.display()
            );
            let c = write_media_corpus(&zip, &dir, target, scale).unwrap();
            fs::write(&meta, c.to_line()).unwrap();
            c
        }
    };
    assert!(corpus.bytes >= target);
    assert!(
        corpus.dup_bytes() * 5 >= corpus.bytes,
        "at least 20 % duplicate bytes"
    );

    // From scratch: every repository, vault and tool home of a previous run goes.
    let runs = work.join(format!("import-{label}-runs"));
    if runs.exists() {
        fs::remove_dir_all(&runs).unwrap();
    }
    let home = runs.join("home");
    fs::create_dir_all(&home).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let (home_s, config_s, cache_s) = (s(&home), s(&home.join(".config")), s(&home.join(".cache")));
    let base_env = [
        ("HOME", home_s.as_str()),
        ("XDG_CONFIG_HOME", config_s.as_str()),
        ("XDG_CACHE_HOME", cache_s.as_str()),
    ];
    let (zip_s, dir_s) = (s(&zip), s(&dir));
    // Before each timed run: inputs in the page cache, earlier writes on disk.
    let settle = || {
        if peers {
            warm(&zip);
            warm(&dir);
            let _ = Command::new("sync").status();
        }
    };
    let mut results: Vec<Run> = Vec::new();

    // dmvault
    let bin = env!("CARGO_BIN_EXE_dmvault");
    let vault = runs.join("vault");
    let (vault_s, id_s) = (s(&vault), s(&runs.join("identity.txt")));
    run(
        &[bin, "init", "--vault", &vault_s, "-i", &id_s, "--json"],
        &base_env,
    );
    let import = [
        bin,
        "import",
        "--vault",
        &vault_s,
        "-i",
        &id_s,
        "--json",
        "--no-progress",
        // Random bytes are no media: FFmpeg would reject them at once, so
        // this reference line runs without the check (issue 13).
        "--no-probe",
        &zip_s,
    ];
    settle();
    let (wall, rss, out) = measure_env(&import, &base_env);
    let (archive, sum) = import_lines(&out);
    assert_eq!(sum["media_seen"].as_u64(), Some(corpus.files), "{out}");
    assert_eq!(sum["media_new"].as_u64(), Some(corpus.distinct), "{out}");
    assert_eq!(
        sum["media_known"].as_u64(),
        Some(corpus.files - corpus.distinct)
    );
    assert_eq!(sum["media_missing"].as_u64(), Some(0), "{out}");
    assert_eq!(sum["media_orphans"].as_u64(), Some(0), "{out}");
    assert_eq!(sum["bytes_new"].as_u64(), Some(corpus.distinct_bytes));
    assert_eq!(sum["messages_new"].as_u64(), Some(corpus.messages));
    assert_eq!(archive["already_imported"].as_bool(), Some(false));
    let mut notes: Vec<String> = Vec::new();
    let objects = vault.join("objects");
    let count_objects = || {
        fs::read_dir(&objects)
            .unwrap()
            .flat_map(|d| fs::read_dir(d.unwrap().path()).unwrap())
            .filter(|f| {
                f.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|e| e == "age")
            })
            .count() as u64
    };
    assert_eq!(
        count_objects(),
        corpus.distinct,
        "one object per distinct content"
    );
    results.push(Run {
        tool: "dmvault import --no-probe",
        run: "first",
        wall,
        rss,
        stored: du(&vault),
    });
    settle();
    let (wall, rss, out) = measure_env(&import, &base_env);
    assert!(out.contains("\"media_new\":0"), "second import: {out}");
    let (archive, sum) = import_lines(&out);
    assert_eq!(sum["media_seen"].as_u64(), Some(corpus.files), "{out}");
    assert_eq!(sum["media_new"].as_u64(), Some(0));
    assert_eq!(sum["media_known"].as_u64(), Some(corpus.files));
    assert_eq!(sum["messages_new"].as_u64(), Some(0));
    assert_eq!(sum["bytes_new"].as_u64(), Some(0));
    assert_eq!(archive["already_imported"].as_bool(), Some(true));
    assert_eq!(count_objects(), corpus.distinct);
    results.push(Run {
        tool: "dmvault import --no-probe",
        run: "second",
        wall,
        rss,
        stored: du(&vault),
    });

    if peers {
        // restic, with its defaults (its cache in the home above)
        match peer_version("restic", "version") {
            None => notes.push(
                "restic is not installed: skipped (install it with `apt-get install restic`, or run `just bench`, which does)"
                    .to_owned(),
            ),
            Some(version) => {
                let repo = runs.join("restic");
                let repo_s = s(&repo);
                let mut env = base_env.to_vec();
                env.push(("RESTIC_PASSWORD", "bench"));
                env.push(("RESTIC_REPOSITORY", repo_s.as_str()));
                run(&["restic", "init"], &env);
                let config = run(&["restic", "cat", "config"], &env);
                let repo_version = serde_json::from_str::<serde_json::Value>(&config)
                    .ok()
                    .and_then(|v| v["version"].as_u64())
                    .unwrap_or(0);
                notes.push(format!(
                    "{version}: repository format v{repo_version}, AES-256 + Poly1305, compression {} (default)",
                    if repo_version >= 2 { "auto (zstd)" } else { "none (v1 format)" }
                ));
                for name in ["first", "second"] {
                    settle();
                    let (wall, rss, _) = measure_env(&["restic", "backup", &dir_s], &env);
                    results.push(Run {
                        tool: "restic backup",
                        run: name,
                        wall,
                        rss,
                        stored: du(&repo),
                    });
                }
            }
        }
        // borg, repokey encryption, default compression
        match peer_version("borg", "--version") {
            None => notes.push(
                "borg is not installed: skipped (install it with `apt-get install borgbackup`, or run `just bench`, which does)"
                    .to_owned(),
            ),
            Some(version) => {
                let repo = runs.join("borg");
                let repo_s = s(&repo);
                let mut env = base_env.to_vec();
                env.push(("BORG_PASSPHRASE", "bench"));
                env.push(("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes"));
                env.push(("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes"));
                run(&["borg", "init", "--encryption=repokey", &repo_s], &env);
                notes.push(format!(
                    "{version}: repokey encryption (AES-256-CTR + HMAC-SHA256), compression lz4 (default)"
                ));
                for (name, snap) in [("first", "a1"), ("second", "a2")] {
                    settle();
                    let target = format!("{repo_s}::{snap}");
                    let (wall, rss, _) = measure_env(&["borg", "create", &target, &dir_s], &env);
                    results.push(Run {
                        tool: "borg create",
                        run: name,
                        wall,
                        rss,
                        stored: du(&repo),
                    });
                }
            }
        }
    }

    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "## reference: {:.0} MiB of random bytes named as DM media in {} files ({:.0} MiB distinct in {} contents, {:.1} % duplicate bytes), ZIP of {:.0} MiB",
        mib(corpus.bytes),
        corpus.files,
        mib(corpus.distinct_bytes),
        corpus.distinct,
        100.0 * corpus.dup_bytes() as f64 / corpus.bytes as f64,
        mib(fs::metadata(&zip).unwrap().len()),
    );
    println!(
        "({} images, {} GIFs, {} videos; {} messages)",
        corpus.images, corpus.gifs, corpus.videos, corpus.messages
    );
    println!();
    println!("| tool | input | run | wall s | MB/s | peak RSS MiB | repository MiB after |");
    println!("|---|---|---|---|---|---|---|");
    for r in &results {
        println!(
            "| {} | {} | {} | {:.2} | {:.0} | {:.0} | {:.0} |",
            r.tool,
            if r.tool.starts_with("dmvault") {
                "deflated ZIP"
            } else {
                "unpacked folder"
            },
            r.run,
            r.wall,
            corpus.bytes as f64 / 1e6 / r.wall,
            r.rss,
            mib(r.stored)
        );
    }
    println!();
    notes.push("dmvault: age (X25519, ChaCha20-Poly1305), no compression".to_owned());
    for n in &notes {
        println!("- {n}");
    }
    println!();
    if !peers {
        return;
    }
    let wall = |tool: &str, run: &str| {
        results
            .iter()
            .find(|r| r.tool == tool && r.run == run)
            .map(|r| r.wall)
    };
    // No goals here: they are the media section's, on real media. This
    // line shows dmvault's own path (inflate, hashes, age, writes) without
    // FFmpeg, next to the peers, on bytes no one can compress.
    let dm1 = wall("dmvault import --no-probe", "first").unwrap();
    let dm2 = wall("dmvault import --no-probe", "second").unwrap();
    for (peer, tool) in [("borg", "borg create"), ("restic", "restic backup")] {
        if let Some(t) = wall(tool, "first") {
            println!(
                "- first import --no-probe: {:.2}x {peer}'s first backup throughput (reference)",
                t / dm1
            );
        }
    }
    println!(
        "- re-import: {:.1}x faster than the first import, media_new 0, one object per distinct content",
        dm1 / dm2
    );
    let rss = results
        .iter()
        .filter(|r| r.tool.starts_with("dmvault"))
        .map(|r| r.rss)
        .fold(0.0, f64::max);
    println!("- dmvault peak RSS {rss:.0} MiB");
    println!();
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let work: PathBuf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bench/work");
    if bench {
        let size = std::env::var("DMVAULT_BENCH_DM_BYTES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1u64 << 30);
        // `cargo bench --bench bench -- import` runs only the sections named.
        let only: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .collect();
        let run = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
        if run("inspect") {
            inspect_bench(&work, size, &format!("{}m", size >> 20), true);
        }
        // The headline: real media, as users import it (issue 13).
        if run("media") {
            let scale = std::env::var("DMVAULT_BENCH_MEDIA_SCALE")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1.0);
            media::media_bench(&work, scale, 3);
        }
        // A reference line on random bytes, without FFmpeg.
        if run("import") {
            import_bench(&work, 1 << 30, 1, "1g", true);
        }
        if run("integrity") {
            integrity::integrity_bench(&work);
        }
        if run("s3") {
            s3::s3_bench(&work);
        }
        if run("scale") {
            let messages = std::env::var("DMVAULT_BENCH_SCALE_MESSAGES")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(2_000_000);
            scale::scale_bench(&work, messages, 3, true);
        }
    } else {
        // Smoke run: the generators and the harness on a few MiB.
        let tmp = std::env::temp_dir().join(format!("dmvault-bench-smoke-{}", std::process::id()));
        inspect_bench(&tmp, 2 << 20, "smoke", false);
        // and the import bench on 3 MiB of media (sizes / 64), dmvault only.
        import_bench(&tmp, 3 << 20, 64, "smoke", false);
        // and the scale bench on 3000 messages, each command run once.
        scale::scale_bench(&tmp, 3000, 1, false);
        // and the media bench on a file or two of each kind, once.
        media::media_bench(&tmp, 0.02, 1);
        let _ = fs::remove_dir_all(tmp);
    }
}
