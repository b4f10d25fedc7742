//! Write-only importer keys: a machine holding one imports into the vault
//! and can read nothing; the vault's key merges what it sent; a revoked
//! key's later segments are rejected.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use serde_json::Value;

use crate::util::{self, code, files_under, json_lines, stderr, stdout, TestVault};

/// The importing machine: its own home (no identity of the vault, its own
/// cache), and the write-only key.
struct Importer<'a> {
    vault: &'a TestVault,
    home: PathBuf,
    key: PathBuf,
}

impl Importer<'_> {
    fn run(&self, args: &[&str]) -> Output {
        self.vault
            .cmd()
            .env("HOME", &self.home)
            .env("DMVAULT_IDENTITY", &self.key)
            .args(args)
            .output()
            .unwrap()
    }

    fn import(&self, names: &[&str]) -> Vec<Value> {
        let mut args = vec!["import".to_owned(), "--json".to_owned()];
        args.extend(names.iter().map(|n| util::fixture(n).display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = self.run(&args);
        assert_eq!(code(&o), 0, "import {names:?}: {}", stderr(&o));
        json_lines(&o)
    }
}

/// Makes a write-only key for `v`; returns its id.
fn add_write_only(v: &TestVault, key: &Path) -> String {
    let o = v.run([
        "key",
        "add",
        "--json",
        "--write-only",
        key.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let added = json_lines(&o).remove(0);
    assert_eq!(added["kind"], "write_only");
    added["id"].as_str().unwrap().to_owned()
}

fn importer<'a>(v: &'a TestVault, name: &str) -> (Importer<'a>, String) {
    let key = v.dir.path().join(format!("{name}.key"));
    let id = add_write_only(v, &key);
    let home = v.dir.path().join(format!("{name}-home"));
    std::fs::create_dir_all(&home).unwrap();
    (
        Importer {
            vault: v,
            home,
            key,
        },
        id,
    )
}

fn inbox(v: &TestVault) -> Vec<PathBuf> {
    let dir = v.vault().join("inbox");
    if dir.exists() {
        files_under(&dir)
    } else {
        Vec::new()
    }
}

/// The importer identity a key file holds.
fn key_identity(key: &Path) -> (String, age::x25519::Identity) {
    let text = std::fs::read_to_string(key).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("DMVAULT-IMPORTER-KEY-1 "))
        .unwrap();
    let v: Value = serde_json::from_str(line).unwrap();
    let id = age::x25519::Identity::from_str(v["identity"].as_str().unwrap()).unwrap();
    (text, id)
}

fn decrypts(bytes: &[u8], id: &age::x25519::Identity) -> bool {
    age::Decryptor::new(bytes)
        .ok()
        .and_then(|d| d.decrypt(std::iter::once(id as &dyn age::Identity)).ok())
        .is_some()
}

/// A machine with only a write-only key imports two archives; it cannot
/// list, show, search, export, verify or manage keys, and its key decrypts
/// nothing it wrote. The vault's key merges the inbox on its next command,
/// by message id: the vault then holds exactly what importing the same
/// archives with the vault's key gives. Imports repeated by the importer,
/// even after it lost its local record, add nothing.
#[test]
fn a_write_only_key_imports_and_the_vaults_key_merges() {
    let v = TestVault::new();
    let (nas, _) = importer(&v, "nas");
    let lines = nas.import(&["g4-2024.zip", "series-2021.zip"]);
    assert!(lines.iter().any(|l| l["message_type"] == "inbox"));
    assert!(!inbox(&v).is_empty(), "the import waits in the inbox");

    let out = v.dir.path().join("stolen-export");
    let out_s = out.to_str().unwrap();
    for args in [
        &["ls"][..],
        &["stats"],
        &["show", "--no-pager", "Birch Owl"],
        &["search", "typo"],
        &["export", out_s],
        &["verify"],
        &["key", "list"],
        &["view", "--no-open"],
    ] {
        let o = nas.run(args);
        assert_ne!(code(&o), 0, "{args:?} with a write-only key");
        assert!(
            stderr(&o).contains("is write-only"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert!(!out.exists(), "nothing exported");

    // A damaged copy of the key is named as one.
    let damaged = v.dir.path().join("damaged.key");
    let text = std::fs::read_to_string(&nas.key).unwrap();
    std::fs::write(&damaged, text.replace("\"mac_key\":\"", "\"mac_key\":\"zz")).unwrap();
    let o = v
        .cmd()
        .env("HOME", &nas.home)
        .env("DMVAULT_IDENTITY", &damaged)
        .args(["import", util::fixture("g3-2020.zip").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 12, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("damaged write-only key file"),
        "{}",
        stderr(&o)
    );

    // The key holds no way in: not the vault's identity, and its own
    // identity opens none of the objects or segments.
    let (_, vault_identity) = util::vault_secret(&v);
    let (text, own) = key_identity(&nas.key);
    assert!(!text.contains(vault_identity.to_string().expose_secret()));
    let written: Vec<PathBuf> = files_under(&v.vault().join("objects"))
        .into_iter()
        .chain(inbox(&v))
        .collect();
    assert!(written.len() > 20);
    for f in &written {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !decrypts(&bytes, &own),
            "{} opens with the importer's key",
            f.display()
        );
        assert!(decrypts(&bytes, &vault_identity), "{}", f.display());
    }

    // The vault's key: `ls` merges the inbox.
    let reference = TestVault::new();
    reference.import(&["g4-2024.zip", "series-2021.zip"]);
    assert_eq!(
        crate::util::comparable(v.ls(&[])),
        crate::util::comparable(reference.ls(&[]))
    );
    assert_eq!(v.content_stats(), reference.content_stats());
    assert!(inbox(&v).is_empty(), "merged segments leave the inbox");
    let o = v.run(["verify", "--read-data"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));

    // Again, and again with its local record lost (a new epoch): nothing new.
    let again = nas.import(&["g4-2024.zip"]);
    assert_eq!(again[0]["already_imported"], true, "{again:?}");
    std::fs::remove_dir_all(nas.home.join(".cache")).unwrap();
    nas.import(&["g4-2024.zip"]);
    assert_eq!(v.content_stats(), reference.content_stats());
    // The vault's own import of an archive the importer sent is done already.
    let own_again = v.import(&["series-2021.zip"]);
    assert_eq!(own_again["messages_new"], 0);
    assert_eq!(v.content_stats(), reference.content_stats());
}

/// `key remove` of a write-only key merges what it sent before, then
/// revokes it: the importer is told, and segments it writes afterwards
/// (with its registration put back, as a thief could) are rejected and
/// deleted. A segment that does not authenticate is left and reported.
#[test]
fn a_revoked_write_only_key_is_refused_and_its_later_segments_rejected() {
    let v = TestVault::new();
    let (nas, id) = importer(&v, "cron");
    let listed = stdout(&v.run(["key", "list"]));
    assert!(
        listed.contains(&id) && listed.contains("write-only"),
        "{listed}"
    );
    nas.import(&["g3-2020.zip"]);
    let registration = v.vault().join(format!("importers/{id}.age"));
    let kept = std::fs::read(&registration).unwrap();

    let o = v.run(["key", "remove", &id]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("revoked"), "{}", stdout(&o));
    assert!(!stdout(&v.run(["key", "list"])).contains(&id));
    let before = v.content_stats();
    assert_eq!(before["archives"], 1, "what it sent before is kept");

    let o = nas.run(&["import", util::fixture("g4-2024.zip").to_str().unwrap()]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("not registered"), "{}", stderr(&o));

    // A thief puts the registration back and imports: rejected.
    std::fs::write(&registration, kept).unwrap();
    nas.import(&["g4-2024.zip"]);
    assert!(!inbox(&v).is_empty());
    let o = v.run(["stats", "--json"]);
    assert_eq!(code(&o), 0);
    assert!(stderr(&o).contains("revoked"), "{}", stderr(&o));
    assert_eq!(util::without_stored(json_lines(&o).remove(0)), before);
    assert!(inbox(&v).is_empty(), "rejected segments are deleted");
    let o = v.run(["verify"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));

    // Another importer's segment, changed on disk: not merged, reported.
    let (other, _) = importer(&v, "other");
    other.import(&["series-2022.zip"]);
    let seg = inbox(&v)
        .into_iter()
        .find(|p| p.ends_with("0000000001.age"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 1;
    std::fs::write(&seg, bytes).unwrap();
    let o = v.run(["stats", "--json"]);
    assert_eq!(code(&o), 0);
    assert!(stderr(&o).contains("were not merged"), "{}", stderr(&o));
    assert_eq!(util::without_stored(json_lines(&o).remove(0)), before);
    assert!(seg.exists(), "left for the user to look at");
}

/// Killed at every segment it writes, the importer's next run finishes the
/// import (a new epoch when its record is behind its inbox); the owner's
/// merge, killed after each segment it commits, is finished by the next
/// command; the vault then holds what an import with the vault's key gives.
#[test]
fn killed_write_only_imports_and_merges_are_finished_by_the_next_run() {
    let v = TestVault::new();
    let (nas, _) = importer(&v, "killed");
    let g4 = util::fixture("g4-2024.zip");
    for point in ["segment:1", "segment:3", "object:2", "index:2"] {
        let o = v
            .cmd()
            .env("HOME", &nas.home)
            .env("DMVAULT_IDENTITY", &nas.key)
            .env("DMVAULT_FAULT", point)
            .arg("import")
            .arg(&g4)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), None, "{point}: killed: {}", stderr(&o));
    }
    nas.import(&["g4-2024.zip"]);
    for n in 1..=3 {
        let o = v
            .cmd()
            .env("DMVAULT_FAULT", format!("segment:{n}"))
            .args(["ls"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), None, "merge killed at its segment {n}");
    }
    let reference = TestVault::new();
    reference.import(&["g4-2024.zip"]);
    assert_eq!(
        crate::util::comparable(v.ls(&[])),
        crate::util::comparable(reference.ls(&[]))
    );
    assert_eq!(v.content_stats(), reference.content_stats());
    assert!(inbox(&v).is_empty());
    let o = v.run(["verify", "--read-data"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
}
