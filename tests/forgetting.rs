//! Issue 12 end to end: `dmvault forget` leaves no byte of what it forgets
//! in the vault (checked by decrypting everything that is left with the
//! vault's key), an import does not bring it back, shared contents stay, a
//! kill at any step leaves the vault as before or as after (and running it
//! again finishes), a compaction made without the key is refused, and a
//! write-only key cannot forget.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde_json::Value;

use crate::util::{code, files_under, json_lines, stderr, stdout, vault_secret, TestVault};

use crate::forget::ARCHIVES;

/// Decrypts an age file with the vault's identity (and inflates a
/// compressed segment); `None` when it is not one of the vault's.
fn try_decrypt(bytes: &[u8], id: &age::x25519::Identity) -> Option<Vec<u8>> {
    let d = age::Decryptor::new(bytes).ok()?;
    let mut r = d.decrypt(std::iter::once(id as &dyn age::Identity)).ok()?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).ok()?;
    if out.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        out = zstd::decode_all(&out[..]).ok()?;
    }
    Some(out)
}

/// Every row of the vault's index (SQLCipher, opened with its key), the
/// full-text index's own tables included, as bytes.
fn index_rows(v: &TestVault) -> Vec<u8> {
    let copy = tempfile::tempdir().unwrap();
    let db = copy.path().join("index.db");
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!(
            "{}{suffix}",
            v.vault().join("index/index.db").display()
        ));
        if from.exists() {
            fs::copy(&from, format!("{}{suffix}", db.display())).unwrap();
        }
    }
    let conn = Connection::open(&db).unwrap();
    conn.pragma_update(None, "key", crate::util::index_key_pragma(v))
        .unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(tables.len() > 10, "the index opens with its key");
    let mut out = Vec::new();
    for t in tables {
        let mut st = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            for i in 0..n {
                match r.get_ref(i).unwrap() {
                    ValueRef::Text(b) | ValueRef::Blob(b) => out.extend_from_slice(b),
                    ValueRef::Integer(x) => out.extend_from_slice(x.to_string().as_bytes()),
                    _ => {}
                }
                out.push(0);
            }
        }
    }
    out
}

/// Everything the test's folder holds (the vault, and dmvault's state and
/// cache in the home folder): every file's bytes, every age file decrypted
/// with the vault's key, and the index's rows.
fn remains(v: &TestVault) -> Vec<u8> {
    let (_, id) = vault_secret(v);
    let mut all = Vec::new();
    for f in files_under(v.dir.path()) {
        let bytes = fs::read(&f).unwrap();
        if let Some(plain) = try_decrypt(&bytes, &id) {
            all.extend_from_slice(&plain);
        }
        all.extend_from_slice(&bytes);
        all.push(0);
    }
    all.extend(index_rows(v));
    all
}

/// The needles that `remains` holds, by label.
fn found(hay: &[u8], needles: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    needles
        .iter()
        .filter(|(_, n)| memchr::memmem::find(hay, n).is_some())
        .map(|(l, _)| l.clone())
        .collect()
}

fn strings(db: &Connection, sql: &str, arg: &str) -> Vec<String> {
    let mut st = db.prepare(sql).unwrap();
    st.query_map([arg], |r| r.get::<_, Option<String>>(0))
        .unwrap()
        .filter_map(Result::unwrap)
        .collect()
}

/// The vault's plain export (`export-sqlite`), outside its folder.
fn plain(v: &TestVault, out: &Path, name: &str) -> Connection {
    let path = out.join(name);
    let o = v.run(["export-sqlite", path.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    Connection::open(path).unwrap()
}

/// Each kept message's archives, from a plain export.
fn archives_of(db: &Connection) -> BTreeMap<String, String> {
    let mut st = db.prepare("SELECT id, archives FROM messages").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn forget(v: &TestVault, args: &[&str]) -> Value {
    let mut all = vec!["forget", "--yes", "--json"];
    all.extend_from_slice(args);
    let o = v.run(&all);
    assert_eq!(code(&o), 0, "forget {args:?}: {}{}", stdout(&o), stderr(&o));
    json_lines(&o)
        .into_iter()
        .find(|l| l["message_type"] == "forgotten")
        .expect("a forgotten line")
}

fn verify_clean(v: &TestVault) {
    let o = v.run(["verify", "--read-data", "--json"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let summary = json_lines(&o).pop().unwrap();
    assert_eq!(summary["warnings"], 0, "{}", stdout(&o));
}

/// The conversation whose forgetting deletes contents and keeps others (a
/// kept message uses them), with the most messages.
fn conversation_to_forget(db: &Connection) -> String {
    db.query_row(
        "WITH uses AS (SELECT g.conversation_id AS c, m.object_id AS o FROM media m
                JOIN messages g ON g.id = m.message_id WHERE m.object_id IS NOT NULL),
              elsewhere AS (SELECT u.c, u.o, EXISTS (SELECT 1 FROM uses w
                WHERE w.o = u.o AND w.c != u.c) AS shared FROM uses u)
         SELECT c FROM elsewhere GROUP BY c HAVING min(shared) = 0 AND max(shared) = 1
         ORDER BY (SELECT count(*) FROM messages WHERE conversation_id = c) DESC LIMIT 1",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// What must not remain of `messages` (in a conversation or not): their
/// ids, their texts, their files' names and URLs, which nothing kept
/// shares, and 64 bytes from the middle of each file only they use.
fn needles_of(
    db: &Connection,
    messages: &BTreeSet<String>,
    media: &Path,
) -> BTreeMap<String, Vec<u8>> {
    let in_set = |sql: &str| -> Vec<(String, String)> {
        let mut st = db.prepare(sql).unwrap();
        st.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .filter_map(|(m, v)| v.map(|v| (m, v)))
        .collect()
    };
    let texts = in_set("SELECT id, text FROM messages");
    let names = in_set("SELECT message_id, original_name FROM media");
    let urls = in_set("SELECT message_id, url FROM media");
    let kept = |all: &[(String, String)]| -> String {
        all.iter()
            .filter(|(m, _)| !messages.contains(m))
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let kept_text = [kept(&texts), kept(&names), kept(&urls)].join("\n");
    let mut needles = BTreeMap::new();
    for (label, all) in [("text", &texts), ("file name", &names), ("url", &urls)] {
        for (m, v) in all.iter().filter(|(m, _)| messages.contains(m)) {
            if v.len() >= 12 && !kept_text.contains(v.as_str()) {
                needles.insert(format!("{label} of {m}: {v}"), v.as_bytes().to_vec());
            }
        }
    }
    for m in messages {
        if !kept_text.contains(m.as_str()) {
            needles.insert(format!("message id {m}"), m.as_bytes().to_vec());
        }
    }
    // The files only forgotten messages use, as `export` wrote them.
    let deleted = deleted_blake3s(db, messages);
    for f in files_under(media) {
        let bytes = fs::read(&f).unwrap();
        if bytes.len() >= 256 && deleted.contains(&blake3::hash(&bytes).to_hex().to_string()) {
            let mid = bytes.len() / 2;
            needles.insert(
                format!("bytes of {}", f.display()),
                bytes[mid..mid + 64].to_vec(),
            );
        }
    }
    needles
}

/// The BLAKE3 of the contents only `messages` use.
fn deleted_blake3s(db: &Connection, messages: &BTreeSet<String>) -> BTreeSet<String> {
    let mut st = db
        .prepare(
            "SELECT message_id, blake3 FROM media WHERE blake3 IS NOT NULL
             UNION ALL SELECT o.message_id, b.blake3 FROM orphans o JOIN objects b ON b.id = o.object_id",
        )
        .unwrap();
    let uses: Vec<(Option<String>, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let gone = |m: &Option<String>| m.as_ref().is_some_and(|m| messages.contains(m));
    let kept: BTreeSet<&String> = uses
        .iter()
        .filter(|(m, _)| !gone(m))
        .map(|(_, b)| b)
        .collect();
    uses.iter()
        .filter(|(m, b)| gone(m) && !kept.contains(b))
        .map(|(_, b)| b.clone())
        .collect()
}

/// A fixture archive zipped anew: the same files, another ZIP.
pub fn rezipped(dir: &Path, name: &str) -> PathBuf {
    let unpacked = dir.join(format!("{name}.d"));
    crate::util::unzip(&crate::util::fixture(name), &unpacked);
    let zip = dir.join(format!("again-{name}"));
    crate::util::zip_dir(&unpacked, &zip, "");
    zip
}

/// A vault with these fixture archives, a folder outside it, and its
/// plain export there.
fn imported(archives: &[&str]) -> (TestVault, tempfile::TempDir, Connection) {
    let v = TestVault::new();
    v.import(archives);
    let out = tempfile::tempdir().unwrap();
    let db = plain(&v, out.path(), "before.db");
    (v, out, db)
}

/// The ids of a conversation's messages.
fn messages_in(db: &Connection, c: &str) -> BTreeSet<String> {
    strings(db, "SELECT id FROM messages WHERE conversation_id = ?", c)
        .into_iter()
        .collect()
}

/// The objects folder's files, by name.
fn object_names(v: &TestVault) -> BTreeSet<String> {
    files_under(&v.vault().join("objects"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn forgetting_a_conversation_leaves_no_byte_of_it_and_an_import_does_not_bring_it_back() {
    let (v, out, before) = imported(&ARCHIVES);
    let c = conversation_to_forget(&before);
    let messages = messages_in(&before, &c);
    let media = out.path().join("media");
    let o = v.run(["export", "--conversation", &c, media.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut needles = needles_of(&before, &messages, &media);
    needles.insert(format!("conversation id {c}"), c.as_bytes().to_vec());
    let deleted = deleted_blake3s(&before, &messages);
    assert!(!deleted.is_empty());
    assert!(
        needles.keys().any(|k| k.starts_with("bytes of")),
        "{needles:?}"
    );
    assert!(
        needles.keys().any(|k| k.starts_with("text of")),
        "{needles:?}"
    );
    // The search finds them before: it can fail.
    let hay = remains(&v);
    assert_eq!(
        found(&hay, &needles).len(),
        needles.len(),
        "{:?}",
        needles.keys()
    );
    // The contents it uses that something kept uses too.
    let shared: BTreeSet<String> = {
        let mut st = before
            .prepare(
                "SELECT DISTINCT m.object_id, m.blake3 FROM media m JOIN messages g ON g.id = m.message_id
                  WHERE g.conversation_id = ? AND m.object_id IS NOT NULL",
            )
            .unwrap();
        st.query_map([&c], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .filter(|(_, b)| !deleted.contains(b))
        .map(|(o, _)| o)
        .collect()
    };
    assert!(!shared.is_empty());
    let kept_before: BTreeMap<String, String> = archives_of(&before)
        .into_iter()
        .filter(|(m, _)| !messages.contains(m))
        .collect();

    let o = v.run(["forget", "--conversation", &c, "--dry-run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("would forget"), "{}", stdout(&o));
    let report = forget(&v, &["--conversation", &c]);
    assert_eq!(
        report["plan"]["messages"].as_array().unwrap().len(),
        messages.len()
    );
    assert_eq!(report["plan"]["contents_deleted"], deleted.len() as u64);
    assert_eq!(report["plan"]["contents_shared"], shared.len() as u64);
    assert!(report["out_of_reach"].as_array().unwrap().len() >= 3);

    let left = found(&remains(&v), &needles);
    assert!(left.is_empty(), "still in the vault: {left:?}");
    let objects = object_names(&v);
    assert!(
        shared.iter().all(|o| objects.contains(&format!("{o}.age"))),
        "shared contents stay"
    );
    verify_clean(&v);
    let after = plain(&v, out.path(), "after.db");
    assert_eq!(
        archives_of(&after),
        kept_before,
        "the rest, with its provenance, is as it was"
    );
    let o = v.run(["show", &c]);
    assert_ne!(code(&o), 0);

    // An archive that holds it again (the same archive, zipped anew, so
    // that it is not recognised as one imported before) brings nothing
    // back, and says what it skipped.
    let figures = |v: &TestVault| {
        let s = v.stats();
        (
            s["messages"].clone(),
            s["references"].clone(),
            s["objects"].clone(),
        )
    };
    let before_reimport = figures(&v);
    let again = rezipped(out.path(), "g4-2024.zip");
    let o = v.run(["import", "--json", again.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let summary = json_lines(&o).pop().unwrap();
    assert_eq!(
        summary["messages_forgotten"],
        messages.len() as u64,
        "{summary}"
    );
    assert!(
        summary["media_forgotten"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert!(stdout(&o).is_empty() || !stdout(&o).contains(&c));
    let o = v.run(["import", again.to_str().unwrap()]);
    assert!(
        stdout(&o).contains("already") || stdout(&o).contains("forgotten"),
        "{}",
        stdout(&o)
    );
    let left = found(&remains(&v), &needles);
    assert!(left.is_empty(), "brought back: {left:?}");
    assert_eq!(figures(&v), before_reimport);
    verify_clean(&v);

    let o = v.run(["forget", "--list", "--json"]);
    let list = json_lines(&o);
    assert_eq!(list.len(), 1, "{}", stdout(&o));
    assert_eq!(list[0]["scope"], "conversation");
    assert_eq!(list[0]["messages"], messages.len() as u64);
    assert!(!stdout(&o).contains(&c), "the list names no id");
    // Again: it was forgotten.
    let again = forget(&v, &["--conversation", &c]);
    assert_eq!(again["already_forgotten"], true);

    // A second forgetting compacts the compacted chain; the list is in
    // the order they were made.
    let kept: String = after
        .query_row(
            "SELECT id FROM messages ORDER BY created_at LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    forget(&v, &["--message", &kept]);
    verify_clean(&v);
    let list = json_lines(&v.run(["forget", "--list", "--json"]));
    let scopes: Vec<&str> = list.iter().map(|l| l["scope"].as_str().unwrap()).collect();
    assert_eq!(scopes, ["conversation", "message"]);
    assert!(found(&remains(&v), &needles).is_empty());
}

/// The person who sent messages in a group and has one-to-one
/// conversations, reactions or name sightings: the most to forget.
pub fn person_to_forget(db: &Connection) -> String {
    db.query_row(
        "SELECT m.sender_id FROM messages m JOIN conversations c ON c.id = m.conversation_id
          WHERE c.kind = 'group' AND m.sender_id IN (SELECT user_id FROM names)
            AND m.sender_id IN (SELECT p.user_id FROM participants p
              JOIN conversations o ON o.id = p.conversation_id WHERE o.kind = 'one_to_one')
          GROUP BY m.sender_id ORDER BY count(*) DESC LIMIT 1",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn forgetting_a_person_takes_them_out_of_every_conversation_for_good() {
    let (v, out, before) = imported(&ARCHIVES);
    let p = person_to_forget(&before);
    let one_to_one = strings(
        &before,
        "SELECT c.id FROM conversations c JOIN participants x ON x.conversation_id = c.id
          WHERE x.user_id = ? AND c.kind = 'one_to_one'",
        &p,
    );
    let mut messages: BTreeSet<String> =
        strings(&before, "SELECT id FROM messages WHERE sender_id = ?", &p)
            .into_iter()
            .collect();
    for c in &one_to_one {
        messages.extend(strings(
            &before,
            "SELECT id FROM messages WHERE conversation_id = ?",
            c,
        ));
    }
    let media = out.path().join("media");
    let o = v.run(["export", media.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut needles = needles_of(&before, &messages, &media);
    needles.insert(format!("user id {p}"), p.as_bytes().to_vec());
    for name in strings(
        &before,
        "SELECT handle FROM names WHERE user_id = ? AND length(handle) >= 6",
        &p,
    ) {
        needles.insert(format!("handle {name}"), name.into_bytes());
    }
    // Only the catalog and the index are searched for the id (a number
    // could turn up in a photo's bytes by chance).
    let text_of = |v: &TestVault| {
        let (_, id) = vault_secret(v);
        let mut all = index_rows(v);
        for f in files_under(&v.vault().join("catalog")) {
            all.extend(try_decrypt(&fs::read(f).unwrap(), &id).unwrap());
        }
        all
    };
    assert_eq!(
        found(&text_of(&v), &needles).len(),
        needles.len() - needles.keys().filter(|k| k.starts_with("bytes")).count()
    );
    let group_kept = before
        .query_row(
            "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
              WHERE c.kind = 'group' AND m.sender_id != ?",
            [&p],
            |r| r.get::<_, i64>(0),
        )
        .unwrap();

    let report = forget(&v, &["--person", &p]);
    assert_eq!(
        report["plan"]["messages"].as_array().unwrap().len(),
        messages.len()
    );
    let left = found(&text_of(&v), &needles);
    assert!(left.is_empty(), "still in the catalog or index: {left:?}");
    let left = found(&remains(&v), &needles);
    assert!(
        left.iter().all(|l| l.starts_with("user id")),
        "still in the vault: {left:?}"
    );
    let after = plain(&v, out.path(), "after.db");
    let count = |sql: &str| after.query_row(sql, [&p], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(
        count("SELECT count(*) FROM messages WHERE sender_id = ?1 OR recipient_id = ?1"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM participants WHERE user_id = ?"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM reactions WHERE sender_id = ?"),
        0
    );
    assert_eq!(count("SELECT count(*) FROM people WHERE user_id = ?"), 0);
    assert_eq!(
        count(
            "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
              WHERE c.kind = 'group' AND m.sender_id != ?"
        ),
        group_kept,
        "the others' group messages stay"
    );
    verify_clean(&v);

    // Archives that show them again bring nothing back.
    for a in ["g4-2024.zip", "series-2022.zip"] {
        let again = rezipped(out.path(), a);
        let o = v.run(["import", again.to_str().unwrap()]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let left = found(&text_of(&v), &needles);
    assert!(left.is_empty(), "brought back: {left:?}");
    verify_clean(&v);
}

#[test]
fn forgetting_one_message_keeps_every_other_as_it_was() {
    let (v, out, before) = imported(&ARCHIVES);
    // An early message of a conversation later archives show again: the
    // numbers of every message after it move (seen ranges are by number).
    let m: String = before
        .query_row(
            "SELECT id FROM messages WHERE archives LIKE '7,8%' ORDER BY created_at LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut kept = archives_of(&before);
    kept.remove(&m);
    assert!(
        kept.values().any(|a| a.contains(',')),
        "messages seen in several archives"
    );
    let report = forget(&v, &["--message", &m]);
    assert_eq!(report["plan"]["messages"], serde_json::json!([m]));
    assert_eq!(archives_of(&plain(&v, out.path(), "after.db")), kept);
    verify_clean(&v);
    let o = v.run([
        "show",
        "--json",
        "--around",
        &m,
        "3308142657-1198534218347696128",
    ]);
    assert!(!stdout(&o).contains(&format!("\"{m}\"")), "{}", stdout(&o));
}

/// What a user sees of the vault: its media references and figures.
fn state(v: &TestVault) -> (Vec<String>, Value) {
    (crate::util::comparable(v.ls(&[])), v.content_stats())
}

/// A copy of a test vault (its home too) in a new folder.
fn copy_of(v: &TestVault) -> TestVault {
    let t = TestVault {
        dir: tempfile::tempdir().unwrap(),
    };
    let ok = Command::new("cp")
        .args([
            "-a",
            &format!("{}/.", v.dir.path().display()),
            t.dir.path().to_str().unwrap(),
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    t
}

#[test]
fn a_forget_killed_at_any_step_leaves_the_vault_as_before_or_after_and_runs_again() {
    let base = TestVault::new();
    base.import(&[
        "g4-2024.zip",
        "series-2021.zip",
        "series-2022.zip",
        "series-2023.zip",
    ]);
    let c = "3308142657-1198534218347696128";
    let before = state(&base);
    let reference = copy_of(&base);
    forget(&reference, &["--conversation", c]);
    let after = state(&reference);
    assert_ne!(before, after);
    let segments = files_under(&reference.vault().join("catalog")).len();
    let objects = object_names(&reference);
    let mut kills = 0;
    for point in [
        "compact-segment",
        "segment",
        "compacted",
        "compact-object",
        "compact-old",
        "index",
        "index-commit",
    ] {
        for n in 1.. {
            let v = copy_of(&base);
            let o = v
                .cmd()
                .env("DMVAULT_FAULT", format!("{point}:{n}"))
                .args(["forget", "--yes", "--conversation", c])
                .output()
                .unwrap();
            if o.status.code().is_some() {
                assert_eq!(code(&o), 0, "{point}:{n}: {}", stderr(&o));
                break;
            }
            kills += 1;
            let now = state(&v);
            assert!(now == before || now == after, "{point}:{n}: half forgotten");
            let o = v.run(["forget", "--yes", "--conversation", c]);
            assert_eq!(code(&o), 0, "{point}:{n} again: {}", stderr(&o));
            assert_eq!(state(&v), after, "{point}:{n}");
            verify_clean(&v);
            assert_eq!(
                files_under(&v.vault().join("catalog")).len(),
                segments,
                "{point}:{n}"
            );
            assert_eq!(object_names(&v), objects, "{point}:{n}");
        }
    }
    assert!(kills > 20, "{kills} kills");
}

#[test]
fn a_compaction_needs_the_vaults_key_and_a_rollback_past_one_is_caught() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip", "series-2021.zip"]);
    let o = v.run(["verify"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let old = copy_of(&v);

    // A write-only key cannot forget.
    let key = v.dir.path().join("nas.key");
    let o = v.run(["key", "add", "--write-only", key.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = v.run([
        "forget",
        "--yes",
        "-i",
        key.to_str().unwrap(),
        "--conversation",
        "48213377-1062514387293179904",
    ]);
    assert_eq!(code(&o), 12, "{}", stderr(&o));
    assert!(stderr(&o).contains("write-only"), "{}", stderr(&o));

    // The vault's key can, and this computer's record of the vault's head
    // follows the compaction.
    forget(&v, &["--conversation", "48213377-1062514387293179904"]);
    verify_clean(&v);

    // The old vault put back in its place is a rollback.
    let vault = v.vault();
    fs::rename(&vault, v.dir.path().join("compacted")).unwrap();
    fs::rename(old.vault(), &vault).unwrap();
    let o = v.run(["verify", "--json"]);
    assert_eq!(code(&o), 4, "{}", stdout(&o));
    assert!(stdout(&o).contains("rollback"), "{}", stdout(&o));
    fs::rename(&vault, old.dir.path().join("vault")).unwrap();
    fs::rename(v.dir.path().join("compacted"), &vault).unwrap();

    // A compaction segment written without the key (encrypted to the
    // vault, but its MAC made up) is refused, by every command.
    let (_, id) = vault_secret(&v);
    let catalog = vault.join("catalog");
    let first = files_under(&catalog).into_iter().min().unwrap();
    let text = String::from_utf8(try_decrypt(&fs::read(&first).unwrap(), &id).unwrap()).unwrap();
    assert!(text.contains("\"t\":\"compaction\""), "{text}");
    let forged = text.replace("\"t\":\"forgotten\"", "\"t\":\"forgotten\",\"x\":1");
    let enc =
        age::Encryptor::with_recipients(std::iter::once(&id.to_public() as &dyn age::Recipient))
            .unwrap();
    let mut bytes = Vec::new();
    let mut w = enc.wrap_output(&mut bytes).unwrap();
    std::io::Write::write_all(&mut w, forged.as_bytes()).unwrap();
    w.finish().unwrap();
    let saved = fs::read(&first).unwrap();
    fs::write(&first, &bytes).unwrap();
    let o = v.run(["ls"]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("MAC does not match"), "{}", stderr(&o));
    let o = v.run(["verify"]);
    assert_eq!(code(&o), 4, "{}", stdout(&o));
    fs::write(&first, saved).unwrap();
    verify_clean(&v);

    // Segments deleted from a chain that was never compacted are missed.
    let u = TestVault::new();
    u.import(&["g4-2024.zip", "series-2021.zip"]);
    fs::remove_file(u.vault().join("catalog/0000000001.age")).unwrap();
    let o = u.run(["ls"]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("0000000001.age: missing"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_write_only_import_after_a_forget_leaves_nothing_of_it_once_merged() {
    let (v, out, before) = imported(&["g4-2024.zip", "g1-2018.zip"]);
    let c = "48213377-1062514387293179904".to_owned();
    let messages = messages_in(&before, &c);
    let media = out.path().join("media");
    let o = v.run(["export", "--conversation", &c, media.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let needles = needles_of(&before, &messages, &media);
    assert!(needles.keys().any(|k| k.starts_with("bytes of")));
    forget(&v, &["--conversation", &c]);
    let objects = object_names(&v);
    let after = state(&v);

    // The importer cannot read the ledger: it sends everything, files of
    // forgotten contents too; the merge keeps none of it.
    let key = v.dir.path().join("nas.key");
    let o = v.run(["key", "add", "--write-only", key.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let again = rezipped(out.path(), "g4-2024.zip");
    let o = v
        .cmd()
        .env("HOME", out.path().join("nas-home"))
        .env("DMVAULT_IDENTITY", &key)
        .args(["import", again.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        object_names(&v).len() > objects.len(),
        "the importer stored them"
    );
    // The merge killed after each segment it commits (before it deletes
    // what that segment's importer stored): the next command finishes it.
    for n in 1.. {
        let w = copy_of(&v);
        let o = w
            .cmd()
            .env("DMVAULT_FAULT", format!("segment:{n}"))
            .args(["stats"])
            .output()
            .unwrap();
        if o.status.code().is_some() {
            assert!(n > 2, "{n}: {}", stderr(&o));
            break;
        }
        let o = w.run(["stats"]);
        assert_eq!(code(&o), 0);
        let now = object_names(&w);
        assert_eq!(
            now,
            objects,
            "killed at segment {n}: extra {:?}, gone {:?}; {}",
            now.difference(&objects).collect::<Vec<_>>(),
            objects.difference(&now).collect::<Vec<_>>(),
            stderr(&o)
        );
    }
    let strip = |rows: Vec<String>| -> Vec<String> {
        rows.iter()
            .map(|r| {
                let mut r: Value = serde_json::from_str(r).unwrap();
                r.as_object_mut().unwrap().remove("archives");
                r.to_string()
            })
            .collect()
    };
    assert_eq!(strip(state(&v).0), strip(after.0), "merged without them");
    assert_eq!(object_names(&v), objects);
    let left = found(&remains(&v), &needles);
    assert!(left.is_empty(), "merged back: {left:?}");
    verify_clean(&v);
}
