//! Dates and records dmvault cannot represent or read (classes 1, 3, 12).

use std::fs;

use serde_json::Value;

use crate::util::*;

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).unwrap()].matches('\n').count() + 1
}

fn dm_text(b: &ArchiveBuilder) -> String {
    fs::read_to_string(b.root.join("data/direct-messages.js")).unwrap()
}

/// Class 1: a `createdAt` outside the years 0000–9999, in a message and in
/// a group rename, is clamped at import with a warning naming file, line
/// and column; every command keeps working.
#[test]
fn an_out_of_range_date_is_clamped_with_a_warning_and_the_vault_still_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let b = ArchiveBuilder::new(tmp.path(), "dates");
    b.conversations(&[
        conversation(
            "1-2",
            &[
                message("101", "1", "\"253402300800000\"", Some("a.jpg")),
                message("102", "2", "\"0000-01-01T00:00:00+01:00\"", None),
                message("103", "1", "\"2024-06-14T20:06:32.948Z\"", None),
            ],
        ),
        conversation(
            "777",
            &[r#"{"conversationNameUpdate": {"initiatingUserId": "1", "name": "Far future", "createdAt": "99999999999999999"}}"#.to_owned()],
        ),
    ])
    .media("101-a.jpg", &jpeg("image-testsrc.jpg"));
    let zip = b.zip();
    let text = dm_text(&b);
    let v = TestVault::new();
    let o = v.run(["import".as_ref(), "--json".as_ref(), zip.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let archive = &json_lines(&o)[0];
    let warnings: Vec<&str> = archive["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    for id in ["101", "102"] {
        let at = format!(
            "data/direct-messages.js:{}:",
            line_of(&text, &format!("\"id\": \"{id}\""))
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with(&at) && w.contains("outside the years 0000-9999")),
            "no warning for message {id} at {at}: {warnings:?}"
        );
    }
    assert!(
        warnings.iter().any(|w| w.contains("99999999999999999")),
        "{warnings:?}"
    );
    // Every command still works, and shows the clamped dates.
    let rows = v.ls(&[]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["created_at"], "9999-12-30T22:00:00.000Z");
    assert_eq!(v.stats()["messages"], 3);
    let out = v.dir.path().join("exported-identity.txt");
    for args in [
        vec!["ls".to_owned()],
        vec!["stats".to_owned()],
        vec!["import".to_owned(), zip.display().to_string()],
        vec!["key".to_owned(), "list".to_owned()],
        vec![
            "key".to_owned(),
            "export-identity".to_owned(),
            out.display().to_string(),
        ],
        vec!["verify".to_owned(), "--read-data".to_owned()],
        vec![
            "export".to_owned(),
            v.dir.path().join("x").display().to_string(),
        ],
    ] {
        let o = v.run(&args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
}

/// Appends a catalog segment holding `records` (JSON lines) as dmvault 0.1
/// would have written it, authenticated with the vault's MAC key.
fn append_segment(v: &TestVault, records: &[&str]) {
    let (secret, identity) = vault_secret(v);
    let mac_key = blake3::derive_key("dmvault 2026-11 v1 catalog mac", &secret);
    let dir = v.vault().join("catalog");
    let mut segments: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segments.sort();
    let last = decrypt(&fs::read(segments.last().unwrap()).unwrap(), &identity);
    let trailer = String::from_utf8(last).unwrap();
    let prev: Value = serde_json::from_str(trailer.lines().last().unwrap()).unwrap();
    let seq = segments.len() + 1;
    let mut body = format!(
        "{{\"format\":\"dmvault-catalog-segment\",\"version\":1,\"seq\":{seq},\"prev\":\"{}\"}}\n",
        prev["mac"].as_str().unwrap()
    );
    for r in records {
        body.push_str(r);
        body.push('\n');
    }
    let mac = blake3::keyed_hash(&mac_key, body.as_bytes());
    body.push_str(&format!("{{\"mac\":\"{}\"}}\n", mac.to_hex()));
    let enc = age::Encryptor::with_recipients(std::iter::once(
        &identity.to_public() as &dyn age::Recipient
    ))
    .unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    std::io::Write::write_all(&mut w, body.as_bytes()).unwrap();
    w.finish().unwrap();
    fs::write(dir.join(format!("{seq:010}.age")), out).unwrap();
}

/// Class 1, the other half: a vault into which dmvault 0.1 already wrote a
/// date it could not read back opens, and shows the nearest date it can.
#[test]
fn a_vault_holding_an_unreadable_date_from_an_older_version_still_opens() {
    let v = TestVault::new();
    v.import(&["g3-2020.zip"]);
    let before = v.stats()["messages"].as_u64().unwrap();
    let row = v.ls(&[]).remove(0);
    let file = format!(
        r#"{{"size":{},"blake3":"{}","sha256":"{}","object":"{}"}}"#,
        row["size"],
        row["blake3"].as_str().unwrap(),
        row["sha256"].as_str().unwrap(),
        row["object"].as_str().unwrap()
    );
    append_segment(
        &v,
        &[
            r#"{"t":"conversation","id":"5-6","kind":"one_to_one","archive":1,"participants":["5","6"],"names":[{"at":"-001-12-31T23:00:00.000Z","name":"old","by":"5"}]}"#,
            r#"{"t":"message","id":"990","conversation":"5-6","sender":"5","recipient":"6","created_at":"10000-01-01T00:00:00.000Z","text":"x","welcome":false,"reactions":[{"senderId":"6","reactionKey":"like","createdAt":"10000-01-01T00:00:00.000Z"}],"edits":[{"editedText":"y","createdAtSec":"-001-12-31T23:00:00.000Z"}],"urls":[],"archive":1}"#,
            &format!(
                r#"{{"t":"media","message":"990","url":"https://ton.twitter.com/dm/990/1/z.jpg","ordinal":0,"kind":"image","original_name":"990-z.jpg","file":{file},"archive":1}}"#
            ),
        ],
    );
    for args in [["stats"].as_slice(), &["ls"], &["key", "list"], &["verify"]] {
        let o = v.run(args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
    assert_eq!(v.stats()["messages"].as_u64().unwrap(), before + 1);
    let rows = v.ls(&["--since", "9000-01-01"]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["created_at"], "9999-12-30T22:00:00.000Z");
    let o = v.run(["import".as_ref(), fixture("g3-2020.zip").as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// Class 3: a non-ASCII character in a UTC offset is an unreadable date,
/// never a panic: the event is skipped and named, the other archives of
/// the same import are read, and `ls --since` says it is not a date.
#[test]
fn a_non_ascii_offset_is_reported_never_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let b = ArchiveBuilder::new(tmp.path(), "offset");
    b.conversations(&[conversation(
        "1-2",
        &[
            message("201", "1", "\"2024-06-14T20:06:32+0é00\"", None),
            message("202", "2", "\"2024-06-14T20:06:32Z\"", None),
        ],
    )]);
    let zip = b.zip();
    let line = line_of(&dm_text(&b), "\"201\"");
    let o = dmvault(["inspect".as_ref(), "--json".as_ref(), zip.as_os_str()]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let report = &json_lines(&o)[0];
    assert_eq!(report["messages"], 1);
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains(&format!("data/direct-messages.js:{line}:"))
            && warnings.contains("was skipped"),
        "{warnings}"
    );
    let v = TestVault::new();
    let o = v.run([
        "import".as_ref(),
        zip.as_os_str(),
        fixture("g3-2020.zip").as_os_str(),
    ]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("g3-2020.zip: "),
        "the next archive was imported: {}",
        stdout(&o)
    );
    let o = v.run(["ls", "--since", "2024-06-14T20:06:32+0é00"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("is not a date"), "{}", stderr(&o));
}

/// Class 12: valid JSON of the wrong shape costs the record it is in, and
/// nothing after it; a numeric id is read as its digits.
#[test]
fn one_bad_record_costs_only_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let b = ArchiveBuilder::new(tmp.path(), "records");
    b.conversations(&[
        conversation("1-2", &[message("301", "1", "\"2024-01-01T00:00:00Z\"", Some("a.jpg"))]),
        conversation(
            "1-3",
            &[
                message("302", "1", "\"soon\"", None),
                r#"{"messageCreate": {"id": "303", "senderId": "1", "mediaUrls": 5, "createdAt": "2024-01-02T00:00:00Z"}}"#.to_owned(),
                message("304", "3", "\"2024-01-03T00:00:00Z\"", None),
            ],
        ),
        r#"{"dmConversation": {"conversationId": {"not": "an id"}, "messages": []}}"#.to_owned(),
        conversation(
            "1-4",
            &[r#"{"messageCreate": {"id": 305, "senderId": 4, "recipientId": "1", "mediaUrls": [], "createdAt": "2024-01-04T00:00:00Z"}}"#.to_owned()],
        ),
        conversation("1-5", &[message("306", "5", "\"2024-01-05T00:00:00Z\"", None)]),
    ])
    .media("301-a.jpg", &jpeg("image-life.jpg"));
    let text = dm_text(&b);
    let zip = b.zip();
    let o = dmvault(["inspect".as_ref(), "--json".as_ref(), zip.as_os_str()]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let report = &json_lines(&o)[0];
    assert_eq!(report["messages"], 4, "301, 304, 305 and 306: {report}");
    assert_eq!(report["conversations"]["one_to_one"], 4, "{report}");
    let warnings = report["warnings"].to_string();
    for needle in ["\"302\"", "\"mediaUrls\": 5", "{\"not\""] {
        let at = format!("data/direct-messages.js:{}:", line_of(&text, needle));
        assert!(
            warnings.contains(&at),
            "nothing at {at} for {needle}: {warnings}"
        );
    }
    let v = TestVault::new();
    let o = v.run(["import".as_ref(), "--json".as_ref(), zip.as_os_str()]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let summary = json_lines(&o).pop().unwrap();
    assert_eq!(summary["records_skipped"], 3, "{summary}");
    assert_eq!(summary["messages_new"], 4, "{summary}");
    assert_eq!(v.ls(&[]).len(), 1, "the media of message 301 is stored");
    assert_eq!(v.stats()["conversations"]["one_to_one"], 4);
}

/// The archive format doc's example of a reaction date that is no date:
/// an optional date is left out with a warning, the message is kept.
#[test]
fn an_optional_date_that_is_no_date_is_left_out_and_the_message_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let b = ArchiveBuilder::new(tmp.path(), "reaction");
    b.conversations(&[conversation(
        "1-2",
        &[r#"{"messageCreate": {"id": "401", "senderId": "1", "recipientId": "2", "mediaUrls": [], "createdAt": "2024-01-01T00:00:00Z", "reactions": [{"senderId": "2", "reactionKey": "like", "createdAt": "yesterday"}]}}"#.to_owned()],
    )]);
    let o = dmvault(["inspect".as_ref(), "--json".as_ref(), b.root.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let report = &json_lines(&o)[0];
    assert_eq!(report["messages"], 1);
    assert!(
        report["warnings"]
            .to_string()
            .contains("\\\"yesterday\\\" is not a date"),
        "{report}"
    );
}

/// Characters JSON does not allow inside a string (a raw tab, half of an
/// emoji) cost nothing: they are replaced, and the message is kept.
#[test]
fn characters_json_does_not_allow_are_replaced_and_the_message_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let b = ArchiveBuilder::new(tmp.path(), "mended");
    b.conversations(&[
        conversation(
            "1-2",
            &["{\"messageCreate\": {\"id\": \"1301\", \"senderId\": \"1\", \"text\": \"a\ttab and half an emoji \\ud83d\", \"mediaUrls\": [], \"createdAt\": \"2024-01-01T00:00:00Z\"}}".to_owned()],
        ),
        conversation("1-3", &[message("1302", "1", "\"2024-01-02T00:00:00Z\"", None)]),
    ]);
    let o = dmvault(["inspect".as_ref(), "--json".as_ref(), b.root.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let report = &json_lines(&o)[0];
    assert_eq!(report["messages"], 2, "{report}");
    assert!(
        report["warnings"]
            .to_string()
            .contains("2 characters that JSON does not allow"),
        "{report}"
    );
}
