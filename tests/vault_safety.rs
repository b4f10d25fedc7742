//! What must hold whatever happens: kills at any point during an import
//! followed by a clean resume, the lock, wrong keys, key management, the
//! stock `age` escape hatch, and no plaintext anywhere in the vault.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

/// A vault is consistent when its catalog authenticates and every object
/// it names decrypts to the recorded content (export checks each SHA-256).
fn assert_consistent(v: &TestVault, context: &str) -> Value {
    let st = v.run(["stats", "--json"]);
    assert_eq!(code(&st), 0, "{context}: stats: {}", stderr(&st));
    let out = tempfile::tempdir().unwrap();
    let o = v.run(["export".as_ref(), "--json".as_ref(), out.path().as_os_str()]);
    assert_eq!(
        code(&o),
        0,
        "{context}: export: {} {}",
        stdout(&o),
        stderr(&o)
    );
    json_lines(&st).remove(0)
}

/// g4 plus 300 extra media files, so an import has several media batches.
fn big_archive(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("big");
    unzip(&fixture("g4-2024.zip"), &src);
    let media = fs::read_dir(&src)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("data/direct_messages_media");
    let mut seed: u64 = 0x1234_5678;
    for i in 0..300u64 {
        let bytes = pseudo_random(&mut seed, 1500 + (i as usize * 37) % 3000);
        fs::write(
            media.join(format!("{}-extra{i}.jpg", 1_900_000_000_000_000_000u64 + i)),
            bytes,
        )
        .unwrap();
    }
    let zip = dir.join("big.zip");
    zip_dir(&src, &zip, "");
    zip
}

#[test]
fn killed_at_any_point_the_vault_stays_consistent_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let big = big_archive(tmp.path());
    let archives = [
        big.clone(),
        fixture("series-2021.zip"),
        fixture("series-2022.zip"),
    ];
    let reference = TestVault::new();
    let o = reference
        .cmd()
        .arg("import")
        .args(&archives)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let want = reference.content_stats();

    let mut crashes = 0;
    for point in ["object", "sync", "segment-tmp", "segment"] {
        for n in [1u32, 2, 5, 40, 290] {
            let v = TestVault::new();
            let o = v
                .cmd()
                .env("DMVAULT_FAULT", format!("{point}:{n}"))
                .arg("import")
                .args(&archives)
                .output()
                .unwrap();
            if o.status.success() {
                // This point is reached fewer than n times.
                assert_eq!(v.content_stats(), want, "{point}:{n}");
                continue;
            }
            assert_eq!(
                o.status.code(),
                None,
                "{point}:{n}: expected the injected abort: {}",
                stderr(&o)
            );
            crashes += 1;
            let context = format!("after a crash at {point}:{n}");
            assert_consistent(&v, &context);
            // Resume: the same command completes the work.
            let o = v.cmd().arg("import").args(&archives).output().unwrap();
            assert_eq!(code(&o), 0, "{context}: resume: {}", stderr(&o));
            assert_eq!(
                without_stored(assert_consistent(&v, &context)),
                want,
                "{context}"
            );
            assert_eq!(
                fs::read_dir(v.vault().join("tmp")).unwrap().count(),
                0,
                "{context}: temp files left"
            );
            // And a third run has nothing left to do.
            let o = v
                .cmd()
                .args(["import", "--json"])
                .args(&archives)
                .output()
                .unwrap();
            let s = json_lines(&o).pop().unwrap();
            assert_eq!(
                (s["messages_new"].as_u64(), s["media_new"].as_u64()),
                (Some(0), Some(0)),
                "{context}"
            );
        }
    }
    assert!(crashes >= 12, "only {crashes} crash points were reached");
}

#[test]
fn a_second_writer_waits_then_exits_11() {
    let v = TestVault::new();
    let lock = fs::OpenOptions::new()
        .write(true)
        .open(v.vault().join("lock"))
        .unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let start = Instant::now();
    let o = v.run([
        "import".as_ref(),
        "--lock-wait".as_ref(),
        "1".as_ref(),
        fixture("g3-2020.zip").as_os_str(),
    ]);
    let waited = start.elapsed();
    assert_eq!(code(&o), 11, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("locked by another dmvault process"),
        "{}",
        stderr(&o)
    );
    assert!(
        waited >= Duration::from_millis(900),
        "did not wait: {waited:?}"
    );
    // Readers are not blocked by a writer.
    assert_eq!(code(&v.run(["stats"])), 0);
    drop(lock);
    assert_eq!(
        code(&v.run(["import".as_ref(), fixture("g3-2020.zip").as_os_str()])),
        0
    );
}

#[test]
fn wrong_keys_exit_12_and_say_nothing_about_the_key() {
    let v = TestVault::new();
    v.import(&["g3-2020.zip"]);
    let other = v.dir.path().join("other.txt");
    let id = age::x25519::Identity::generate();
    use age::secrecy::ExposeSecret;
    fs::write(&other, format!("{}\n", id.to_string().expose_secret())).unwrap();
    for args in [
        vec![
            "ls".to_owned(),
            "-i".to_owned(),
            other.display().to_string(),
        ],
        vec![
            "stats".to_owned(),
            "-i".to_owned(),
            other.display().to_string(),
        ],
    ] {
        let o = v.run(&args);
        assert_eq!(code(&o), 12, "{args:?}");
        let e = stderr(&o);
        assert!(
            e.starts_with("dmvault: error: no key fits this vault\n"),
            "{e}"
        );
        assert!(
            !e.contains("AGE-SECRET-KEY") && !e.contains("other.txt"),
            "{e}"
        );
        assert!(stdout(&o).is_empty());
    }
    // A passphrase where an identity is needed.
    let o = v
        .cmd()
        .env("DMVAULT_PASSPHRASE", "hunter2")
        .env("HOME", v.dir.path())
        .arg("stats")
        .output()
        .unwrap();
    assert_eq!(code(&o), 12);
    assert!(!stderr(&o).contains("hunter2"));
    // Not an identity file at all.
    let bogus = v.dir.path().join("bogus.txt");
    fs::write(&bogus, "hello\n").unwrap();
    assert_eq!(
        code(&v.run(["stats".as_ref(), "-i".as_ref(), bogus.as_os_str()])),
        12
    );
    // No vault there: 10.
    let o = v
        .cmd()
        .env("DMVAULT_VAULT", v.dir.path().join("nope"))
        .arg("stats")
        .output()
        .unwrap();
    assert_eq!(code(&o), 10);
    assert!(
        stderr(&o).contains("no dmvault vault here") && stderr(&o).contains("dmvault init"),
        "{}",
        stderr(&o)
    );
    // No key given at all (no identity in HOME, no passphrase, no terminal): 12.
    let o = v
        .cmd()
        .env("HOME", v.dir.path().join("empty-home"))
        .arg("stats")
        .output()
        .unwrap();
    assert_eq!(code(&o), 12);
    assert!(stderr(&o).contains("no key given"), "{}", stderr(&o));
}

#[test]
fn passphrase_vaults_and_key_management() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestVault { dir };
    let with_pass = |p: &str| {
        let mut c = t.cmd();
        c.env("DMVAULT_PASSPHRASE", p);
        c
    };
    let o = with_pass("first secret")
        .args(["init", "--scrypt-work-factor", "10"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        !t.identity().exists(),
        "a passphrase vault needs no identity file"
    );
    let o = with_pass("first secret")
        .args(["import".as_ref(), fixture("g3-2020.zip").as_os_str()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(code(&with_pass("wrong").arg("stats").output().unwrap()), 12);

    // From a file too (first line).
    let pf = t.dir.path().join("pass.txt");
    fs::write(&pf, "first secret\nignored\n").unwrap();
    assert_eq!(
        code(&t.run([
            "stats".as_ref(),
            "--passphrase-file".as_ref(),
            pf.as_os_str()
        ])),
        0
    );

    // Add an identity, list, remove the passphrase with it.
    let newid = t.dir.path().join("new-identity.txt");
    let o = with_pass("first secret")
        .args([
            "key".as_ref(),
            "add".as_ref(),
            "--new-identity".as_ref(),
            newid.as_os_str(),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&newid).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let o = t.run([
        "key".as_ref(),
        "list".as_ref(),
        "--json".as_ref(),
        "-i".as_ref(),
        newid.as_os_str(),
    ]);
    let keys = json_lines(&o);
    assert_eq!(keys.len(), 2);
    let pass_key = keys.iter().find(|k| k["kind"] == "passphrase").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id_key = keys.iter().find(|k| k["current"] == true).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(pass_key, id_key);
    // The key in use cannot be removed, nor the last one.
    let o = t.run([
        "key".as_ref(),
        "remove".as_ref(),
        id_key.as_ref(),
        "-i".as_ref(),
        newid.as_os_str(),
    ]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("unlock with another key"),
        "{}",
        stderr(&o)
    );
    let objects_before = files_under(&t.vault().join("objects"));
    let o = t.run([
        "key".as_ref(),
        "remove".as_ref(),
        pass_key.as_ref(),
        "-i".as_ref(),
        newid.as_os_str(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        code(&with_pass("first secret").arg("stats").output().unwrap()),
        12
    );
    assert_eq!(
        code(&t.run(["stats".as_ref(), "-i".as_ref(), newid.as_os_str()])),
        0
    );
    assert_eq!(
        files_under(&t.vault().join("objects")),
        objects_before,
        "no object was rewritten"
    );
    let o = t.run([
        "key".as_ref(),
        "remove".as_ref(),
        id_key.as_ref(),
        "-i".as_ref(),
        newid.as_os_str(),
    ]);
    assert_ne!(code(&o), 0);
}

#[test]
fn stock_age_decrypts_any_object_with_the_exported_identity() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip"]);
    let idf = v.dir.path().join("vault-identity.txt");
    let o = v.run(["key".as_ref(), "export-identity".as_ref(), idf.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        !stdout(&o).contains("AGE-SECRET-KEY"),
        "the secret is never printed"
    );
    let rows = v.ls(&[]);
    assert!(!rows.is_empty());
    for r in rows.iter().take(5) {
        let obj = r["object"].as_str().unwrap();
        let path = v
            .vault()
            .join("objects")
            .join(&obj[..2])
            .join(format!("{obj}.age"));
        let out = std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&idf)
            .arg(&path)
            .output()
            .expect("the age CLI is installed (.ci/setup installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        use sha2::Digest;
        assert_eq!(
            hex(&sha2::Sha256::digest(&out.stdout)),
            r["sha256"].as_str().unwrap()
        );
    }
    // Catalog segments too.
    let seg = files_under(&v.vault().join("catalog")).remove(0);
    let out = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&idf)
        .arg(&seg)
        .output()
        .unwrap();
    assert!(out.status.success());
    // Format 2: the records are zstd-compressed (`age -d … | zstd -d`).
    let text = zstd::decode_all(&out.stdout[..]).unwrap();
    assert!(String::from_utf8_lossy(&text).starts_with("{\"format\":\"dmvault-catalog-segment\""));
    // The user's own identity does not open objects directly (envelope keys).
    let out = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(v.identity())
        .arg(&seg)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    needle.len() <= hay.len() && hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn nothing_readable_in_the_vault_without_a_key() {
    let v = TestVault::new();
    let all = [
        "g1-2018.zip",
        "g2-2019.zip",
        "g3-2020.zip",
        "g4-2024.zip",
        "g5-2026.zip",
    ];
    v.import(&all);
    v.import(&["series-2021.zip", "series-2022.zip", "series-2023.zip"]);
    let out = v.dir.path().join("export");
    assert_eq!(code(&v.run(["export".as_ref(), out.as_os_str()])), 0);

    // Everything a user would not want readable: ids, names, hashes, text, media bytes.
    let mut needles: Vec<Vec<u8>> = Vec::new();
    for r in v.ls(&[]).into_iter().chain(v.ls(&["--missing"])) {
        for k in [
            "message_id",
            "conversation_id",
            "sender_id",
            "original_name",
            "sha256",
            "blake3",
            "url",
        ] {
            if let Some(s) = r[k].as_str() {
                needles.push(s.as_bytes().to_vec());
                if let Some((_, token)) = s.rsplit_once('/') {
                    needles.push(token.split('?').next().unwrap().as_bytes().to_vec());
                }
            }
        }
    }
    let index: Vec<Value> =
        serde_json::from_str(&fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    for e in &index {
        if let Some(t) = e["text"].as_str().filter(|t| t.len() >= 12) {
            needles.push(t.as_bytes().to_vec());
        }
        let bytes = fs::read(out.join(e["path"].as_str().unwrap())).unwrap();
        for at in [bytes.len() / 4, bytes.len() / 2, bytes.len() * 3 / 4] {
            if bytes.len() >= at + 24 {
                needles.push(bytes[at..at + 24].to_vec());
            }
        }
    }
    for a in all {
        let i = inspect_json(&fixture(a));
        for k in ["account_id", "username"] {
            if let Some(s) = i[k].as_str() {
                needles.push(s.as_bytes().to_vec());
            }
        }
    }
    needles.retain(|n| n.len() >= 6);
    needles.sort();
    needles.dedup();
    assert!(needles.len() > 100, "{} needles", needles.len());

    let scan = |when: &str| {
        let mut hay = Vec::new();
        for f in files_under(&v.vault()) {
            hay.extend_from_slice(
                f.strip_prefix(v.vault())
                    .unwrap()
                    .to_string_lossy()
                    .as_bytes(),
            );
            hay.push(0);
            hay.extend_from_slice(&fs::read(&f).unwrap());
            hay.push(0);
        }
        for n in &needles {
            assert!(
                !find(&hay, n),
                "{when}: found {:?} in the vault",
                String::from_utf8_lossy(n)
            );
        }
    };
    scan("at rest");
    // The index's write-ahead log and shared memory, as a kill in the
    // middle of rebuilding the index leaves them: full of fresh pages.
    let o = v
        .cmd()
        .env("DMVAULT_FAULT", "index:12")
        .args(["index", "rebuild"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), None, "{}", stderr(&o));
    let wal = v.vault().join("index/index.db-wal");
    assert!(fs::metadata(&wal).unwrap().len() > 100_000, "a WAL to scan");
    scan("with the index's WAL");
    // The only cleartext files are fixed texts.
    for f in files_under(&v.vault()) {
        let rel = f
            .strip_prefix(v.vault())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.starts_with("index/") {
            // SQLCipher: not even SQLite's header is in the clear.
            let bytes = fs::read(&f).unwrap();
            assert!(
                !find(&bytes, b"SQLite format 3"),
                "{rel} is a plain SQLite file"
            );
            assert!(!find(&bytes, b"CREATE TABLE"), "{rel} shows its schema");
        } else if !rel.ends_with(".age") {
            assert!(
                ["dmvault.json", "README.txt", "lock"].contains(&rel.as_str()),
                "unexpected cleartext file {rel}"
            );
        }
    }
}

#[test]
fn ctrl_c_stops_with_130_and_the_same_command_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    // Many files, so the import is still running when Ctrl-C comes.
    let src = tmp.path().join("many");
    unzip(&fixture("series-2021.zip"), &src);
    let media = src.join("data/direct_messages_media");
    let mut seed: u64 = 99;
    for i in 0..3000u64 {
        let bytes = pseudo_random(&mut seed, 8192);
        fs::write(
            media.join(format!("{}-many{i}.jpg", 1_800_000_000_000_000_000u64 + i)),
            bytes,
        )
        .unwrap();
    }
    let zip = tmp.path().join("many.zip");
    zip_dir(&src, &zip, "");

    let v = TestVault::new();
    let child = v
        .cmd()
        .arg("import")
        .arg(&zip)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until media are being stored (some batches committed), then Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(60);
    while files_under(&v.vault().join("objects")).len() < 700 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        code(&o),
        130,
        "the import finished before Ctrl-C? {}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("interrupted") && stderr(&o).contains("again"),
        "{}",
        stderr(&o)
    );
    assert_consistent(&v, "after Ctrl-C");
    let o = v.run(["import".as_ref(), "--json".as_ref(), zip.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = json_lines(&o).pop().unwrap();
    assert!(
        s["media_known"].as_u64().unwrap() > 0,
        "the resumed run reused what was stored: {s}"
    );
    assert_eq!(v.stats()["references"].as_u64().unwrap(), 3000 + 5);
}
