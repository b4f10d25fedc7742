//! The import and verify throughput bench on media shaped like users'
//! (issue 13): real H.264 MP4 videos of 2 to 60 s, dm_gif-style short MP4
//! loops, phone-camera JPEGs and PNG screenshots, a quarter of the files
//! repeated under other message ids, in a deflated ZIP as X ships it; and
//! a variant where a tenth of the videos and JPEGs are truncated or
//! corrupt. dmvault imports the ZIP (and the same archive unpacked), next
//! to `restic backup` and `borg create` of the unpacked folder, medians of
//! 3 runs each into new repositories, in one run.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::integrity::{dm_media_names, ffmpeg, gif_loop, messages_js, video, Clip, MANIFEST};
use super::scale::Timing;
use super::{import_lines, measure_cpu, peer_version, run, warm};

/// One file of the corpus: its bytes on disk, its archive name and URL.
struct Item {
    path: PathBuf,
    name: String,
    url: String,
    id: u64,
}

/// What the corpus holds.
struct Facts {
    files: u64,
    distinct: u64,
    bytes: u64,
    damaged: u64,
    videos: u64,
    video_seconds: u64,
}

/// Message ids and names for the corpus's files.
struct Namer {
    id: u64,
}

impl Namer {
    /// The next item of `kind`, a file in `dir`.
    fn item(&mut self, dir: &Path, kind: &str, ext: &str, k: usize) -> Item {
        let (name, url, id) = self.next(kind, ext, k);
        Item {
            path: dir.join(&name),
            name,
            url,
            id,
        }
    }

    fn next(&mut self, kind: &str, ext: &str, k: usize) -> (String, String, u64) {
        self.id += 1_000_003;
        let id = self.id;
        let token = format!("user{kind}{k:04}");
        let (name, url) = dm_media_names(id, kind, &token, ext, "");
        (name, url, id)
    }
}

/// Encodes one of the corpus's videos.
fn encode(out: &Path, k: usize, seconds: u32) {
    let k32 = u32::try_from(k).unwrap_or(0);
    video(
        out,
        &Clip {
            src: ["testsrc2", "mandelbrot", "smptehdbars", "rgbtestsrc"][k % 4],
            size: ["1280x720", "720x1280", "1280x720", "960x540"][k % 4],
            tone: 300 + 10 * k32,
            seconds,
            noise: 10 + k32 % 7,
            hue: k32 + 1,
            bitrate: "3M",
        },
    );
}

/// Writes the corpus's distinct files into `dir`: videos, GIF loops,
/// JPEGs and PNGs, `scale` times the default counts (1.0: about 800 MB),
/// then names a quarter of them again. Returns the items and the videos'
/// seconds.
fn distinct_files(dir: &Path, scale: f64) -> (Vec<Item>, u64) {
    let n = |count: usize| ((count as f64 * scale).round() as usize).max(1);
    let mut namer = Namer {
        id: 1_750_000_000_000_000_000,
    };
    let (mut items, video_seconds) = videos(dir, &mut namer, n(56));
    items.extend(gif_loops(dir, &mut namer, n(40)));
    // Photos as phones take them, a few resized, and screenshots.
    for (kind, ext, size, count, noise) in [
        ("photo", "jpg", "4032x3024", n(30), 22),
        ("photo", "jpg", "3024x4032", n(10), 22),
        ("photo", "jpg", "1600x1200", n(20), 18),
        ("shot", "png", "1170x2532", n(12), 6),
    ] {
        let first = items.len();
        items.extend(pictures(
            dir,
            &mut namer,
            (kind, ext, size),
            count,
            noise,
            first,
        ));
    }
    // A quarter of the files again, under other message ids (yearly
    // archives overlap, and people forward what they were sent).
    let originals = items.len();
    for k in (0..originals).step_by(4) {
        let ext = items[k].name.rsplit('.').next().unwrap().to_owned();
        let kind = if items[k].url.contains("dm_video") {
            "video"
        } else if items[k].url.contains("dm_gif") {
            "gif"
        } else {
            "photo"
        };
        let mut again = namer.item(dir, kind, &ext, 9000 + k);
        again.path = items[k].path.clone();
        items.push(again);
    }
    (items, video_seconds)
}

/// The videos, two encoders at once; and their seconds.
fn videos(dir: &Path, namer: &mut Namer, count: usize) -> (Vec<Item>, u64) {
    let durations = [2u32, 5, 8, 12, 20, 30, 45, 60];
    let items: Vec<Item> = (0..count)
        .map(|k| namer.item(dir, "video", "mp4", k))
        .collect();
    let jobs: Vec<(&Path, usize, u32)> = items
        .iter()
        .enumerate()
        .map(|(k, it)| (it.path.as_path(), k, durations[k % durations.len()]))
        .collect();
    std::thread::scope(|s| {
        for half in jobs.chunks(jobs.len().div_ceil(2)) {
            s.spawn(move || {
                for (path, k, seconds) in half {
                    encode(path, *k, *seconds);
                }
            });
        }
    });
    let seconds = jobs.iter().map(|(_, _, s)| u64::from(*s)).sum();
    (items, seconds)
}

/// dm_gif-style loops: short silent MP4s.
fn gif_loops(dir: &Path, namer: &mut Namer, count: usize) -> Vec<Item> {
    (0..count)
        .map(|k| {
            let it = namer.item(dir, "gif", "mp4", k);
            gif_loop(&it.path, 2 + k % 5, u32::try_from(k).unwrap_or(0), "1500k");
            it
        })
        .collect()
}

/// `count` pictures of `size` (a test pattern with noise), JPEG or PNG.
fn pictures(
    dir: &Path,
    namer: &mut Namer,
    (kind, ext, size): (&str, &str, &str),
    count: usize,
    noise: u32,
    first: usize,
) -> Vec<Item> {
    let frames = dir.join(format!("frames-{size}-{ext}"));
    fs::create_dir_all(&frames).unwrap();
    let mut args = vec![
        "-f".to_owned(),
        "lavfi".to_owned(),
        "-i".to_owned(),
        format!("testsrc2=s={size}:r=1,noise=alls={noise}:allf=t"),
        "-frames:v".to_owned(),
        count.to_string(),
    ];
    if ext == "jpg" {
        args.extend(["-q:v".to_owned(), "3".to_owned()]);
    }
    args.push(format!("{}/f%04d.{ext}", frames.display()));
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut files: Vec<PathBuf> = fs::read_dir(&frames)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let items = files
        .into_iter()
        .enumerate()
        .map(|(k, f)| {
            let it = namer.item(dir, kind, ext, first + k);
            fs::rename(f, &it.path).unwrap();
            it
        })
        .collect();
    fs::remove_dir(&frames).unwrap();
    items
}

/// A tenth of the videos and JPEGs, damaged: every other one cut in half,
/// the rest with 4 KiB inverted a third of the way in.
fn damage(bytes: &mut Vec<u8>, k: usize) {
    if k % 2 == 0 {
        bytes.truncate(bytes.len() / 2);
    } else {
        let (at, len) = (bytes.len() / 3, bytes.len());
        for b in &mut bytes[at..(at + 4096).min(len)] {
            *b ^= 0x5a;
        }
    }
}

/// Writes the archive: a manifest, one message per file, the files
/// deflated; with `damaged`, a tenth of the videos and JPEGs damaged.
fn write_zip(items: &[Item], zip: &Path, damaged: bool) -> io::Result<u64> {
    let tmp = zip.with_extension("tmp");
    let mut w = zip::ZipWriter::new(io::BufWriter::new(fs::File::create(&tmp)?));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    w.start_file("data/manifest.js", deflated)?;
    w.write_all(MANIFEST)?;
    w.start_file("data/direct-messages.js", deflated)?;
    w.write_all(messages_js(items.iter().map(|i| (i.url.as_str(), i.id))).as_bytes())?;
    let mut spoiled = 0;
    for (k, it) in items.iter().enumerate() {
        w.start_file(format!("data/direct_messages_media/{}", it.name), deflated)?;
        let mut data = fs::read(&it.path)?;
        let candidate = !it.name.ends_with(".png") && !it.url.contains("dm_gif");
        if damaged && candidate && k % 10 == 3 {
            damage(&mut data, k / 10);
            spoiled += 1;
        }
        w.write_all(&data)?;
    }
    w.finish()?.flush()?;
    fs::rename(&tmp, zip)?;
    Ok(spoiled)
}

/// The corpus in `work/user-media/`: `clean.zip`, `damaged.zip` and
/// `clean/` (the clean archive unpacked), made once and kept with its facts.
fn ensure_corpus(work: &Path, scale: f64) -> (PathBuf, Facts) {
    let root = work.join(format!("user-media-{scale}"));
    let facts_file = root.join("facts");
    if let Ok(text) = fs::read_to_string(&facts_file) {
        let v: Vec<u64> = text
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        if let [files, distinct, bytes, damaged, videos, video_seconds] = v[..] {
            let facts = Facts {
                files,
                distinct,
                bytes,
                damaged,
                videos,
                video_seconds,
            };
            return (root, facts);
        }
    }
    eprintln!(
        "bench: encoding the user-shaped media corpus in {} (a few minutes, once)",
        root.display()
    );
    let _ = fs::remove_dir_all(&root);
    let files_dir = root.join("files");
    fs::create_dir_all(&files_dir).unwrap();
    let (items, video_seconds) = distinct_files(&files_dir, scale);
    write_zip(&items, &root.join("clean.zip"), false).unwrap();
    let damaged = write_zip(&items, &root.join("damaged.zip"), true).unwrap();
    super::unzip_to(&root.join("clean.zip"), &root.join("clean"));
    let distinct = fs::read_dir(&files_dir).unwrap().count() as u64;
    let bytes = items
        .iter()
        .map(|i| fs::metadata(&i.path).unwrap().len())
        .sum();
    let videos = items.iter().filter(|i| i.url.contains("dm_video")).count() as u64;
    let facts = Facts {
        files: items.len() as u64,
        distinct,
        bytes,
        damaged,
        videos,
        video_seconds,
    };
    fs::write(
        &facts_file,
        format!(
            "{} {} {} {} {} {}",
            facts.files, facts.distinct, facts.bytes, facts.damaged, facts.videos, video_seconds
        ),
    )
    .unwrap();
    (root, facts)
}

/// One line of the results: a command run `reps` times.
struct Line {
    tool: String,
    input: &'static str,
    timing: Timing,
    cpu: f64,
}

/// Runs `prepare` then the command `reps` times; returns the timing, the
/// median CPU seconds and the last run's output.
fn repeated(
    reps: usize,
    mut prepare: impl FnMut(usize) -> Vec<String>,
    env: &[(&str, &str)],
) -> (Timing, f64, String) {
    let mut timing = Timing {
        walls: Vec::new(),
        rss: 0.0,
    };
    let (mut cpus, mut last) = (Vec::new(), String::new());
    for k in 0..reps {
        let cmd = prepare(k);
        let _ = Command::new("sync").status();
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let (wall, rss, cpu, out) = measure_cpu(&cmd, env);
        timing.walls.push(wall);
        timing.rss = timing.rss.max(rss);
        cpus.push(cpu);
        last = out;
    }
    cpus.sort_by(f64::total_cmp);
    (timing, cpus[cpus.len() / 2], last)
}

/// Where the dmvault runs go, and how to run them.
struct Runs {
    dir: PathBuf,
    home: String,
    id: String,
    reps: usize,
}

const BIN: &str = env!("CARGO_BIN_EXE_dmvault");

impl Runs {
    fn env(&self) -> [(&str, &str); 1] {
        [("HOME", self.home.as_str())]
    }

    /// A new, empty vault named `name` (an earlier one is removed).
    fn new_vault(&self, name: &str) -> String {
        let v = self.dir.join(name);
        let _ = fs::remove_dir_all(&v);
        let v = v.to_str().unwrap().to_owned();
        run(
            &[BIN, "init", "--vault", &v, "-i", &self.id, "--json"],
            &self.env(),
        );
        v
    }

    fn import(&self, vault: &str, extra: &[&str], input: &str) -> Vec<String> {
        let mut c: Vec<String> = [BIN, "import", "--vault", vault, "-i", &self.id]
            .iter()
            .chain(&["--json", "--no-progress"])
            .chain(extra)
            .map(|x| x.to_string())
            .collect();
        c.push(input.to_owned());
        c
    }

    /// The first-import lines, each run into new vaults of its own name,
    /// in turns (one run of each line, `reps` times over), so that the
    /// machine's drift during the bench weighs on every line alike; the
    /// last run's summary of each.
    fn first_imports(
        &self,
        spec: &[FirstImport<'_>],
        lines: &mut Vec<Line>,
    ) -> Vec<serde_json::Value> {
        let mut got: Vec<(Timing, Vec<f64>, String)> = spec
            .iter()
            .map(|_| {
                (
                    Timing {
                        walls: Vec::new(),
                        rss: 0.0,
                    },
                    Vec::new(),
                    String::new(),
                )
            })
            .collect();
        for _ in 0..self.reps {
            for (f, (timing, cpus, last)) in spec.iter().zip(&mut got) {
                let (one, cpu, out) = repeated(
                    1,
                    |_| self.import(&self.new_vault(f.vault), f.extra, f.path),
                    &self.env(),
                );
                timing.walls.extend(one.walls);
                timing.rss = timing.rss.max(one.rss);
                cpus.push(cpu);
                *last = out;
            }
        }
        spec.iter()
            .zip(got)
            .map(|(f, (timing, mut cpus, out))| {
                cpus.sort_by(f64::total_cmp);
                lines.push(Line {
                    tool: f.tool.to_owned(),
                    input: f.input,
                    timing,
                    cpu: cpus[cpus.len() / 2],
                });
                import_lines(&out).1
            })
            .collect()
    }
}

/// A line of first imports: its vaults' name, what the table says, the
/// options and the input.
struct FirstImport<'a> {
    vault: &'a str,
    tool: &'a str,
    input: &'static str,
    extra: &'a [&'a str],
    path: &'a str,
}

pub fn media_bench(work: &Path, scale: f64, reps: usize) {
    let (root, facts) = ensure_corpus(work, scale);
    let dir = work.join("user-media-runs");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let runs = Runs {
        home: s(&dir.join("home")),
        id: s(&dir.join("identity.txt")),
        dir,
        reps,
    };
    let (zip, damaged_zip, folder) = (
        s(&root.join("clean.zip")),
        s(&root.join("damaged.zip")),
        s(&root.join("clean")),
    );
    for p in [&zip, &damaged_zip, &folder] {
        warm(Path::new(p));
    }
    let mut lines: Vec<Line> = Vec::new();
    // Each line its own vaults; the clean ZIP's last is imported again and
    // verified after.
    let line = |vault, tool, input, extra, path| FirstImport {
        vault,
        tool,
        input,
        extra,
        path,
    };
    let sums = runs.first_imports(
        &[
            line("zip", "dmvault import", "deflated ZIP", &[], &zip),
            line(
                "damaged",
                "dmvault import",
                "ZIP, a tenth damaged",
                &[],
                &damaged_zip,
            ),
            line("folder", "dmvault import", "unpacked folder", &[], &folder),
            line(
                "no-probe",
                "dmvault import --no-probe",
                "deflated ZIP",
                &["--no-probe"],
                &zip,
            ),
        ],
        &mut lines,
    );
    let sum = &sums[0];
    assert_eq!(sum["media_seen"].as_u64(), Some(facts.files), "{sum}");
    assert_eq!(sum["media_new"].as_u64(), Some(facts.distinct), "{sum}");
    assert_eq!(
        sum["media_damaged"].as_u64(),
        Some(0),
        "real media are whole: {sum}"
    );
    assert_eq!(sum["media_unreadable"].as_u64(), Some(0), "{sum}");
    for sum in &sums[2..] {
        assert_eq!(sum["media_new"].as_u64(), Some(facts.distinct), "{sum}");
    }
    let sum = &sums[1];
    let judged =
        sum["media_damaged"].as_u64().unwrap_or(0) + sum["media_unreadable"].as_u64().unwrap_or(0);
    assert!(
        judged >= facts.damaged / 2,
        "the damaged files are found: {sum}"
    );
    again_and_verify(&runs, &zip, &mut lines);
    let notes = peers(&runs.dir, &folder, reps, &mut lines);
    report(&facts, &root, &lines, &notes, judged);
}

/// The clean ZIP imported again into its vault, and that vault verified.
fn again_and_verify(runs: &Runs, zip: &str, lines: &mut Vec<Line>) {
    let kept = runs.dir.join("zip").to_str().unwrap().to_owned();
    let (timing, cpu, out) = repeated(runs.reps, |_| runs.import(&kept, &[], zip), &runs.env());
    assert!(out.contains("\"already_imported\":true"), "{out}");
    lines.push(Line {
        tool: "dmvault import again".into(),
        input: "deflated ZIP",
        timing,
        cpu,
    });
    let verify: Vec<String> = [
        BIN,
        "verify",
        "--vault",
        &kept,
        "-i",
        &runs.id,
        "--read-data",
        "--json",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    let (timing, cpu, out) = repeated(runs.reps, |_| verify.clone(), &runs.env());
    assert!(out.contains("\"errors\":0"), "{out}");
    lines.push(Line {
        tool: "dmvault verify --read-data".into(),
        input: "vault",
        timing,
        cpu,
    });
}

/// restic and borg on the unpacked folder, when installed.
fn peers(runs: &Path, dir: &str, reps: usize, lines: &mut Vec<Line>) -> Vec<String> {
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let home = s(&runs.join("home"));
    let mut notes = Vec::new();
    match peer_version("restic", "version") {
        None => {
            notes.push("restic is not installed: skipped (`just bench` installs it)".to_owned())
        }
        Some(v) => {
            let repo = s(&runs.join("restic"));
            let env = [
                ("HOME", home.as_str()),
                ("RESTIC_PASSWORD", "bench"),
                ("RESTIC_REPOSITORY", repo.as_str()),
            ];
            let (timing, cpu, _) = repeated(
                reps,
                |_| {
                    let _ = fs::remove_dir_all(&repo);
                    run(&["restic", "init"], &env);
                    vec!["restic".into(), "backup".into(), dir.to_owned()]
                },
                &env,
            );
            lines.push(Line {
                tool: "restic backup".into(),
                input: "unpacked folder",
                timing,
                cpu,
            });
            let (timing, cpu, _) = repeated(
                reps,
                |_| vec!["restic".into(), "check".into(), "--read-data".into()],
                &env,
            );
            lines.push(Line {
                tool: "restic check --read-data".into(),
                input: "repository",
                timing,
                cpu,
            });
            notes.push(format!(
                "{v}, default settings (AES-256 + Poly1305, zstd auto)"
            ));
        }
    }
    match peer_version("borg", "--version") {
        None => notes.push("borg is not installed: skipped (`just bench` installs it)".to_owned()),
        Some(v) => {
            let repo = s(&runs.join("borg"));
            let env = [
                ("HOME", home.as_str()),
                ("BORG_PASSPHRASE", "bench"),
                ("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes"),
            ];
            let (timing, cpu, _) = repeated(
                reps,
                |_| {
                    let _ = fs::remove_dir_all(&repo);
                    run(&["borg", "init", "--encryption=repokey", &repo], &env);
                    vec![
                        "borg".into(),
                        "create".into(),
                        format!("{repo}::a"),
                        dir.to_owned(),
                    ]
                },
                &env,
            );
            lines.push(Line {
                tool: "borg create".into(),
                input: "unpacked folder",
                timing,
                cpu,
            });
            notes.push(format!("{v}, repokey (AES-256-CTR + HMAC-SHA256), lz4"));
        }
    }
    notes
}

fn report(facts: &Facts, root: &Path, lines: &[Line], notes: &[String], judged: u64) {
    let zip = fs::metadata(root.join("clean.zip")).unwrap().len();
    println!(
        "## media: {:.0} MB of media shaped like users' ({} files: {} videos, {} s of distinct video; GIF loops, phone photos, screenshots; {} distinct contents), ZIP of {:.0} MB; a variant with {} files damaged",
        facts.bytes as f64 / 1e6,
        facts.files,
        facts.videos,
        facts.video_seconds,
        facts.distinct,
        zip as f64 / 1e6,
        facts.damaged
    );
    println!();
    println!("| tool | input | wall s (median, min–max) | MB/s | cores busy | peak RSS MiB |");
    println!("|---|---|---|---|---|---|");
    for l in lines {
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.0} |",
            l.tool,
            l.input,
            l.timing.cell(),
            facts.bytes as f64 / 1e6 / l.timing.median(),
            l.cpu / l.timing.median(),
            l.timing.rss
        );
    }
    println!();
    for n in notes {
        println!("- {n}");
    }
    let median = |tool: &str, input: &str| {
        lines
            .iter()
            .find(|l| l.tool == tool && l.input.starts_with(input))
            .map(|l| l.timing.median())
    };
    let first = median("dmvault import", "deflated").unwrap();
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    println!();
    println!("| goal (issue 13) | measured | |");
    println!("|---|---|---|");
    for (peer, tool, goal) in [
        ("borg", "borg create", 1.5),
        ("restic", "restic backup", 2.0),
    ] {
        if let Some(t) = median(tool, "unpacked") {
            println!(
                "| first import ≥ {goal}× {peer}'s throughput | {:.2}× | {} |",
                t / first,
                verdict(t / first >= goal)
            );
        }
    }
    if let (Some(v), Some(r)) = (
        median("dmvault verify --read-data", "vault"),
        median("restic check --read-data", "repository"),
    ) {
        println!(
            "| verify --read-data ≥ 2.5× restic check --read-data | {:.2}× | {} |",
            r / v,
            verdict(r / v >= 2.5)
        );
    }
    if let Some(again) = median("dmvault import again", "deflated") {
        println!(
            "| re-import ≥ 20× faster than the first | {:.0}× | {} |",
            first / again,
            verdict(first / again >= 20.0)
        );
    }
    let rss = lines
        .iter()
        .filter(|l| l.tool.starts_with("dmvault"))
        .map(|l| l.timing.rss)
        .fold(0.0, f64::max);
    println!(
        "| peak RSS < 200 MiB | {rss:.0} MiB | {} |",
        verdict(rss < 200.0)
    );
    if let Some(d) = median("dmvault import", "ZIP, a tenth") {
        // Per byte of input: the damaged ZIP is smaller (truncated files).
        let damaged_zip = fs::metadata(root.join("damaged.zip")).unwrap().len();
        let ratio = (zip as f64 / first) / (damaged_zip as f64 / d);
        println!(
            "| damaged media within 10 % of clean throughput ({judged} judged damaged or unreadable) | {:.2}× | {} |",
            ratio,
            verdict(ratio <= 1.10)
        );
    }
    println!();
}
