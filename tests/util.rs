//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The repository's top folder.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared`, beside the repository.
pub fn shared() -> PathBuf {
    repo().join("../shared")
}

/// A committed fixture archive.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("fixtures/archives").join(name)
}

/// Runs the real `dmvault` binary with a scrubbed environment.
pub fn dmvault<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dmvault"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("DMVAULT_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args).output().expect("run dmvault")
}

/// Exit code of a finished run.
pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parses stdout as JSON lines.
pub fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// `dmvault inspect --json PATH`, which must succeed; its one JSON object.
pub fn inspect_json(path: &Path) -> Value {
    let o = dmvault(["inspect".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert_eq!(code(&o), 0, "inspect {}: {}", path.display(), stderr(&o));
    let mut lines = json_lines(&o);
    assert_eq!(lines.len(), 1, "{}", stdout(&o));
    lines.remove(0)
}

/// Writes every file under `src` into a new ZIP at `dst`, each name
/// prefixed with `prefix` (e.g. `twitter-2024/`), deflated as X does.
pub fn zip_dir(src: &Path, dst: &Path, prefix: &str) {
    let mut w = zip::ZipWriter::new(File::create(dst).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(src)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    for f in files {
        let rel = f
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        w.start_file(format!("{prefix}{rel}"), opts).unwrap();
        io::copy(&mut File::open(&f).unwrap(), &mut w).unwrap();
    }
    w.finish().unwrap();
}

/// Unpacks a ZIP into `dst` (test fixtures only; they hold no unsafe names).
pub fn unzip(src: &Path, dst: &Path) {
    let mut z = zip::ZipArchive::new(File::open(src).unwrap()).unwrap();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let Some(rel) = f.enclosed_name() else {
            continue;
        };
        let out = dst.join(rel);
        if f.is_dir() {
            fs::create_dir_all(&out).unwrap();
            continue;
        }
        fs::create_dir_all(out.parent().unwrap()).unwrap();
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).unwrap();
        File::create(&out).unwrap().write_all(&buf).unwrap();
    }
}

/// The fields of `inspect --json` that describe content, for comparing
/// runs over the same archive in different containers.
pub fn figures(v: &Value) -> Value {
    let mut v = v.clone();
    let o = v.as_object_mut().unwrap();
    o.remove("archive");
    o.remove("warnings");
    v
}

/// A temp folder with a home, a vault and its identity, and a way to run
/// `dmvault` against them with a clean environment.
pub struct TestVault {
    pub dir: tempfile::TempDir,
}

impl TestVault {
    /// Creates the vault with `dmvault init` (identity created in the temp home).
    pub fn new() -> TestVault {
        let t = TestVault {
            dir: tempfile::tempdir().unwrap(),
        };
        let o = t.run(["init"]);
        assert_eq!(code(&o), 0, "init: {}", stderr(&o));
        t
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn vault(&self) -> PathBuf {
        self.dir.path().join("vault")
    }

    pub fn identity(&self) -> PathBuf {
        self.home().join(".config/dmvault/identity.txt")
    }

    /// A command with HOME and DMVAULT_VAULT set, everything else scrubbed.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dmvault"));
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("DMVAULT_") || k == "XDG_CONFIG_HOME" {
                cmd.env_remove(k);
            }
        }
        cmd.env("HOME", self.home())
            .env("DMVAULT_VAULT", self.vault());
        cmd
    }

    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd().args(args).output().expect("run dmvault")
    }

    /// `import --json` of fixture archives; must exit 0. Returns the summary line.
    pub fn import(&self, names: &[&str]) -> Value {
        let mut args: Vec<std::ffi::OsString> = vec!["import".into(), "--json".into()];
        args.extend(names.iter().map(|n| fixture(n).into_os_string()));
        let o = self.run(&args);
        assert_eq!(code(&o), 0, "import {names:?}: {}", stderr(&o));
        let lines = json_lines(&o);
        let last = lines.last().expect("a summary").clone();
        assert_eq!(last["message_type"], "summary");
        last
    }

    pub fn stats(&self) -> Value {
        let o = self.run(["stats", "--json"]);
        assert_eq!(code(&o), 0, "stats: {}", stderr(&o));
        json_lines(&o).remove(0)
    }

    /// `stats` without `bytes_stored`, which differs between two vaults
    /// holding the same content (age headers carry random padding).
    pub fn content_stats(&self) -> Value {
        without_stored(self.stats())
    }

    pub fn ls(&self, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["ls", "--json"];
        args.extend_from_slice(extra);
        let o = self.run(&args);
        assert_eq!(code(&o), 0, "ls: {}", stderr(&o));
        json_lines(&o)
    }
}

/// Every regular file under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    v.sort();
    v
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Unix seconds as RFC 3339 (UTC, milliseconds).
pub fn rfc3339_secs(secs: u64) -> String {
    dmvault::time::Timestamp::from_millis(secs as i64 * 1000)
        .unwrap()
        .to_string()
}

/// Drops `bytes_stored` from a stats object.
pub fn without_stored(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("bytes_stored");
    v
}

/// Deterministic pseudo-random bytes (xorshift), for incompressible test files.
pub fn pseudo_random(seed: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed as u8
        })
        .collect()
}

/// A small X archive built by a test: `data/` files and DM media, as a
/// folder that can be zipped. Media are real files from `fixtures/media`.
pub struct ArchiveBuilder {
    pub root: PathBuf,
}

impl ArchiveBuilder {
    /// An archive folder at `dir/name` (2020 layout: no manifest).
    pub fn new(dir: &Path, name: &str) -> ArchiveBuilder {
        let root = dir.join(name);
        fs::create_dir_all(root.join("data/direct_messages_media")).unwrap();
        ArchiveBuilder { root }
    }

    /// Writes `data/<name>` as `window.YTD.<global>.part0 = <json>`.
    pub fn data(&self, name: &str, json: &str) -> &Self {
        let global = name.trim_end_matches(".js").replace('-', "_");
        fs::write(
            self.root.join("data").join(name),
            format!("window.YTD.{global}.part0 = {json}"),
        )
        .unwrap();
        self
    }

    /// Writes `data/direct-messages.js` with these conversation elements.
    pub fn conversations(&self, elements: &[String]) -> &Self {
        self.data(
            "direct-messages.js",
            &format!("[\n{}\n]", elements.join(",\n")),
        )
    }

    /// Puts a file into `data/direct_messages_media/`.
    pub fn media(&self, name: &str, bytes: &[u8]) -> &Self {
        fs::write(
            self.root.join("data/direct_messages_media").join(name),
            bytes,
        )
        .unwrap();
        self
    }

    /// The archive as a ZIP beside the folder.
    pub fn zip(&self) -> PathBuf {
        let dst = self.root.with_extension("zip");
        zip_dir(&self.root, &dst, "");
        dst
    }
}

/// A conversation element with these event objects.
pub fn conversation(id: &str, events: &[String]) -> String {
    format!(
        "{{\"dmConversation\": {{\"conversationId\": \"{id}\", \"messages\": [\n{}\n]}}}}",
        events.join(",\n")
    )
}

/// A `messageCreate` event; `created_at` is the JSON value as written.
pub fn message(id: &str, sender: &str, created_at: &str, media: Option<&str>) -> String {
    let urls = media
        .map(|m| format!("\"https://ton.twitter.com/dm/{id}/1/{m}\""))
        .unwrap_or_default();
    format!(
        "{{\"messageCreate\": {{\"id\": \"{id}\", \"senderId\": \"{sender}\", \"recipientId\": \"2\", \"text\": \"hello {id}\", \"mediaUrls\": [{urls}], \"createdAt\": {created_at}}}}}"
    )
}

/// A real JPEG from the fixtures.
pub fn jpeg(name: &str) -> Vec<u8> {
    fs::read(repo().join("fixtures/media").join(name)).unwrap()
}

/// A ZIP written by hand, entries stored as given: names may repeat and
/// may use `\`, as ZIPs made by other tools do (the `zip` crate refuses
/// to write either).
pub fn raw_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let crc = crc32fast::hash(data);
        let offset = out.len() as u32;
        let header = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(&sig.to_le_bytes());
            if central {
                h.extend_from_slice(&20u16.to_le_bytes()); // made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // needed
            h.extend_from_slice(&0u16.to_le_bytes()); // flags
            h.extend_from_slice(&0u16.to_le_bytes()); // stored
            h.extend_from_slice(&0u32.to_le_bytes()); // time, date
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central {
                h.extend_from_slice(&[0u8; 6]); // comment length, disk, internal attributes
                h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend(header(0x0403_4b50, false));
        out.extend_from_slice(data);
        central.extend(header(0x0201_4b50, true));
    }
    let start = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// Runs a command to its end and returns its output and its peak resident
/// memory in MiB, the kernel's own count for that process.
///
/// A small Python process starts it and reads its `ru_maxrss`: a process
/// started straight from this (large, many-threaded) test process would be
/// charged this process's own peak, which the kernel carries over when the
/// child starts a new program.
pub fn run_measuring_rss(cmd: &mut Command) -> (Output, f64) {
    const SCRIPT: &str = "import resource, subprocess, sys\n\
r = subprocess.run(sys.argv[2:])\n\
open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n\
sys.exit(r.returncode if r.returncode >= 0 else 128 - r.returncode)\n";
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut py = Command::new("python3");
    py.arg("-c")
        .arg(SCRIPT)
        .arg(report.path())
        .arg(cmd.get_program());
    py.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => py.env(k, v),
            None => py.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        py.current_dir(dir);
    }
    let out = py
        .output()
        .expect("python3 (installed by .ci/setup) runs the command");
    let kib: f64 = fs::read_to_string(report.path())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (out, kib / 1024.0)
}

/// The vault secret and its age identity, read through the user's key.
pub fn vault_secret(v: &TestVault) -> ([u8; 32], age::x25519::Identity) {
    use std::str::FromStr;
    let user: Vec<age::x25519::Identity> = fs::read_to_string(v.identity())
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
        .map(|l| age::x25519::Identity::from_str(l).unwrap())
        .collect();
    let key = fs::read_dir(v.vault().join("keys"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = decrypt(&fs::read(key).unwrap(), &user[0]);
    let k: Value = serde_json::from_slice(&text).unwrap();
    let secret: [u8; 32] = (0..32)
        .map(|i| u8::from_str_radix(&k["secret"].as_str().unwrap()[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .try_into()
        .unwrap();
    (
        secret,
        age::x25519::Identity::from_str(k["identity"].as_str().unwrap()).unwrap(),
    )
}

pub fn decrypt(bytes: &[u8], id: &age::x25519::Identity) -> Vec<u8> {
    let d = age::Decryptor::new(bytes).unwrap();
    let mut r = d
        .decrypt(std::iter::once(id as &dyn age::Identity))
        .unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    if out.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        // A format-2 segment: its plaintext is compressed.
        out = zstd::decode_all(&out[..]).unwrap();
    }
    out
}

/// The index's SQLCipher key, as dmvault derives it from the vault secret.
pub fn index_key_pragma(v: &TestVault) -> String {
    let (secret, _) = vault_secret(v);
    let key = blake3::derive_key("dmvault 2026-12 v2 index key", &secret);
    format!("x'{}'", hex(&key))
}

/// A port of 127.0.0.1 free now (for a server a test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ls --json` rows without what is keyed per vault (object and poster
/// names), sorted.
pub fn comparable(rows: Vec<Value>) -> Vec<String> {
    let mut out: Vec<String> = rows
        .into_iter()
        .map(|mut r| {
            let o = r.as_object_mut().unwrap();
            o.remove("object");
            o.remove("poster");
            r.to_string()
        })
        .collect();
    out.sort();
    out
}
