//! The storage layer (issue 11): the same contract on a local folder and on
//! a real S3 server (s3s-fs, started here on 127.0.0.1).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dmvault::vault::backend::{Backend, LocalBackend, Payload, Put, S3Backend};

/// An s3s-fs server on a free port of 127.0.0.1, serving `dir`, with one
/// bucket; stopped when dropped.
pub struct S3Server {
    child: Child,
    pub port: u16,
    pub bucket: String,
    _dir: tempfile::TempDir,
}

pub const ACCESS_KEY: &str = "dmvault-test-access";
pub const SECRET_KEY: &str = "dmvault-test-secret-key";

/// Where `cargo install s3s-fs` put it (the setup script does).
pub fn s3s_fs() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let cargo_bin = home.join(".cargo/bin/s3s-fs");
    if cargo_bin.is_file() {
        return cargo_bin;
    }
    PathBuf::from("s3s-fs")
}

impl S3Server {
    pub fn start() -> S3Server {
        let dir = tempfile::tempdir().unwrap();
        let bucket = "dmvault-test".to_owned();
        std::fs::create_dir(dir.path().join(&bucket)).unwrap();
        let port = crate::util::free_port();
        let child = Command::new(s3s_fs())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs (installed by .ci/setup: cargo install s3s-fs --version 0.14.1 --features binary --locked)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        S3Server {
            child,
            port,
            bucket,
            _dir: dir,
        }
    }

    /// The server's own folder (buckets are its sub-folders).
    pub fn root(&self) -> &Path {
        self._dir.path()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The variables a dmvault process needs to reach it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    pub fn backend(&self, prefix: &str) -> S3Backend {
        S3Backend::with_settings(
            &self.bucket,
            prefix,
            &[
                ("aws_endpoint", &self.endpoint()),
                ("aws_access_key_id", ACCESS_KEY),
                ("aws_secret_access_key", SECRET_KEY),
                ("aws_region", "us-east-1"),
            ],
        )
        .unwrap()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bytes that do not repeat (as ciphertext does not).
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

/// What every backend must do, as the vault uses it.
fn contract(b: &dyn Backend, scratch: &Path) {
    let one = noise(1000, 1);
    assert_eq!(
        b.put_if_absent("catalog/0000000001.age", Payload::Bytes(&one))
            .unwrap(),
        Put::Created
    );
    // A second put of the same key leaves the first file as it was.
    let other = noise(1000, 2);
    assert_eq!(
        b.put_if_absent("catalog/0000000001.age", Payload::Bytes(&other))
            .unwrap(),
        Put::Existed
    );
    assert_eq!(b.get("catalog/0000000001.age").unwrap(), one);
    assert_eq!(
        b.get_range("catalog/0000000001.age", 10..20).unwrap(),
        &one[10..20]
    );
    assert_eq!(
        b.get_range("catalog/0000000001.age", 990..2000).unwrap(),
        &one[990..]
    );
    assert_eq!(b.stat("catalog/0000000001.age").unwrap(), Some(1000));
    // A range from the end is empty, as a read there finds nothing.
    assert!(b
        .get_range("catalog/0000000001.age", 1000..2000)
        .unwrap()
        .is_empty());
    assert_eq!(b.stat("catalog/0000000002.age").unwrap(), None);
    assert_eq!(
        b.get("catalog/0000000002.age").unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );

    // A large file goes up from disk (in parts on S3) and reads back by
    // ranges, as a video's seek does.
    let big = noise(20 << 20, 3);
    let file = scratch.join("big.tmp");
    std::fs::write(&file, &big).unwrap();
    assert_eq!(
        b.put_if_absent("objects/ab/abcd.age", Payload::File(&file))
            .unwrap(),
        Put::Created
    );
    assert_eq!(
        b.stat("objects/ab/abcd.age").unwrap(),
        Some(big.len() as u64)
    );
    let at = 17 << 20;
    assert_eq!(
        b.get_range("objects/ab/abcd.age", at..at + 4096).unwrap(),
        &big[at as usize..at as usize + 4096]
    );
    std::fs::write(&file, &big).unwrap();
    assert_eq!(
        b.put_if_absent("objects/ab/abcd.age", Payload::File(&file))
            .unwrap(),
        Put::Existed
    );
    b.put_if_absent("objects/cd/cdef.age", Payload::Bytes(b"x"))
        .unwrap();

    // Listing by prefix, sorted, with sizes.
    let listed = b.list("objects/").unwrap();
    assert_eq!(
        listed,
        vec![
            ("objects/ab/abcd.age".to_owned(), big.len() as u64),
            ("objects/cd/cdef.age".to_owned(), 1)
        ]
    );
    assert_eq!(b.list("catalog/").unwrap().len(), 1);
    assert!(b.list("nothing/").unwrap().is_empty());

    // Replacing is only for files without history.
    b.put_replace("dmvault.json", b"{\"version\":1}").unwrap();
    b.put_replace("dmvault.json", b"{\"version\":2}").unwrap();
    assert_eq!(b.get("dmvault.json").unwrap(), b"{\"version\":2}");

    b.delete("objects/cd/cdef.age").unwrap();
    b.delete("objects/cd/cdef.age").unwrap();
    assert_eq!(b.stat("objects/cd/cdef.age").unwrap(), None);
}

#[test]
fn a_local_folder_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    contract(&LocalBackend::new(dir.path()), scratch.path());
}

#[test]
fn an_s3_bucket_keeps_the_contract() {
    let server = S3Server::start();
    let scratch = tempfile::tempdir().unwrap();
    contract(&server.backend("vaults/one"), scratch.path());
    // Another prefix of the same bucket is another vault.
    let two = server.backend("vaults/two");
    assert!(two.list("").unwrap().is_empty());
    assert_eq!(two.describe(), "s3://dmvault-test/vaults/two");
}

/// A dmvault user on a machine of their own (own HOME and cache), on the
/// S3 vault `s3://dmvault-test/<prefix>`.
struct Machine {
    env: Vec<(&'static str, String)>,
    home: tempfile::TempDir,
    vault: String,
}

impl Machine {
    fn new(server: &S3Server, prefix: &str) -> Machine {
        Machine::with_env(server.env(), &server.bucket, prefix)
    }

    fn with_env(env: Vec<(&'static str, String)>, bucket: &str, prefix: &str) -> Machine {
        Machine {
            env,
            home: tempfile::tempdir().unwrap(),
            vault: format!("s3://{bucket}/{prefix}"),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dmvault"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .env("DMVAULT_VAULT", &self.vault)
            .env("DMVAULT_PASSPHRASE", "correct horse battery staple s3");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.args(args);
        c
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

fn fixture(n: &str) -> String {
    crate::util::fixture(n).display().to_string()
}

/// Two machines import into one S3 vault at the same time: the lock object
/// makes one wait for the other, and both archives are in it after.
#[test]
fn two_machines_import_at_once_into_one_s3_vault() {
    let server = S3Server::start();
    let a = Machine::new(&server, "shared");
    a.ok(&["init", "--passphrase"]);
    let b = Machine::new(&server, "shared");
    let (ga, gb) = (fixture("g4-2024.zip"), fixture("series-2021.zip"));
    let mut one = a
        .cmd(&["import", "--json", &ga])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut two = b
        .cmd(&["import", "--json", &gb])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(one.wait().unwrap().success());
    assert!(two.wait().unwrap().success());
    for m in [&a, &b] {
        let ls = m.ok(&["ls", "--json"]);
        for archive in ["g4-2024.zip", "series-2021.zip"] {
            assert!(ls.contains(archive), "{archive} in the vault");
        }
        m.ok(&["verify", "--read-data"]);
    }
}

/// The writers' lock excludes: four writers with their own local folders
/// (so only the lock in the bucket stands between them) take it three
/// times each, all at once, and never two hold it together. s3s-fs checks
/// `If-None-Match` before it writes, not atomically, so a lock that rested
/// on conditional puts let two in (seen in CI).
#[test]
fn the_s3_writers_lock_never_lets_two_in() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let server = S3Server::start();
    let inside = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    let taken = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let local = tempfile::tempdir().unwrap();
                let place = dmvault::vault::place::Place::remote(std::sync::Arc::new(
                    server.backend("locked"),
                ))
                .with_local(local.path().to_owned());
                for _ in 0..3 {
                    let held = dmvault::vault::lock(&place, Duration::from_secs(60)).unwrap();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    inside.fetch_sub(1, Ordering::SeqCst);
                    taken.fetch_add(1, Ordering::SeqCst);
                    drop(held);
                }
            });
        }
    });
    assert_eq!(taken.load(Ordering::SeqCst), 12);
    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "two writers held the lock at once"
    );
    assert!(
        server.backend("locked").list("locks/").unwrap().is_empty(),
        "every lock is released"
    );
    // A writer that gives up waiting leaves no lock object behind.
    let place = |dir: &Path| {
        dmvault::vault::place::Place::remote(std::sync::Arc::new(server.backend("locked")))
            .with_local(dir.to_owned())
    };
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let held = dmvault::vault::lock(&place(one.path()), Duration::from_secs(5)).unwrap();
    let waited = dmvault::vault::lock(&place(two.path()), Duration::from_secs(1));
    assert_eq!(
        waited.err().map(|e| e.kind()),
        Some(dmvault::ErrorKind::Locked)
    );
    assert_eq!(server.backend("locked").list("locks/").unwrap().len(), 1);
    drop(held);
    assert!(server.backend("locked").list("locks/").unwrap().is_empty());
}

/// A run killed while it uploads (after an object, and in the middle of an
/// upload in parts) is finished by the same command run again; the upload
/// left open is aborted; `verify --read-data` is clean.
#[test]
fn a_killed_s3_import_is_finished_by_the_next_run() {
    let server = S3Server::start();
    let m = Machine::new(&server, "killed");
    m.ok(&["init", "--passphrase"]);
    // An archive with a 20 MB file: it goes up in parts.
    let dir = tempfile::tempdir().unwrap();
    let archive = crate::util::ArchiveBuilder::new(dir.path(), "big-media");
    archive.conversations(&[crate::util::conversation(
        "1-2",
        &[crate::util::message(
            "1500000000000000001",
            "1",
            "\"2021-01-01T00:00:00.000Z\"",
            Some("v.mp4"),
        )],
    )]);
    archive.media("1500000000000000001-v.mp4", &noise(20 << 20, 9));
    let zip = archive.zip();
    let zip = zip.to_str().unwrap();
    let o = m
        .cmd(&["import", zip])
        .env("DMVAULT_FAULT", "upload-part:1")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        None,
        "killed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let open_parts = |root: &Path| {
        std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".upload_id-"))
            .collect::<Vec<_>>()
    };
    assert!(
        !open_parts(server.root()).is_empty(),
        "the killed run left an upload open"
    );
    m.ok(&["import", zip]);
    assert_eq!(
        open_parts(server.root()),
        Vec::<String>::new(),
        "the next run aborted it"
    );
    // Killed after an object of a small-file archive: the rerun finishes.
    let g4 = fixture("g4-2024.zip");
    let o = m
        .cmd(&["import", &g4])
        .env("DMVAULT_FAULT", "object:3")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), None);
    m.ok(&["import", &g4]);
    m.ok(&["verify", "--read-data"]);
    let ls = m.ok(&["ls", "--json"]);
    assert!(ls.contains("1500000000000000001") && ls.contains("g4-2024.zip"));
}

/// A vault in a bucket, as a user runs it: `init`, `import`, a re-import,
/// `ls`, `stats`, `verify --read-data`, `export` and `key list`, each a
/// separate dmvault process configured by the standard AWS variables.
/// The index is cached under XDG_CACHE_HOME; nothing of the vault is in
/// any local folder but that cache.
#[test]
fn a_vault_in_s3_takes_imports_lists_verifies_and_exports() {
    let server = S3Server::start();
    let home = tempfile::tempdir().unwrap();
    let vault = format!("s3://{}/my/vault", server.bucket);
    let run = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dmvault"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env("DMVAULT_VAULT", &vault)
            .env("DMVAULT_PASSPHRASE", "correct horse battery staple s3");
        for (k, v) in server.env() {
            c.env(k, v);
        }
        c.args(args).output().unwrap()
    };
    let ok = |o: &std::process::Output| {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    };
    ok(&run(&["init", "--passphrase"]));
    let fixture = |n: &str| crate::util::fixture(n).display().to_string();
    let o = run(&[
        "import",
        "--json",
        &fixture("g4-2024.zip"),
        &fixture("series-2021.zip"),
    ]);
    ok(&o);
    let o = run(&["import", "--json", &fixture("g4-2024.zip")]);
    ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\"already_imported\":true"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = run(&["ls", "--json"]);
    ok(&o);
    let rows = String::from_utf8_lossy(&o.stdout).lines().count();
    assert!(rows > 20, "{rows} rows");
    ok(&run(&["verify", "--read-data"]));
    for args in [
        &["stats"][..],
        &["people"],
        &["search", "typo"],
        &["show", "--no-pager", "Birch Owl"],
    ] {
        ok(&run(args));
    }
    let db = home.path().join("plain.db");
    ok(&run(&["export-sqlite", db.to_str().unwrap()]));
    let out = home.path().join("export");
    let o = run(&["export", out.to_str().unwrap()]);
    ok(&o);
    assert!(crate::util::files_under(&out).len() > 15);
    ok(&run(&["key", "list"]));
    // The viewer serves a video from the bucket, a range at a time.
    let mut view_cmd = Command::new(env!("CARGO_BIN_EXE_dmvault"));
    view_cmd
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .env("DMVAULT_VAULT", &vault)
        .env("DMVAULT_PASSPHRASE", "correct horse battery staple s3");
    for (k, v) in server.env() {
        view_cmd.env(k, v);
    }
    let view = crate::view::serve(view_cmd);
    let video: serde_json::Value =
        String::from_utf8_lossy(&run(&["ls", "--json", "--kind", "video"]).stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|r| r["object"].is_string())
            .unwrap();
    let object = video["object"].as_str().unwrap();
    let (status, hs, whole) = crate::view::get(&view, &format!("/media/{object}"), &[]);
    assert_eq!(status, 200);
    assert_eq!(crate::view::header(&hs, "content-type"), Some("video/mp4"));
    assert_eq!(whole.len() as u64, video["size"].as_u64().unwrap());
    let (status, hs, part) = crate::view::get(
        &view,
        &format!("/media/{object}"),
        &[("Range", "bytes=100-199")],
    );
    assert_eq!(status, 206);
    assert_eq!(part, &whole[100..200]);
    assert!(crate::view::header(&hs, "content-range")
        .unwrap()
        .starts_with("bytes 100-199/"));
    drop(view);
    // Objects, catalog and keys are in the bucket, under the prefix.
    let b = server.backend("my/vault");
    assert!(b.list("objects/").unwrap().len() > 15);
    assert!(!b.list("catalog/").unwrap().is_empty());
    assert_eq!(b.list("keys/").unwrap().len(), 1);
    assert!(
        b.list("locks/").unwrap().is_empty(),
        "the writers' lock is released"
    );
    // A new machine (an empty cache) builds the index from the bucket.
    std::fs::remove_dir_all(home.path().join("cache")).unwrap();
    let o = run(&["ls", "--json"]);
    ok(&o);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), rows);
}

/// Forty files of one content, met by the import's workers at once, are
/// stored once, and the catalog records the size of the object that is
/// there (a second put of the content, on a store whose conditional puts
/// are not atomic, would replace it with a ciphertext of another length:
/// age headers vary).
#[test]
fn many_files_of_one_content_into_s3_are_stored_once_with_their_true_size() {
    let server = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    let archive = crate::util::ArchiveBuilder::new(dir.path(), "same-content");
    let content = noise(300 << 10, 3);
    let messages: Vec<String> = (0..40)
        .map(|i| {
            let id = format!("15000000000000{i:05}");
            archive.media(&format!("{id}-same.jpg"), &content);
            crate::util::message(&id, "1", "\"2021-01-01T00:00:00.000Z\"", Some("same.jpg"))
        })
        .collect();
    archive.conversations(&[crate::util::conversation("1-2", &messages)]);
    let zip = archive.zip();
    // Three vaults: the race is a matter of timing.
    for i in 0..3 {
        let m = Machine::new(&server, &format!("same{i}"));
        m.ok(&["init", "--passphrase"]);
        let o = m.ok(&["import", "--json", "--no-probe", zip.to_str().unwrap()]);
        assert!(o.contains("\"media_new\":1,"), "{o}");
        m.ok(&["verify", "--read-data"]);
    }
}

/// A write-only key on another machine imports into an S3 vault; it cannot
/// list it; the vault's key merges the inbox and `verify --read-data` is
/// clean, with nothing left in the bucket's inbox.
#[test]
fn a_write_only_import_into_s3_is_merged_by_the_vaults_key() {
    let server = S3Server::start();
    let owner = Machine::new(&server, "wo");
    owner.ok(&["init", "--passphrase"]);
    let key = owner.home.path().join("importer.key");
    let key_s = key.to_str().unwrap();
    owner.ok(&["key", "add", "--write-only", key_s]);
    let mut nas = Machine::new(&server, "wo");
    nas.env.push(("DMVAULT_IDENTITY", key_s.to_owned()));
    let g4 = fixture("g4-2024.zip");
    let sent = nas.ok(&["import", &g4]);
    assert!(sent.contains("write-only key"), "{sent}");
    let o = nas.run(&["ls"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is write-only"));
    let b = server.backend("wo");
    assert!(!b.list("inbox/").unwrap().is_empty());
    let ls = owner.ok(&["ls", "--json"]);
    assert!(
        ls.contains("g4-2024.zip") && ls.lines().count() > 15,
        "{ls}"
    );
    assert!(b.list("inbox/").unwrap().is_empty(), "merged");
    owner.ok(&["verify", "--read-data"]);
    // The importer's second run is known to it; the owner's own import of
    // the same archive finds it done.
    assert!(nas.ok(&["import", &g4]).contains("already imported"));
    assert!(owner.ok(&["import", &g4]).contains("already imported"));
}

/// `just test-distributed`: a vault on a 3-node Garage cluster
/// (`replication_factor = 3`) keeps working with one node down: `ls` and
/// `verify --read-data` pass, and a further import lands; after the node
/// is back, `verify` passes again; a write-only key's import is merged.
/// Garage ignores conditional puts: the writers' lock rests on listing.
#[test]
#[ignore = "needs the garage binary; run `just test-distributed`"]
fn distributed_a_vault_on_three_garage_nodes_survives_one_down() {
    assert!(
        crate::garage::Garage::binary().is_some(),
        "garage is not installed: cargo install garage --locked"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut g = crate::garage::Garage::start(dir.path(), 3);
    let m = Machine::with_env(g.env(0), &g.bucket, "vault");
    m.ok(&["init", "--passphrase"]);
    m.ok(&[
        "import",
        &fixture("g4-2024.zip"),
        &fixture("series-2021.zip"),
        &fixture("series-2022.zip"),
    ]);
    let rows = m.ok(&["ls", "--json"]).lines().count();
    m.ok(&["verify", "--read-data"]);
    g.stop_node(2);
    assert_eq!(m.ok(&["ls", "--json"]).lines().count(), rows);
    m.ok(&["verify", "--read-data"]);
    m.ok(&["import", &fixture("series-2023.zip")]);
    let more = m.ok(&["ls", "--json"]);
    assert!(more.lines().count() > rows && more.contains("series-2023.zip"));
    g.start_node(2);
    m.ok(&["verify", "--read-data"]);
    // Another machine, through another node, sees the same vault.
    let other = Machine::with_env(g.env(1), &g.bucket, "vault");
    assert_eq!(
        other.ok(&["ls", "--json"]).lines().count(),
        more.lines().count()
    );
    // A write-only key on a third machine imports (Garage ignores
    // conditional puts: its inbox segments rest on the writers' lock), and
    // the vault's key merges it.
    let key = m.home.path().join("importer.key");
    let key_s = key.to_str().unwrap();
    m.ok(&["key", "add", "--write-only", key_s]);
    let mut nas = Machine::with_env(g.env(0), &g.bucket, "vault");
    nas.env.push(("DMVAULT_IDENTITY", key_s.to_owned()));
    nas.ok(&["import", &fixture("g3-2020.zip")]);
    let merged = other.ok(&["ls", "--json"]);
    assert!(merged.contains("g3-2020.zip"), "merged");
    other.ok(&["verify", "--read-data"]);
}

/// `forget` on a vault in S3: the bucket keeps no object of a deleted
/// content and none of the old segments; another computer's index cache
/// is made anew when it next opens the vault; both verify.
#[test]
fn forgetting_in_an_s3_vault_deletes_from_the_bucket() {
    let server = S3Server::start();
    let a = Machine::new(&server, "fg");
    a.ok(&["init", "--passphrase"]);
    a.ok(&["import", &fixture("g4-2024.zip"), &fixture("g1-2018.zip")]);
    let b = Machine::new(&server, "fg");
    b.ok(&["ls"]);
    let bucket = server.backend("fg");
    let keys = |prefix: &str| -> Vec<String> {
        bucket
            .list(prefix)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    let (objects, segments) = (keys("objects/"), keys("catalog/"));
    let c = "48213377-1062514387293179904";
    let out = a.ok(&["forget", "--yes", "--json", "--conversation", c]);
    let report: serde_json::Value = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["message_type"] == "forgotten")
        .unwrap();
    let deleted = report["objects_deleted"].as_u64().unwrap() as usize;
    assert!(deleted > 0, "{report}");
    assert_eq!(keys("objects/").len(), objects.len() - deleted);
    let now = keys("catalog/");
    assert!(
        now.iter().all(|k| !segments.contains(k)),
        "old segments deleted: {now:?}"
    );
    assert!(out.contains("object versions"), "{out}");

    let o = b.run(&["ls", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("compacted"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains(c));
    a.ok(&["verify", "--read-data"]);
    b.ok(&["verify"]);
    // An import from the other computer of an archive that holds it again
    // does not bring it back.
    let dir = tempfile::tempdir().unwrap();
    let zip = crate::forgetting::rezipped(dir.path(), "g4-2024.zip");
    let again = b.ok(&["import", "--json", zip.to_str().unwrap()]);
    assert!(again.contains("\"messages_forgotten\":15"), "{again}");
    assert!(!b.ok(&["ls", "--json"]).contains(c), "{again}");
    assert_eq!(keys("objects/").len(), objects.len() - deleted);
}
