//! Import and `verify --read-data` into a vault on a local S3 server,
//! side by side with restic's S3 backend writing the same media to the
//! same server, in one run: medians of 3 with their spread. The server is
//! a single Garage node when `garage` is installed (`just
//! test-distributed` installs it), else s3s-fs for dmvault alone: restic
//! 0.14 (Debian 12) cannot list what it wrote to s3s-fs (`check` finds no
//! packs), so it is not compared there. The media is the real-media corpus of the integrity bench (H.264
//! videos, GIF-style MP4s, JPEGs; a fifth duplicated): dmvault reads the
//! archive ZIP, restic the unpacked folder.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{measure_env, peer_version, run};

const AK: &str = "bench-access";
const SK: &str = "bench-secret-key";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn s3s_fs() -> PathBuf {
    let p = PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo/bin/s3s-fs");
    if p.is_file() {
        p
    } else {
        PathBuf::from("s3s-fs")
    }
}

fn start(root: &Path, port: u16) -> Option<Server> {
    let child = Command::new(s3s_fs())
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", AK, "--secret-key", SK])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Server(child))
}

fn median_cell(walls: &mut [f64]) -> (f64, String) {
    walls.sort_by(f64::total_cmp);
    let m = walls[walls.len() / 2];
    (
        m,
        format!(
            "{m:.2} ({:.2}–{:.2}, {} runs)",
            walls[0],
            walls[walls.len() - 1],
            walls.len()
        ),
    )
}

pub fn s3_bench(work: &Path) {
    let counts = super::integrity::ensure_real_corpus(work);
    let bytes: u64 = counts.split_whitespace().next().unwrap().parse().unwrap();
    let zip = work.join("real-media.zip");
    let dir = work.join("real-media");
    let runs = work.join("s3-runs");
    let _ = std::fs::remove_dir_all(&runs);
    let root = runs.join("server");
    for b in ["dmvault", "restic"] {
        std::fs::create_dir_all(root.join(b)).unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let garage = super::garage::Garage::binary()
        .map(|_| super::garage::Garage::start(&runs.join("garage"), 1));
    let s3s = if garage.is_none() {
        start(&root, port)
    } else {
        None
    };
    let (server_name, endpoint, ak, sk, region, buckets) = match (&garage, &s3s) {
        (Some(g), _) => (
            "one Garage node",
            format!("http://127.0.0.1:{}", g.nodes[0].s3_port),
            g.key_id.clone(),
            g.secret.clone(),
            "garage",
            (g.bucket.clone(), g.bucket.clone()),
        ),
        (None, Some(_)) => (
            "s3s-fs",
            format!("http://127.0.0.1:{port}"),
            AK.to_owned(),
            SK.to_owned(),
            "us-east-1",
            ("dmvault".to_owned(), "restic".to_owned()),
        ),
        (None, None) => {
            println!("\n## S3\n\nneither garage nor s3s-fs is installed: skipped (run .ci/setup, or `just test-distributed`)");
            return;
        }
    };
    let home = runs.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let (home_s, cache_s) = (s(&home), s(&home.join("cache")));
    let env = [
        ("HOME", home_s.as_str()),
        ("XDG_CACHE_HOME", cache_s.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", ak.as_str()),
        ("AWS_SECRET_ACCESS_KEY", sk.as_str()),
        ("AWS_REGION", region),
        ("AWS_DEFAULT_REGION", region),
        ("RESTIC_PASSWORD", "bench"),
    ];
    let bin = env!("CARGO_BIN_EXE_dmvault");
    let id = s(&runs.join("identity.txt"));
    let zip_s = s(&zip);
    let (mut imports, mut verifies) = (Vec::new(), Vec::new());
    let mut rss_import: f64 = 0.0;
    for k in 0..3 {
        let vault = format!("s3://{}/dmvault-run-{k}", buckets.0);
        run(&[bin, "init", "--vault", &vault, "-i", &id, "--json"], &env);
        let (t, rss, _) = measure_env(
            &[
                bin, "import", "--vault", &vault, "-i", &id, "--json", &zip_s,
            ],
            &env,
        );
        imports.push(t);
        rss_import = rss_import.max(rss);
        let (t, _, _) = measure_env(
            &[bin, "verify", "--read-data", "--vault", &vault, "-i", &id],
            &env,
        );
        verifies.push(t);
    }
    println!(
        "\n## S3: import and verify --read-data to a local S3 server ({server_name}), real media\n"
    );
    println!(
        "{:.0} MB of media; the same server for both tools; medians of 3 (min–max).\n",
        bytes as f64 / 1e6
    );
    println!("| tool | seconds | MB/s | peak RSS MiB |\n|---|---|---|---|");
    let (im, icell) = median_cell(&mut imports);
    println!(
        "| dmvault import (ZIP) | {icell} | {:.0} | {rss_import:.0} |",
        bytes as f64 / 1e6 / im
    );
    let (vm, vcell) = median_cell(&mut verifies);
    println!(
        "| dmvault verify --read-data | {vcell} | {:.0} | |",
        bytes as f64 / 1e6 / vm
    );
    if s3s.is_some() {
        println!("\nrestic is not compared on s3s-fs (restic 0.14 cannot list what it wrote there); install garage (`just test-distributed`) for the side-by-side");
        return;
    }
    if s3s.is_some() {
        println!("\nrestic is not compared on s3s-fs (restic 0.14 cannot list what it wrote there); install garage (`just test-distributed`) for the side-by-side");
        return;
    }
    if peer_version("restic", "version").is_none() {
        println!("\nrestic is not installed: skipped (`apt-get install restic`, or `just bench`)");
        return;
    }
    let (mut backups, mut checks) = (Vec::new(), Vec::new());
    let dir_s = s(&dir);
    for k in 0..3 {
        let repo = format!("s3:{endpoint}/{}/restic-run-{k}", buckets.1);
        let mut renv = env.to_vec();
        renv.push(("RESTIC_REPOSITORY", repo.as_str()));
        run(&["restic", "init"], &renv);
        let (t, _, _) = measure_env(&["restic", "backup", "--quiet", &dir_s], &renv);
        backups.push(t);
        let (t, _, _) = measure_env(&["restic", "check", "--read-data"], &renv);
        checks.push(t);
    }
    let (bm, bcell) = median_cell(&mut backups);
    println!(
        "| restic backup (folder) | {bcell} | {:.0} | |",
        bytes as f64 / 1e6 / bm
    );
    let (cm, ccell) = median_cell(&mut checks);
    println!(
        "| restic check --read-data | {ccell} | {:.0} | |",
        bytes as f64 / 1e6 / cm
    );
    let ratio = bm / im;
    println!(
        "\n- import: {ratio:.2}× restic backup's speed to the same server (goal ≥ 1×: {})",
        if ratio >= 1.0 { "met" } else { "MISSED" }
    );
    println!(
        "- verify --read-data: {:.2}× restic check --read-data's speed",
        cm / vm
    );
}
