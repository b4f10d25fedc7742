//! The command line (classes 8, 14, 15, 16, 19): relative paths, text from
//! archives on a terminal, keys never inside the vault, empty passphrases,
//! and the usability slips.

use std::fs;
use std::process::{Command, Stdio};

use crate::util::*;

/// Class 8: every file dmvault writes can be named relative to the
/// current folder, and a failure leaves nothing behind.
#[test]
fn files_dmvault_writes_take_relative_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let here = tmp.path();
    let run = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dmvault"));
        c.current_dir(here)
            .env("HOME", here.join("home"))
            .env_remove("DMVAULT_VAULT")
            .env_remove("DMVAULT_IDENTITY");
        c.args(args).output().unwrap()
    };
    let ok = |args: &[&str]| {
        let o = run(args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    };
    ok(&["init", "--vault", "v", "-i", "id.txt"]);
    assert!(here.join("id.txt").is_file() && here.join("v/dmvault.json").is_file());
    ok(&[
        "key",
        "add",
        "--vault",
        "v",
        "-i",
        "id.txt",
        "--new-identity",
        "k.txt",
    ]);
    ok(&[
        "key",
        "export-identity",
        "--vault",
        "v",
        "-i",
        "k.txt",
        "vid.txt",
    ]);
    let g3 = fixture("g3-2020.zip");
    ok(&[
        "import",
        "--vault",
        "v",
        "-i",
        "id.txt",
        g3.to_str().unwrap(),
    ]);
    ok(&["export", "--vault", "v", "-i", "id.txt", "out"]);
    assert!(here.join("out/index.json").is_file());
    // A failing write leaves nothing behind and changes nothing.
    let before = fs::read(here.join("vid.txt")).unwrap();
    let o = run(&[
        "key",
        "export-identity",
        "--vault",
        "v",
        "-i",
        "id.txt",
        "vid.txt",
    ]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("vid.txt: cannot write it: a file is already there"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read(here.join("vid.txt")).unwrap(), before);
    fs::create_dir(here.join("full")).unwrap();
    fs::write(here.join("full/x"), "x").unwrap();
    let o = run(&["init", "--vault", "full", "-i", "new-id.txt"]);
    assert_eq!(code(&o), 1);
    assert!(
        !here.join("new-id.txt").exists(),
        "init that fails leaves no identity file"
    );
    let leftovers: Vec<_> = fs::read_dir(here)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".dmvault-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Class 14: names and texts from archives reach a terminal with their
/// control characters escaped: no colours, no cleared screens, no forged
/// lines.
#[test]
fn names_from_archives_cannot_drive_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let evil = "a\u{1b}[2J\u{1b}]0;pwned\u{7}\r\nfake line\u{202e}gpj";
    let json_evil = serde_json::to_string(evil).unwrap();
    let json_evil = &json_evil[1..json_evil.len() - 1];
    let dm = format!(
        "window.YTD.direct_messages.part0 = [{}]",
        conversation(
            "1-2",
            &[format!(
                "{{\"messageCreate\": {{\"id\": \"901\", \"senderId\": \"1\", \"recipientId\": \"2\", \"mediaUrls\": [\"https://ton.twitter.com/dm/901/1/{json_evil}.jpg\"], \"createdAt\": \"2024-01-01T00:00:00Z\"}}}}"
            )]
        )
    );
    let zip = tmp.path().join("evil.zip");
    let media_name = format!("data/direct_messages_media/901-{evil}.jpg");
    let orphan_name = format!("data/direct_messages_media/902-{evil}.png");
    fs::write(
        &zip,
        raw_zip(&[
            ("data/direct-messages.js", dm.as_bytes()),
            (&media_name, &jpeg("image-testsrc.jpg")),
            (&orphan_name, b"not a png"),
        ]),
    )
    .unwrap();
    let clean = |o: &std::process::Output, lines: usize| {
        let all = [o.stdout.as_slice(), o.stderr.as_slice()].concat();
        assert!(
            !all.contains(&0x1b) && !all.contains(&b'\r') && !all.contains(&7),
            "{}",
            String::from_utf8_lossy(&all)
        );
        assert!(!String::from_utf8_lossy(&all).contains('\u{202e}'));
        assert_eq!(stdout(o).lines().count(), lines, "{}", stdout(o));
        assert!(
            stdout(o).contains("\\x1b[2J"),
            "the escape is shown, escaped: {}",
            stdout(o)
        );
    };
    let v = TestVault::new();
    let o = v.run(["import".as_ref(), zip.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = v.run(["ls"]);
    clean(&o, 2);
    assert!(
        stdout(&o)
            .lines()
            .all(|l| l.starts_with("2024-01-01") || l.starts_with("unknown date")),
        "{}",
        stdout(&o)
    );
    let o = v.run(["ls", "--json"]);
    assert_eq!(json_lines(&o).len(), 2);
    let text = stdout(&o);
    assert!(
        !text
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "JSON output carries no terminal controls: {text}"
    );
    let o = dmvault(["inspect".as_ref(), zip.as_os_str()]);
    let all = [o.stdout.as_slice(), o.stderr.as_slice()].concat();
    assert!(!all.contains(&0x1b) && !all.contains(&b'\r'));
}

/// Class 15: an identity file is never written inside the vault: it would
/// sit next to what it unlocks.
#[test]
fn identity_files_are_never_written_inside_the_vault() {
    let v = TestVault::new();
    let inside = v.vault().join("my-key.txt");
    for args in [
        vec!["key", "add", "--new-identity", inside.to_str().unwrap()],
        vec!["key", "export-identity", inside.to_str().unwrap()],
    ] {
        let o = v.run(&args);
        assert_eq!(code(&o), 1, "{args:?}");
        assert!(stderr(&o).contains("inside the vault"), "{}", stderr(&o));
        assert!(!inside.exists());
    }
    let t = TestVault {
        dir: tempfile::tempdir().unwrap(),
    };
    let id = t.vault().join("id.txt");
    let o = t.run(["init".as_ref(), "-i".as_ref(), id.as_os_str()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("inside the vault"), "{}", stderr(&o));
    assert!(!id.exists() && !t.vault().join("dmvault.json").exists());
}

/// Class 16: an empty passphrase never protects a vault or a key.
#[test]
fn an_empty_passphrase_is_refused_for_a_new_key() {
    let t = TestVault {
        dir: tempfile::tempdir().unwrap(),
    };
    let o = t
        .cmd()
        .env("DMVAULT_PASSPHRASE", "")
        .args(["init", "--passphrase"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("DMVAULT_PASSPHRASE is set but empty"),
        "{}",
        stderr(&o)
    );
    assert!(!t.vault().exists());
    let empty = t.dir.path().join("empty.txt");
    fs::write(&empty, "\n").unwrap();
    let o = t.run([
        "init".as_ref(),
        "--passphrase-file".as_ref(),
        empty.as_os_str(),
    ]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("the passphrase file is empty"),
        "{}",
        stderr(&o)
    );
    let v = TestVault::new();
    let o = v
        .cmd()
        .env("DMVAULT_NEW_PASSPHRASE", "")
        .args(["key", "add", "--new-passphrase"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(fs::read_dir(v.vault().join("keys")).unwrap().count(), 1);
    // For unlocking, an empty variable is as if it were not set: the
    // identity file is used.
    let o = v
        .cmd()
        .env("DMVAULT_PASSPHRASE", "")
        .arg("stats")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// Class 19: the variables `--help` names are the ones dmvault reads; the
/// passphrase-file variables work.
#[test]
fn help_names_only_variables_dmvault_reads_and_they_work() {
    let known = [
        "DMVAULT_VAULT",
        "DMVAULT_IDENTITY",
        "DMVAULT_PASSPHRASE",
        "DMVAULT_PASSPHRASE_FILE",
        "DMVAULT_NEW_PASSPHRASE",
        "DMVAULT_NEW_PASSPHRASE_FILE",
    ];
    let mut helps = String::new();
    for cmd in [
        &["--help"][..],
        &["init", "--help"],
        &["import", "--help"],
        &["verify", "--help"],
        &["key", "add", "--help"],
        &["export", "--help"],
    ] {
        helps.push_str(&stdout(&dmvault(cmd)));
    }
    for word in helps.split(|c: char| !(c.is_ascii_uppercase() || c == '_')) {
        if word.starts_with("DMVAULT_") {
            assert!(
                known.contains(&word),
                "--help names {word}, which dmvault does not read"
            );
        }
    }
    let t = TestVault {
        dir: tempfile::tempdir().unwrap(),
    };
    let pass = t.dir.path().join("pass.txt");
    fs::write(&pass, "correct horse battery\n").unwrap();
    let with_file = |args: &[&str]| {
        t.cmd()
            .env("DMVAULT_PASSPHRASE_FILE", &pass)
            .env("HOME", t.dir.path().join("no-home"))
            .args(args)
            .output()
            .unwrap()
    };
    let o = with_file(&["init", "--passphrase", "--scrypt-work-factor", "10"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = with_file(&["stats"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let newpass = t.dir.path().join("new.txt");
    fs::write(&newpass, "another passphrase\n").unwrap();
    let o = t
        .cmd()
        .env("DMVAULT_PASSPHRASE_FILE", &pass)
        .env("DMVAULT_NEW_PASSPHRASE_FILE", &newpass)
        .args([
            "key",
            "add",
            "--new-passphrase",
            "--scrypt-work-factor",
            "10",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = t
        .cmd()
        .env("DMVAULT_PASSPHRASE", "another passphrase")
        .arg("stats")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// Class 19: a `~` the shell did not expand (a quoted variable) is the home
/// folder, not a folder named `~`.
#[test]
fn a_quoted_tilde_is_the_home_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_dmvault"))
        .current_dir(tmp.path())
        .env("HOME", tmp.path().join("home"))
        .env("DMVAULT_VAULT", "~/dm-vault")
        .env_remove("DMVAULT_IDENTITY")
        .arg("init")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(tmp.path().join("home/dm-vault/dmvault.json").is_file());
    assert!(!tmp.path().join("~").exists());
}

/// Class 19: DMVAULT_IDENTITY in the environment does not stand in the way
/// of `init --passphrase`.
#[test]
fn an_identity_in_the_environment_does_not_block_init_passphrase() {
    let t = TestVault {
        dir: tempfile::tempdir().unwrap(),
    };
    let o = t
        .cmd()
        .env("DMVAULT_IDENTITY", t.dir.path().join("some-id.txt"))
        .env("DMVAULT_PASSPHRASE", "a long passphrase")
        .args(["init", "--passphrase", "--scrypt-work-factor", "10"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!t.dir.path().join("some-id.txt").exists());
}

/// Class 19: DMVAULT_PASSPHRASE_FILE in the environment does not stand in
/// the way of `init -i FILE`.
#[test]
fn a_passphrase_file_in_the_environment_does_not_block_init_identity() {
    let t = TestVault {
        dir: tempfile::tempdir().unwrap(),
    };
    let id = t.dir.path().join("id.txt");
    let o = t
        .cmd()
        .env("DMVAULT_PASSPHRASE_FILE", t.dir.path().join("pass.txt"))
        .args(["init".as_ref(), "-i".as_ref(), id.as_os_str()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(id.is_file());
}

/// Class 19: a reader that goes away never turns a damaged vault's exit
/// code into success (`dmvault verify | true`).
#[test]
fn a_closed_pipe_does_not_hide_a_damaged_vault() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip"]);
    let victim = files_under(&v.vault().join("objects")).remove(0);
    fs::remove_file(victim).unwrap();
    for json in [false, true] {
        let mut child = v
            .cmd()
            .args(if json {
                &["verify", "--json"][..]
            } else {
                &["verify"][..]
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(4), "json: {json}");
    }
    let o = v.run(["verify"]);
    assert_eq!(code(&o), 4);
}
