//! ZIPs made by other tools (classes 7 and 18): repeated entry names,
//! `\` separators, and paths that are not files at all.

use std::fs;
use std::time::{Duration, Instant};

use crate::util::*;

fn dm_file(conversation_id: &str, message_id: &str, media: Option<&str>) -> Vec<u8> {
    format!(
        "window.YTD.direct_messages.part0 = [{}]",
        conversation(
            conversation_id,
            &[message(message_id, "1", "\"2023-03-01T00:00:00Z\"", media)]
        )
    )
    .into_bytes()
}

/// Class 7: two DM files and two media files of the same name: every one
/// is read, and the user is told.
#[test]
fn every_entry_of_a_zip_with_repeated_names_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let (photo_a, photo_b) = (jpeg("image-life.jpg"), jpeg("image-negate.jpg"));
    let zip = tmp.path().join("repeated.zip");
    fs::write(
        &zip,
        raw_zip(&[
            (
                "data/direct-messages.js",
                &dm_file("1-2", "601", Some("p.jpg")),
            ),
            ("data/direct_messages_media/601-p.jpg", &photo_a),
            ("data/direct-messages.js", &dm_file("1-3", "602", None)),
            ("data/direct_messages_media/601-p.jpg", &photo_b),
        ]),
    )
    .unwrap();
    let report = inspect_json(&zip);
    assert_eq!(report["messages"], 2, "both DM files: {report}");
    assert_eq!(report["conversations"]["one_to_one"], 2, "{report}");
    assert_eq!(
        (
            report["media_found"].as_u64(),
            report["media_orphans"].as_u64()
        ),
        (Some(1), Some(1)),
        "both copies of the photo: {report}"
    );
    assert!(
        report["warnings"]
            .to_string()
            .contains("2 entries named \\\"data/direct-messages.js\\\""),
        "{report}"
    );
    let v = TestVault::new();
    let o = v.run(["import".as_ref(), "--json".as_ref(), zip.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(v.stats()["objects"], 2, "both contents are stored");
    assert_eq!(v.stats()["messages"], 2);
}

/// Class 18: a ZIP made by an old Windows tool, `\` between folders, is
/// read like any other.
#[test]
fn backslash_separated_names_are_read_as_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let photo = jpeg("image-smptebars.jpg");
    let zip = tmp.path().join("windows.zip");
    fs::write(
        &zip,
        raw_zip(&[
            (
                "twitter-2021\\data\\direct-messages.js",
                &dm_file("1-2", "701", Some("w.jpg")),
            ),
            (
                "twitter-2021\\data\\direct_messages_media\\701-w.jpg",
                &photo,
            ),
        ]),
    )
    .unwrap();
    let report = inspect_json(&zip);
    assert_eq!(
        (report["messages"].as_u64(), report["media_found"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    let v = TestVault::new();
    let o = v.run(["import".as_ref(), zip.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = v.ls(&[]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["original_name"], "701-w.jpg");
}

/// Class 18: a named pipe given as the archive is refused at once (it is
/// not read, so nothing waits for a writer that never comes).
#[test]
fn a_named_pipe_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("archive.zip");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let start = Instant::now();
    let o = dmvault(["inspect".as_ref(), fifo.as_os_str()]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("archive.zip: not a file or a folder"),
        "{}",
        stderr(&o)
    );
    let v = TestVault::new();
    let o = v.run([
        "import".as_ref(),
        fifo.as_os_str(),
        fixture("g3-2020.zip").as_os_str(),
    ]);
    assert_eq!(code(&o), 3, "the other archive is imported: {}", stderr(&o));
    assert!(v.stats()["messages"].as_u64().unwrap() > 0);
}
