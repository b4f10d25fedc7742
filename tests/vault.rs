//! The vault: init, import and merge, idempotence, ls, stats, export.
//! Real age encryption and the committed fixture archives throughout.

use std::collections::BTreeSet;
use std::fs;

use serde_json::Value;

use crate::util::*;

const SERIES: [&str; 3] = ["series-2021.zip", "series-2022.zip", "series-2023.zip"];

fn expected(name: &str) -> Value {
    let p = repo().join("fixtures/archives").join(name);
    serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn each_archive_alone_gives_the_figures_inspect_gives() {
    for name in ["g1-2018", "g2-2019", "g3-2020", "g4-2024", "g5-2026"] {
        let v = TestVault::new();
        let e = expected(&format!("{name}.expected.json"));
        let s = v.import(&[&format!("{name}.zip")]);
        assert_eq!(s["archives"], 1, "{name}");
        assert_eq!(s["messages_new"], e["messages"], "{name}");
        assert_eq!(s["media_missing"], e["media_missing"], "{name}");
        assert_eq!(s["media_orphans"], e["media_orphans"], "{name}");
        let st = v.stats();
        assert_eq!(st["archives"], 1, "{name}");
        assert_eq!(st["messages"], e["messages"], "{name}");
        // The vault holds the conversations only a headers file had, too.
        for k in ["one_to_one", "group"] {
            let want = e["conversations"][k].as_u64().unwrap()
                + e["conversations_headers_only"][k].as_u64().unwrap();
            assert_eq!(st["conversations"][k], want, "{name}: {k}");
        }
        assert_eq!(
            st["messages_headers_only"], e["messages_headers_only"],
            "{name}"
        );
        let refs = e["media_found"].as_u64().unwrap() + e["media_orphans"].as_u64().unwrap();
        assert_eq!(st["references"], refs, "{name}");
        assert_eq!(st["missing_references"], e["media_missing"], "{name}");
        assert_eq!(v.ls(&[]).len() as u64, refs, "{name}");
        assert_eq!(
            v.ls(&["--missing"]).len() as u64,
            e["media_missing"].as_u64().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn yearly_series_merges_exactly() {
    let v = TestVault::new();
    let s = v.import(&SERIES);
    let e = expected("series.expected.json");
    assert_eq!(s["archives"], 3);
    assert_eq!(s["messages_new"], e["messages"]);
    assert_eq!(s["media_seen"], e["media_files"]);
    assert_eq!(s["media_new"], e["distinct_media_contents"]);
    assert_eq!(
        s["media_known"].as_u64().unwrap(),
        e["media_files"].as_u64().unwrap() - e["distinct_media_contents"].as_u64().unwrap()
    );
    let st = v.stats();
    assert_eq!(st["archives"], 3);
    assert_eq!(st["messages"], e["messages"]);
    assert_eq!(st["conversations"], e["conversations"]);
    // every reference found after the merge, plus the orphans nobody claims
    let refs = e["media_found"].as_u64().unwrap() + e["media_orphans"].as_u64().unwrap();
    assert_eq!(st["references"], refs);
    assert_eq!(st["missing_references"], e["media_missing"]);
    assert_eq!(st["objects"], e["distinct_media_contents"]);
    assert!(st["bytes_stored"].as_u64().unwrap() > st["bytes_plain"].as_u64().unwrap());

    // The 2022 orphan whose message only 2021 has is an ordinary reference now.
    let linked = &e["orphans_linked"][0];
    let rows = v.ls(&[]);
    let row = rows
        .iter()
        .find(|r| r["message_id"] == linked["message_id"])
        .expect("the linked orphan's message is listed");
    assert_eq!(row["orphan"], false);
    let archives: Vec<&str> = row["archives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        archives.contains(&"series-2021.zip") && archives.contains(&"series-2022.zip"),
        "{archives:?}"
    );
    assert_eq!(
        rows.iter().filter(|r| r["orphan"] == true).count() as u64,
        e["media_orphans"].as_u64().unwrap()
    );
    // Ids are strings, times RFC 3339 UTC.
    for r in &rows {
        assert!(r["message_id"].is_string());
        assert_eq!(r["integrity"], "ok", "fixture media are whole: {r}");
        if let Some(t) = r["created_at"].as_str() {
            assert!(t.ends_with('Z') && t.len() == 24, "{t}");
        }
    }
}

fn normalised_rows(v: &TestVault) -> BTreeSet<String> {
    v.ls(&[])
        .into_iter()
        .map(|mut r| {
            let mut a: Vec<Value> = r["archives"].as_array().unwrap().clone();
            a.sort_by_key(|x| x.to_string());
            r["archives"] = Value::Array(a);
            // Object names are keyed with each vault's own secret.
            r.as_object_mut().unwrap().remove("object");
            // So are posters': whether a row has one is what compares.
            let poster = r.as_object_mut().unwrap().remove("poster").is_some();
            r["has_poster"] = Value::Bool(poster);
            r.to_string()
        })
        .collect()
}

#[test]
fn any_order_gives_the_same_vault() {
    let reference = TestVault::new();
    reference.import(&SERIES);
    let want_stats = reference.content_stats();
    let want_rows = normalised_rows(&reference);
    for order in [
        vec![SERIES[2], SERIES[1], SERIES[0]],
        vec![SERIES[1], SERIES[2], SERIES[0]],
    ] {
        let v = TestVault::new();
        v.import(&order);
        assert_eq!(v.content_stats(), want_stats, "{order:?}");
        assert_eq!(normalised_rows(&v), want_rows, "{order:?}");
    }
    // One invocation per archive, newest first.
    let v = TestVault::new();
    for a in [SERIES[2], SERIES[0], SERIES[1]] {
        v.import(&[a]);
    }
    assert_eq!(v.content_stats(), want_stats);
    assert_eq!(normalised_rows(&v), want_rows);
}

#[test]
fn importing_again_adds_nothing_and_says_so() {
    let v = TestVault::new();
    v.import(&SERIES);
    let before = files_under(&v.vault());
    let stats = v.stats();
    let o = v.run([
        "import".as_ref(),
        fixture(SERIES[0]).as_os_str(),
        fixture(SERIES[1]).as_os_str(),
    ]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("nothing new"), "{}", stdout(&o));
    assert!(stdout(&o).contains("already imported"), "{}", stdout(&o));
    let s = v.import(&SERIES);
    assert_eq!(s["messages_new"], 0);
    assert_eq!(s["media_new"], 0);
    assert_eq!(s["bytes_new"], 0);
    assert_eq!(s["media_known"], s["media_seen"]);
    assert_eq!(v.stats(), stats);
    assert_eq!(files_under(&v.vault()), before, "no file was added");

    // The same archive as a folder: different container, same content.
    let tmp = tempfile::tempdir().unwrap();
    unzip(&fixture(SERIES[1]), tmp.path());
    let o = v.run(["import".as_ref(), "--json".as_ref(), tmp.path().as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let last = json_lines(&o).pop().unwrap();
    assert_eq!(last["messages_new"], 0);
    assert_eq!(last["media_new"], 0);
    assert_eq!(v.stats()["messages"], stats["messages"]);
}

#[test]
fn dry_run_says_what_would_be_added_and_writes_nothing() {
    let v = TestVault::new();
    v.import(&[SERIES[0]]);
    let before: Vec<(std::path::PathBuf, u64)> = files_under(&v.vault())
        .into_iter()
        .map(|p| {
            let n = fs::metadata(&p).unwrap().len();
            (p, n)
        })
        .collect();
    let o = v.run([
        "import".as_ref(),
        "--dry-run".as_ref(),
        "--json".as_ref(),
        fixture(SERIES[1]).as_os_str(),
        fixture(SERIES[2]).as_os_str(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let dry = json_lines(&o).pop().unwrap();
    assert_eq!(dry["dry_run"], true);
    let after: Vec<(std::path::PathBuf, u64)> = files_under(&v.vault())
        .into_iter()
        .map(|p| {
            let n = fs::metadata(&p).unwrap().len();
            (p, n)
        })
        .collect();
    assert_eq!(before, after, "a dry run wrote to the vault");
    // What it announced is what the real import does.
    let real = v.import(&[SERIES[1], SERIES[2]]);
    for k in [
        "messages_new",
        "media_new",
        "media_known",
        "media_missing",
        "media_orphans",
        "bytes_new",
        "media_seen",
    ] {
        assert_eq!(dry[k], real[k], "{k}");
    }
    assert_eq!(real["dry_run"], false);
}

#[test]
fn summary_line_has_every_field() {
    let v = TestVault::new();
    let s = v.import(&["g4-2024.zip"]);
    for k in [
        "archives",
        "messages_new",
        "media_seen",
        "media_new",
        "media_known",
        "media_missing",
        "media_orphans",
        "bytes_new",
        "dry_run",
    ] {
        assert!(s.get(k).is_some(), "summary lacks {k}: {s}");
    }
    // g4 holds the same JPEG bytes under two names: one object, one dedup hit.
    assert_eq!(
        s["media_new"].as_u64().unwrap() + s["media_known"].as_u64().unwrap(),
        s["media_seen"].as_u64().unwrap()
    );
    assert!(s["media_known"].as_u64().unwrap() >= 1);
}

#[test]
fn ls_filters() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip", "g3-2020.zip"]);
    let all = v.ls(&[]);
    let e4 = expected("g4-2024.expected.json");
    let e3 = expected("g3-2020.expected.json");
    for kind in ["image", "gif", "video"] {
        let rows = v.ls(&["--kind", kind]);
        assert!(rows.iter().all(|r| r["kind"] == kind));
        let refs_of_kind = all.iter().filter(|r| r["kind"] == kind).count();
        assert_eq!(rows.len(), refs_of_kind);
    }
    assert_eq!(
        v.ls(&["--kind", "video"])
            .iter()
            .filter(|r| r["orphan"] == false)
            .count() as u64,
        e4["media_by_kind"]["video"].as_u64().unwrap()
            + e3["media_by_kind"]["video"].as_u64().unwrap()
            - v.ls(&["--missing", "--kind", "video"]).len() as u64
    );
    // --archive by file name
    let g3 = v.ls(&["--archive", "g3-2020.zip"]);
    assert_eq!(
        g3.len() as u64,
        e3["media_found"].as_u64().unwrap() + e3["media_orphans"].as_u64().unwrap()
    );
    // and by the first hex digits of its BLAKE3, as `b3sum` prints it
    let b3 = blake3::hash(&std::fs::read(fixture("g3-2020.zip")).unwrap()).to_hex();
    assert_eq!(v.ls(&["--archive", &b3[..12]]), g3);
    assert!(v.ls(&["--archive", "00000000"]).is_empty());
    // --conversation and --sender select exactly the rows with that value
    let some = all
        .iter()
        .find(|r| r["conversation_id"].is_string())
        .unwrap();
    let conv = some["conversation_id"].as_str().unwrap();
    let rows = v.ls(&["--conversation", conv]);
    assert_eq!(
        rows.len(),
        all.iter().filter(|r| r["conversation_id"] == conv).count()
    );
    let sender = some["sender_id"].as_str().unwrap();
    let rows = v.ls(&["--sender", sender]);
    assert!(!rows.is_empty() && rows.iter().all(|r| r["sender_id"] == sender));
    // --since/--until split the dated rows exactly
    let mut dates: Vec<&str> = all
        .iter()
        .filter_map(|r| r["created_at"].as_str())
        .collect();
    dates.sort();
    let mid = &dates[dates.len() / 2][..10];
    let since = v.ls(&["--since", mid]);
    let until = v.ls(&["--until", mid]);
    let on_mid = dates.iter().filter(|d| d.starts_with(mid)).count();
    assert_eq!(since.len() + until.len(), dates.len() + on_mid);
    assert!(since
        .iter()
        .all(|r| r["created_at"].as_str().unwrap()[..10] >= *mid));
    // --missing lists references without a file
    let missing = v.ls(&["--missing"]);
    assert_eq!(
        missing.len() as u64,
        e4["media_missing"].as_u64().unwrap() + e3["media_missing"].as_u64().unwrap()
    );
    assert!(missing
        .iter()
        .all(|r| r["object"].is_null() && r["size"].is_null()));
    // bad filter values are usage errors, named
    let o = v.run(["ls", "--since", "last tuesday"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("last tuesday"), "{}", stderr(&o));
    let o = v.run(["ls", "--kind", "sticker"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn export_restores_files_with_names_times_and_index() {
    let v = TestVault::new();
    v.import(&SERIES);
    let out = v.dir.path().join("export");
    let o = v.run(["export".as_ref(), "--json".as_ref(), out.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = v.ls(&[]);
    let index: Vec<Value> =
        serde_json::from_str(&fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index.len(), rows.len());
    for e in &index {
        let p = out.join(e["path"].as_str().unwrap());
        let bytes = fs::read(&p).unwrap();
        assert_eq!(bytes.len() as u64, e["size"].as_u64().unwrap());
        use sha2::Digest;
        assert_eq!(
            crate::util::hex(&sha2::Sha256::digest(&bytes)),
            e["sha256"].as_str().unwrap()
        );
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.contains(':'), "{name}");
        if e["orphan"] == false {
            // <conversation>/<YYYY-MM-DD_HHMMSS> <sender> <message id>[-n].<ext>, where a
            // named conversation is "<name> (<id>)" and a sender is @handle, name or id.
            let conv = p
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let id = e["conversation_id"].as_str().unwrap();
            match e["conversation_name"].as_str() {
                Some(n) => assert_eq!(conv, format!("{n} ({id})")),
                None => assert_eq!(conv, id),
            }
            let sender = match (e["sender_handle"].as_str(), e["sender_name"].as_str()) {
                (Some(h), _) => format!("@{h}"),
                (None, Some(n)) => n.to_owned(),
                _ => e["sender_id"].as_str().unwrap().to_owned(),
            };
            let t = e["created_at"].as_str().unwrap();
            let want = format!(
                "{}_{}{}{} {} {}",
                &t[..10],
                &t[11..13],
                &t[14..16],
                &t[17..19],
                sender,
                e["message_id"].as_str().unwrap()
            );
            assert!(name.starts_with(&want), "{name} vs {want}");
            let mtime = fs::metadata(&p).unwrap().modified().unwrap();
            let secs = mtime
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let want_secs = rows
                .iter()
                .find(|r| r["message_id"] == e["message_id"])
                .map(|r| r["created_at"].as_str().unwrap().to_owned())
                .unwrap();
            assert_eq!(
                &crate::util::rfc3339_secs(secs)[..19],
                &want_secs[..19],
                "{name}"
            );
        } else {
            assert!(e["path"].as_str().unwrap().starts_with("orphans/"));
        }
    }
    // Again: nothing written, nothing changed.
    let o = v.run(["export".as_ref(), "--json".as_ref(), out.as_os_str()]);
    assert_eq!(code(&o), 0);
    let s = json_lines(&o).pop().unwrap();
    assert_eq!(s["written"], 0);
    assert_eq!(s["unchanged"].as_u64().unwrap() as usize, rows.len());
    // A different file in the way is never overwritten.
    let victim = out.join(index[0]["path"].as_str().unwrap());
    fs::write(&victim, b"my own file").unwrap();
    let o = v.run(["export".as_ref(), out.as_os_str()]);
    assert_eq!(code(&o), 3);
    assert!(stdout(&o).contains("different file"), "{}", stdout(&o));
    assert_eq!(fs::read(&victim).unwrap(), b"my own file");
    // Filters apply: only videos.
    let vids = v.dir.path().join("videos");
    let o = v.run([
        "export".as_ref(),
        "--kind".as_ref(),
        "video".as_ref(),
        vids.as_os_str(),
    ]);
    assert_eq!(code(&o), 0);
    let index: Vec<Value> =
        serde_json::from_str(&fs::read_to_string(vids.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index.len(),
        rows.iter().filter(|r| r["kind"] == "video").count()
    );
    assert!(index.iter().all(|e| e["kind"] == "video"));
}

#[test]
fn orphans_with_the_same_name_and_other_bytes_export_to_two_files() {
    let v = TestVault::new();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    unzip(&fixture("series-2023.zip"), &a);
    unzip(&fixture("series-2023.zip"), &b);
    let orphan = v.import(&["series-2023.zip"]);
    assert_eq!(orphan["media_orphans"], 1);
    let name = v.ls(&[]).into_iter().find(|r| r["orphan"] == true).unwrap()["original_name"]
        .as_str()
        .unwrap()
        .to_owned();
    fs::write(
        b.join("data/direct_messages_media").join(&name),
        b"other bytes, same name",
    )
    .unwrap();
    for dir in [&a, &b] {
        let o = v.run(["import".as_ref(), dir.as_os_str()]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let orphans: Vec<Value> = v
        .ls(&[])
        .into_iter()
        .filter(|r| r["orphan"] == true)
        .collect();
    assert_eq!(orphans.len(), 2, "{orphans:?}");
    let out = v.dir.path().join("out");
    let o = v.run(["export".as_ref(), out.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let files: Vec<_> = fs::read_dir(out.join("orphans"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let contents: BTreeSet<Vec<u8>> = files.iter().map(|f| fs::read(f).unwrap()).collect();
    assert_eq!(contents.len(), 2);
}

#[test]
fn an_archive_changed_in_place_is_read_again() {
    // A re-import recognises an unchanged ZIP by its device, inode, size and
    // times without reading it; any write changes its change time, so new
    // content under the same path is always read.
    let v = TestVault::new();
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("twitter.zip");
    fs::copy(fixture("series-2021.zip"), &p).unwrap();
    // Files changed in the last seconds are always hashed; let this one age.
    std::thread::sleep(std::time::Duration::from_millis(3100));
    let run = |v: &TestVault| {
        let o = v.run(["import".as_ref(), "--json".as_ref(), p.as_os_str()]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        json_lines(&o)
    };
    let first = run(&v);
    assert_eq!(first[0]["already_imported"], false);
    let again = run(&v);
    assert_eq!(again[0]["already_imported"], true);
    // Same path, same inode, other bytes.
    fs::write(&p, fs::read(fixture("series-2023.zip")).unwrap()).unwrap();
    let changed = run(&v);
    assert_eq!(changed[0]["already_imported"], false);
    assert!(changed.last().unwrap()["messages_new"].as_u64().unwrap() > 0);
}

#[test]
fn a_copy_of_an_imported_archive_is_recognised_by_its_content() {
    let v = TestVault::new();
    v.import(&["series-2022.zip"]);
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("renamed-copy.zip");
    fs::copy(fixture("series-2022.zip"), &copy).unwrap();
    let o = v.run(["import".as_ref(), "--json".as_ref(), copy.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(lines[0]["already_imported"], true, "{lines:?}");
    assert_eq!(v.stats()["archives"], 1);
}

/// A vault made by the format-1 release (`fixtures/format1-vault.sh`, issue
/// 7) opens with its figures, verifies, and takes a new import: the
/// baseline for the migration to vault format 2.
#[test]
fn a_format_1_vault_from_the_release_opens_verifies_and_imports() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = tmp.path().join("format1");
    let o = std::process::Command::new("cp")
        .arg("-r")
        .arg(repo().join("fixtures/vaults/format1"))
        .arg(&vault)
        .output()
        .unwrap();
    assert!(o.status.success());
    let id = repo().join("fixtures/vaults/format1-identity.txt");
    let run = |args: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_dmvault"));
        c.env("HOME", tmp.path()).env_remove("DMVAULT_VAULT");
        c.args(args)
            .arg("--vault")
            .arg(&vault)
            .arg("-i")
            .arg(&id)
            .output()
            .unwrap()
    };
    let o = run(&["stats", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("fixtures/vaults/format1.stats.json")).unwrap(),
    )
    .unwrap();
    // The figures the release gave; this release reports more.
    let got = without_stored(json_lines(&o).remove(0));
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(&got[k], v, "{k}");
    }
    let o = run(&["verify", "--read-data"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    // Migrated to format 2: the format file says so (an older dmvault now
    // refuses it rather than misread compressed segments), the index was
    // built, and the format-1 segments are kept as they were.
    let format: Value =
        serde_json::from_str(&std::fs::read_to_string(vault.join("dmvault.json")).unwrap())
            .unwrap();
    assert_eq!(format["version"], 2);
    assert!(vault.join("index/index.db").is_file());
    let old_segments = files_under(&vault.join("catalog"));
    for s in &old_segments {
        let rel = s.strip_prefix(&vault).unwrap();
        assert_eq!(
            std::fs::read(s).unwrap(),
            std::fs::read(repo().join("fixtures/vaults/format1").join(rel)).unwrap()
        );
    }
    let o = run(&["import", fixture("g4-2024.zip").to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(files_under(&vault.join("catalog")).len() > old_segments.len());
    // A writer makes it format 6 (names, posters, importer keys, forgetting and other
    // records format 2 lacks).
    let format: Value =
        serde_json::from_str(&std::fs::read_to_string(vault.join("dmvault.json")).unwrap())
            .unwrap();
    assert_eq!(format["version"], 6);
    let o = run(&["verify", "--read-data"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    // Nothing was lost: an index rebuilt from the mixed log answers the same.
    let before = run(&["ls", "--json"]);
    let o = run(&["index", "rebuild"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&run(&["ls", "--json"])), stdout(&before));
    // An archive the old release imported is read again, once, for what it
    // did not read: here the owner's names and the group's events.
    let series = fixture("series-2023.zip");
    let e = expected("series-2023.expected.json");
    let owner_handle = |run: &dyn Fn(&[&str]) -> std::process::Output| {
        json_lines(&run(&["people", "--json"]))
            .into_iter()
            .find(|p| p["user_id"] == e["account_id"])
            .unwrap()["handle"]["value"]
            .clone()
    };
    assert_eq!(
        owner_handle(&run),
        Value::Null,
        "not read by the old release"
    );
    let o = run(&["import", "--json", series.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(lines[0]["already_imported"], false, "{}", lines[0]);
    assert_eq!(lines[0]["messages_new"], 0);
    assert!(lines[0]["names_new"].as_u64().unwrap() > 0, "{}", lines[0]);
    assert_eq!(
        owner_handle(&run),
        e["username"],
        "the series' owner is named"
    );
    let o = run(&["import", "--json", series.to_str().unwrap()]);
    assert_eq!(json_lines(&o)[0]["already_imported"], true);
    let o = run(&["verify", "--read-data"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}
