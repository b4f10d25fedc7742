//! Scale benchmark (issue 8): a heavy account, and the same account's
//! archives downloaded year after year.
//!
//! The corpus, generated deterministically and cached in
//! `tests/bench/work/scale-<N>/` (N = messages, `DMVAULT_BENCH_SCALE_MESSAGES`,
//! default 2,000,000; everything else scales with it):
//!
//! - 2 M messages in 3,000 one-to-one conversations between the owner and
//!   3,000 others (sizes skewed: the largest holds ~1.7 %, ~35,000
//!   messages, the smallest ~115), from 2014 to 2024, ids increasing with
//!   time (snowflakes of the send time); conversations split into chunks of
//!   at most 1000 (each its own `dmConversation` element, messages newest
//!   first, chunks ordered by their newest message, so a conversation's
//!   chunks are apart in the file), in the per-message layout of
//!   [`super::write_dm_file`] with 1–12 words of text: 919 MB of DM JSON
//!   (issue 8 guessed 672 MB, but that layout's fixed part alone is ~393
//!   bytes a message);
//! - 12,000 real JPEGs (a few KB to ~29 KB: a dozen testsrc2 frames made
//!   by FFmpeg, each copy made distinct by a JPEG comment segment) in
//!   `data/direct_messages_media/`, one per media message, evenly spread;
//! - five cumulative yearly archives `scale-year1.zip` … `scale-year5.zip`:
//!   year k holds the first k/5 of the messages (in time order) and their
//!   media; year 5 holds everything and is the heavy archive.
//!
//! All entries Deflated, `data/` at the root of the ZIP, as X ships them.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{du, import_lines, iso, run, splitmix64, token, warm, CountingWriter, Rng, WORDS};

/// Changes whenever the generator does: a cached corpus of another version
/// is made again.
const GENERATOR: &str = "scale-v2";

const FULL_MESSAGES: u64 = 2_000_000;
const FULL_CONVERSATIONS: u64 = 3_000;
const FULL_IMAGES: u64 = 12_000;
const YEARS: u64 = 5;
/// X's limit of messages per `dmConversation` element.
const CHUNK: usize = 1000;
const OWNER: u64 = 1_062_514_387_293_179_904;
/// Twitter's snowflake epoch (ms).
const TWEPOCH_MS: u64 = 1_288_834_974_657;
/// 2014-01-01T00:00:00Z and 2024-12-31T00:00:00Z.
const START_MS: u64 = 1_388_534_400_000;
const END_MS: u64 = 1_735_603_200_000;

/// Salts of the per-message hashes, so no two draws are correlated.
const SALT_TIME: u64 = 0x5CA1_E000_0000_0001;
const SALT_SEQ: u64 = 0x5CA1_E000_0000_0002;
const SALT_CONV: u64 = 0x5CA1_E000_0000_0003;
const SALT_TEXT: u64 = 0x5CA1_E000_0000_0004;
const SALT_MEDIA: u64 = 0x5CA1_E000_0000_0005;

/// What the messages are: each message's fields are a function of its
/// index `i` (0 = oldest), so any prefix of the stream is the same messages.
struct Plan {
    messages: u64,
    images: u64,
    /// The other party of each conversation.
    others: Vec<u64>,
    /// Message indices of each conversation, ascending.
    by_conv: Vec<Vec<u32>>,
}

impl Plan {
    fn new(messages: u64) -> Plan {
        let convs = (FULL_CONVERSATIONS * messages / FULL_MESSAGES).max(2);
        let images = FULL_IMAGES * messages / FULL_MESSAGES;
        // Skewed sizes, integers only (the same everywhere): weight of
        // conversation c is 1/(c+10).
        let mut cum: Vec<u64> = Vec::with_capacity(convs as usize);
        let mut total = 0u64;
        for c in 0..convs {
            total += 1_000_000_000 / (c + 10);
            cum.push(total);
        }
        let mut by_conv: Vec<Vec<u32>> = vec![Vec::new(); convs as usize];
        for i in 0..messages {
            let u = splitmix64(i ^ SALT_CONV) % total;
            let c = cum.partition_point(|&x| x <= u);
            by_conv[c].push(i as u32);
        }
        // User ids of 8 to 19 digits, as accounts of every age have.
        let others = (0..convs)
            .map(|c| {
                let h = splitmix64(c ^ SALT_CONV);
                let digits = 8 + (h >> 59) as u32 % 12;
                10u64.pow(digits - 1) + h % (9 * 10u64.pow(digits - 1))
            })
            .collect();
        Plan {
            messages,
            images,
            others,
            by_conv,
        }
    }

    /// Send time (ms since the Unix epoch): strictly increasing with `i`.
    fn time_ms(&self, i: u64) -> u64 {
        let step = (END_MS - START_MS) / self.messages;
        START_MS + i * step + splitmix64(i ^ SALT_TIME) % step
    }

    /// Snowflake id of message `i`: increasing with time.
    fn id(&self, i: u64) -> u64 {
        ((self.time_ms(i) - TWEPOCH_MS) << 22) | (splitmix64(i ^ SALT_SEQ) & 0x3F_FFFF)
    }

    /// The image index of message `i`, if it carries one: images are evenly
    /// spread, so the first k/5 of the messages hold the first k/5 of them.
    fn image(&self, i: u64) -> Option<u64> {
        let (a, b) = (
            i * self.images / self.messages,
            (i + 1) * self.images / self.messages,
        );
        (b > a).then_some(a)
    }

    /// Media file name (`<messageId>-<token>.jpg`) and URL of message `i`'s image.
    fn media_name_url(&self, i: u64) -> (String, String) {
        let id = self.id(i);
        let t = token(&mut Rng(splitmix64(i ^ SALT_MEDIA)), 8);
        (
            format!("{id}-{t}.jpg"),
            format!("https://ton.twitter.com/dm/{id}/{}/{t}.jpg", id - 7),
        )
    }

    /// Messages held by year `k` (1..=5).
    fn cutoff(&self, year: u64) -> u64 {
        self.messages * year / YEARS
    }
}

/// Writes message `i` of conversation `c` in the 2021+ layout (that of
/// [`super::write_dm_file`]).
fn write_message(w: &mut impl Write, plan: &Plan, c: usize, i: u64, first: bool) -> io::Result<()> {
    let mut rng = Rng(splitmix64(i ^ SALT_TEXT));
    let other = plan.others[c];
    let id = plan.id(i);
    let (from, to) = if rng.below(2) == 0 {
        (OWNER, other)
    } else {
        (other, OWNER)
    };
    let nwords = 1 + rng.below(12);
    let mut text = String::new();
    for k in 0..nwords {
        if k > 0 {
            text.push(' ');
        }
        text.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    let (media_urls, urls) = if plan.image(i).is_some() {
        let (_, url) = plan.media_name_url(i);
        let tco = token(&mut rng, 10);
        (
            format!("\"{url}\""),
            format!(
                "\n            {{\n              \"url\" : \"https://t.co/{tco}\",\n              \"expanded\" : \"https://twitter.com/messages/media/{id}\",\n              \"display\" : \"pic.twitter.com/{tco}\"\n            }}\n          "
            ),
        )
    } else {
        (" ".to_owned(), " ".to_owned())
    };
    let ms = plan.time_ms(i);
    let reactions = if rng.below(8) == 0 {
        // A reaction some minutes later, by the recipient.
        let later = ms + 1000 * (1 + rng.below(600));
        let event = ((later - TWEPOCH_MS) << 22) | (rng.below(1 << 22));
        format!(
            "\n            {{\n              \"senderId\" : \"{to}\",\n              \"reactionKey\" : \"like\",\n              \"eventId\" : \"{event}\",\n              \"createdAt\" : \"{}\"\n            }}\n          ",
            iso(later / 1000, later % 1000)
        )
    } else {
        " ".to_owned()
    };
    write!(
        w,
        "{}\n        {{\n          \"messageCreate\" : {{\n            \"recipientId\" : \"{to}\",\n            \"reactions\" : [{reactions}],\n            \"urls\" : [{urls}],\n            \"text\" : \"{text}\",\n            \"mediaUrls\" : [{media_urls}],\n            \"senderId\" : \"{from}\",\n            \"id\" : \"{id}\",\n            \"createdAt\" : \"{}\",\n            \"editHistory\" : [ ]\n          }}\n        }}",
        if first { "" } else { "," },
        iso(ms / 1000, ms % 1000),
    )
}

/// What one generated archive holds (cached in `corpus.txt`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Facts {
    messages: u64,
    conversations: u64,
    chunks: u64,
    images: u64,
    image_bytes: u64,
    dm_json_bytes: u64,
}

/// A dozen real JPEGs (testsrc2 frames at several sizes and qualities,
/// ~3 to ~29 KB), made once with FFmpeg and cached in `dir`.
fn base_jpegs(dir: &Path) -> Vec<Vec<u8>> {
    const BASES: &[(&str, u32)] = &[
        ("160x120", 2),
        ("320x240", 2),
        ("320x240", 6),
        ("320x240", 12),
        ("480x360", 2),
        ("480x360", 6),
        ("480x360", 12),
        ("480x360", 24),
        ("640x480", 2),
        ("640x480", 4),
        ("640x480", 8),
        ("640x480", 16),
    ];
    fs::create_dir_all(dir).unwrap();
    BASES
        .iter()
        .enumerate()
        .map(|(k, (size, q))| {
            let path = dir.join(format!("base-{k:02}-{size}-q{q}.jpg"));
            if !path.exists() {
                let tmp = path.with_extension("tmp.jpg");
                let out = Command::new("ffmpeg")
                    .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
                    .args(["-i", &format!("testsrc2=s={size}:r=1")])
                    .args(["-ss", &k.to_string(), "-frames:v", "1"])
                    .args(["-q:v", &q.to_string()])
                    .arg(&tmp)
                    .output()
                    .expect("ffmpeg runs (apt-get install ffmpeg)");
                assert!(
                    out.status.success(),
                    "ffmpeg: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                fs::rename(&tmp, &path).unwrap();
            }
            let b = fs::read(&path).unwrap();
            assert!(b.starts_with(&[0xFF, 0xD8]) && b.ends_with(&[0xFF, 0xD9]));
            b
        })
        .collect()
}

/// Image `j`: a base JPEG with a comment segment (`FF FE`) naming `j` right
/// after the start-of-image marker, so every image has its own bytes and
/// still decodes.
fn jpeg(bases: &[Vec<u8>], j: u64, out: &mut Vec<u8>) {
    let base = &bases[(splitmix64(j) % bases.len() as u64) as usize];
    let comment = format!("dmvault scale bench image {j:08}");
    out.clear();
    out.extend_from_slice(&base[..2]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&((comment.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(comment.as_bytes());
    out.extend_from_slice(&base[2..]);
}

/// Writes the archive of the first `cutoff` messages to `zip_path`.
fn write_archive(
    plan: &Plan,
    cutoff: u64,
    bases: &[Vec<u8>],
    zip_path: &Path,
) -> io::Result<Facts> {
    // Chunks of at most 1000 (oldest first), each written newest first;
    // the file lists them in the order of their newest message.
    let mut chunks: Vec<(u32, usize, &[u32])> = Vec::new();
    let mut conversations = 0;
    for (c, all) in plan.by_conv.iter().enumerate() {
        let held = &all[..all.partition_point(|&i| u64::from(i) < cutoff)];
        conversations += u64::from(!held.is_empty());
        chunks.extend(held.chunks(CHUNK).map(|ch| (ch[ch.len() - 1], c, ch)));
    }
    chunks.sort_unstable_by_key(|&(last, _, _)| last);

    let tmp = zip_path.with_extension("zip.tmp");
    let mut zip = zip::ZipWriter::new(BufWriter::with_capacity(1 << 20, File::create(&tmp)?));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(cutoff > 8_000_000);
    let last_ms = plan.time_ms(cutoff - 1) + 86_400_000;
    let manifest = super::MANIFEST.replace("2026-11-01T00:00:00.000Z", &iso(last_ms / 1000, 0));
    zip.start_file("data/manifest.js", deflated)?;
    zip.write_all(manifest.as_bytes())?;
    zip.start_file("data/direct-messages.js", deflated)?;
    let mut w = CountingWriter {
        inner: BufWriter::with_capacity(1 << 20, &mut zip),
        n: 0,
    };
    write!(w, "window.YTD.direct_messages.part0 = [")?;
    for (k, &(_, c, ch)) in chunks.iter().enumerate() {
        let other = plan.others[c];
        let (a, b) = if other < OWNER {
            (other, OWNER)
        } else {
            (OWNER, other)
        };
        write!(
            w,
            "{}\n  {{\n    \"dmConversation\" : {{\n      \"conversationId\" : \"{a}-{b}\",\n      \"messages\" : [",
            if k > 0 { "," } else { "" }
        )?;
        for (n, &i) in ch.iter().rev().enumerate() {
            write_message(&mut w, plan, c, u64::from(i), n == 0)?;
        }
        write!(w, "\n      ]\n    }}\n  }}")?;
    }
    write!(w, "\n]")?;
    w.inner.flush()?;
    let dm_json_bytes = w.n;
    drop(w);

    let (mut images, mut image_bytes) = (0, 0);
    let mut buf = Vec::new();
    for i in 0..cutoff {
        if let Some(j) = plan.image(i) {
            let (name, _) = plan.media_name_url(i);
            jpeg(bases, j, &mut buf);
            zip.start_file(format!("data/direct_messages_media/{name}"), deflated)?;
            zip.write_all(&buf)?;
            images += 1;
            image_bytes += buf.len() as u64;
        }
    }
    zip.finish()?.flush()?;
    fs::rename(tmp, zip_path)?;
    Ok(Facts {
        messages: cutoff,
        conversations,
        chunks: chunks.len() as u64,
        images,
        image_bytes,
        dm_json_bytes,
    })
}

/// The five yearly archives of `messages` messages (generated, or reused
/// from `dir` when the cached facts match this generator).
fn corpus(dir: &Path, jpeg_dir: &Path, messages: u64) -> (Vec<PathBuf>, Vec<Facts>) {
    let paths: Vec<PathBuf> = (1..=YEARS)
        .map(|k| dir.join(format!("scale-year{k}.zip")))
        .collect();
    let meta = dir.join("corpus.txt");
    let parse = |s: &str| -> Option<Vec<Facts>> {
        let mut lines = s.lines();
        (lines.next()? == format!("{GENERATOR} {messages}")).then_some(())?;
        let facts: Vec<Facts> = lines
            .map(|l| {
                let v: Vec<u64> = l
                    .split_whitespace()
                    .map(|x| x.parse().ok())
                    .collect::<Option<_>>()?;
                let [messages, conversations, chunks, images, image_bytes, dm_json_bytes] = v[..]
                else {
                    return None;
                };
                Some(Facts {
                    messages,
                    conversations,
                    chunks,
                    images,
                    image_bytes,
                    dm_json_bytes,
                })
            })
            .collect::<Option<_>>()?;
        (facts.len() == YEARS as usize).then_some(facts)
    };
    if let Some(facts) = fs::read_to_string(&meta)
        .ok()
        .and_then(|s| parse(&s))
        .filter(|_| paths.iter().all(|p| p.exists()))
    {
        return (paths, facts);
    }
    eprintln!(
        "bench: generating the scale corpus ({messages} messages, 5 yearly archives) in {}",
        dir.display()
    );
    let started = std::time::Instant::now();
    let _ = fs::remove_file(&meta);
    fs::create_dir_all(dir).unwrap();
    let bases = base_jpegs(jpeg_dir);
    let plan = Plan::new(messages);
    let mut text = format!("{GENERATOR} {messages}\n");
    let mut facts = Vec::new();
    for (k, path) in (1..=YEARS).zip(&paths) {
        let f = write_archive(&plan, plan.cutoff(k), &bases, path).unwrap();
        eprintln!(
            "bench:   {} : {} messages, {} images, {:.0} MB of DM JSON ({:.0} s so far)",
            path.display(),
            f.messages,
            f.images,
            f.dm_json_bytes as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        text += &format!(
            "{} {} {} {} {} {}\n",
            f.messages, f.conversations, f.chunks, f.images, f.image_bytes, f.dm_json_bytes
        );
        facts.push(f);
    }
    fs::write(&meta, text).unwrap();
    eprintln!(
        "bench: scale corpus generated in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    (paths, facts)
}

/// Wall seconds and peak RSS (MiB) of a command whose standard output goes
/// to the file `out` (`getrusage(RUSAGE_CHILDREN)`, as [`super::measure`]).
fn measure_to(cmd: &[&str], env: &[(&str, &str)], out: &Path) -> (f64, f64) {
    let harness = "import resource,subprocess,sys,time\n\
t=time.perf_counter()\n\
p=subprocess.run(sys.argv[2:],stdout=open(sys.argv[1],'wb'))\n\
dt=time.perf_counter()-t\n\
if p.returncode: sys.exit('command failed: %d' % p.returncode)\n\
print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024.0)";
    let o = Command::new("python3")
        .arg("-c")
        .arg(harness)
        .arg(out)
        .args(cmd)
        .envs(env.iter().copied())
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    let mut it = text.split_whitespace().map(|x| x.parse::<f64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

/// Repeated measurements of one command.
pub(super) struct Timing {
    pub(super) walls: Vec<f64>,
    pub(super) rss: f64,
}

impl Timing {
    pub(super) fn median(&self) -> f64 {
        let mut w = self.walls.clone();
        w.sort_by(f64::total_cmp);
        w[w.len() / 2]
    }
    pub(super) fn cell(&self) -> String {
        if self.walls.len() == 1 {
            format!("{:.2} (1 run)", self.walls[0])
        } else {
            let min = self.walls.iter().copied().fold(f64::INFINITY, f64::min);
            let max = self.walls.iter().copied().fold(0.0, f64::max);
            format!(
                "{:.2} ({min:.2}–{max:.2}, {} runs)",
                self.median(),
                self.walls.len()
            )
        }
    }
}

/// Runs `cmd` `reps` times; the last run's output is left in `out`.
fn timed(cmd: &[&str], env: &[(&str, &str)], out: &Path, reps: usize) -> Timing {
    let mut t = Timing {
        walls: Vec::new(),
        rss: 0.0,
    };
    for _ in 0..reps {
        let (wall, rss) = measure_to(cmd, env, out);
        t.walls.push(wall);
        t.rss = t.rss.max(rss);
    }
    t
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

/// The vault without `objects/`: total bytes and each top-level entry.
fn vault_sizes(vault: &Path) -> (u64, Vec<(String, u64)>) {
    let mut parts: Vec<(String, u64)> = fs::read_dir(vault)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let mut name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                name.push('/');
            }
            (name, du(&e.path()))
        })
        .filter(|(n, _)| n != "objects/")
        .collect();
    parts.sort();
    (parts.iter().map(|p| p.1).sum(), parts)
}

/// Checks an `inspect --json` output against what was generated.
fn check_inspect(out: &Path, f: &Facts) {
    let text = fs::read_to_string(out).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.trim()).expect("inspect --json line");
    assert_eq!(v["messages"].as_u64(), Some(f.messages), "{text}");
    assert_eq!(
        v["conversations"]["one_to_one"].as_u64(),
        Some(f.conversations)
    );
    assert_eq!(v["media_refs"].as_u64(), Some(f.images), "{text}");
    assert_eq!(v["media_found"].as_u64(), Some(f.images), "{text}");
    assert_eq!(v["media_orphans"].as_u64(), Some(0), "{text}");
    assert_eq!(v["warnings"].as_array().map(Vec::len), Some(0), "{text}");
}

/// The scale benchmark on `messages` messages; `reps` runs of each cheap
/// command (1 in the smoke run, which prints no verdicts).
pub fn scale_bench(work: &Path, messages: u64, reps: usize, verdicts: bool) {
    let label = if messages % 1000 == 0 {
        format!("{}k", messages / 1000)
    } else {
        messages.to_string()
    };
    let dir = work.join(format!("scale-{label}"));
    let (paths, facts) = corpus(&dir, &work.join("scale-jpeg"), messages);

    let runs = work.join(format!("scale-{label}-runs"));
    // The last run's vaults are deleted after this one measures: ext4 is
    // slow to create files while many just-deleted inodes are recent (the
    // 12,000-object media phase took three times as long right after a
    // vault like it was deleted), and users do not import into a disk
    // that just lost tens of thousands of files.
    let old_runs = work.join(format!("scale-{label}-runs.old"));
    if runs.exists() {
        if old_runs.exists() {
            fs::remove_dir_all(&old_runs).unwrap();
        }
        fs::rename(&runs, &old_runs).unwrap();
    }
    fs::create_dir_all(&runs).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let bin = env!("CARGO_BIN_EXE_dmvault");
    let out = runs.join("stdout");
    let sync = || {
        let _ = Command::new("sync").status();
    };
    let new_vault = |name: &str| {
        let vault = runs.join(name);
        let id = runs.join(format!("{name}-identity.txt"));
        let home = runs.join(format!("{name}-home"));
        let env: Vec<(&'static str, String)> = vec![
            ("DMVAULT_VAULT", s(&vault)),
            ("DMVAULT_IDENTITY", s(&id)),
            ("HOME", s(&home)),
            ("XDG_CONFIG_HOME", s(&home.join(".config"))),
            ("XDG_CACHE_HOME", s(&home.join(".cache"))),
            ("XDG_STATE_HOME", s(&home.join(".state"))),
        ];
        let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run(
            &[bin, "init", "--vault", &s(&vault), "-i", &s(&id), "--json"],
            &env_ref,
        );
        (vault, env)
    };

    // 1. The heavy archive (year 5 holds every message).
    let heavy = &paths[YEARS as usize - 1];
    let hf = facts[YEARS as usize - 1];
    let heavy_s = s(heavy);
    warm(heavy);
    let inspect = timed(&[bin, "inspect", "--json", &heavy_s], &[], &out, reps);
    check_inspect(&out, &hf);
    let (vault, env) = new_vault("heavy");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let import_cmd = [bin, "import", "--json", "--no-progress", &heavy_s];
    sync();
    let import = timed(&import_cmd, &env, &out, 1);
    let (archive, sum) = import_lines(&fs::read_to_string(&out).unwrap());
    assert_eq!(archive["already_imported"].as_bool(), Some(false));
    assert_eq!(sum["messages_new"].as_u64(), Some(hf.messages), "{sum}");
    assert_eq!(sum["media_new"].as_u64(), Some(hf.images), "{sum}");
    assert_eq!(sum["media_missing"].as_u64(), Some(0), "{sum}");
    assert_eq!(sum["media_orphans"].as_u64(), Some(0), "{sum}");
    sync();
    let reimport = timed(&import_cmd, &env, &out, reps);
    let (archive, sum) = import_lines(&fs::read_to_string(&out).unwrap());
    assert_eq!(
        archive["already_imported"].as_bool(),
        Some(true),
        "{archive}"
    );
    assert_eq!(sum["messages_new"].as_u64(), Some(0), "{sum}");
    assert_eq!(sum["media_new"].as_u64(), Some(0), "{sum}");
    let stats = timed(&[bin, "stats"], &env, &out, reps);
    let ls = timed(&[bin, "ls"], &env, &out, reps);
    let ls_lines = fs::read_to_string(&out).unwrap().lines().count() as u64;
    assert_eq!(
        ls_lines, hf.images,
        "ls prints one line per media reference"
    );
    // Issue 9: search (a word 15 % of the messages hold, a phrase of two
    // such words, a word among the messages with media) and people.
    let search_word = timed(&[bin, "search", "tomorrow"], &env, &out, reps);
    let hits = fs::read_to_string(&out).unwrap();
    assert!(hits.contains("**tomorrow**"), "{hits}");
    let search_phrase = timed(&[bin, "search", "\"see you\""], &env, &out, reps);
    assert!(fs::read_to_string(&out)
        .unwrap()
        .contains("**see** **you**"));
    let search_media = timed(
        &[bin, "search", "tomorrow", "--has-media"],
        &env,
        &out,
        reps,
    );
    let people = timed(&[bin, "people", "--json"], &env, &out, reps);
    let listed = fs::read_to_string(&out).unwrap().lines().count() as u64;
    assert_eq!(listed, hf.conversations + 1, "every partner and the owner");
    let (rest, parts) = vault_sizes(&vault);
    let objects = du(&vault.join("objects"));

    println!(
        "## scale: a heavy account (issue 8): {} messages in {} conversations ({} chunks), {} JPEGs",
        hf.messages, hf.conversations, hf.chunks, hf.images
    );
    println!();
    println!(
        "`{}`: DM JSON {:.0} MiB ({:.0} MB), {} images of {:.1} MiB, ZIP {:.0} MiB",
        heavy.file_name().unwrap().to_string_lossy(),
        mib(hf.dm_json_bytes),
        hf.dm_json_bytes as f64 / 1e6,
        hf.images,
        mib(hf.image_bytes),
        mib(fs::metadata(heavy).unwrap().len())
    );
    println!();
    println!("| command | wall s (median, min–max) | peak RSS MiB | × inspect |");
    println!("|---|---|---|---|");
    let ti = inspect.median();
    for (name, t) in [
        ("inspect", &inspect),
        ("import (new vault)", &import),
        ("import again (unchanged ZIP)", &reimport),
        ("stats", &stats),
        ("ls (to a file)", &ls),
        ("search tomorrow (a word in 15 % of messages)", &search_word),
        ("search \"see you\" (a phrase)", &search_phrase),
        ("search tomorrow --has-media", &search_media),
        ("people (every participant, figures)", &people),
    ] {
        println!(
            "| {name} | {} | {:.0} | {:.2} |",
            t.cell(),
            t.rss,
            t.median() / ti
        );
    }
    println!();
    println!(
        "Vault: objects/ {:.1} MiB; everything else {:.1} MiB ({:.2}× the DM JSON):",
        mib(objects),
        mib(rest),
        rest as f64 / hf.dm_json_bytes as f64
    );
    for (name, b) in &parts {
        println!("- {name} {:.2} MiB", mib(*b));
    }
    println!();
    if verdicts {
        let ti = inspect.median();
        let r = |t: &Timing| t.median() / ti;
        println!("| goal (issue 8) | measured | |");
        println!("|---|---|---|");
        println!(
            "| import ≤ 5× inspect | {:.2}× | {} |",
            r(&import),
            verdict(r(&import) <= 5.0)
        );
        println!(
            "| import peak RSS < 200 MiB | {:.0} MiB | {} |",
            import.rss,
            verdict(import.rss < 200.0)
        );
        let rr = reimport.median() / import.median();
        println!(
            "| re-import ≤ 0.05× import | {rr:.3}× | {} |",
            verdict(rr <= 0.05)
        );
        for (name, t) in [("stats", &stats), ("ls", &ls)] {
            println!(
                "| {name} ≤ 0.25× inspect | {:.3}× | {} |",
                r(t),
                verdict(r(t) <= 0.25)
            );
            println!(
                "| {name} peak RSS < 150 MiB | {:.0} MiB | {} |",
                t.rss,
                verdict(t.rss < 150.0)
            );
        }
        let rv = rest as f64 / hf.dm_json_bytes as f64;
        println!(
            "| vault minus objects ≤ 1.0× DM JSON | {rv:.2}× | {} |",
            verdict(rv <= 1.0)
        );
        println!();
        println!("| goal (issue 9) | measured | |");
        println!("|---|---|---|");
        for (name, t) in [
            ("search, a common word", &search_word),
            ("search, a phrase", &search_phrase),
            ("search, with --has-media", &search_media),
        ] {
            println!(
                "| {name} < 0.5 s | {:.2} s | {} |",
                t.median(),
                verdict(t.median() < 0.5)
            );
        }
        println!();
    }

    // Issue 12: forgetting one message writes the whole catalog again and
    // builds the index anew (one run: it changes the vault).
    let first = run(&[bin, "ls", "--json"], &env);
    let row: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    let id = row["message_id"].as_str().unwrap().to_owned();
    let forget_cmd = [
        bin,
        "forget",
        "--yes",
        "--json",
        "--no-progress",
        "--message",
        &id,
    ];
    let forget = timed(&forget_cmd, &env, &out, 1);
    assert!(fs::read_to_string(&out)
        .unwrap()
        .contains("\"message_type\":\"forgotten\""));
    let after: serde_json::Value =
        serde_json::from_str(&run(&[bin, "stats", "--json"], &env)).unwrap();
    assert_eq!(after["messages"].as_u64(), Some(hf.messages - 1), "{after}");
    println!(
        "`forget --message` (one message of {}; the catalog written again, the index built anew, issue 12): {} s, peak RSS {:.0} MiB, {:.2}× the import",
        hf.messages,
        forget.cell(),
        forget.rss,
        forget.median() / import.median()
    );
    println!();

    // 2. The yearly archives, imported in order into a new vault.
    let (vault, env) = new_vault("yearly");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    println!(
        "## scale: five yearly archives of the same account, imported in order into a new vault"
    );
    println!();
    println!("| archive | messages | images | DM JSON MiB | inspect wall s | import wall s (1 run) | import RSS MiB | import × inspect | ≤ 5× | < 200 MiB |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut last_inspect = 0.0;
    let mut all_met = true;
    for (k, (path, f)) in paths.iter().zip(&facts).enumerate() {
        let p = s(path);
        warm(path);
        let ins = timed(&[bin, "inspect", "--json", &p], &[], &out, reps);
        check_inspect(&out, f);
        sync();
        let imp = timed(
            &[bin, "import", "--json", "--no-progress", &p],
            &env,
            &out,
            1,
        );
        let (_, sum) = import_lines(&fs::read_to_string(&out).unwrap());
        let before = if k == 0 { None } else { Some(facts[k - 1]) };
        assert_eq!(
            sum["messages_new"].as_u64(),
            Some(f.messages - before.map_or(0, |b| b.messages)),
            "{sum}"
        );
        assert_eq!(
            sum["media_new"].as_u64(),
            Some(f.images - before.map_or(0, |b| b.images)),
            "{sum}"
        );
        assert_eq!(sum["media_missing"].as_u64(), Some(0), "{sum}");
        let ratio = imp.median() / ins.median();
        all_met &= ratio <= 5.0 && imp.rss < 200.0;
        let v = |ok: bool| if verdicts { verdict(ok) } else { "" };
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {:.0} | {ratio:.2}× | {} | {} |",
            path.file_name().unwrap().to_string_lossy(),
            f.messages,
            f.images,
            mib(f.dm_json_bytes),
            ins.cell(),
            imp.cell(),
            imp.rss,
            v(ratio <= 5.0),
            v(imp.rss < 200.0),
        );
        last_inspect = ins.median();
    }
    let stats = timed(&[bin, "stats"], &env, &out, reps);
    let (rest, parts) = vault_sizes(&vault);
    let last = facts[YEARS as usize - 1];
    println!();
    println!(
        "After year 5: `stats` {} s, peak RSS {:.0} MiB, {:.3}× inspect of year 5; vault minus objects {:.1} MiB ({:.2}× year 5's DM JSON: {})",
        stats.cell(),
        stats.rss,
        stats.median() / last_inspect,
        mib(rest),
        rest as f64 / last.dm_json_bytes as f64,
        parts
            .iter()
            .map(|(n, b)| format!("{n} {:.2} MiB", mib(*b)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    if verdicts {
        let rs = stats.median() / last_inspect;
        let rv = rest as f64 / last.dm_json_bytes as f64;
        println!("| goal (issue 8) | measured | |");
        println!("|---|---|---|");
        println!(
            "| every import ≤ 5× inspect of its ZIP and < 200 MiB | see the table | {} |",
            verdict(all_met)
        );
        println!(
            "| vault minus objects ≤ 1.0× year 5's DM JSON | {rv:.2}× | {} |",
            verdict(rv <= 1.0)
        );
        println!(
            "| stats ≤ 0.25× inspect of year 5 | {rs:.3}× | {} |",
            verdict(rs <= 0.25)
        );
        println!();
    }
    if old_runs.exists() {
        fs::remove_dir_all(&old_runs).unwrap();
    }
}
