//! Bad input: every error names the file (and entry, line, column), says
//! what to do, and exits with the documented code (docs/cli.md).

use std::fs;

use crate::util::*;

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    assert_eq!(code(&dmvault(["inspect"])), 2);
    assert_eq!(code(&dmvault(["frobnicate"])), 2);
    let h = dmvault(["inspect", "--help"]);
    assert_eq!(code(&h), 0);
    assert!(stdout(&h).contains("--json"));
}

#[test]
fn missing_path_is_named() {
    let o = dmvault(["inspect", "/nonexistent/archive.zip"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("/nonexistent/archive.zip"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_text_file_is_not_a_zip() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("notes.zip");
    fs::write(&p, "just some notes\n").unwrap();
    let o = dmvault(["inspect".as_ref(), p.as_os_str()]);
    assert_eq!(code(&o), 1);
    let e = stderr(&o);
    assert!(
        e.contains("notes.zip") && e.contains("not a ZIP file"),
        "{e}"
    );
    assert!(
        e.contains("hint:") && e.contains("Download an archive"),
        "{e}"
    );
}

#[test]
fn a_zip_cut_short_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("a");
    fs::create_dir_all(folder.join("data")).unwrap();
    fs::write(
        folder.join("data/direct-messages.js"),
        "window.YTD.direct_messages.part0 = [ ]",
    )
    .unwrap();
    fs::write(folder.join("data/padding.bin"), vec![7u8; 50_000]).unwrap();
    let zip = tmp.path().join("cut.zip");
    zip_dir(&folder, &zip, "");
    let bytes = fs::read(&zip).unwrap();
    fs::write(&zip, &bytes[..bytes.len() / 2]).unwrap();
    let o = dmvault(["inspect".as_ref(), zip.as_os_str()]);
    assert_eq!(code(&o), 1);
    let e = stderr(&o);
    assert!(e.contains("cut.zip") && e.contains("cut short"), "{e}");
    assert!(e.contains("Download the archive again"), "{e}");
}

#[test]
fn a_zip_that_is_no_x_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("photos");
    fs::create_dir_all(folder.join("holiday")).unwrap();
    fs::write(folder.join("holiday/a.jpg"), b"\xff\xd8\xff").unwrap();
    fs::write(folder.join("notes.txt"), b"hi").unwrap();
    let zip = tmp.path().join("photos.zip");
    zip_dir(&folder, &zip, "");
    let o = dmvault(["inspect".as_ref(), zip.as_os_str()]);
    assert_eq!(code(&o), 1);
    let e = stderr(&o);
    assert!(
        e.contains("photos.zip") && e.contains("not an X archive"),
        "{e}"
    );
}

fn small_archive(dir: &std::path::Path) {
    fs::create_dir_all(dir.join("data/direct_messages_media")).unwrap();
    fs::write(
        dir.join("data/direct-messages.js"),
        r#"window.YTD.direct_messages.part0 = [
  {
    "dmConversation" : {
      "conversationId" : "1-2",
      "messages" : [
        {
          "messageCreate" : {
            "recipientId" : "2",
            "text" : "x",
            "mediaUrls" : [ "https://ton.twitter.com/dm/1000000000000000001/9/abc.jpg" ],
            "senderId" : "1",
            "id" : "1000000000000000001",
            "createdAt" : "2023-01-01T00:00:00.000Z"
          }
        }
      ]
    }
  }
]"#,
    )
    .unwrap();
    fs::write(
        dir.join("data/direct_messages_media/1000000000000000001-abc.jpg"),
        b"jpeg",
    )
    .unwrap();
}

#[test]
fn symlinks_out_of_the_folder_are_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("archive");
    small_archive(&dir);
    let secret = tmp.path().join("secret.jpg");
    fs::write(&secret, b"private").unwrap();
    std::os::unix::fs::symlink(
        &secret,
        dir.join("data/direct_messages_media/2000000000000000002-x.jpg"),
    )
    .unwrap();
    let o = dmvault(["inspect".as_ref(), "--json".as_ref(), dir.as_os_str()]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let v = &json_lines(&o)[0];
    assert_eq!(v["media_found"], 1);
    assert_eq!(v["media_orphans"], 0, "the link was not counted as a file");
    let w = v["warnings"].to_string();
    assert!(
        w.contains("2000000000000000002-x.jpg") && w.contains("not followed"),
        "{w}"
    );
}

#[test]
fn entries_with_absolute_paths_or_dotdot_are_skipped_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("archive");
    small_archive(&dir);
    let zip = tmp.path().join("slip.zip");
    zip_dir(&dir, &zip, "");
    // Append evil entries to a copy.
    let mut w = zip::ZipWriter::new_append(
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&zip)
            .unwrap(),
    )
    .unwrap();
    let opts = zip::write::SimpleFileOptions::default();
    for name in [
        "../evil.js",
        "/abs/evil.jpg",
        "data/direct_messages_media/../../escape.jpg",
    ] {
        w.start_file(name, opts).unwrap();
        std::io::Write::write_all(&mut w, b"evil").unwrap();
    }
    w.finish().unwrap();
    let o = dmvault(["inspect".as_ref(), "--json".as_ref(), zip.as_os_str()]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let v = &json_lines(&o)[0];
    assert_eq!(v["messages"], 1);
    assert_eq!(v["media_found"], 1);
    let w = v["warnings"].to_string();
    for name in ["../evil.js", "/abs/evil.jpg", "escape.jpg"] {
        assert!(w.contains(name), "{name} not named in {w}");
    }
}

#[test]
fn one_bad_archive_among_good_ones_exits_3() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    small_archive(&good);
    let bad = tmp.path().join("bad.zip");
    fs::write(&bad, "nope").unwrap();
    let o = dmvault([
        "inspect".as_ref(),
        "--json".as_ref(),
        good.as_os_str(),
        bad.as_os_str(),
    ]);
    assert_eq!(code(&o), 3);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["messages"], 1);
    assert!(stderr(&o).contains("bad.zip"), "{}", stderr(&o));
}

#[test]
fn invalid_json_in_one_file_the_others_still_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("archive");
    small_archive(&dir);
    fs::write(
        dir.join("data/direct-messages-group.js"),
        "window.YTD.direct_messages_group.part0 = [\n  {\n    \"dmConversation\" : {\n      \"conversationId\" : \"5\",\n      \"messages\" : [ {\"messageCreate\" : {\"id\" : \"7\", \"createdAt\" : \"2023-01-01T00:00:00.000Z\",} } ]\n    }\n  }\n]",
    )
    .unwrap();
    let o = dmvault(["inspect".as_ref(), dir.as_os_str()]);
    assert_eq!(code(&o), 3);
    let out = stdout(&o);
    assert!(out.contains("messages     1 in 1 conversations"), "{out}");
    assert!(out.contains("data/direct-messages-group.js:5:"), "{out}");
    assert!(out.contains("invalid JSON"), "{out}");
}
