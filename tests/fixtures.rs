//! `inspect` over the committed synthetic archives of every generation
//! (fixtures/archives, made by fixtures/generate.py). Each archive has an
//! `.expected.json` that the generator wrote from its own model of what it
//! planted, independently of dmvault's reader.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

use crate::util::*;

fn archives_with_expectations() -> Vec<(PathBuf, Value)> {
    let dir = repo().join("fixtures/archives");
    let mut out = Vec::new();
    for e in fs::read_dir(&dir).expect("fixtures/archives exists (run `just fixtures`)") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "zip") {
            let exp = p.with_extension("expected.json");
            if let Ok(text) = fs::read_to_string(&exp) {
                out.push((p, serde_json::from_str(&text).unwrap()));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 5,
        "expected the fixtures of every generation, found {}",
        out.len()
    );
    out
}

const FIELDS: [&str; 11] = [
    "generation",
    "account_id",
    "username",
    "messages",
    "conversations",
    "media_refs",
    "media_found",
    "media_missing",
    "media_orphans",
    "media_by_kind",
    "encrypted_events",
];

#[test]
fn every_fixture_gives_its_expected_figures_as_zip_and_folder() {
    for (zip, expected) in archives_with_expectations() {
        let got = inspect_json(&zip);
        for f in FIELDS {
            if let Some(want) = expected.get(f) {
                assert_eq!(&got[f], want, "{}: {f}", zip.display());
            }
        }
        let tmp = tempfile::tempdir().unwrap();
        unzip(&zip, tmp.path());
        let from_folder = inspect_json(tmp.path());
        assert_eq!(
            figures(&from_folder),
            figures(&got),
            "{}: folder and zip differ",
            zip.display()
        );
    }
}

#[test]
fn bad_fixtures_fail_with_their_documented_code() {
    let dir = repo().join("fixtures/archives/bad");
    for (name, needle) in [
        ("not-a-zip.zip", "not a ZIP file"),
        ("truncated.zip", "cut short"),
        ("not-x.zip", "not an X archive"),
    ] {
        let p = dir.join(name);
        let o = dmvault(["inspect".as_ref(), p.as_os_str()]);
        assert_eq!(code(&o), 1, "{name}");
        let e = stderr(&o);
        assert!(
            e.contains(name) && e.contains(needle) && e.contains("hint:"),
            "{name}: {e}"
        );
        assert!(stdout(&o).is_empty(), "{name}");
    }
    for name in ["invalid-json", "unsafe-paths"] {
        let p = dir.join(format!("{name}.zip"));
        let expected: Value = serde_json::from_str(
            &fs::read_to_string(dir.join(format!("{name}.expected.json"))).unwrap(),
        )
        .unwrap();
        let o = dmvault(["inspect".as_ref(), "--json".as_ref(), p.as_os_str()]);
        assert_eq!(code(&o), 3, "{name}: partial");
        let got = &json_lines(&o)[0];
        for f in FIELDS {
            assert_eq!(got[f], expected[f], "{name}: {f}");
        }
        if let Some(bad) = expected.get("bad_file") {
            let at = format!(
                "{}:{}:{}: invalid JSON",
                bad["path"].as_str().unwrap(),
                bad["line"],
                bad["column"]
            );
            assert!(
                got["warnings"].to_string().contains(&at),
                "{name}: want {at} in {}",
                got["warnings"]
            );
        }
    }
}
