//! `just bench`: dmvault measured side by side with what people use today.
//!
//! Inspect benchmark (issue 2): an archive whose `data/direct-messages.js`
//! is 1 GiB, inside a deflated ZIP, as X ships big archives. dmvault's
//! `inspect` on the ZIP is timed next to the way the popular Python parsers
//! read the same file unpacked (`json.loads` of the text after the `=`).
//! Wall time and peak RSS of each are measured by the same harness
//! (`getrusage` of the child, through Python's `resource` module).
//!
//! Generated data lives in `tests/bench/work/` (git-ignored) and is reused
//! between runs; delete it to regenerate. Run with `cargo bench --bench bench`.
//! Without `--bench` (as `cargo test --benches` runs it) it only checks that
//! the generator and the measuring harness work, on a tiny file.

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
    dmvault::time::Timestamp((secs * 1000 + ms) as i64).to_string()
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

/// Builds `<name>.zip` holding `twitter-bench/data/direct-messages.js`
/// (deflated), a manifest and an account file.
fn write_zip(js: &Path, zip_path: &Path) -> io::Result<()> {
    let tmp = zip_path.with_extension("zip.tmp");
    let mut w = zip::ZipWriter::new(BufWriter::new(File::create(&tmp)?));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    w.start_file("twitter-bench/data/manifest.js", deflated)?;
    w.write_all(
        br#"window.__THAR_CONFIG = {
  "userInfo" : { "accountId" : "1062514387293179904", "userName" : "bench", "displayName" : "Bench" },
  "archiveInfo" : { "sizeBytes" : "0", "generationDate" : "2026-11-01T00:00:00.000Z", "isPartialArchive" : false, "maxPartSizeBytes" : "53687091200" },
  "dataTypes" : {
    "directMessages" : { "mediaDirectory" : "data/direct_messages_media", "files" : [ { "fileName" : "data/direct-messages.js", "globalName" : "YTD.direct_messages.part0", "count" : "0" } ] },
    "directMessagesGroup" : { "mediaDirectory" : "data/direct_messages_group_media", "files" : [ ] }
  }
}"#,
    )?;
    w.start_file("twitter-bench/data/direct-messages.js", deflated)?;
    io::copy(&mut File::open(js)?, &mut w)?;
    w.finish()?.flush()?;
    fs::rename(tmp, zip_path)
}

/// Wall seconds and peak RSS (MiB) of a command, measured by Python's
/// `resource.getrusage(RUSAGE_CHILDREN)` around it.
fn measure(cmd: &[&str]) -> (f64, f64, String) {
    let harness = "import resource,subprocess,sys,time\n\
t=time.perf_counter()\n\
p=subprocess.run(sys.argv[1:],stdout=subprocess.PIPE)\n\
dt=time.perf_counter()-t\n\
if p.returncode: sys.exit('command failed: %d' % p.returncode)\n\
print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024.0)\n\
sys.stdout.write(p.stdout.decode()[:4000])";
    let out = Command::new("python3")
        .arg("-c")
        .arg(harness)
        .args(cmd)
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
    (it.next().unwrap(), it.next().unwrap(), rest.to_owned())
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

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let work: PathBuf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bench/work");
    if bench {
        let size = std::env::var("DMVAULT_BENCH_DM_BYTES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1u64 << 30);
        inspect_bench(&work, size, &format!("{}m", size >> 20), true);
    } else {
        // Smoke run: the generator and the harness on 2 MiB.
        let tmp = std::env::temp_dir().join(format!("dmvault-bench-smoke-{}", std::process::id()));
        inspect_bench(&tmp, 2 << 20, "smoke", false);
        let _ = fs::remove_dir_all(tmp);
    }
}
