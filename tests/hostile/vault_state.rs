//! The vault under failure (classes 4, 5, 10, 13): read errors that prove
//! nothing, a full disk, copies of a vault, and `init` that fails or races.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::*;

/// Class 4: an object the disk cannot read (EIO) is reported `unreadable`
/// and left where it is; only proven corruption is quarantined.
#[test]
fn verify_moves_only_proven_corruption_to_quarantine() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip"]);
    let objects_before = files_under(&v.vault().join("objects"));
    // The first read of an object (its header), and a read further on.
    for n in [1, 3] {
        let o = v
            .cmd()
            .env("DMVAULT_FAULT", format!("object-read-eio:{n}"))
            .args(["verify", "--read-data", "--json"])
            .output()
            .unwrap();
        assert_eq!(code(&o), 4, "{}", stderr(&o));
        let lines = json_lines(&o);
        let findings: Vec<&Value> = lines
            .iter()
            .filter(|l| l["message_type"] == "finding")
            .collect();
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0]["problem"], "unreadable");
        let detail = findings[0]["detail"].as_str().unwrap();
        assert!(detail.contains("Input/output error"), "{detail}");
        assert_eq!(lines.last().unwrap()["quarantined"], 0);
        assert!(!v.vault().join("quarantine").exists());
        assert_eq!(
            files_under(&v.vault().join("objects")),
            objects_before,
            "nothing moved"
        );
    }
    // Once the disk reads again, the vault is whole.
    let o = v.run(["verify", "--read-data"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    // Without root, an object nobody may read is the same case.
    #[allow(unsafe_code)]
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let first = &objects_before[0];
    fs::set_permissions(first, fs::Permissions::from_mode(0o000)).unwrap();
    let o = v.run(["verify", "--read-data"]);
    assert_eq!(code(&o), 4);
    assert!(stdout(&o).contains("unreadable"), "{}", stdout(&o));
    assert!(first.exists());
}

/// A tmpfs of a given size, mounted for the test and unmounted after
/// (needs root; `None` where mounting is not allowed).
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> Option<SmallDisk> {
        fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| SmallDisk {
            dir: dir.to_owned(),
        })
    }

    fn resize(&self, size: &str) {
        let o = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).output();
    }
}

/// An archive with 40 incompressible media files of 100 KiB.
fn archive_of_4_mib(dir: &Path) -> PathBuf {
    let b = ArchiveBuilder::new(dir, "four-mib");
    let mut seed = 99u64;
    let mut events = Vec::new();
    for i in 0..40u64 {
        let id = format!("{}", 1_950_000_000_000_000_000u64 + i);
        events.push(message(&id, "1", "\"2024-02-02T00:00:00Z\"", Some("f.jpg")));
        b.media(&format!("{id}-f.jpg"), &pseudo_random(&mut seed, 100 << 10));
    }
    b.conversations(&[conversation("1-2", &events)]);
    b.zip()
}

/// Class 5: a full disk is named as such, the counts add up, nothing is
/// called "nothing new", a key is not half-written, and freeing space and
/// running the same command again finishes the job.
#[test]
fn a_full_disk_is_reported_and_the_next_run_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&tmp.path().join("disk"), "2m") else {
        eprintln!("SKIPPED a_full_disk_is_reported_and_the_next_run_finishes: cannot mount a tmpfs here (needs root)");
        return;
    };
    let big = archive_of_4_mib(tmp.path());
    let v = TestVault {
        dir: tempfile::tempdir().unwrap(),
    };
    let vault = disk.dir.join("vault");
    let run = |args: &[&std::ffi::OsStr]| {
        v.cmd()
            .env("DMVAULT_VAULT", &vault)
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(code(&run(&["init".as_ref()])), 0);
    assert_eq!(
        code(&run(&[
            "import".as_ref(),
            fixture("g3-2020.zip").as_os_str()
        ])),
        0
    );
    let rows_before = json_lines(&run(&["ls".as_ref(), "--json".as_ref()])).len();
    let o = run(&["import".as_ref(), "--json".as_ref(), big.as_os_str()]);
    assert_eq!(code(&o), 1, "{} {}", stdout(&o), stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("No space left on device") && e.contains("The disk is full"),
        "{e}"
    );
    assert_eq!(
        e.matches("No space left on device").count(),
        1,
        "the cause once: {e}"
    );
    assert!(!stdout(&o).contains("nothing new"));
    let a = &json_lines(&o)[0];
    let n = |k: &str| a[k].as_u64().unwrap();
    assert_eq!(n("media_seen"), 40, "{a}");
    assert!(n("media_failed") > 0, "{a}");
    assert_eq!(
        n("media_new") + n("media_known") + n("media_failed"),
        n("media_seen"),
        "{a}"
    );
    // What is in the vault is consistent.
    assert_eq!(code(&run(&["stats".as_ref()])), 0);
    // Fill the disk to the last byte: adding a key fails and leaves nothing.
    let filler = disk.dir.join("filler");
    {
        use std::io::Write;
        let mut f = fs::File::create(&filler).unwrap();
        while f.write_all(&[0u8; 4096]).is_ok() {}
    }
    let keys = || fs::read_dir(vault.join("keys")).unwrap().count();
    assert_eq!(keys(), 1);
    let new_id = tmp.path().join("second.txt");
    let o = run(&[
        "key".as_ref(),
        "add".as_ref(),
        "--new-identity".as_ref(),
        new_id.as_os_str(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("The disk is full"), "{}", stderr(&o));
    assert_eq!(keys(), 1, "no key file, not even an empty one");
    assert!(!new_id.exists(), "the identity made for it is removed");
    // Free space; the same command finishes the import.
    fs::remove_file(&filler).unwrap();
    disk.resize("64m");
    let o = run(&["import".as_ref(), "--json".as_ref(), big.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&["verify".as_ref(), "--read-data".as_ref()]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let rows = json_lines(&run(&["ls".as_ref(), "--json".as_ref()]));
    assert_eq!(rows.len(), rows_before + 40, "every file of both archives");
}

fn cp_a(from: &Path, to: &Path) {
    let o = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(o.status.success());
}

/// Class 10: a copy of the vault (`cp -a`) is a vault of its own for
/// rollback detection; a vault put back in place to an older copy is
/// still caught.
#[test]
fn copies_of_a_vault_raise_no_false_rollback_and_a_real_one_is_caught() {
    let v = TestVault::new();
    v.import(&["series-2021.zip"]);
    let verify = |path: &Path| {
        v.cmd()
            .env("DMVAULT_VAULT", path)
            .arg("verify")
            .output()
            .unwrap()
    };
    assert_eq!(code(&verify(&v.vault())), 0);
    let copy = v.dir.path().join("backup-copy");
    cp_a(&v.vault(), &copy);
    v.import(&["series-2022.zip"]);
    assert_eq!(code(&verify(&v.vault())), 0);
    let o = verify(&copy);
    assert_eq!(
        code(&o),
        0,
        "the older copy is not a rollback: {}",
        stdout(&o)
    );
    let o = v
        .cmd()
        .env("DMVAULT_VAULT", &copy)
        .args(["import".as_ref(), fixture("series-2023.zip").as_os_str()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0);
    assert_eq!(code(&verify(&copy)), 0);
    let o = verify(&v.vault());
    assert_eq!(
        code(&o),
        0,
        "importing into the copy leaves the original alone: {}",
        stdout(&o)
    );
    // The vault replaced in place by an older copy of itself.
    let old = v.dir.path().join("old");
    cp_a(&v.vault(), &old);
    v.import(&["g3-2020.zip"]);
    assert_eq!(code(&verify(&v.vault())), 0);
    fs::remove_dir_all(v.vault()).unwrap();
    cp_a(&old, &v.vault());
    let o = verify(&v.vault());
    assert_eq!(code(&o), 4, "{}", stdout(&o));
    assert!(stdout(&o).contains("rollback"), "{}", stdout(&o));
    // An import into the rolled-back vault warns, and does not hide it.
    let o = v.run(["import".as_ref(), fixture("g2-2019.zip").as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning") && stderr(&o).contains("rollback"),
        "{}",
        stderr(&o)
    );
    let o = verify(&v.vault());
    assert_eq!(
        code(&o),
        4,
        "still reported after the import: {}",
        stdout(&o)
    );
    // Taken as intended, it becomes the vault this computer knows.
    let o = v.run(["verify", "--accept-rollback"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("accepted"), "{}", stdout(&o));
    assert_eq!(code(&verify(&v.vault())), 0);
}

/// Class 13: `init` killed midway leaves a folder the next `init` takes
/// over; `init` that fails leaves nothing, not even the identity file it
/// made.
#[test]
fn init_killed_or_failing_leaves_nothing_in_the_way() {
    let t = TestVault {
        dir: tempfile::tempdir().unwrap(),
    };
    let o = t
        .cmd()
        .env("DMVAULT_FAULT", "init:1")
        .arg("init")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), None, "killed: {}", stderr(&o));
    assert!(t.vault().exists() && !t.vault().join("dmvault.json").exists());
    let o = t.run(["init"]);
    assert_eq!(
        code(&o),
        0,
        "the next init takes the folder over: {}",
        stderr(&o)
    );
    assert_eq!(fs::read_dir(t.vault().join("keys")).unwrap().count(), 1);
    t.import(&["g3-2020.zip"]);

    let id = t.dir.path().join("made-for-it.txt");
    let other = t.dir.path().join("other-vault");
    let o = t
        .cmd()
        .env("DMVAULT_FAULT", "init-write:1")
        .env("DMVAULT_VAULT", &other)
        .args(["init".as_ref(), "-i".as_ref(), id.as_os_str()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!other.exists(), "the vault folder it made is removed");
    assert!(!id.exists(), "the identity file it made is removed");
}

/// Class 13: `init` takes over only what a killed `init` left: a folder
/// that merely looks like one (a vault that lost its `dmvault.json`) or
/// holds a user's files is refused, untouched, without a lock file left.
#[test]
fn init_touches_nothing_it_did_not_make() {
    let tmp = tempfile::tempdir().unwrap();
    let id = tmp.path().join("id.txt");
    let init = |vault: &Path| {
        Command::new(env!("CARGO_BIN_EXE_dmvault"))
            .env("HOME", tmp.path())
            .args([
                "init".as_ref(),
                "--vault".as_ref(),
                vault.as_os_str(),
                "-i".as_ref(),
                id.as_os_str(),
            ])
            .output()
            .unwrap()
    };
    let half = tmp.path().join("lost-its-format-file");
    fs::create_dir_all(half.join("keys")).unwrap();
    fs::create_dir_all(half.join("catalog")).unwrap();
    fs::write(half.join("keys/0123456789abcdef.age"), "a key").unwrap();
    fs::write(half.join("catalog/0000000001.age"), "a segment").unwrap();
    let notes = tmp.path().join("notes");
    fs::create_dir_all(&notes).unwrap();
    fs::write(notes.join("notes.txt"), "mine").unwrap();
    for dir in [&half, &notes] {
        let before = files_under(dir);
        let o = init(dir);
        assert_eq!(code(&o), 1, "{dir:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
        assert_eq!(files_under(dir), before, "{dir:?} is untouched");
        assert!(!dir.join("lock").exists());
    }
    assert!(!id.exists());
}

/// Class 13: of two `init`s of one folder at once, one makes the vault,
/// the other fails without touching it; the vault opens with the key of
/// the one that said it succeeded.
#[test]
fn two_inits_at_once_make_one_vault() {
    let tmp = tempfile::tempdir().unwrap();
    for round in 0..6 {
        let vault = tmp.path().join(format!("v{round}"));
        if round % 2 == 1 {
            fs::create_dir(&vault).unwrap();
        }
        let ids: Vec<PathBuf> = (0..2)
            .map(|k| tmp.path().join(format!("id{round}-{k}.txt")))
            .collect();
        let children: Vec<_> = ids
            .iter()
            .map(|id| {
                Command::new(env!("CARGO_BIN_EXE_dmvault"))
                    .env_remove("DMVAULT_PASSPHRASE")
                    .env("HOME", tmp.path())
                    .args([
                        "init".as_ref(),
                        "--vault".as_ref(),
                        vault.as_os_str(),
                        "-i".as_ref(),
                        id.as_os_str(),
                    ])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let winners: Vec<usize> = (0..2).filter(|&k| outs[k].status.success()).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: {:?}",
            outs.iter().map(stderr).collect::<Vec<_>>()
        );
        let (w, l) = (winners[0], 1 - winners[0]);
        assert!(
            stderr(&outs[l]).contains("not empty"),
            "{}",
            stderr(&outs[l])
        );
        assert!(!ids[l].exists(), "the loser's new identity file is removed");
        assert_eq!(fs::read_dir(vault.join("keys")).unwrap().count(), 1);
        let o = Command::new(env!("CARGO_BIN_EXE_dmvault"))
            .env("HOME", tmp.path())
            .args([
                "stats".as_ref(),
                "--vault".as_ref(),
                vault.as_os_str(),
                "-i".as_ref(),
                ids[w].as_os_str(),
            ])
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "round {round}: {}", stderr(&o));
    }
}
