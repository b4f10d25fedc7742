//! `dmvault view`: the vault in a browser, served from memory on
//! 127.0.0.1, read-only.
//!
//! - **Access.** A fresh 256-bit token is in the URL printed once; the first
//!   request that carries it gets it back as an `HttpOnly; SameSite=Strict`
//!   cookie (and is redirected to drop it from the address bar). Every
//!   other request without the cookie is refused (401). A `Host` header
//!   other than `127.0.0.1:PORT` or `localhost:PORT` is refused (403): a
//!   page of another site that re-binds its name to 127.0.0.1 gets nothing.
//! - **Nothing kept.** Every response says `Cache-Control: no-store`;
//!   media is decrypted into the response as it is sent, never to disk.
//! - **Nothing run.** The pages are plain HTML, CSS and one script shipped in
//!   the binary; a strict Content-Security-Policy allows no other script,
//!   and the script puts every text from the vault in the page as text.
//!
//! The server is this module's own small HTTP/1.1 (`http.rs`):
//! synchronous like age's seeking reader, a thread per connection, for
//! one person's browser making a few requests at a time.

mod api;
mod http;
mod media;
pub mod site;

use std::io::Cursor;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicBool;

pub(crate) use http::{Reply, Request};

use crate::error::{Error, Result};
use crate::vault::Vault;

/// How `dmvault view` serves.
#[derive(Debug, Clone, Default)]
pub struct ViewOptions {
    /// The port on 127.0.0.1 (0: a free one).
    pub port: u16,
    /// Connections served at once (default 64; more get 503).
    pub threads: usize,
}

/// A server bound to 127.0.0.1, not yet serving.
pub struct Viewer {
    listener: TcpListener,
    addr: SocketAddr,
    token: String,
}

impl Viewer {
    /// Binds 127.0.0.1 (and nothing else) and makes the token.
    ///
    /// # Errors
    /// [`Error::Io`] when the port cannot be bound; [`Error::Random`].
    pub fn bind(opts: &ViewOptions) -> Result<Viewer> {
        let cannot = |e: std::io::Error| {
            Error::Invalid(format!(
                "cannot listen on 127.0.0.1:{}: {e}; choose another --port, or leave it out for a free one",
                opts.port
            ))
        };
        let listener = http::bind(opts.port).map_err(cannot)?;
        let addr = listener.local_addr().map_err(cannot)?;
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| Error::Random(e.to_string()))?;
        Ok(Viewer {
            listener,
            addr,
            token: crate::vault::keys::hex(&key),
        })
    }

    /// The URL to open, token included (a secret: never log it).
    pub fn url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/?token={}",
            self.addr.port(),
            self.token
        )
    }

    /// The port bound.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serves until `stop` is set. Read-only: the vault is never changed
    /// (the index may catch up with the log, as every command does).
    ///
    /// # Errors
    /// Only when serving cannot go on; a failed request is answered and
    /// served on.
    pub fn serve(self, vault: &Vault, opts: &ViewOptions, stop: &AtomicBool) -> Result<()> {
        let ctx = Context {
            vault,
            token: &self.token,
            port: self.addr.port(),
        };
        let most = if opts.threads == 0 { 64 } else { opts.threads };
        http::serve(&self.listener, most, stop, &|req| secure(ctx.route(req)));
        Ok(())
    }
}

/// What every request is answered with.
pub(crate) struct Context<'a> {
    pub vault: &'a Vault,
    token: &'a str,
    port: u16,
}

/// The Content-Security-Policy of every response: this server's own
/// script, styles, pictures and media; nothing inline, nothing else.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The policy of a static export's page (`export --html`), set in the page
/// itself: its own files only, nothing inline.
const CSP_STATIC: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
media-src 'self'; base-uri 'none'; form-action 'none'";

const COOKIE: &str = "dmvault_token";

impl Context<'_> {
    fn route(&self, req: &Request) -> Reply {
        if !self.host_ok(req) {
            return text(403, "this server answers only to 127.0.0.1 and localhost");
        }
        let (path, query) = split_url(req.url());
        if let Some(t) = param(&query, "token") {
            if constant_eq(&t, self.token) {
                // The token becomes a cookie, and leaves the address bar.
                let to = if path.is_empty() { "/" } else { path.as_str() };
                return redirect(to).with_header(
                    "Set-Cookie",
                    &format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", self.token),
                );
            }
            return text(403, "wrong token; use the URL `dmvault view` printed");
        }
        if !self.cookie_ok(req) {
            return text(
                401,
                "open the URL `dmvault view` printed (it carries the token)",
            );
        }
        if req.method() != "GET" && req.method() != "HEAD" {
            return text(405, "read-only: GET and HEAD only");
        }
        match path.as_str() {
            "/" | "/index.html" => asset(
                "text/html; charset=utf-8",
                include_str!("assets/index.html"),
            ),
            "/app.js" => asset(
                "text/javascript; charset=utf-8",
                include_str!("assets/app.js"),
            ),
            "/style.css" => asset("text/css; charset=utf-8", include_str!("assets/style.css")),
            p if p.starts_with("/api/") => api::answer(self, &p[5..], &query),
            p if p.starts_with("/media/") => media::answer(self, req, &p[7..]),
            p if p.starts_with("/poster/") => media::poster(self, req, &p[8..]),
            _ => text(404, "not found"),
        }
    }

    fn host_ok(&self, req: &Request) -> bool {
        let host = req.header("Host").unwrap_or_default();
        host == format!("127.0.0.1:{}", self.port) || host == format!("localhost:{}", self.port)
    }

    fn cookie_ok(&self, req: &Request) -> bool {
        req.headers("Cookie")
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .any(|(k, v)| k == COOKIE && constant_eq(v, self.token))
    }
}

/// Compares without stopping at the first difference.
fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The headers every response carries.
fn secure(r: Reply) -> Reply {
    r.with_header("Cache-Control", "no-store")
        .with_header("Content-Security-Policy", CSP)
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Referrer-Policy", "no-referrer")
        .with_header("Cross-Origin-Resource-Policy", "same-origin")
}

pub(crate) fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
    let len = body.len() as u64;
    Reply::new(status, Box::new(Cursor::new(body)), len).with_header("Content-Type", content_type)
}

pub(crate) fn text(status: u16, message: &str) -> Reply {
    bytes(
        status,
        "text/plain; charset=utf-8",
        format!("{message}\n").into_bytes(),
    )
}

fn asset(content_type: &str, body: &str) -> Reply {
    bytes(200, content_type, body.as_bytes().to_vec())
}

fn redirect(to: &str) -> Reply {
    bytes(303, "text/plain; charset=utf-8", Vec::new()).with_header("Location", to)
}

/// The path (percent-decoded) and the query's pairs.
fn split_url(url: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    (decode(path), pairs)
}

/// A query parameter's value.
pub(crate) fn param(query: &[(String, String)], name: &str) -> Option<String> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Percent-decoding (and `+` as a space), lossy on bad UTF-8.
fn decode(s: &str) -> String {
    let hexval = |c: u8| (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let pair = (b[i] == b'%' && i + 2 < b.len())
            .then(|| Some(hexval(b[i + 1])? * 16 + hexval(b[i + 2])?))
            .flatten();
        match (pair, b[i]) {
            (Some(v), _) => {
                out.push(v);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, c) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_decoded_and_tokens_compared_whole() {
        let (p, q) = split_url("/api/search?q=the+%22blue%22%20one&limit=5&bad=%zz");
        assert_eq!(p, "/api/search");
        assert_eq!(param(&q, "q").as_deref(), Some("the \"blue\" one"));
        assert_eq!(param(&q, "bad").as_deref(), Some("%zz"));
        assert_eq!(decode("%e2%9d%a4"), "\u{2764}");
        assert_eq!(decode("%4"), "%4");
        assert!(constant_eq("abc", "abc"));
        assert!(!constant_eq("abc", "abd") && !constant_eq("abc", "ab"));
    }
}
