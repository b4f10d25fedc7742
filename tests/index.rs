//! The index (issue 8): derived from the log, rebuilt when it cannot be
//! trusted, consistent after a kill inside its updates, checked by
//! `verify`, and exported as plain SQLite or CSV.

use std::fs;

use serde_json::Value;

use crate::util::*;

/// What a user sees of the vault: its figures and every row of `ls`
/// (without object names, which differ from vault to vault).
fn answers(v: &TestVault) -> (Value, Vec<Value>, Vec<Value>) {
    let rows = |extra: &[&str]| -> Vec<Value> {
        let mut rows = v.ls(extra);
        for r in &mut rows {
            r.as_object_mut().unwrap().remove("object");
            // So are posters': whether a row has one is what compares.
            let poster = r.as_object_mut().unwrap().remove("poster").is_some();
            r["has_poster"] = Value::Bool(poster);
        }
        rows
    };
    (v.content_stats(), rows(&[]), rows(&["--missing"]))
}

fn remove_index(v: &TestVault) {
    for f in files_under(&v.vault().join("index")) {
        fs::remove_file(f).unwrap();
    }
}

#[test]
fn killed_inside_an_index_update_the_next_command_answers_as_the_log_says() {
    let archives = [
        fixture("g4-2024.zip"),
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
    let want = answers(&reference);
    let mut crashes = 0;
    for point in ["index", "index-commit"] {
        for n in [1u32, 2, 4, 7] {
            let v = TestVault::new();
            let o = v
                .cmd()
                .env("DMVAULT_FAULT", format!("{point}:{n}"))
                .arg("import")
                .args(&archives)
                .output()
                .unwrap();
            if o.status.success() {
                continue;
            }
            assert_eq!(o.status.code(), None, "{point}:{n}: {}", stderr(&o));
            crashes += 1;
            // The next command answers what the log holds: the same as an
            // index built afresh from it.
            let after = answers(&v);
            remove_index(&v);
            assert_eq!(answers(&v), after, "{point}:{n}: the index lagged the log");
            // The same import finishes the work.
            let o = v.cmd().arg("import").args(&archives).output().unwrap();
            assert_eq!(code(&o), 0, "{point}:{n}: resume: {}", stderr(&o));
            assert_eq!(answers(&v), want, "{point}:{n}");
            let (c, _, _) = verify(&v, &["--read-data"]);
            assert_eq!(c, 0, "{point}:{n}");
        }
    }
    assert!(crashes >= 6, "only {crashes} crash points were reached");

    // A kill in the middle of `index rebuild` leaves an index the next
    // command completes.
    let o = reference
        .cmd()
        .env("DMVAULT_FAULT", "index:3")
        .args(["index", "rebuild"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), None, "{}", stderr(&o));
    assert_eq!(answers(&reference), want);
}

fn verify(v: &TestVault, extra: &[&str]) -> (i32, Vec<Value>, Value) {
    let mut args = vec!["verify", "--json"];
    args.extend_from_slice(extra);
    let o = v.run(&args);
    let mut lines = json_lines(&o);
    let summary = lines.pop().unwrap();
    (code(&o), lines, summary)
}

#[test]
fn a_missing_damaged_foreign_or_stale_index_is_rebuilt_and_the_command_says_so() {
    let v = TestVault::new();
    v.import(&["g3-2020.zip", "series-2021.zip"]);
    let want = answers(&v);
    let db = v.vault().join("index/index.db");
    let rebuilt = |why: &str| {
        let o = v.run(["stats"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("index was rebuilt") && stderr(&o).contains(why),
            "{why}: {}",
            stderr(&o)
        );
        assert_eq!(answers(&v), want, "{why}");
        // Said once: the next command finds it in order.
        assert_eq!(stderr(&v.run(["stats"])), "", "{why}");
    };

    remove_index(&v);
    rebuilt("there was none");

    let mut bytes = fs::read(&db).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    fs::write(&db, &bytes).unwrap();
    // Damage in a page no query of `stats` reads shows at the next full
    // read; a damaged header shows at once. Both end rebuilt.
    bytes[20] ^= 0xff;
    fs::write(&db, &bytes).unwrap();
    rebuilt("damaged or is another vault's");

    // Another vault's index, copied in.
    let other = TestVault::new();
    other.import(&["g4-2024.zip"]);
    fs::copy(other.vault().join("index/index.db"), &db).unwrap();
    rebuilt("damaged or is another vault's");

    // An index from before the last import is brought up to date, silently.
    let saved = v.dir.path().join("saved-index.db");
    fs::copy(&db, &saved).unwrap();
    v.import(&["series-2022.zip"]);
    let newer = answers(&v);
    fs::copy(&saved, &db).unwrap();
    let o = v.run(["stats"]);
    assert_eq!(stderr(&o), "");
    assert_eq!(answers(&v), newer);

    // An index ahead of the log (the newest segment taken away) is stale.
    let segments = files_under(&v.vault().join("catalog"));
    let last = segments.last().unwrap();
    let kept = fs::read(last).unwrap();
    fs::remove_file(last).unwrap();
    let o = v.run(["stats"]);
    assert!(
        stderr(&o).contains("did not match the catalog"),
        "{}",
        stderr(&o)
    );
    fs::write(last, kept).unwrap();
    let o = v.run(["stats"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(answers(&v), newer);
}

#[test]
fn verify_read_data_rebuilds_an_index_that_differs_from_the_log() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip"]);
    let want = answers(&v);
    let (c, findings, _) = verify(&v, &["--read-data"]);
    assert_eq!((c, findings.len()), (0, 0), "{findings:?}");
    // Someone with the key edits a row: the index now says something the
    // log does not.
    let conn = rusqlite::Connection::open(v.vault().join("index/index.db")).unwrap();
    conn.pragma_update(None, "key", index_key_pragma(&v))
        .unwrap();
    let changed = conn
        .execute("UPDATE media SET ordinal = ordinal + 7 WHERE n = 1", [])
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    assert_ne!(answers(&v), want);
    // The default check (the head) does not read rows; --read-data does.
    let (_, findings, _) = verify(&v, &[]);
    assert!(findings.iter().all(|f| f["problem"] != "index"));
    let (c, findings, _) = verify(&v, &["--read-data"]);
    assert_eq!(c, 0, "a warning: the log is intact");
    let f = findings
        .iter()
        .find(|f| f["problem"] == "index")
        .unwrap_or_else(|| panic!("{findings:?}"));
    assert_eq!(f["severity"], "warning");
    assert!(f["detail"].as_str().unwrap().contains("media"), "{f}");
    assert_eq!(answers(&v), want, "rebuilt from the log");
}

#[test]
fn export_sqlite_writes_a_plain_database_of_the_catalog() {
    let v = TestVault::new();
    v.import(&[
        "g2-2019.zip",
        "g3-2020.zip",
        "g4-2024.zip",
        "series-2021.zip",
        "series-2022.zip",
    ]);
    let stats = v.stats();
    let out = v.dir.path().join("dm.sqlite");
    let o = v.run(["export-sqlite".as_ref(), "--json".as_ref(), out.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let summary = json_lines(&o).remove(0);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Plain SQLite: opens without a key, as Datasette or sqlite3 would.
    let db = rusqlite::Connection::open(&out).unwrap();
    let one = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        one("SELECT count(*) FROM messages WHERE NOT headers_only"),
        stats["messages"].as_i64().unwrap()
    );
    assert_eq!(summary["messages"], stats["messages"]);
    assert_eq!(
        one("SELECT count(*) FROM archives WHERE complete"),
        stats["archives"].as_i64().unwrap()
    );
    let refs = v
        .ls(&[])
        .into_iter()
        .filter(|r| r["orphan"] == false)
        .count()
        + v.ls(&["--missing"]).len();
    assert_eq!(one("SELECT count(*) FROM media") as usize, refs);
    assert_eq!(
        one("SELECT count(*) FROM objects WHERE stored_size IS NOT NULL"),
        stats["objects"].as_i64().unwrap()
    );
    // Every reference points at a message and (when stored) an object.
    assert_eq!(one("SELECT count(*) FROM media m LEFT JOIN messages x ON x.id = m.message_id WHERE x.id IS NULL"), 0);
    assert_eq!(one("SELECT count(*) FROM media m LEFT JOIN objects o ON o.id = m.object_id WHERE m.object_id IS NOT NULL AND o.id IS NULL"), 0);
    // A row of `ls` is a row of media, with the same facts.
    let row = v
        .ls(&["--kind", "video"])
        .into_iter()
        .find(|r| r["orphan"] == false)
        .unwrap();
    let (sha, verdict, archives): (String, String, String) = db
        .query_row(
            "SELECT sha256, verdict, file_archives FROM media WHERE message_id = ? AND url = ?",
            [
                row["message_id"].as_str().unwrap(),
                row["url"].as_str().unwrap(),
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(sha, row["sha256"].as_str().unwrap());
    assert_eq!(verdict, row["integrity"].as_str().unwrap());
    assert!(!archives.is_empty());
    // Seen-in: messages of the yearly series were seen in both archives.
    assert!(one("SELECT count(*) FROM messages WHERE archives LIKE '%,%'") > 0);
    // Foreign keys are declared and hold.
    let fk: Vec<String> = db
        .prepare("PRAGMA foreign_key_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(fk.is_empty(), "{fk:?}");
    // Never over an existing file, never into the vault.
    let o = v.run(["export-sqlite".as_ref(), out.as_os_str()]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("does not exist yet"), "{}", stderr(&o));
    let inside = v.vault().join("dm.sqlite");
    let o = v.run(["export-sqlite".as_ref(), inside.as_os_str()]);
    assert_ne!(code(&o), 0);
    assert!(!inside.exists());
}

#[test]
fn ls_csv_has_the_rows_of_json() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip", "damaged-media.zip"]);
    let json = v.ls(&[]);
    let o = v.run(["ls", "--csv"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "message_id");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), json.len());
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for (line, j) in rows.iter().zip(&json) {
        // These fields never hold a comma or a quote.
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(
            cells[col("message_id")],
            j["message_id"].as_str().unwrap_or("")
        );
        assert_eq!(cells[col("sha256")], j["sha256"].as_str().unwrap_or(""));
        assert_eq!(cells[col("integrity")], j["integrity"].as_str().unwrap());
    }
    let o = v.run(["ls", "--csv", "--json"]);
    assert_eq!(code(&o), 1);
}
