//! Memory bounded by design (classes 2 and 9): a ZIP inside the archive is
//! inflated once, `account.js` and `manifest.js` are parsed as streams and
//! never beyond a size, and pictures are never decoded beyond a pixel
//! budget. Each case is measured: peak RSS under 300 MiB.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;

use crate::util::*;

const LIMIT_MIB: f64 = 300.0;

/// `dmvault import --json` of an archive into `v`, with its peak RSS in MiB.
fn import_measured(v: &TestVault, archive: &Path) -> (std::process::Output, f64) {
    run_measuring_rss(
        v.cmd()
            .args(["import".as_ref(), "--json".as_ref(), archive.as_os_str()]),
    )
}

/// `dmvault inspect --json` of an archive, with its peak RSS in MiB; temp
/// files go to `tmp`.
fn inspect_measured(archive: &Path, tmp: &Path) -> (std::process::Output, f64) {
    run_measuring_rss(
        std::process::Command::new(env!("CARGO_BIN_EXE_dmvault"))
            .args(["inspect".as_ref(), "--json".as_ref(), archive.as_os_str()])
            .env("TMPDIR", tmp),
    )
}

fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true)
}

/// Writes `len` bytes of `fill` into the ZIP entry being written.
fn write_repeated(w: &mut impl Write, fill: u8, len: usize) {
    let block = vec![fill; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len());
        w.write_all(&block[..n]).unwrap();
        left -= n;
    }
}

/// A 2019-style archive whose media ZIP (320 MiB, its files stored) is
/// itself stored *compressed* inside the archive, which makes it a small
/// file: a photo a message points to, and a 320 MiB file of zeros.
fn archive_with_compressed_media_zip(dir: &Path) -> PathBuf {
    let stored = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let mut inner = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    inner.start_file("1001-a.jpg", stored).unwrap();
    inner.write_all(&jpeg("image-testsrc.jpg")).unwrap();
    inner.start_file("1002-zeros.mp4", stored).unwrap();
    write_repeated(&mut inner, 0, 320 << 20);
    let inner = inner.finish().unwrap().into_inner();

    let path = dir.join("nested.zip");
    let mut outer = zip::ZipWriter::new(File::create(&path).unwrap());
    outer
        .start_file("data/direct-messages.js", deflated())
        .unwrap();
    let dm = format!(
        "window.YTD.direct_messages.part0 = [{}]",
        conversation(
            "1-2",
            &[message(
                "1001",
                "1",
                "\"2019-06-01T00:00:00Z\"",
                Some("a.jpg")
            )]
        )
    );
    outer.write_all(dm.as_bytes()).unwrap();
    outer
        .start_file("data/direct_messages_media/media.zip", deflated())
        .unwrap();
    outer.write_all(&inner).unwrap();
    outer.finish().unwrap();
    path
}

#[test]
fn a_compressed_media_zip_inside_the_archive_is_inflated_once() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = archive_with_compressed_media_zip(tmp.path());
    assert!(
        std::fs::metadata(&zip).unwrap().len() < 2 << 20,
        "the archive is small"
    );
    let (o, rss) = inspect_measured(&zip, tmp.path());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let report = &json_lines(&o)[0];
    assert_eq!(
        (
            report["media_found"].as_u64(),
            report["media_orphans"].as_u64()
        ),
        (Some(1), Some(1)),
        "{report}"
    );
    assert!(rss < LIMIT_MIB, "inspect peaked at {rss:.0} MiB");

    let v = TestVault::new();
    let (o, rss) = import_measured(&v, &zip);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(rss < LIMIT_MIB, "import peaked at {rss:.0} MiB");
    let summary = json_lines(&o).pop().unwrap();
    assert_eq!(summary["media_new"], 2, "{summary}");
    assert!(
        summary["bytes_new"].as_u64().unwrap() > 320 << 20,
        "{summary}"
    );
    // Nothing of the inflated media ZIP is left in the vault's temp folder.
    assert_eq!(std::fs::read_dir(v.vault().join("tmp")).unwrap().count(), 0);
    let o = v.run(["verify", "--read-data"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

/// An archive whose `account.js` and `manifest.js` inflate to 1 GiB each
/// from a ZIP of a few MiB.
#[test]
fn huge_account_and_manifest_files_are_not_read_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bombs.zip");
    let mut z = zip::ZipWriter::new(File::create(&path).unwrap());
    z.start_file("data/manifest.js", deflated()).unwrap();
    z.write_all(b"window.__THAR_CONFIG = {\"userInfo\": {\"accountId\": \"1\"}, \"pad\": \"")
        .unwrap();
    write_repeated(&mut z, b'a', 1 << 30);
    z.write_all(b"\"}").unwrap();
    z.start_file("data/account.js", deflated()).unwrap();
    z.write_all(
        b"window.YTD.account.part0 = [{\"account\": {\"accountId\": \"1\", \"username\": \"x\"}}",
    )
    .unwrap();
    for _ in 0..(1 << 30) / (1 << 20) {
        write_repeated(&mut z, b' ', (1 << 20) - 2);
        z.write_all(b",0").unwrap();
    }
    z.write_all(b"]").unwrap();
    z.start_file("data/direct-messages.js", deflated()).unwrap();
    let dm = format!(
        "window.YTD.direct_messages.part0 = [{}]",
        conversation(
            "1-2",
            &[message("1", "1", "\"2021-01-01T00:00:00Z\"", None)]
        )
    );
    z.write_all(dm.as_bytes()).unwrap();
    z.finish().unwrap();
    let (o, rss) = inspect_measured(&path, tmp.path());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(rss < LIMIT_MIB, "inspect peaked at {rss:.0} MiB");
    let report = &json_lines(&o)[0];
    assert_eq!(report["messages"], 1, "{report}");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("data/manifest.js")
            && warnings.contains("data/account.js")
            && warnings.contains("was not read"),
        "{warnings}"
    );
}

/// A 3 KiB lossless WebP of 8192 × 8192 pixels (256 MiB decoded), made by
/// `fixtures/hostile.sh`.
fn huge_webp(colour: &str) -> Vec<u8> {
    std::fs::read(repo().join(format!("fixtures/hostile/webp-8192-{colour}.webp"))).unwrap()
}

#[test]
fn a_picture_beyond_the_pixel_budget_is_not_decoded() {
    let tmp = tempfile::tempdir().unwrap();
    let b = ArchiveBuilder::new(tmp.path(), "webp");
    b.conversations(&[conversation(
        "1-2",
        &[
            message("501", "1", "\"2022-01-01T00:00:00Z\"", Some("a.webp")),
            message("502", "1", "\"2022-01-01T00:00:01Z\"", Some("b.webp")),
        ],
    )])
    .media("501-a.webp", &huge_webp("red"))
    .media("502-b.webp", &huge_webp("blue"));
    let zip = b.zip();
    let v = TestVault::new();
    let (o, rss) = import_measured(&v, &zip);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(rss < LIMIT_MIB, "import peaked at {rss:.0} MiB");
    let rows = v.ls(&[]);
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r["integrity"] == "unchecked"),
        "{rows:?}"
    );
}

/// One conversation element larger than X ever writes (a 96 MiB text) is
/// passed over without being held; the elements around it are read.
#[test]
fn a_huge_conversation_element_is_passed_over() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("huge-element.zip");
    let mut z = zip::ZipWriter::new(File::create(&path).unwrap());
    z.start_file("data/direct-messages.js", deflated()).unwrap();
    let first = conversation(
        "1-2",
        &[message("1", "1", "\"2021-01-01T00:00:00Z\"", None)],
    );
    let last = conversation(
        "1-3",
        &[message("3", "1", "\"2021-01-03T00:00:00Z\"", None)],
    );
    z.write_all(format!("window.YTD.direct_messages.part0 = [{first},\n").as_bytes())
        .unwrap();
    z.write_all(b"{\"dmConversation\": {\"conversationId\": \"1-4\", \"messages\": [{\"messageCreate\": {\"id\": \"2\", \"createdAt\": \"2021-01-02T00:00:00Z\", \"text\": \"").unwrap();
    write_repeated(&mut z, b'x', 96 << 20);
    z.write_all(format!("\"}}}}]}}}},\n{last}]").as_bytes())
        .unwrap();
    z.finish().unwrap();
    let (o, rss) = inspect_measured(&path, tmp.path());
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(rss < LIMIT_MIB, "inspect peaked at {rss:.0} MiB");
    let report = &json_lines(&o)[0];
    assert_eq!(report["messages"], 2, "{report}");
    assert!(
        report["warnings"]
            .to_string()
            .contains("data/direct-messages.js:4:1: this conversation element is 96 MiB"),
        "{report}"
    );
}

/// Many compressed media ZIPs: what they take in memory together is
/// bounded, the rest spills.
#[test]
fn many_compressed_media_zips_share_one_memory_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("many.zip");
    let stored = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let mut outer = zip::ZipWriter::new(File::create(&path).unwrap());
    outer
        .start_file("data/direct-messages.js", deflated())
        .unwrap();
    outer
        .write_all(b"window.YTD.direct_messages.part0 = []")
        .unwrap();
    for k in 0..8u8 {
        let mut inner = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        inner
            .start_file(format!("{}-big.mp4", 2000 + u32::from(k)), stored)
            .unwrap();
        write_repeated(&mut inner, k, 60 << 20);
        let inner = inner.finish().unwrap().into_inner();
        outer
            .start_file(
                format!("data/direct_messages_media/part{k}.zip"),
                deflated(),
            )
            .unwrap();
        outer.write_all(&inner).unwrap();
    }
    outer.finish().unwrap();
    let (o, rss) = inspect_measured(&path, tmp.path());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json_lines(&o)[0]["media_orphans"], 8);
    assert!(rss < LIMIT_MIB, "inspect peaked at {rss:.0} MiB");
}
