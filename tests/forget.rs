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

const ARCHIVES: [&str; 8] = [
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
    let person: String = db
        .query_row(
            "SELECT m.sender_id FROM messages m JOIN conversations c ON c.id = m.conversation_id
              WHERE c.kind = 'group' AND m.sender_id IN (SELECT user_id FROM names)
                AND m.sender_id IN (SELECT p.user_id FROM participants p
                  JOIN conversations o ON o.id = p.conversation_id WHERE o.kind = 'one_to_one')
              GROUP BY m.sender_id ORDER BY count(*) DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
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
