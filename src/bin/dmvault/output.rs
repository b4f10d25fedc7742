//! Everything the program prints goes through here.
//!
//! - Text that comes from archives (file and entry names, ids, group
//!   names) or from other people is shown with control characters and
//!   bidirectional overrides escaped ([`clean`]): a name cannot move the
//!   cursor, recolour the terminal or forge a line of output.
//! - A reader that goes away (`dmvault ls | head`) ends the output
//!   quietly; the command still finishes and exits with its own code, so
//!   `dmvault verify | true` on a damaged vault still exits 4.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::{self, Write};

/// `s` with every character that could act on a terminal escaped:
/// C0 and C1 controls and DEL as `\x..` (`\n`, `\r`, `\t` by name), and
/// Unicode bidirectional controls as `\u{..}`.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// JSON text with the characters JSON itself leaves raw but a terminal
/// would act on (DEL, C1 controls, bidirectional controls) written as
/// `\uXXXX` escapes: still the same JSON. (They can only stand inside
/// strings: JSON's own syntax is ASCII.)
pub fn json_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Standard output for a command's report (or a pager reading it).
pub struct Out {
    inner: Box<dyn Write>,
    closed: bool,
    pager: Option<std::process::Child>,
}

impl Out {
    /// Standard output, locked.
    pub fn new() -> Out {
        Out {
            inner: Box::new(io::stdout().lock()),
            closed: false,
            pager: None,
        }
    }

    /// Standard output through a pager when it is a terminal, as git does:
    /// `DMVAULT_PAGER`, else `PAGER`, else `less` (with `LESS=FRX` unless
    /// LESS is set, so that a short text prints as it is). An empty pager
    /// or `cat` means none; a pager that cannot start means none. less
    /// keeps no search history (`LESSHISTFILE=-`): what is searched for in
    /// a transcript would land on disk.
    pub fn paged() -> Out {
        use std::io::IsTerminal;
        if !io::stdout().is_terminal() {
            return Out::new();
        }
        let pager = std::env::var("DMVAULT_PAGER")
            .or_else(|_| std::env::var("PAGER"))
            .unwrap_or_else(|_| "less".into());
        if pager.trim().is_empty() || pager.trim() == "cat" {
            return Out::new();
        }
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg(&pager)
            .stdin(std::process::Stdio::piped());
        if std::env::var_os("LESS").is_none() {
            cmd.env("LESS", "FRX");
        }
        // less keeps what is searched for in ~/.lesshst: not for DMs.
        cmd.env("LESSHISTFILE", "-");
        match cmd.spawn() {
            Ok(mut child) => match child.stdin.take() {
                Some(stdin) => Out {
                    inner: Box::new(io::BufWriter::new(stdin)),
                    closed: false,
                    pager: Some(child),
                },
                None => Out::new(),
            },
            Err(_) => Out::new(),
        }
    }

    /// Writes one line of text, [`clean`]ed.
    ///
    /// # Errors
    /// A write error other than a closed pipe (a full disk under `>`).
    pub fn line(&mut self, text: impl fmt::Display) -> io::Result<()> {
        let text = text.to_string();
        self.raw(&clean(&text))
    }

    /// Writes a value as one line of JSON (escaped by JSON itself).
    ///
    /// # Errors
    /// As [`Out::line`].
    pub fn json(&mut self, v: &impl serde::Serialize) -> io::Result<()> {
        let text = serde_json::to_string(v).map_err(io::Error::other)?;
        self.raw(&json_safe(&text))
    }

    /// Writes a JSON object with a `message_type` first.
    ///
    /// # Errors
    /// As [`Out::line`].
    pub fn message(&mut self, message_type: &str, v: &impl serde::Serialize) -> io::Result<()> {
        let mut obj = serde_json::Map::new();
        obj.insert("message_type".into(), message_type.into());
        match serde_json::to_value(v).map_err(io::Error::other)? {
            serde_json::Value::Object(m) => obj.extend(m),
            other => {
                obj.insert("value".into(), other);
            }
        }
        self.json(&obj)
    }

    fn raw(&mut self, line: &str) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = writeln!(self.inner, "{line}");
        // A pager reads whole screens; a terminal or pipe sees each line.
        let r = r.and_then(|()| match self.pager {
            Some(_) => Ok(()),
            None => self.inner.flush(),
        });
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

impl Drop for Out {
    /// Waits for the pager, so that the shell prompt comes after it.
    fn drop(&mut self) {
        if let Some(mut child) = self.pager.take() {
            let _ = self.inner.flush();
            self.inner = Box::new(io::sink());
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn json_keeps_no_terminal_controls() {
        let v = serde_json::json!({"name": "a\u{1b}[2J\u{7f}\u{9b}\u{202e}b\n"});
        let text = super::json_safe(&v.to_string()).into_owned();
        assert!(
            !text.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn terminal_controls_are_escaped() {
        assert_eq!(clean("a.jpg"), "a.jpg");
        assert_eq!(clean("x\u{1b}[2Jy"), "x\\x1b[2Jy");
        assert_eq!(clean("l1\r\nfake line"), "l1\\r\\nfake line");
        assert_eq!(clean("gpj.\u{202e}exe"), "gpj.\\u{202e}exe");
        assert_eq!(clean("\u{9b}31m"), "\\x9b31m");
        assert_eq!(clean("émoji 😀"), "émoji 😀");
    }
}
