//! Issue 12's plan: what forgetting a conversation or a person takes away,
//! checked against the vault's plain export (the definition, written
//! independently): the messages, and the contents nothing kept uses, while
//! shared contents stay.

use std::collections::BTreeSet;

use dmvault::index::forget::{Forget, ForgetPlan};
use dmvault::vault::keys::{read_identity_file, Unlock};
use dmvault::vault::Vault;
use rusqlite::Connection;

use crate::util::{code, stderr, TestVault};

pub const ARCHIVES: [&str; 8] = [
    "g1-2018.zip",
    "g2-2019.zip",
    "g3-2020.zip",
    "g4-2024.zip",
    "g5-2026.zip",
    "series-2021.zip",
    "series-2022.zip",
    "series-2023.zip",
];

fn set(db: &Connection, sql: &str, arg: &str) -> BTreeSet<String> {
    let mut st = db.prepare(sql).unwrap();
    st.query_map([arg], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The contents forgetting `messages` deletes and the ones it keeps
/// because a kept message or orphan uses them, from the plain export.
fn expected_contents(db: &Connection, messages: &BTreeSet<String>) -> (BTreeSet<String>, u64) {
    let uses: Vec<(Option<String>, String)> = {
        let mut st = db
            .prepare(
                "SELECT message_id, object_id FROM media WHERE object_id IS NOT NULL
                 UNION ALL SELECT message_id, object_id FROM orphans",
            )
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let gone = |m: &Option<String>| m.as_ref().is_some_and(|m| messages.contains(m));
    let candidates: BTreeSet<String> = uses
        .iter()
        .filter(|(m, _)| gone(m))
        .map(|(_, o)| o.clone())
        .collect();
    let kept: BTreeSet<String> = uses
        .iter()
        .filter(|(m, _)| !gone(m))
        .map(|(_, o)| o.clone())
        .collect();
    let deleted: BTreeSet<String> = candidates.difference(&kept).cloned().collect();
    let shared = (candidates.len() - deleted.len()) as u64;
    (deleted, shared)
}

fn objects(plan: &ForgetPlan) -> BTreeSet<String> {
    plan.objects.iter().map(|o| o.hex()).collect()
}

#[test]
fn a_forget_plan_takes_the_messages_and_only_the_contents_nothing_kept_uses() {
    let v = TestVault::new();
    v.import(&ARCHIVES);
    let db_path = v.dir.path().join("plain.db");
    let o = v.run(["export-sqlite", db_path.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let db = Connection::open(&db_path).unwrap();
    let unlock = Unlock::Identities(read_identity_file(&v.identity()).unwrap());
    let vault = Vault::open(&v.vault(), &unlock).unwrap();

    // Every conversation: the plan is the definition; at least one has
    // contents both deleted and shared.
    let conversations = set(&db, "SELECT id FROM conversations WHERE ?1 = ?1", "");
    let mut both = 0;
    for c in &conversations {
        let plan = vault
            .index
            .forget_plan(&Forget::Conversation(c.clone()))
            .unwrap();
        let messages = set(&db, "SELECT id FROM messages WHERE conversation_id = ?", c);
        assert_eq!(
            plan.messages.iter().cloned().collect::<BTreeSet<_>>(),
            messages,
            "{c}"
        );
        assert_eq!(plan.conversations, vec![c.clone()]);
        let (deleted, shared) = expected_contents(&db, &messages);
        assert_eq!(objects(&plan), deleted, "{c}");
        assert_eq!(plan.contents_shared, shared, "{c}");
        if !deleted.is_empty() && shared > 0 {
            both += 1;
        }
    }
    assert!(
        both > 0,
        "the fixtures share a content across conversations"
    );

    // A person: what they sent everywhere, and their one-to-one
    // conversations whole.
    // One who has name sightings, one-to-one conversations and messages
    // sent in a group.
    let person = crate::forgetting::person_to_forget(&db);
    let person = person.as_str();
    let plan = vault
        .index
        .forget_plan(&Forget::Person(person.to_owned()))
        .unwrap();
    let one_to_one = set(
        &db,
        "SELECT c.id FROM conversations c JOIN participants p ON p.conversation_id = c.id
          WHERE p.user_id = ? AND c.kind = 'one_to_one'",
        person,
    );
    assert!(!one_to_one.is_empty());
    assert_eq!(
        plan.conversations.iter().cloned().collect::<BTreeSet<_>>(),
        one_to_one
    );
    let mut messages = set(&db, "SELECT id FROM messages WHERE sender_id = ?", person);
    for c in &one_to_one {
        messages.extend(set(
            &db,
            "SELECT id FROM messages WHERE conversation_id = ?",
            c,
        ));
    }
    assert_eq!(
        plan.messages.iter().cloned().collect::<BTreeSet<_>>(),
        messages
    );
    assert_eq!(objects(&plan), expected_contents(&db, &messages).0);
    let names = set(
        &db,
        "SELECT CAST(rowid AS TEXT) FROM names WHERE user_id = ?",
        person,
    )
    .len() as u64;
    assert!(names > 0);
    assert_eq!(plan.names, names, "their name sightings");

    // One message; and what the vault does not hold is an error.
    let one = plan.messages[0].clone();
    let single = vault
        .index
        .forget_plan(&Forget::Message(one.clone()))
        .unwrap();
    assert_eq!(single.messages, vec![one]);
    for what in [
        Forget::Conversation("404-404".into()),
        Forget::Person("404".into()),
        Forget::Message("404".into()),
    ] {
        let e = vault.index.forget_plan(&what).unwrap_err();
        assert!(e.to_string().contains("in this vault"), "{e}");
    }
}

/// The erasure ledger: an import skips the messages it names, the files
/// named after them and the contents it names, and says how many; the
/// rest of the archive is imported as into a vault that forgot nothing.
#[test]
fn an_import_skips_what_the_ledger_names() {
    // Vault B holds g4: the plan of its conversation with the most
    // contents only it uses.
    let b = TestVault::new();
    b.import(&["g4-2024.zip"]);
    let unlock_b = Unlock::Identities(read_identity_file(&b.identity()).unwrap());
    let vb = Vault::open(&b.vault(), &unlock_b).unwrap();
    let rows_b = b.ls(&[]);
    let conversations: BTreeSet<String> = rows_b
        .iter()
        .filter_map(|r| r["conversation_id"].as_str().map(str::to_owned))
        .collect();
    let plan = conversations
        .iter()
        .map(|c| {
            vb.index
                .forget_plan(&Forget::Conversation(c.clone()))
                .unwrap()
        })
        .max_by_key(|p| p.contents_deleted)
        .unwrap();
    assert!(plan.contents_deleted > 0);
    let blake3s: Vec<[u8; 32]> = plan
        .objects
        .iter()
        .map(|o| {
            let (b3, _) = vb.index.object(o).unwrap().unwrap().hashes.unwrap();
            let bytes: Vec<u8> = (0..32)
                .map(|i| u8::from_str_radix(&b3[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            bytes.try_into().unwrap()
        })
        .collect();
    drop(vb);

    // Vault A forgot them before it ever saw g4.
    let a = TestVault::new();
    forget_in(&a, &plan.messages, &blake3s);
    let summary = a.import(&["g4-2024.zip"]);
    assert_eq!(summary["messages_forgotten"], plan.messages.len() as u64);
    assert!(summary["media_forgotten"].as_u64().unwrap() >= plan.contents_deleted);
    let gone: BTreeSet<&String> = plan.messages.iter().collect();
    let rows_a = a.ls(&[]);
    let keep = |rows: &[serde_json::Value]| -> Vec<String> {
        let mut v: Vec<String> = rows
            .iter()
            .filter(|r| {
                !r["message_id"]
                    .as_str()
                    .is_some_and(|m| gone.contains(&m.to_owned()))
            })
            .map(|r| {
                let mut r = r.clone();
                let o = r.as_object_mut().unwrap();
                o.remove("object");
                o.remove("poster");
                r.to_string()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        keep(&rows_a),
        keep(&rows_b),
        "the rest is as in a vault that forgot nothing"
    );
    assert!(rows_a.iter().all(|r| !r["message_id"]
        .as_str()
        .is_some_and(|m| gone.contains(&m.to_owned()))));
    let forgotten_b3: BTreeSet<String> = blake3s.iter().map(|b| crate::util::hex(b)).collect();
    assert!(rows_a.iter().all(|r| !r["blake3"]
        .as_str()
        .is_some_and(|b| forgotten_b3.contains(b))));
    assert_eq!(
        a.stats()["messages"].as_u64().unwrap() + plan.messages.len() as u64,
        b.stats()["messages"].as_u64().unwrap()
    );
    let o = a.run(["verify", "--read-data"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // Vault C forgot them too, and a write-only key sends it g4: the merge
    // leaves out the same.
    let c = TestVault::new();
    forget_in(&c, &plan.messages, &blake3s);
    let key = c.dir.path().join("nas.key");
    let o = c.run(["key", "add", "--write-only", key.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = c
        .cmd()
        .env("HOME", c.dir.path().join("nas-home"))
        .env("DMVAULT_IDENTITY", &key)
        .args([
            "import",
            crate::util::fixture("g4-2024.zip").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows_c = c.ls(&[]);
    assert_eq!(keep(&rows_c), keep(&rows_b), "merged as imported");
    assert_eq!(c.stats()["messages"], a.stats()["messages"]);
}

/// Records in `v`'s ledger these messages and contents (as `forget` will).
fn forget_in(v: &TestVault, messages: &[String], blake3s: &[[u8; 32]]) {
    use dmvault::vault::catalog::Record;
    use dmvault::vault::ledger::{content_hash, message_hash, ForgottenRecord};
    let unlock = Unlock::Identities(read_identity_file(&v.identity()).unwrap());
    let mut vault = Vault::open(&v.vault(), &unlock).unwrap();
    let key = *vault.secret().forget_key();
    let hex = |h: [u8; 32]| crate::util::hex(&h);
    vault.lock(std::time::Duration::from_secs(5)).unwrap();
    vault
        .commit(vec![Record::Forgotten(ForgottenRecord {
            at: dmvault::time::Timestamp::now(),
            scope: "conversation".into(),
            messages: messages
                .iter()
                .map(|m| hex(message_hash(&key, m)))
                .collect(),
            contents: blake3s.iter().map(|b| hex(content_hash(&key, b))).collect(),
            conversations: Vec::new(),
            people: Vec::new(),
        })])
        .unwrap();
}
