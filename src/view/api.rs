//! The JSON API the pages' script reads (and tests call): conversations,
//! a page of one, search, people and the media gallery.

use serde::Serialize;

use super::{bytes, param, text, Context, Reply};
use crate::conversation::list::{conversations, months, page, Anchor};
use crate::conversation::search::{search, SearchQuery};
use crate::conversation::transcript::info;
use crate::error::{Error, Result};
use crate::index::people::Directory;
use crate::query::{for_each_row, one_conversation, one_user, Filter};

type Query = [(String, String)];

/// Answers `/api/<path>`.
pub(super) fn answer(ctx: &Context<'_>, path: &str, query: &Query) -> Reply {
    match respond(ctx, path, query) {
        Ok(Some(body)) => bytes(200, "application/json", body),
        Ok(None) => text(404, "no such API"),
        Err(e @ (Error::Invalid(_) | Error::Ambiguous(_))) => text(400, &e.to_string()),
        Err(e) => text(500, &e.to_string()),
    }
}

fn json(v: &impl Serialize) -> Result<Option<Vec<u8>>> {
    serde_json::to_vec(v)
        .map(Some)
        .map_err(|e| Error::Invalid(e.to_string()))
}

fn number(query: &Query, name: &str, default: u32) -> Result<u32> {
    match param(query, name) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| Error::Invalid(format!("{name}={v:?} is not a number"))),
    }
}

fn respond(ctx: &Context<'_>, path: &str, query: &Query) -> Result<Option<Vec<u8>>> {
    let index = &ctx.vault.index;
    let dir = Directory::load(index)?;
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["conversations"] => json(&conversations(index, &dir)?),
        ["conversations", id] => {
            #[derive(Serialize)]
            struct Conversation {
                #[serde(flatten)]
                info: crate::conversation::transcript::ConversationInfo,
                months: Vec<crate::conversation::list::Month>,
            }
            json(&Conversation {
                info: info(index, &dir, id)?,
                months: months(index, id)?,
            })
        }
        ["conversations", id, "messages"] => {
            let anchor = match (
                param(query, "before"),
                param(query, "after"),
                param(query, "around"),
            ) {
                (Some(b), _, _) if !b.is_empty() => Anchor::Before(b),
                (_, Some(a), _) if !a.is_empty() => Anchor::After(a),
                (_, _, Some(m)) if !m.is_empty() => Anchor::Around(m),
                _ => Anchor::Latest,
            };
            json(&page(
                index,
                &dir,
                id,
                &anchor,
                number(query, "limit", 100)?,
            )?)
        }
        ["search"] => json(&search(index, &dir, &search_query(&dir, query)?)?),
        ["people"] => json(&index.people()?),
        ["media"] => json(&gallery(ctx, &dir, query)?),
        _ => Ok(None),
    }
}

fn search_query(dir: &Directory, query: &Query) -> Result<SearchQuery> {
    let mut q = SearchQuery::new(&param(query, "q").unwrap_or_default());
    let given = |k: &str| param(query, k).filter(|v| !v.is_empty());
    q.conversation = given("conversation")
        .map(|c| one_conversation(dir, &c))
        .transpose()?;
    q.sender = given("sender").map(|s| one_user(dir, &s)).transpose()?;
    q.since = given("since")
        .map(|s| Filter::parse_since(&s))
        .transpose()?;
    q.until = given("until")
        .map(|s| Filter::parse_until(&s))
        .transpose()?;
    q.kind = given("kind").and_then(|k| crate::media::MediaKind::parse(&k));
    q.has_media = given("has_media").is_some_and(|v| v != "0" && v != "false");
    q.limit = Some(number(query, "limit", 50)?);
    q.offset = number(query, "offset", 0)?;
    Ok(q)
}

/// A page of the media gallery: the rows `ls` lists, newest first, with
/// the filters of `ls` (`conversation`, `sender`, `kind`, `integrity`).
fn gallery(ctx: &Context<'_>, dir: &Directory, query: &Query) -> Result<Vec<crate::query::Row>> {
    let given = |k: &str| param(query, k).filter(|v| !v.is_empty());
    let f = Filter {
        conversation: given("conversation")
            .map(|c| one_conversation(dir, &c))
            .transpose()?,
        sender: given("sender").map(|s| one_user(dir, &s)).transpose()?,
        kind: given("kind").and_then(|k| crate::media::MediaKind::parse(&k)),
        integrity: given("integrity").and_then(|v| crate::integrity::Verdict::parse(&v)),
        ..Filter::default()
    };
    let (limit, offset) = (
        number(query, "limit", 200)? as usize,
        number(query, "offset", 0)? as usize,
    );
    let mut rows = Vec::new();
    for_each_row(&ctx.vault.index, &f, |r| {
        rows.push(r);
        Ok(())
    })?;
    rows.reverse();
    Ok(rows.into_iter().skip(offset).take(limit).collect())
}
