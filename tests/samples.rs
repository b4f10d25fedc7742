//! `inspect` over the real archives' DM files in ../shared/samples.
//!
//! The samples hold the data files of real archives (text redacted) and a
//! listing of their media files. Each test rebuilds the archive as X ships
//! it: `data/` with the data files and media files of the listed names and
//! sizes (byte-identical where the listing's hashes are equal), once as a
//! folder and once as a ZIP nested one folder deep.
//!
//! The expected figures were counted independently of dmvault, with
//! Python's `json` module over the same files (distinct `messageCreate` and
//! `welcomeMessageCreate` ids; distinct conversation ids; distinct
//! (id, mediaUrl) pairs); the media figures also agree with Appendix A of
//! the archive-format doc.

use std::fs;
use std::path::Path;

use serde_json::json;

use crate::util::*;

/// Builds `<dst>/data/…` from a sample folder. Returns the media count.
fn build_from_sample(sample: &Path, dst: &Path) -> usize {
    let data = dst.join("data");
    fs::create_dir_all(&data).unwrap();
    for e in fs::read_dir(sample).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "js") {
            fs::copy(&p, data.join(p.file_name().unwrap())).unwrap();
        }
    }
    let listing = fs::read_to_string(sample.join("MEDIA_LISTING.tsv")).unwrap_or_default();
    let mut n = 0;
    for line in listing.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [path, size, sha] = cols[..] else {
            continue;
        };
        // One listing gives "BAD" for a size: any size will do.
        let size: usize = size.parse().unwrap_or(1000);
        let content: Vec<u8> = sha.bytes().cycle().take(size).collect();
        let out = dst.join(path);
        fs::create_dir_all(out.parent().unwrap()).unwrap();
        fs::write(out, content).unwrap();
        n += 1;
    }
    n
}

fn check_sample(name: &str, expected: serde_json::Value) {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join(name);
    let media = build_from_sample(&shared().join("samples").join(name), &folder);
    let from_folder = inspect_json(&folder);
    let zip = tmp.path().join(format!("{name}.zip"));
    zip_dir(&folder, &zip, "twitter-archive/");
    let from_zip = inspect_json(&zip);

    for (k, want) in expected.as_object().unwrap() {
        assert_eq!(&from_folder[k], want, "{name} (folder): {k}");
    }
    assert_eq!(
        figures(&from_folder),
        figures(&from_zip),
        "{name}: folder and zip differ"
    );
    assert_eq!(from_folder["generation"], "g4_manifest");
    // Every listed media file is some reference's file.
    assert_eq!(
        from_folder["media_found"], from_folder["media_refs"],
        "{name}"
    );
    assert_eq!(
        from_folder["media_found"].as_u64().unwrap() as usize,
        media,
        "{name}"
    );
    assert_eq!(from_folder["media_missing"], 0);
    assert_eq!(from_folder["media_orphans"], 0);
    assert_eq!(from_folder["encrypted_events"], 0);
    assert_eq!(from_zip["archive"], zip.display().to_string());
}

#[test]
fn keithfrankish_2020_reaction_events_no_urls() {
    check_sample(
        "keithfrankish_twitter-data",
        json!({"account_id": "52522040", "username": "keithfrankish", "messages": 4289,
               "conversations": {"one_to_one": 373, "group": 11}, "media_refs": 40,
               "media_by_kind": {"image": 40, "gif": 0, "video": 0}}),
    );
}

#[test]
fn jeremyfranklin_2022_welcome_media_with_other_url_id() {
    check_sample(
        "jeremyfranklin_twitter",
        json!({"account_id": "1138981", "username": "jeremyfranklin", "messages": 867,
               "conversations": {"one_to_one": 142, "group": 7}, "media_refs": 6,
               "media_by_kind": {"image": 6, "gif": 0, "video": 0}}),
    );
}

#[test]
fn roberskine_2022_gif_video_and_group_media() {
    check_sample(
        "RobErskine_robs-twitter",
        json!({"account_id": "61948290", "username": "ErskineRob", "messages": 1192,
               "conversations": {"one_to_one": 70, "group": 5}, "media_refs": 38,
               "media_by_kind": {"image": 33, "gif": 3, "video": 2}}),
    );
}

#[test]
fn timlinux_2023_token_starting_with_dash() {
    check_sample(
        "timlinux_timlinux-twitter-archive",
        json!({"account_id": "38512725", "username": "timlinux", "messages": 963,
               "conversations": {"one_to_one": 71, "group": 5}, "media_refs": 44,
               "media_by_kind": {"image": 41, "gif": 1, "video": 2}}),
    );
}

#[test]
fn larsbrinkhoff_2023_typical_layout() {
    check_sample(
        "larsbrinkhoff_twitter-data",
        json!({"account_id": "3128746474", "username": "larsbrinkhoff", "messages": 904,
               "conversations": {"one_to_one": 72, "group": 4}, "media_refs": 12,
               "media_by_kind": {"image": 12, "gif": 0, "video": 0}}),
    );
}

#[test]
fn jacklance_2022_tiny_with_empty_group_files() {
    check_sample(
        "JackLance_jacklance.github.io",
        json!({"account_id": "2444552670", "username": "Jack_L_Lance", "messages": 4,
               "conversations": {"one_to_one": 2, "group": 0}, "media_refs": 0,
               "media_by_kind": {"image": 0, "gif": 0, "video": 0}}),
    );
}

/// Synthetic files of other parsers, placed as an early-2020 archive
/// (plural names, no manifest) would hold them.
fn synthetic_archive(dst: &Path, one_to_one: Option<&Path>, group: Option<&Path>, media: &[&str]) {
    let data = dst.join("data");
    fs::create_dir_all(data.join("direct_messages_media")).unwrap();
    if let Some(p) = one_to_one {
        fs::copy(p, data.join("direct-messages.js")).unwrap();
    }
    if let Some(p) = group {
        fs::copy(p, data.join("direct-messages-group.js")).unwrap();
    }
    for m in media {
        fs::write(data.join("direct_messages_media").join(m), m.as_bytes()).unwrap();
    }
}

#[test]
fn kolib_comprehensive_semicolons_edits_and_missing_media() {
    let tmp = tempfile::tempdir().unwrap();
    let s = shared().join("samples/memreyagci-kolib/comprehensive/direct-messages.js");
    synthetic_archive(
        tmp.path(),
        Some(&s),
        None,
        &[
            "1111111111111111111-abc12D--efghIJklmN3-OPRsTU4vy5ZZ6_aBcDeFHIj7klMNo-.mp4",
            "8000000000000000008-everything-test-video.mp4",
            "9000000000000000009-ImageToken.jpg",
            "9100000000000000010-VideoToken.mp4",
        ],
    );
    let v = inspect_json(tmp.path());
    assert_eq!(v["generation"], "g3_2020");
    assert_eq!(v["messages"], 12);
    assert_eq!(v["conversations"], json!({"one_to_one": 2, "group": 0}));
    assert_eq!(v["media_refs"], 5);
    assert_eq!(v["media_found"], 4);
    assert_eq!(v["media_missing"], 1);
    assert_eq!(v["media_orphans"], 0);
    assert_eq!(
        v["media_by_kind"],
        json!({"image": 1, "gif": 2, "video": 2})
    );
}

#[test]
fn tobeofuse_all_group_event_types() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = shared().join("samples/toBeOfUse-Twitter-Archive-Browser");
    synthetic_archive(
        tmp.path(),
        Some(&dir.join("individual_dms_test.js")),
        Some(&dir.join("group_dms_test.js")),
        &["885513042674552835-ntkMMdTy.jpg"],
    );
    let v = inspect_json(tmp.path());
    // 6 messageCreate events carry 3 distinct ids in the 1:1 file; 4 in the group file.
    assert_eq!(v["messages"], 7);
    assert_eq!(v["conversations"], json!({"one_to_one": 2, "group": 2}));
    assert_eq!(v["media_refs"], 2);
    assert_eq!(v["media_found"], 1);
    assert_eq!(v["media_missing"], 1);
}

#[test]
fn kolib_edge_files() {
    let root = shared().join("samples/memreyagci-kolib");
    // A missing optional field and a missing senderId are both kept.
    for (case, warn) in [
        ("missing_optional_fields", None),
        ("missing_required_fields", Some("no senderId")),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        synthetic_archive(
            tmp.path(),
            Some(&root.join(case).join("direct-messages.js")),
            None,
            &[],
        );
        let v = inspect_json(tmp.path());
        assert_eq!(v["messages"], 1, "{case}");
        let warnings = v["warnings"].to_string();
        if let Some(w) = warn {
            assert!(warnings.contains(w), "{case}: {warnings}");
        }
    }
    // The same id twice is one message.
    let tmp = tempfile::tempdir().unwrap();
    synthetic_archive(
        tmp.path(),
        Some(&root.join("duplicate_ids/direct-messages.js")),
        None,
        &[],
    );
    assert_eq!(inspect_json(tmp.path())["messages"], 1);
    // An empty export is valid.
    let tmp = tempfile::tempdir().unwrap();
    synthetic_archive(
        tmp.path(),
        Some(&root.join("empty/direct-messages.js")),
        None,
        &[],
    );
    let v = inspect_json(tmp.path());
    assert_eq!(v["messages"], 0);
    assert_eq!(v["conversations"], json!({"one_to_one": 0, "group": 0}));
}

#[test]
fn kolib_invalid_json_names_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let root = shared().join("samples/memreyagci-kolib");
    synthetic_archive(
        tmp.path(),
        Some(&root.join("invalid_json/direct-messages.js")),
        Some(&shared().join("samples/toBeOfUse-Twitter-Archive-Browser/group_dms_test.js")),
        &[],
    );
    let o = dmvault([
        "inspect".as_ref(),
        "--json".as_ref(),
        tmp.path().as_os_str(),
    ]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let v = &json_lines(&o)[0];
    // The group file was still read.
    assert_eq!(v["conversations"]["group"], 2);
    assert_eq!(v["messages"], 4);
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("data/direct-messages.js:6:5: invalid JSON"),
        "{warnings}"
    );
}

/// What a sample's NAMES.txt says an offline harvest should find.
struct ExpectedNames {
    owner: (String, String, String),
    named: Vec<(String, String, Option<String>)>,
    unnamed: Vec<String>,
}

fn expected_names(text: &str) -> ExpectedNames {
    let mut e = ExpectedNames {
        owner: Default::default(),
        named: Vec::new(),
        unnamed: Vec::new(),
    };
    let mut in_unnamed = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("owner (excluded below): ") {
            let (id, rest) = rest.split_once(" -> ").unwrap();
            let (handle, rest) = rest.split_once(" (\"").unwrap();
            let name = rest.split_once("\";").unwrap().0;
            e.owner = (id.into(), handle.into(), name.into());
        } else if line.starts_with("participants not named") {
            in_unnamed = true;
        } else if in_unnamed {
            match line.trim() {
                "" => in_unnamed = false,
                id => e.unnamed.push(id.to_owned()),
            }
        } else if let Some((id, rest)) = line.trim().split_once(" -> ") {
            if line.starts_with("  ") && id.bytes().all(|b| b.is_ascii_digit()) {
                let handle = rest.split_once(" (").unwrap().0;
                let name = rest
                    .split_once("display name: \"")
                    .map(|(_, n)| n.trim_end_matches('"').to_owned());
                e.named.push((id.into(), handle.into(), name));
            }
        }
    }
    e
}

/// `dmvault people` after importing each sample that comes with the names
/// its tweet files give (NAMES.txt, counted independently of dmvault).
#[test]
fn samples_people_are_named_as_their_tweet_files_say() {
    let mut checked = 0;
    for dir in fs::read_dir(shared().join("samples")).unwrap() {
        let sample = dir.unwrap().path();
        let Ok(text) = fs::read_to_string(sample.join("NAMES.txt")) else {
            continue;
        };
        let want = expected_names(&text);
        let v = TestVault::new();
        let folder = v.dir.path().join("archive");
        build_from_sample(&sample, &folder);
        let o = v.run(["import".as_ref(), folder.as_os_str()]);
        assert!(code(&o) == 0, "{}: {}", sample.display(), stderr(&o));
        let o = v.run(["people", "--json"]);
        let people: std::collections::HashMap<String, serde_json::Value> = json_lines(&o)
            .into_iter()
            .map(|p| (p["user_id"].as_str().unwrap().to_owned(), p))
            .collect();
        let name = sample.file_name().unwrap().to_string_lossy().into_owned();
        let handle = |id: &str| {
            people
                .get(id)
                .unwrap_or_else(|| panic!("{name}: {id} is not listed"))["handle"]["value"]
                .as_str()
                .map(str::to_lowercase)
        };
        let (owner, oh, on) = &want.owner;
        assert_eq!(handle(owner), Some(oh.to_lowercase()), "{name}: owner");
        assert_eq!(people[owner]["name"]["value"], on.as_str(), "{name}: owner");
        for (id, h, n) in &want.named {
            assert_eq!(handle(id), Some(h.to_lowercase()), "{name}: {id}");
            if let Some(n) = n {
                assert_eq!(people[id]["name"]["value"], n.as_str(), "{name}: {id}");
            }
        }
        for id in &want.unnamed {
            assert_eq!(handle(id), None, "{name}: {id} is named by no file");
            assert!(people[id]["name"].is_null(), "{name}: {id}");
        }
        checked += 1;
    }
    assert!(checked >= 6, "samples with NAMES.txt: {checked}");
}
