//! `dmvault show`: a conversation's transcript. `dmvault search`: messages
//! by what they say. Both print messages the same way.

use anyhow::Result;
use clap::Args;
use dmvault::conversation::search::{search, SearchQuery};
use dmvault::conversation::transcript::{
    info as conversation_info, transcript, ConversationInfo, EventView, Item, PersonRef, Range,
};
use dmvault::conversation::{MediaBrief, MessageView};
use dmvault::index::people::Directory;
use dmvault::query::{one_conversation, one_user, Filter};
use dmvault::time::Timestamp;

use super::{unlock, Global, VaultArgs};
use crate::exit::Code;
use crate::output::Out;

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The conversation: its id, its name, or the other person's @handle or
    /// name (when several fit, they are listed).
    #[arg(value_name = "CONVERSATION")]
    pub conversation: String,
    /// From this date (YYYY-MM-DD, UTC) or time (RFC 3339) on.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Up to this date (inclusive) or before this time.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Only the 10 messages before and after this one (its id).
    #[arg(long, value_name = "MESSAGE_ID")]
    pub around: Option<String>,
    /// Print to the terminal, not through a pager.
    #[arg(long)]
    pub no_pager: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// Words (all must appear), "a phrase" (quote it for the shell too:
    /// '"a phrase"') and prefix* (any word starting so). Case does not matter.
    #[arg(value_name = "QUERY", required = true, num_args = 1..)]
    pub query: Vec<String>,
    /// Only this conversation: id, name, or the other person's @handle or name.
    #[arg(long, value_name = "CONVERSATION")]
    pub conversation: Option<String>,
    /// Only messages from this person: user id, @handle or name.
    #[arg(long, value_name = "WHO")]
    pub sender: Option<String>,
    /// Only messages sent on or after this date (YYYY-MM-DD, UTC) or time.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only messages sent up to this date (inclusive) or before this time.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Only messages with media of this kind.
    #[arg(long, value_parser = ["image", "gif", "video"])]
    pub kind: Option<String>,
    /// Only messages with media.
    #[arg(long)]
    pub has_media: bool,
    /// Show at most this many results.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: u32,
    /// Skip this many results first (the next page: --offset 20).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: u32,
}

fn when(t: Option<Timestamp>) -> String {
    t.map_or_else(
        || "????-??-?? ??:??".to_owned(),
        |t| {
            let s = t.to_string();
            format!("{} {}", &s[..10], &s[11..16])
        },
    )
}

fn person(p: &PersonRef) -> String {
    match (&p.name, &p.handle) {
        (Some(n), Some(h)) => format!("{n} (@{h})"),
        (Some(n), None) => n.clone(),
        (None, Some(h)) => format!("@{h}"),
        (None, None) => p.user_id.clone(),
    }
}

fn sender(m: &MessageView) -> String {
    person(&PersonRef {
        user_id: m.sender_id.clone().unwrap_or_else(|| "?".into()),
        handle: m.sender_handle.clone(),
        name: m.sender_name.clone(),
    })
}

fn media_line(m: &MessageView, x: &MediaBrief) -> String {
    let size = x
        .size
        .map_or_else(|| "no file".to_owned(), super::import::bytes);
    let name = x.original_name.as_deref().unwrap_or("");
    let how = match x.size {
        Some(_) => format!("  (dmvault export --message {} DIR)", m.id),
        None => String::new(),
    };
    format!("[{} {size}, {}] {name}{how}", x.kind.as_str(), x.integrity)
}

/// A message as indented lines under its time and sender.
fn print_message(out: &mut Out, m: &MessageView, indent: &str) -> std::io::Result<()> {
    let welcome = match (m.welcome, m.headers_only) {
        (true, _) => " (welcome message)",
        (false, true) => " (only in the headers file: no text)",
        _ => "",
    };
    let mut lines = m.text.as_deref().unwrap_or("").lines();
    let first = lines.next().map_or(String::new(), |l| format!(": {l}"));
    out.line(format_args!(
        "{}  {}{welcome}{first}",
        when(Some(m.created_at)),
        sender(m),
    ))?;
    for l in lines {
        out.line(format_args!("{indent}{l}"))?;
    }
    for e in &m.edits {
        out.line(format_args!(
            "{indent}(edited; an earlier version, {}: {})",
            when(e.at),
            e.text.as_deref().unwrap_or("").replace('\n', " ")
        ))?;
    }
    if !m.reactions.is_empty() {
        let r: Vec<String> = m
            .reactions
            .iter()
            .map(|r| {
                let who = r
                    .sender_name
                    .clone()
                    .or_else(|| r.sender_id.clone())
                    .unwrap_or_else(|| "?".into());
                let key = r.key.as_deref().unwrap_or("?");
                match r.emoji {
                    Some(e) => format!("{e} {key} by {who}"),
                    None => format!("{key} by {who}"),
                }
            })
            .collect();
        out.line(format_args!("{indent}reactions: {}", r.join(", ")))?;
    }
    for x in &m.media {
        out.line(format_args!("{indent}{}", media_line(m, x)))?;
    }
    Ok(())
}

fn print_event(out: &mut Out, e: &EventView) -> std::io::Result<()> {
    let by = e.by.as_ref().map_or_else(|| "someone".to_owned(), person);
    let users: Vec<String> = e.users.iter().map(person).collect();
    let what = match e.kind {
        "join_conversation" => format!("{by} added you; members then: {}", users.join(", ")),
        "participants_join" => format!("{by} added {}", users.join(", ")),
        "participants_leave" => format!("{} left", users.join(", ")),
        "rename" => format!(
            "{by} named the group \"{}\"",
            e.name.as_deref().unwrap_or("")
        ),
        "reaction" => format!(
            "{by} reacted {}{}",
            e.emoji.map_or(String::new(), |x| format!("{x} ")),
            e.key.as_deref().unwrap_or("?")
        ),
        _ => format!(
            "an event dmvault does not know: {}",
            e.detail.as_deref().unwrap_or("")
        ),
    };
    out.line(format_args!("{}  -- {what}", when(e.at)))
}

fn print_head(out: &mut Out, i: &ConversationInfo) -> std::io::Result<()> {
    let kind = match i.conversation_kind {
        Some(dmvault::dm::ConversationKind::Group) => "group",
        _ => "one-to-one",
    };
    let name = i
        .conversation_name
        .as_ref()
        .map_or_else(String::new, |n| format!("{n} "));
    out.line(format_args!(
        "Conversation {name}({}), {kind}, {} messages",
        i.conversation_id, i.messages
    ))?;
    let people: Vec<String> = i
        .participants
        .iter()
        .map(|p| match (&p.name, &p.handle) {
            (None, None) => p.user_id.clone(),
            _ => format!("{} [{}]", person(p), p.user_id),
        })
        .collect();
    out.line(format_args!("With: {}", people.join(", ")))?;
    out.line("")
}

pub fn run_show(args: &ShowArgs, global: &Global) -> Result<Code> {
    let since = args.since.as_deref().map(Filter::parse_since).transpose()?;
    let until = args.until.as_deref().map(Filter::parse_until).transpose()?;
    let vault = unlock::open(&args.vault, global)?;
    let dir = Directory::load(&vault.index)?;
    let id = one_conversation(&dir, &args.conversation)?;
    let range = Range::default()
        .since(since)
        .until(until)
        .around(args.around.clone());
    let info = conversation_info(&vault.index, &dir, &id)?;
    let mut out = if global.json || args.no_pager {
        Out::new()
    } else {
        Out::paged()
    };
    if global.json {
        out.message("conversation", &info)?;
    } else {
        print_head(&mut out, &info)?;
    }
    let json = global.json;
    let mut failed = None;
    let shown = transcript(&vault.index, &dir, &id, &range, |item| {
        let r = match (&item, json) {
            (_, true) => out.json(&item),
            (Item::Message(m), false) => print_message(&mut out, m, "                  "),
            (Item::Event(e), false) => print_event(&mut out, e),
        };
        r.map_err(|e| {
            failed = Some(e);
            dmvault::Error::Interrupted
        })
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    shown?;
    Ok(Code::Ok)
}

pub fn run_search(args: &SearchArgs, global: &Global) -> Result<Code> {
    let mut q = SearchQuery::new(&args.query.join(" "));
    q.since = args.since.as_deref().map(Filter::parse_since).transpose()?;
    q.until = args.until.as_deref().map(Filter::parse_until).transpose()?;
    q.kind = args
        .kind
        .as_deref()
        .and_then(dmvault::media::MediaKind::parse);
    q.has_media = args.has_media;
    q.limit = Some(args.limit);
    q.offset = args.offset;
    dmvault::conversation::search::parse_query(&q.text)?;
    let vault = unlock::open(&args.vault, global)?;
    let dir = Directory::load(&vault.index)?;
    q.conversation = args
        .conversation
        .as_deref()
        .map(|c| one_conversation(&dir, c))
        .transpose()?;
    q.sender = args
        .sender
        .as_deref()
        .map(|s| one_user(&dir, s))
        .transpose()?;
    let hits = search(&vault.index, &dir, &q)?;
    let mut out = Out::new();
    if global.json {
        for h in &hits {
            out.json(h)?;
        }
        return Ok(Code::Ok);
    }
    for h in &hits {
        let m = &h.message;
        let conv = m.conversation_name.as_ref().map_or_else(
            || m.conversation_id.clone(),
            |n| format!("{n} ({})", m.conversation_id),
        );
        out.line(format_args!(
            "{}  {conv}  from {}  message {}",
            when(Some(m.created_at)),
            sender(m),
            m.id
        ))?;
        out.line(format_args!("    {}", h.snippet.replace('\n', " ")))?;
        for x in &m.media {
            out.line(format_args!("    {}", media_line(m, x)))?;
        }
    }
    if !global.quiet {
        let more = if hits.len() == args.limit as usize {
            format!("; the next ones: --offset {}", args.offset + args.limit)
        } else {
            String::new()
        };
        out.line(format_args!("{} messages found{more}", hits.len()))?;
    }
    Ok(Code::Ok)
}
