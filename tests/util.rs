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
