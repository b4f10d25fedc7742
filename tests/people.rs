//! People, names, transcripts and search, on the synthetic archives (see
//! `fixtures/generate.py`, `g4_2024`: its tweet files name some of the DM
//! partners, its headers file holds a conversation the DM files lack) and
//! the names files in `fixtures/names/`.

use std::collections::BTreeMap;
use std::fs;

use serde_json::Value;

use crate::util::*;

// The ids of `g4_2024` in fixtures/generate.py.
const ME: &str = "1062514387293179904";
const PA: &str = "2907751234";
const PB: &str = "48213377";
const PC: &str = "1432876901235548162";
const PD: &str = "9123456";
const BIZ: &str = "30974";
const G1M: &str = "715628801234567168";
const G2M: &str = "1187345092817463297";
const PE: &str = "5550001";

fn people(v: &TestVault, extra: &[&str]) -> BTreeMap<String, Value> {
    let mut args = vec!["people", "--json"];
    args.extend_from_slice(extra);
    let o = v.run(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    json_lines(&o)
        .into_iter()
        .map(|p| (p["user_id"].as_str().unwrap().to_owned(), p))
        .collect()
}

/// (handle, name, source of the name or else of the handle) shown.
type Shown<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>);

fn shown(p: &Value) -> Shown<'_> {
    let source = p["name"]["source"]
        .as_str()
        .or_else(|| p["handle"]["source"].as_str());
    (
        p["handle"]["value"].as_str(),
        p["name"]["value"].as_str(),
        source,
    )
}

#[test]
fn people_are_named_from_the_archives_own_files() {
    let v = TestVault::new();
    let s = v.import(&["g4-2024.zip"]);
    assert!(s["names_new"].as_u64().unwrap() >= 8, "{s}");
    let all = people(&v, &[]);
    let want: [(&str, Shown); 9] = [
        // The owner: the manifest, over the reply to themselves.
        (
            ME,
            (Some("north_window"), Some("North Window"), Some("manifest")),
        ),
        (
            PA,
            (Some("ferry_light"), Some("Ferry Light"), Some("mention")),
        ),
        // Mentioned as birch_owl_old in 2021 and birch_owl in 2024: the newest.
        (PB, (Some("birch_owl"), Some("Birch Owl"), Some("mention"))),
        (PC, (Some("quiet_pc"), None, Some("reply"))),
        (PD, (Some("dune_sea"), None, Some("media"))),
        (G2M, (Some("glass_two"), Some("Glass Two"), Some("mention"))),
        (G1M, (Some("group_one"), Some("Group One"), Some("mention"))),
        // Named by no file: stays an id.
        (BIZ, (None, None, None)),
        (PE, (None, None, None)),
    ];
    for (id, expect) in want {
        let p = all.get(id).unwrap_or_else(|| panic!("{id} not listed"));
        assert_eq!(shown(p), expect, "{id}: {p}");
    }
    assert_eq!(all.len(), want.len(), "{:?}", all.keys());
    assert_eq!(all[ME]["owner"], true);
    assert_eq!(all[PA]["messages_sent"], 668);
    // Every sighting is kept, with its file and dates.
    let pb: Vec<(&str, &str)> = all[PB]["sightings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["handle"].as_str().unwrap(),
                s["first_seen"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        pb.contains(&("birch_owl_old", "2021-06-01T00:00:00.000Z")),
        "{pb:?}"
    );
    assert!(
        pb.contains(&("birch_owl", "2024-02-01T00:00:00.000Z")),
        "{pb:?}"
    );
    let files: Vec<&str> = [G2M, G1M]
        .iter()
        .map(|u| all[*u]["sightings"][0]["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["deleted-tweets.js", "community-tweet.js"]);
    let owner: Vec<&str> = all[ME]["sightings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["source"] == "screen_name_change")
        .map(|s| s["handle"].as_str().unwrap())
        .collect();
    assert_eq!(owner.len(), 2, "the handle before and after the change");
    assert!(owner.contains(&"north_window_old"));
    let unresolved: Vec<String> = people(&v, &["--unresolved"]).into_keys().collect();
    assert_eq!(unresolved, [BIZ, PE]);
    // Importing again adds no sighting.
    let o = v.run([
        "import".as_ref(),
        "--json".as_ref(),
        fixture("g4-2024.zip").as_os_str(),
    ]);
    assert_eq!(code(&o), 0);
    assert_eq!(people(&v, &[])[PB]["sightings"], all[PB]["sightings"]);
}

#[test]
fn names_files_and_people_set_name_the_rest() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip"]);
    let csv = repo().join("fixtures/names/g4-2024-names.csv");
    let o = v.run(["people".as_ref(), "import".as_ref(), csv.as_os_str()]);
    // One line is not a user id: named, and the rest is taken.
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("line 5"), "{}", stderr(&o));
    let all = people(&v, &[]);
    assert_eq!(
        shown(&all[BIZ]),
        (
            Some("corner_cafe"),
            Some("Corner Caf\u{e9}, the one downtown"),
            Some("user")
        )
    );
    assert_eq!(all[BIZ]["note"], "sends menus");
    // Matched by the handle the tweets gave; the user's name wins.
    assert_eq!(
        shown(&all[PD]),
        (
            Some("dune_sea"),
            Some("Dune Sea (from my CSV)"),
            Some("user")
        )
    );
    // A vCard, matched by its X profile URL's handle.
    let vcf = repo().join("fixtures/names/g4-2024-contacts.vcf");
    let o = v.run([
        "people".as_ref(),
        "import".as_ref(),
        "--json".as_ref(),
        vcf.as_os_str(),
    ]);
    assert_eq!(code(&o), 3, "the card without an X account is named");
    let report = &json_lines(&o)[0];
    assert_eq!(report["set"], 1);
    assert_eq!(people(&v, &[])[PC]["name"]["value"], "Quiet P. C.");
    // The same file again changes nothing.
    let o = v.run([
        "people".as_ref(),
        "import".as_ref(),
        "--json".as_ref(),
        csv.as_os_str(),
    ]);
    assert_eq!(json_lines(&o)[0]["unchanged"], 2);
    // One person by hand; harvested names stay as sightings.
    let o = v.run([
        "people",
        "set",
        PB,
        "--name",
        "Birchy",
        "--note",
        "neighbour",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pb = &people(&v, &[])[PB];
    assert_eq!(shown(pb), (Some("birch_owl"), Some("Birchy"), Some("user")));
    assert!(pb["sightings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "Birch Owl" && s["source"] == "mention"));
    // An empty name removes the user's: the harvested one shows again.
    let o = v.run(["people", "set", "@birch_owl", "--name", ""]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(people(&v, &[])[PB]["name"]["value"], "Birch Owl");
    // Nobody is guessed.
    let o = v.run(["people", "set", "@nobody_here", "--name", "X"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("@nobody_here"), "{}", stderr(&o));
    assert!(people(&v, &["--unresolved"]).keys().eq([PE]));
    // The names are in the encrypted catalog: a rebuilt index has them.
    let o = v.run(["index", "rebuild"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        people(&v, &[])[BIZ]["name"]["value"],
        "Corner Caf\u{e9}, the one downtown"
    );
}

#[test]
fn ls_export_and_export_sqlite_use_the_names() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip"]);
    let rows = v.ls(&["--conversation", "@birch_owl"]);
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(r["conversation_id"], format!("{PB}-{ME}"));
        assert_eq!(r["conversation_name"], "Birch Owl");
    }
    let from_pb = v.ls(&["--sender", "Birch Owl"]);
    assert!(!from_pb.is_empty());
    for r in &from_pb {
        assert_eq!(
            (&r["sender_id"], &r["sender_handle"], &r["sender_name"]),
            (
                &Value::from(PB),
                &Value::from("birch_owl"),
                &Value::from("Birch Owl")
            )
        );
    }
    // A group is named by its latest name; an unnamed partner stays an id.
    let group = v.ls(&["--conversation", "weekend plans & more"]);
    assert!(!group.is_empty());
    let biz = v.ls(&["--sender", BIZ]);
    assert_eq!(biz[0]["sender_name"], Value::Null);
    assert_eq!(biz[0]["conversation_name"], Value::Null);
    // The orphan named after a message only the headers hold gets its facts.
    let orphans: Vec<&Value> = v
        .ls(&[])
        .iter()
        .filter(|r| r["orphan"] == true && r["sender_id"] == PE)
        .cloned()
        .collect::<Vec<_>>()
        .leak()
        .iter()
        .collect();
    assert_eq!(orphans.len(), 1);
    assert_eq!(orphans[0]["conversation_id"], format!("{PE}-{ME}"));
    assert_eq!(orphans[0]["created_at"], "2024-07-02T08:00:00.000Z");

    let out = v.dir.path().join("export");
    let o = v.run([
        "export".as_ref(),
        "--conversation".as_ref(),
        "@birch_owl".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let folder = out.join(format!("Birch Owl ({PB}-{ME})"));
    let names: Vec<String> = fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.contains(" @birch_owl ")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains(" @north_window ")),
        "{names:?}"
    );

    let db = v.dir.path().join("plain.db");
    let o = v.run(["export-sqlite".as_ref(), db.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let c = rusqlite::Connection::open(&db).unwrap();
    let one = |sql: &str| -> String { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        one(&format!("SELECT handle FROM people WHERE user_id = '{PB}'")),
        "birch_owl"
    );
    assert_eq!(
        one(&format!(
            "SELECT name FROM conversations WHERE id = '{PB}-{ME}'"
        )),
        "Birch Owl"
    );
    assert_eq!(
        one(&format!(
            "SELECT group_concat(handle, ',') FROM (SELECT handle FROM names
             WHERE user_id = '{PB}' ORDER BY handle)"
        )),
        "birch_owl,birch_owl_old"
    );
    assert_eq!(
        one(
            "SELECT group_concat(kind, ',') FROM (SELECT kind FROM events
             WHERE conversation_id = '1521550152299615257' ORDER BY at)"
        ),
        "join_conversation,participants_join,participants_leave"
    );
    assert_eq!(
        one("SELECT name FROM conversation_names WHERE conversation_id = '1521550152299615257'"),
        "weekend plans &amp; more"
    );
    assert_eq!(
        one("SELECT count(*) || '' FROM reactions"),
        "7",
        "every reaction of the DM files"
    );
    assert_eq!(one("SELECT text FROM edits"), "fixed teh typo");
}

fn show(v: &TestVault, args: &[&str]) -> (Value, Vec<Value>) {
    let mut a = vec!["show", "--json"];
    a.extend_from_slice(args);
    let o = v.run(&a);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut lines = json_lines(&o);
    let head = lines.remove(0);
    assert_eq!(head["message_type"], "conversation");
    (head, lines)
}

#[test]
fn show_prints_messages_reactions_edits_links_and_events() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip", "g3-2020.zip"]);
    let (head, items) = show(&v, &["@birch_owl"]);
    assert_eq!(head["conversation_name"], "Birch Owl");
    assert_eq!(head["messages"], 15);
    let times: Vec<&str> = items
        .iter()
        .map(|i| i["created_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    let text = |t: &str| {
        items
            .iter()
            .find(|i| i["text"].as_str().unwrap_or("").starts_with(t))
            .unwrap()
    };
    assert_eq!(text("hello")["text"], "hello & welcome", "escapes undone");
    assert_eq!(
        text("the page")["text"],
        "the page I meant: https://example.com/synthetic/page",
        "t.co expanded"
    );
    let edited = text("fixed the typo");
    assert_eq!(edited["edits"][0]["text"], "fixed teh typo");
    assert_eq!(edited["edits"][0]["at"], "2024-01-12T09:05:00.000Z");
    let blue = text("the \"blue\"");
    let reactions: Vec<(&str, &str)> = blue["reactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["emoji"].as_str().unwrap()))
        .collect();
    assert_eq!(
        reactions,
        [("funny", "\u{1f602}"), ("like", "\u{2764}\u{fe0f}")]
    );
    let missing = text("this one is missing");
    assert_eq!(missing["media"][0]["integrity"], "missing");
    let jpeg = text("jpeg");
    assert_eq!(jpeg["media"][0]["kind"], "image");
    assert_eq!(jpeg["media"][0]["integrity"], "ok");

    // A group: joins, leaves and the rename among the messages.
    let (head, items) = show(&v, &["weekend plans & more"]);
    assert_eq!(head["conversation_kind"], "group");
    let kinds: Vec<String> = items
        .iter()
        .map(|i| match i["item"].as_str().unwrap() {
            "event" => i["kind"].as_str().unwrap().to_owned(),
            _ => "message".to_owned(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "join_conversation",
            "message",
            "participants_join",
            "message",
            "rename",
            "message",
            "participants_leave",
            "message"
        ]
    );
    let rename = items.iter().find(|i| i["kind"] == "rename").unwrap();
    assert_eq!(rename["name"], "weekend plans & more");
    assert_eq!(rename["by"]["handle"], "north_window");

    // 2020: reactions as events of their own.
    let (_, items) = show(&v, &["9876543-61829374"]);
    let r: Vec<&str> = items
        .iter()
        .filter(|i| i["kind"] == "reaction")
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(r, ["like", "funny"]);

    // Known only from the headers file: who and when, no text, its media.
    let (head, items) = show(&v, &[&format!("{PE}-{ME}")]);
    assert_eq!(head["messages"], 3);
    assert!(items
        .iter()
        .all(|i| i["headers_only"] == true && i["text"].is_null()));
    assert_eq!(items[2]["media"][0]["kind"], "image");
    assert_eq!(items[2]["media"][0]["integrity"], "ok");

    // --around: the messages on each side.
    let (_, all) = show(&v, &[PA]);
    let mid = all[500]["id"].as_str().unwrap().to_owned();
    let (_, near) = show(&v, &[PA, "--around", &mid]);
    assert_eq!(near.len(), 21);
    assert_eq!(near[10]["id"], mid);
    let (_, since) = show(&v, &[PA, "--since", "2023-05-01"]);
    assert_eq!(since.len(), 4);
}

#[test]
fn show_lists_the_conversations_a_name_fits() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip"]);
    for id in [BIZ, PE] {
        let o = v.run(["people", "set", id, "--name", "Sam"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let o = v.run(["show", "Sam"]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{BIZ}-{ME}")) && err.contains(&format!("{PE}-{ME}")),
        "{err}"
    );
    let o = v.run(["show", "nobody at all"]);
    assert_eq!(code(&o), 1);
}

fn search(v: &TestVault, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["search", "--json"];
    a.extend_from_slice(args);
    let o = v.run(&a);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    json_lines(&o)
}

#[test]
fn search_finds_words_phrases_and_prefixes_newest_first() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip"]);
    let hits = search(&v, &["typo"]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["snippet"], "fixed the **typo**");
    assert_eq!(hits[0]["sender_name"], "Birch Owl");
    assert_eq!(hits[0]["conversation_name"], "Birch Owl");
    let blue = search(&v, &["\"the blue\"", "--limit", "1000"]);
    assert!(blue.len() > 20, "{}", blue.len());
    for h in &blue {
        assert!(
            h["text"].as_str().unwrap().contains("the \"blue\" one"),
            "{h}"
        );
        assert!(
            h["snippet"]
                .as_str()
                .unwrap()
                .contains("**the** \"**blue**\""),
            "{h}"
        );
    }
    assert_eq!(
        search(&v, &["\"blue the\""]).len(),
        0,
        "a phrase keeps its order"
    );
    let frid = search(&v, &["frid*", "--limit", "2000"]);
    assert!(frid.len() > 1);
    let times: Vec<&str> = frid
        .iter()
        .map(|h| h["created_at"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    assert!(frid
        .iter()
        .any(|h| h["conversation_id"] == format!("{ME}-{PC}")));
    // Filters.
    let pa_only = search(
        &v,
        &["frid*", "--conversation", "Ferry Light", "--limit", "2000"],
    );
    assert!(!pa_only.is_empty() && pa_only.len() < frid.len());
    assert!(pa_only
        .iter()
        .all(|h| h["conversation_id"] == format!("{PA}-{ME}")));
    let from = search(&v, &["note", "--sender", "@ferry_light", "--limit", "500"]);
    assert!(from.iter().all(|h| h["sender_id"] == PA));
    let page2 = search(
        &v,
        &[
            "note",
            "--sender",
            "@ferry_light",
            "--limit",
            "10",
            "--offset",
            "10",
        ],
    );
    assert_eq!(page2[0]["id"], from[10]["id"]);
    let media = search(&v, &["picture", "--has-media"]);
    assert_eq!(media.len(), 2);
    assert!(media.iter().all(|h| h["media"][0]["kind"] == "image"));
    assert_eq!(search(&v, &["old", "--kind", "video"]).len(), 1);
    assert!(search(&v, &["note", "--until", "2023-03-01"])
        .iter()
        .all(|h| h["created_at"].as_str().unwrap() < "2023-03-02"));
    // FTS5 syntax is taken as words: never a syntax error.
    assert!(search(&v, &["AND", "(", "NEAR"]).is_empty());
    let o = v.run(["search", "\"\""]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no words"), "{}", stderr(&o));
}

#[test]
fn a_message_known_from_the_headers_is_completed_by_a_later_archive() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip"]);
    let st = v.stats();
    assert_eq!(
        (
            st["messages"].as_u64(),
            st["messages_headers_only"].as_u64()
        ),
        (Some(1033), Some(3))
    );
    // A later archive whose DM file has that conversation, text and all.
    let tmp = tempfile::tempdir().unwrap();
    unzip(&fixture("g4-2024.zip"), tmp.path());
    let root = fs::read_dir(tmp.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let headers = fs::read_to_string(root.join("data/direct-message-headers.js")).unwrap();
    let (_, json) = headers.split_once('=').unwrap();
    let all: Vec<Value> = serde_json::from_str(json).unwrap();
    let mut conv = all
        .into_iter()
        .find(|c| c["dmConversation"]["conversationId"] == format!("{PE}-{ME}"))
        .unwrap();
    for (i, m) in conv["dmConversation"]["messages"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        m["messageCreate"]["text"] = format!("completed later {i}").into();
        m["messageCreate"]["mediaUrls"] = Value::Array(Vec::new());
    }
    let later = tmp.path().join("later");
    fs::create_dir_all(later.join("data")).unwrap();
    fs::write(
        later.join("data/direct-messages.js"),
        format!(
            "window.YTD.direct_messages.part0 = {}",
            Value::Array(vec![conv])
        ),
    )
    .unwrap();
    let o = v.run(["import".as_ref(), "--json".as_ref(), later.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json_lines(&o)[0]["messages_seen"], 3);
    // Imported again: recognised, and its messages counted once.
    let o = v.run(["import".as_ref(), "--json".as_ref(), later.as_os_str()]);
    let line = &json_lines(&o)[0];
    assert_eq!(
        (&line["already_imported"], &line["messages_seen"]),
        (&Value::from(true), &Value::from(3))
    );
    let st = v.stats();
    assert_eq!(
        (
            st["messages"].as_u64(),
            st["messages_headers_only"].as_u64()
        ),
        (Some(1036), Some(0))
    );
    assert_eq!(search(&v, &["completed"]).len(), 3);
    let (_, items) = show(&v, &[PE]);
    assert!(items.iter().all(|i| i["headers_only"] == false));
    // The index made on the way equals one made from the log.
    let o = v.run(["verify", "--read-data"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(!stdout(&o).contains("warning"), "{}", stdout(&o));
}

#[test]
fn unknown_events_are_kept_and_an_empty_xchat_file_is_no_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("archive");
    fs::create_dir_all(a.join("data")).unwrap();
    fs::write(
        a.join("data/direct-messages.js"),
        r#"window.YTD.direct_messages.part0 = [ { "dmConversation" : { "conversationId" : "11-22",
  "messages" : [
    { "futureThing" : { "by" : "22", "createdAt" : "2025-01-02T00:00:00.000Z" } },
    { "messageCreate" : { "recipientId" : "22", "text" : "hi", "mediaUrls" : [ ], "senderId" : "11",
        "id" : "1874000000000000000", "createdAt" : "2025-01-01T00:00:00.000Z" } } ] } } ]"#,
    )
    .unwrap();
    fs::write(
        a.join("data/message-event.js"),
        "window.YTD.message_event.part0 = [ ]",
    )
    .unwrap();
    let report = inspect_json(&a);
    let warnings = report["warnings"].to_string();
    assert!(!warnings.contains("XChat"), "{warnings}");
    let g5 = inspect_json(&fixture("g5-2026.zip"));
    assert!(g5["warnings"].to_string().contains("XChat"));

    let v = TestVault::new();
    let o = v.run(["import".as_ref(), a.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (_, items) = show(&v, &["11-22"]);
    let other = items.iter().find(|i| i["kind"] == "other").unwrap();
    let detail: Value = serde_json::from_str(other["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["futureThing"]["by"], "22");
    assert_eq!(other["at"], "2025-01-02T00:00:00.000Z", "after the message");
    assert_eq!(items.last().unwrap()["kind"], "other");
    let db = tmp.path().join("plain.db");
    let o = v.run(["export-sqlite".as_ref(), db.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let c = rusqlite::Connection::open(&db).unwrap();
    let kind: String = c
        .query_row("SELECT kind FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kind, "other");
}
