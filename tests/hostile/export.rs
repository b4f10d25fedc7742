//! `export` (classes 6, 11, 15, 17): never over a user's file, never into
//! the vault, names that fit, nothing plaintext left behind.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::util::*;

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Class 6: an `index.json` dmvault did not write is never replaced.
#[test]
fn export_leaves_a_users_own_index_json_alone() {
    let v = TestVault::new();
    v.import(&["g3-2020.zip"]);
    let out = v.dir.path().join("photos");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("index.json"), "my own notes\n").unwrap();
    let o = v.run(["export".as_ref(), out.as_os_str()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("index.json: exists and was not written by dmvault"),
        "{e}"
    );
    assert!(e.contains("hint:"), "{e}");
    assert_eq!(
        fs::read_to_string(out.join("index.json")).unwrap(),
        "my own notes\n"
    );
    assert_eq!(
        fs::read_dir(&out).unwrap().count(),
        1,
        "nothing was exported"
    );
    // dmvault's own index is merged on the next export into the folder.
    let mine = v.dir.path().join("mine");
    assert_eq!(code(&v.run(["export".as_ref(), mine.as_os_str()])), 0);
    let o = v.run(["export".as_ref(), mine.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// Class 11: names of 255 bytes and more (long multibyte names, long ids
/// that agree up to the cut) are shortened to fit, keep their extension,
/// and stay apart; one long name never stops the export.
#[test]
fn long_names_fit_keep_their_extension_and_stay_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let long_conv = format!("{}-1", "é".repeat(150));
    let id_a = format!("{}1", "9".repeat(300));
    let id_b = format!("{}2", "9".repeat(300));
    let orphan = format!("123-{}.jpg", "ü".repeat(120));
    let dm = format!(
        "window.YTD.direct_messages.part0 = [{}, {}]",
        conversation(
            &long_conv,
            &[message(
                "801",
                "1",
                "\"2024-05-05T00:00:00Z\"",
                Some("s.jpg")
            )]
        ),
        conversation(
            "1-2",
            &[
                message(&id_a, "1", "\"2024-05-06T00:00:00Z\"", Some("x.jpg")),
                message(&id_b, "1", "\"2024-05-07T00:00:00Z\"", Some("x.jpg")),
                message("802", "1", "\"2024-05-08T00:00:00Z\"", Some("n.png")),
            ]
        )
    );
    let zip = tmp.path().join("long.zip");
    let mut z = zip::ZipWriter::new(fs::File::create(&zip).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    let mut put = |name: &str, bytes: &[u8]| {
        z.start_file(name, opts).unwrap();
        z.write_all(bytes).unwrap();
    };
    put("data/direct-messages.js", dm.as_bytes());
    put(
        "data/direct_messages_media/801-s.jpg",
        &jpeg("image-testsrc.jpg"),
    );
    put(
        &format!("data/direct_messages_media/{id_a}-x.jpg"),
        &jpeg("image-life.jpg"),
    );
    put(
        &format!("data/direct_messages_media/{id_b}-x.jpg"),
        &jpeg("image-negate.jpg"),
    );
    put(
        "data/direct_messages_media/802-n.png",
        &fs::read(repo().join("fixtures/media/image-cellauto.png")).unwrap(),
    );
    put(
        &format!("data/direct_messages_media/{orphan}"),
        &jpeg("image-smptebars.jpg"),
    );
    z.finish().unwrap();
    let v = TestVault::new();
    assert_eq!(code(&v.run(["import".as_ref(), zip.as_os_str()])), 0);
    let out = v.dir.path().join("out");
    let o = v.run(["export".as_ref(), "--json".as_ref(), out.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json_lines(&o)[0]["written"], 5);
    let files: Vec<_> = files_under(&out)
        .into_iter()
        .filter(|f| f.file_name().unwrap() != "index.json")
        .collect();
    assert_eq!(files.len(), 5, "{files:?}");
    for f in &files {
        for c in f.strip_prefix(&out).unwrap().components() {
            assert!(c.as_os_str().len() <= 240, "{f:?}");
        }
        let ext = f.extension().unwrap().to_str().unwrap();
        assert!(["jpg", "png"].contains(&ext), "{f:?}");
    }
}

/// Class 15: nothing is exported into the vault folder (or through a link
/// to it), and the vault stays whole.
#[test]
fn export_never_writes_into_the_vault() {
    let v = TestVault::new();
    v.import(&["g3-2020.zip"]);
    let link = v.dir.path().join("link-to-vault");
    std::os::unix::fs::symlink(v.vault(), &link).unwrap();
    for target in [v.vault().join("catalog"), v.vault(), link.join("x")] {
        let o = v.run(["export".as_ref(), target.as_os_str()]);
        assert_eq!(code(&o), 1, "{target:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("inside the vault"), "{}", stderr(&o));
    }
    assert!(!v.vault().join("catalog/index.json").exists());
    let o = v.run(["verify"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

/// Class 15: exporting into the folder that holds the vault puts nothing
/// into the vault, even for a conversation named like it, and leaves the
/// vault's own temp files alone.
#[test]
fn export_beside_the_vault_writes_nothing_into_it() {
    let v = TestVault::new();
    let tmp = tempfile::tempdir().unwrap();
    let b = ArchiveBuilder::new(tmp.path(), "named-like-the-vault");
    b.conversations(&[
        conversation(
            "vault",
            &[message(
                "1201",
                "1",
                "\"2021-01-01T00:00:00Z\"",
                Some("a.jpg"),
            )],
        ),
        conversation(
            "1-2",
            &[message(
                "1202",
                "1",
                "\"2021-01-02T00:00:00Z\"",
                Some("b.jpg"),
            )],
        ),
    ])
    .media("1201-a.jpg", &jpeg("image-testsrc.jpg"))
    .media("1202-b.jpg", &jpeg("image-life.jpg"));
    assert_eq!(code(&v.run(["import".as_ref(), b.root.as_os_str()])), 0);
    let pending = v.vault().join("tmp/.dmvault-0123456789abcdef01234567.tmp");
    fs::write(&pending, "a writer's temp file").unwrap();
    let before = files_under(&v.vault());
    let o = v.run(["export".as_ref(), v.dir.path().as_os_str()]);
    assert_eq!(code(&o), 3, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("would be inside the vault"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        files_under(&v.vault()),
        before,
        "nothing written or removed in the vault"
    );
    assert!(
        v.dir.path().join("1-2").is_dir(),
        "the other conversation is exported"
    );
    let o = v.run(["verify"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

/// Class 17: an export killed midway leaves a plaintext temp file; the next
/// export removes it. Exported files and the index are 0600, folders 0700.
#[test]
fn a_killed_export_leaves_no_plaintext_after_the_next_run() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip"]);
    let out = v.dir.path().join("out");
    let o = v
        .cmd()
        .env("DMVAULT_FAULT", "export-tmp:3")
        .args(["export".as_ref(), out.as_os_str()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), None, "killed");
    let temps = || {
        files_under(&out)
            .into_iter()
            .filter(|f| {
                f.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".dmvault-")
            })
            .count()
    };
    assert_eq!(temps(), 1, "the kill left a temp file");
    let o = v.run(["export".as_ref(), out.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(temps(), 0);
    assert_eq!(mode(&out), 0o700);
    for f in files_under(&out) {
        assert_eq!(mode(&f), 0o600, "{f:?}");
        assert_eq!(mode(f.parent().unwrap()), 0o700, "{f:?}");
    }
}
