//! Names the user gives: a CSV names file or a vCard address book.
//!
//! CSV (UTF-8, `#` comment lines, an optional header line):
//!
//! ```text
//! user_id,handle,display_name,note
//! 1234567890123456789,example_handle,Alex Example,school friend
//! 987654321,,Grandma,
//! ,someone_else,Sam,              (no id: matched by a handle the archives gave)
//! ```
//!
//! vCard (2.1, 3.0, 4.0): `FN` is the display name; the X account is taken
//! from `X-SOCIALPROFILE;TYPE=twitter` (a handle or a profile URL, or its
//! `x-user` parameter), `X-TWITTER`, or a `URL` on twitter.com or x.com. A
//! profile URL of the form `…/intent/user?user_id=N` gives the id itself;
//! otherwise the card is matched by handle.

use super::{clean_handle, clean_user_id};

/// One person as the user's file gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// The user id, when the file gives it.
    pub user: Option<String>,
    /// The handle.
    pub handle: Option<String>,
    /// The display name.
    pub name: Option<String>,
    /// A note.
    pub note: Option<String>,
    /// Where in the file (1-based line of the row or of `BEGIN:VCARD`).
    pub line: usize,
}

/// What a names file gave: its entries and the lines it could not use.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The entries, in file order.
    pub entries: Vec<Entry>,
    /// One sentence per line or card that was left out.
    pub problems: Vec<String>,
}

/// Reads a names file: vCard when it starts with `BEGIN:VCARD`, else CSV.
pub fn parse(text: &str) -> Parsed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text
        .trim_start()
        .get(..11)
        .is_some_and(|s| s.eq_ignore_ascii_case("BEGIN:VCARD"))
    {
        parse_vcard(text)
    } else {
        parse_csv(text)
    }
}

/// Reads the CSV form.
pub fn parse_csv(text: &str) -> Parsed {
    let mut out = Parsed::default();
    for (line, cells) in csv_records(text) {
        if cells.len() == 1 && cells[0].trim().is_empty() {
            continue;
        }
        if cells[0].trim_start().starts_with('#') {
            continue;
        }
        if cells[0].trim().eq_ignore_ascii_case("user_id") {
            continue;
        }
        let cell = |i: usize| {
            cells
                .get(i)
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
        };
        let (id, handle) = (cell(0), cell(1));
        let user = match &id {
            Some(raw) => match clean_user_id(raw) {
                Some(u) => Some(u),
                None => {
                    out.problems.push(format!(
                        "line {line}: {raw:?} is not a user id (digits, as in the archive's senderId)"
                    ));
                    continue;
                }
            },
            None => None,
        };
        let handle = match handle {
            Some(h) => match clean_handle(&h) {
                Some(h) => Some(h),
                None => {
                    out.problems
                        .push(format!("line {line}: {h:?} is not an X handle"));
                    continue;
                }
            },
            None => None,
        };
        if user.is_none() && handle.is_none() {
            out.problems
                .push(format!("line {line}: neither a user id nor a handle"));
            continue;
        }
        out.entries.push(Entry {
            user,
            handle,
            name: cell(2),
            note: cell(3),
            line,
        });
    }
    out
}

/// Splits CSV text into records (RFC 4180: quoted cells may hold commas,
/// quotes doubled, and line breaks), each with the line it starts on.
fn csv_records(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut records = Vec::new();
    let (mut cells, mut cell) = (Vec::new(), String::new());
    let (mut line, mut start, mut quoted) = (1usize, 1usize, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if cell.trim().is_empty() => {
                cell.clear();
                quoted = true;
            }
            (',', false) => cells.push(std::mem::take(&mut cell)),
            ('\r', false) if chars.peek() == Some(&'\n') => {}
            ('\n', false) => {
                cells.push(std::mem::take(&mut cell));
                records.push((start, std::mem::take(&mut cells)));
                line += 1;
                start = line;
            }
            ('\n', true) => {
                line += 1;
                cell.push('\n');
            }
            (c, _) => cell.push(c),
        }
    }
    if !cell.is_empty() || !cells.is_empty() {
        cells.push(cell);
        records.push((start, cells));
    }
    records
}

/// Reads the vCard form.
pub fn parse_vcard(text: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut card: Option<Entry> = None;
    for (line, content) in unfold(text) {
        let Some((head, value)) = content.split_once(':') else {
            continue;
        };
        let mut params = head.split(';');
        let prop = params.next().unwrap_or("");
        // `item1.URL`: a group prefix.
        let prop = prop.rsplit('.').next().unwrap_or(prop).to_ascii_uppercase();
        let params: Vec<String> = params.map(str::to_ascii_lowercase).collect();
        match prop.as_str() {
            "BEGIN" if value.trim().eq_ignore_ascii_case("VCARD") => {
                card = Some(Entry {
                    line,
                    ..Entry::default()
                });
            }
            "END" => {
                if let Some(c) = card.take() {
                    finish_card(c, &mut out);
                }
            }
            _ => {
                if let Some(c) = card.as_mut() {
                    card_property(c, &prop, &params, head, value);
                }
            }
        }
    }
    out
}

fn finish_card(c: Entry, out: &mut Parsed) {
    if c.user.is_some() || c.handle.is_some() {
        out.entries.push(c);
    } else {
        let who = c.name.as_deref().unwrap_or("a card without a name");
        out.problems.push(format!(
            "line {}: {who:?} has no X account (X-SOCIALPROFILE or an x.com URL); skipped",
            c.line
        ));
    }
}

fn card_property(c: &mut Entry, prop: &str, params: &[String], head: &str, value: &str) {
    let value = unescape(value.trim());
    match prop {
        "FN" if !value.is_empty() => c.name = Some(value),
        "X-SOCIALPROFILE" | "X-TWITTER" | "URL" | "IMPP" => {
            let twitterish = prop == "X-TWITTER"
                || params
                    .iter()
                    .any(|p| p.contains("twitter") || p.contains("=x"));
            let user_param = head.split(';').find_map(|p| {
                p.to_ascii_lowercase()
                    .strip_prefix("x-user=")
                    .map(|_| p[7..].to_owned())
            });
            if let Some(id) = id_in_url(&value) {
                c.user = Some(id);
            } else if let Some(h) = handle_in_url(&value) {
                c.handle = Some(h);
            } else if twitterish {
                let h = user_param.as_deref().unwrap_or(&value);
                let h = h.strip_prefix("twitter:").unwrap_or(h);
                if let Some(h) = clean_handle(h) {
                    c.handle = Some(h);
                }
            }
        }
        _ => {}
    }
}

/// `https://twitter.com/intent/user?user_id=N` (also x.com) → N.
fn id_in_url(url: &str) -> Option<String> {
    let lower = url.to_ascii_lowercase();
    if !(lower.contains("twitter.com/") || lower.contains("x.com/")) {
        return None;
    }
    let (_, q) = url.split_once("user_id=")?;
    clean_user_id(q.split('&').next().unwrap_or(q))
}

/// `https://x.com/handle` or `twitter.com/handle` (no path after) → handle.
fn handle_in_url(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    let rest = rest
        .strip_prefix("www.")
        .or_else(|| rest.strip_prefix("mobile."))
        .unwrap_or(rest);
    let lower = rest.to_ascii_lowercase();
    let path = if lower.starts_with("twitter.com/") {
        &rest[12..]
    } else if lower.starts_with("x.com/") {
        &rest[6..]
    } else {
        return None;
    };
    let h = path.split(['/', '?', '#']).next()?;
    if ["i", "intent", "home", "search"].contains(&h) {
        return None;
    }
    clean_handle(h)
}

/// vCard's backslash escapes.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push(' '),
            Some(x) => out.push(x),
            None => {}
        }
    }
    out
}

/// Lines with folded continuations joined, each with its first line number.
fn unfold(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix([' ', '\t']), out.last_mut()) {
            (Some(rest), Some(last)) => last.1.push_str(rest),
            _ => out.push((i + 1, raw.to_owned())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_comments_header_quotes_and_bad_lines() {
        let p = parse(
            "# my names\nuser_id,handle,display_name,note\n\
             1234567890123456789,example_handle,Alex Example,school friend\n\
             987654321,,\"Grandma, \"\"Nan\"\"\",\n\
             ,@someone_else,Sam\n\
             12x,,Bad,\n\
             55,not a handle,,\n",
        );
        assert_eq!(p.entries.len(), 3, "{:?}", p.problems);
        assert_eq!(p.entries[1].name.as_deref(), Some("Grandma, \"Nan\""));
        assert_eq!(p.entries[1].handle, None);
        assert_eq!(p.entries[2].user, None);
        assert_eq!(p.entries[2].handle.as_deref(), Some("someone_else"));
        assert_eq!(p.entries[2].line, 5);
        assert_eq!(p.problems.len(), 2);
        assert!(p.problems[0].starts_with("line 6:"), "{:?}", p.problems);
    }

    #[test]
    fn vcards_by_social_profile_url_and_intent_link() {
        let p = parse(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Sample Contact\r\n\
             X-SOCIALPROFILE;TYPE=twitter:https://twitter.com/sample_c\r\nEND:VCARD\r\n\
             BEGIN:VCARD\nVERSION:4.0\nFN:Long\n  Name\nitem1.URL:https://x.com/intent/user?user_id=42\nEND:VCARD\n\
             BEGIN:VCARD\nVERSION:3.0\nFN:Plain\nX-SOCIALPROFILE;type=twitter;x-user=plainh:x-apple:plainh\nEND:VCARD\n\
             BEGIN:VCARD\nVERSION:3.0\nFN:No Account\nTEL:+1\nEND:VCARD\n",
        );
        assert_eq!(p.entries.len(), 3, "{:?}", p.problems);
        assert_eq!(p.entries[0].handle.as_deref(), Some("sample_c"));
        assert_eq!(p.entries[0].name.as_deref(), Some("Sample Contact"));
        assert_eq!(p.entries[1].user.as_deref(), Some("42"));
        assert_eq!(p.entries[1].name.as_deref(), Some("Long Name"));
        assert_eq!(p.entries[2].handle.as_deref(), Some("plainh"));
        assert_eq!(p.problems.len(), 1);
    }
}
