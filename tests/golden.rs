//! Golden tests: the exact text of the common errors, cause printed once,
//! hint fitting what was being done (reading, writing, a key, a folder).
//! Temp paths are written `<tmp>`.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::util::*;

/// stderr with the temp folder written `<tmp>`.
fn err_text(o: &Output, tmp: &Path) -> String {
    stderr(o).replace(&tmp.display().to_string(), "<tmp>")
}

#[test]
fn reading_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let o = dmvault(["inspect", "/nonexistent/archive.zip"]);
    assert_eq!(
        stderr(&o),
        "dmvault: error: /nonexistent/archive.zip: cannot read it: No such file or directory (os error 2)\n  hint: Check that the path exists.\n"
    );
    fs::write(t.join("notes.zip"), "just notes\n").unwrap();
    let o = dmvault(["inspect".as_ref(), t.join("notes.zip").as_os_str()]);
    assert_eq!(
        err_text(&o, t),
        "dmvault: error: <tmp>/notes.zip: not a ZIP file (and not a folder)\n  hint: Give the .zip file you downloaded from X (Settings > Your account > Download an archive of your data), or the folder you unpacked it into.\n"
    );
    fs::create_dir_all(t.join("v/dmvault.json")).unwrap();
    let o = dmvault(["ls".as_ref(), "--vault".as_ref(), t.join("v").as_os_str()]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        err_text(&o, t),
        "dmvault: error: <tmp>/v/dmvault.json: cannot read it: Is a directory (os error 21)\n  hint: Check that the path exists and that you may read it; an error from the disk itself may mean it is failing.\n"
    );
}

#[test]
fn vault_and_key_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let o = dmvault([
        "stats".as_ref(),
        "--vault".as_ref(),
        t.join("nope").as_os_str(),
    ]);
    assert_eq!(code(&o), 10);
    assert_eq!(
        err_text(&o, t),
        "dmvault: error: <tmp>/nope: no dmvault vault here\n  hint: Check --vault (or DMVAULT_VAULT), or create a vault there with `dmvault init --vault PATH`.\n"
    );
    let v = TestVault::new();
    let other = v.dir.path().join("other.txt");
    let id = age::x25519::Identity::generate();
    use age::secrecy::ExposeSecret;
    fs::write(&other, format!("{}\n", id.to_string().expose_secret())).unwrap();
    let o = v.run(["ls".as_ref(), "-i".as_ref(), other.as_os_str()]);
    assert_eq!(code(&o), 12);
    assert_eq!(
        stderr(&o),
        "dmvault: error: no key fits this vault\n  hint: Check which identity file or passphrase you gave.\n"
    );
    let out = v.vault().join("catalog");
    let o = v.run(["export".as_ref(), out.as_os_str()]);
    assert_eq!(
        err_text(&o, v.dir.path()),
        "dmvault: error: <tmp>/vault/catalog: this is inside the vault <tmp>/vault; dmvault never writes exported files or keys there\n  hint: Choose a file or folder outside the vault folder.\n"
    );
}

#[test]
fn writing_errors() {
    let v = TestVault::new();
    let out = v.dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("index.json"), "{}").unwrap();
    let o = v.run(["export".as_ref(), out.as_os_str()]);
    assert_eq!(
        err_text(&o, v.dir.path()),
        "dmvault: error: <tmp>/out/index.json: exists and was not written by dmvault; it was left alone and nothing was exported\n  hint: Export into a new or empty folder, or into one dmvault exported to before.\n"
    );
    let taken = v.dir.path().join("taken.txt");
    fs::write(&taken, "mine").unwrap();
    let o = v.run([
        "key".as_ref(),
        "export-identity".as_ref(),
        taken.as_os_str(),
    ]);
    assert_eq!(
        err_text(&o, v.dir.path()),
        "dmvault: error: <tmp>/taken.txt: cannot write it: a file is already there; dmvault never writes over one\n  hint: Choose a name that does not exist yet, or move that file away.\n"
    );
}

#[test]
fn json_errors_are_one_line_with_the_same_text() {
    let o = dmvault(["--json", "inspect", "/nonexistent/archive.zip"]);
    let lines: Vec<&str> = std::str::from_utf8(&o.stderr).unwrap().lines().collect();
    assert_eq!(lines.len(), 1);
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["message_type"], "error");
    assert_eq!(
        v["message"],
        "/nonexistent/archive.zip: cannot read it: No such file or directory (os error 2)"
    );
    assert_eq!(v["hint"], "Check that the path exists.");
}
