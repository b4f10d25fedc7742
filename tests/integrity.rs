//! Media integrity (FFmpeg on real damaged media) and `dmvault verify` on
//! real vault damage: flipped, truncated, deleted and swapped objects, an
//! edited and a deleted catalog segment, a wrong identity; and healing by
//! importing again.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

use crate::util::*;

fn expected_damaged() -> Value {
    serde_json::from_str(&fs::read_to_string(fixture("damaged-media.expected.json")).unwrap())
        .unwrap()
}

/// Runs `verify --json` with extra args; returns (exit code, findings, summary).
fn verify(v: &TestVault, extra: &[&str]) -> (i32, Vec<Value>, Value) {
    let mut args = vec!["verify", "--json"];
    args.extend_from_slice(extra);
    let o = v.run(&args);
    let mut lines = json_lines(&o);
    let summary = lines
        .pop()
        .unwrap_or_else(|| panic!("no summary: {}", stderr(&o)));
    assert_eq!(summary["message_type"], "summary", "{}", stdout(&o));
    assert!(lines.iter().all(|l| l["message_type"] == "finding"));
    (code(&o), lines, summary)
}

fn object_path(v: &TestVault, id: &str) -> PathBuf {
    v.vault()
        .join("objects")
        .join(&id[..2])
        .join(format!("{id}.age"))
}

#[test]
fn every_damaged_file_gets_its_verdict_and_is_still_stored() {
    let v = TestVault::new();
    let e = expected_damaged();
    let s = v.import(&["damaged-media.zip"]);
    assert_eq!(s["media_damaged"], e["media_damaged"]);
    assert_eq!(s["media_unreadable"], e["media_unreadable"]);
    assert_eq!(
        s["media_new"], e["media_found"],
        "damaged files are stored all the same"
    );
    let rows = v.ls(&[]);
    let verdicts = e["verdicts"].as_object().unwrap();
    assert_eq!(rows.len(), verdicts.len());
    for r in &rows {
        let name = r["original_name"].as_str().unwrap();
        assert_eq!(r["integrity"], verdicts[name], "{name}: {r}");
        if r["integrity"] == "ok" {
            assert!(
                r["width"].as_u64().unwrap() > 0 && r["height"].as_u64().unwrap() > 0,
                "{r}"
            );
            assert!(r["codec"].is_string(), "{r}");
            if r["kind"] != "image" {
                assert!(r["duration_s"].as_f64().unwrap() > 0.5, "{r}");
                assert_eq!(r["codec"], "h264");
            }
        } else {
            assert!(r["integrity_detail"].is_string(), "{r}");
        }
    }
    for verdict in ["ok", "damaged", "unreadable"] {
        let want = verdicts.values().filter(|x| *x == verdict).count();
        assert_eq!(v.ls(&["--integrity", verdict]).len(), want, "{verdict}");
    }
    // The human summary says it too.
    let v2 = TestVault::new();
    let o = v2.run(["import".as_ref(), fixture("damaged-media.zip").as_os_str()]);
    assert_eq!(code(&o), 0);
    assert!(
        stdout(&o).contains("3 damaged, 1 not readable as media"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn fixture_archives_of_every_generation_are_all_ok() {
    let v = TestVault::new();
    let s = v.import(&["g2-2019.zip", "g3-2020.zip", "g4-2024.zip", "g5-2026.zip"]);
    assert_eq!(s["media_damaged"], 0);
    assert_eq!(s["media_unreadable"], 0);
    assert!(v.ls(&[]).iter().all(|r| r["integrity"] == "ok"));
    // --no-probe leaves them unchecked.
    let u = TestVault::new();
    let o = u.run([
        "import".as_ref(),
        "--no-probe".as_ref(),
        fixture("g3-2020.zip").as_os_str(),
    ]);
    assert_eq!(code(&o), 0);
    assert!(u.ls(&[]).iter().all(|r| r["integrity"] == "unchecked"));
}

#[test]
fn a_healthy_vault_verifies_clean_at_every_level() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip", "series-2021.zip", "damaged-media.zip"]);
    let (c, findings, s) = verify(&v, &[]);
    assert_eq!(c, 0, "{findings:?}");
    assert!(findings.is_empty());
    assert!(s["segments"].as_u64().unwrap() > 0);
    let (c, findings, s) = verify(&v, &["--read-data"]);
    assert_eq!(c, 0, "{findings:?}");
    assert_eq!(s["objects_read"], s["objects"]);
    // Videos damaged before import are warnings, not vault damage.
    let (c, findings, s) = verify(&v, &["--decode"]);
    assert_eq!(c, 0, "{findings:?}");
    assert!(s["videos_decoded"].as_u64().unwrap() >= 5);
    assert!(findings
        .iter()
        .all(|f| f["severity"] == "warning" && f["problem"] == "undecodable"));
    assert_eq!(
        findings.len(),
        3,
        "the truncated, the corrupt and the random video: {findings:?}"
    );
}

#[test]
fn object_damage_is_found_named_and_healed_by_importing_again() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip"]);
    let rows = v.ls(&[]);
    let mut by_size: Vec<&Value> = rows.iter().filter(|r| r["orphan"] == false).collect();
    by_size.sort_by_key(|r| r["size"].as_u64());
    by_size.dedup_by(|a, b| a["object"] == b["object"]);
    let [a, b, c, d, ..] = by_size.as_slice() else {
        panic!("need four objects")
    };
    let id = |r: &Value| r["object"].as_str().unwrap().to_owned();

    // flipped byte
    let flipped = object_path(&v, &id(a));
    let mut bytes = fs::read(&flipped).unwrap();
    let at = bytes.len() - 40;
    bytes[at] ^= 0x55;
    fs::write(&flipped, &bytes).unwrap();
    // truncated
    let cut = object_path(&v, &id(b));
    let bytes = fs::read(&cut).unwrap();
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    // deleted
    fs::remove_file(object_path(&v, &id(c))).unwrap();

    let (code_, findings, _) = verify(&v, &[]);
    assert_eq!(code_, 4);
    let find = |problem: &str, obj: &str| {
        findings
            .iter()
            .find(|f| f["problem"] == problem && f["object"] == obj)
            .unwrap_or_else(|| panic!("no {problem} finding for {obj}: {findings:?}"))
            .clone()
    };
    let missing = find("missing", &id(c));
    assert_eq!(missing["messages"][0], c["message_id"]);
    assert_eq!(missing["conversations"][0], c["conversation_id"]);
    assert_eq!(missing["archives"][0], "g4-2024.zip");
    assert!(missing["hint"].as_str().unwrap().contains("g4-2024.zip"));
    find("size_mismatch", &id(b));
    assert!(
        !findings.iter().any(|f| f["object"] == id(a)),
        "a flipped byte keeps the size: only --read-data sees it"
    );

    let (code_, findings, s) = verify(&v, &["--read-data"]);
    assert_eq!(code_, 4);
    assert!(
        findings
            .iter()
            .any(|f| f["problem"] == "corrupt" && f["object"] == id(a)),
        "{findings:?}"
    );
    assert_eq!(s["quarantined"], 1);
    assert!(v
        .vault()
        .join("quarantine")
        .join(format!("{}.age", id(a)))
        .exists());

    // Import the archive again: the vault heals.
    let heal = v.import(&["g4-2024.zip"]);
    assert_eq!(heal["media_new"], 3, "{heal}");
    let (code_, findings, _) = verify(&v, &["--read-data"]);
    assert_eq!(code_, 0, "{findings:?}");

    // Two objects swapped by name.
    let (pd, pa) = (object_path(&v, &id(d)), object_path(&v, &id(a)));
    let tmp = v.dir.path().join("swap");
    fs::rename(&pd, &tmp).unwrap();
    fs::rename(&pa, &pd).unwrap();
    fs::rename(&tmp, &pa).unwrap();
    let (code_, findings, _) = verify(&v, &["--read-data"]);
    assert_eq!(code_, 4);
    for o in [id(a), id(d)] {
        assert!(
            findings.iter().any(|f| f["object"] == o.as_str()),
            "{o} not named: {findings:?}"
        );
    }
    // Heal again (both are quarantined or mis-sized now).
    let heal = v.import(&["g4-2024.zip"]);
    let (code_, findings, _) = verify(&v, &["--read-data"]);
    assert_eq!(code_, 0, "after {heal}: {findings:?}");
}

#[test]
fn catalog_damage_and_rollback_are_found() {
    let v = TestVault::new();
    v.import(&["series-2021.zip"]);
    v.import(&["series-2022.zip"]);
    v.import(&["series-2023.zip"]);
    let segments = files_under(&v.vault().join("catalog"));
    assert!(segments.len() >= 3);
    assert_eq!(verify(&v, &[]).0, 0);

    // An edited segment.
    let seg = &segments[1];
    let original = fs::read(seg).unwrap();
    let mut bytes = original.clone();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    fs::write(seg, &bytes).unwrap();
    let (c, findings, _) = verify(&v, &[]);
    assert_eq!(c, 4);
    let name = seg.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        findings
            .iter()
            .any(|f| f["problem"] == "catalog" && f["segment"] == name.as_str()),
        "{findings:?}"
    );
    // Other commands answer from the index, which was built while the
    // segment was intact; building it again from the damaged catalog is
    // refused with exit 4, and so is every command until it is repaired.
    assert_eq!(code(&v.run(["stats"])), 0);
    assert_eq!(code(&v.run(["index", "rebuild"])), 4);
    assert_eq!(code(&v.run(["stats"])), 4);
    fs::write(seg, &original).unwrap();
    assert_eq!(verify(&v, &[]).0, 0);

    // A segment from the middle deleted.
    fs::rename(seg, v.dir.path().join("saved-seg")).unwrap();
    let (c, findings, _) = verify(&v, &[]);
    assert_eq!(c, 4);
    assert!(
        findings
            .iter()
            .any(|f| f["problem"] == "catalog" && f["segment"] == name.as_str()),
        "{findings:?}"
    );
    fs::rename(v.dir.path().join("saved-seg"), seg).unwrap();

    // The newest segments deleted: the chain is whole, but this computer
    // saw more (a rollback).
    let last = segments.last().unwrap();
    fs::remove_file(last).unwrap();
    let (c, findings, _) = verify(&v, &[]);
    assert_eq!(c, 4, "{findings:?}");
    assert!(
        findings.iter().any(|f| f["problem"] == "rollback"),
        "{findings:?}"
    );
    // The state lives outside the vault and holds no plaintext.
    let state = files_under(&v.home().join(".local/state/dmvault"));
    assert_eq!(state.len(), 1);
    let text = fs::read_to_string(&state[0]).unwrap();
    assert!(
        text.contains("\"seq\"") && !text.contains("series"),
        "{text}"
    );
}

#[test]
fn wrong_identity_exits_12() {
    let v = TestVault::new();
    v.import(&["g3-2020.zip"]);
    let other = v.dir.path().join("other.txt");
    let id = age::x25519::Identity::generate();
    use age::secrecy::ExposeSecret;
    fs::write(&other, format!("{}\n", id.to_string().expose_secret())).unwrap();
    let o = v.run(["verify".as_ref(), "-i".as_ref(), other.as_os_str()]);
    assert_eq!(code(&o), 12);
    assert!(stderr(&o).contains("no key fits this vault"));
}

#[test]
fn subsets_cover_everything_once() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip", "series-2023.zip"]);
    let (_, _, all) = verify(&v, &["--read-data"]);
    let total = all["objects_read"].as_u64().unwrap();
    assert!(total > 10);
    let mut sum = 0;
    for n in 1..=3 {
        let (c, _, s) = verify(&v, &["--read-data", "--subset", &format!("{n}/3")]);
        assert_eq!(c, 0);
        sum += s["objects_read"].as_u64().unwrap();
    }
    assert_eq!(sum, total);
    let (_, _, a) = verify(&v, &["--read-data", "--subset", "50%"]);
    let (_, _, b) = verify(&v, &["--read-data", "--subset", "50%"]);
    assert_eq!(a["objects_read"], b["objects_read"], "deterministic");
    assert!(a["objects_read"].as_u64().unwrap() < total);
    let o = v.run(["verify", "--subset", "8/7"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("--subset"), "{}", stderr(&o));
}
