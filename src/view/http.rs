//! The viewer's HTTP/1.1: a thread per connection, requests parsed by
//! `httparse`, responses streamed with a known length, connections kept
//! alive until the browser closes them, they idle for a minute, or the
//! server stops.
//!
//! Why not a server crate: `tiny_http` (tried first) hands connections to
//! a pool that can leave a new one waiting until another closes, and a
//! browser keeps its connections open; `hyper` needs an async runtime for
//! what is here a few requests at a time. What a browser on 127.0.0.1
//! needs from HTTP/1.1 is this file.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often a blocked read or write looks at the stop flag.
const TICK: Duration = Duration::from_millis(250);
/// An idle connection (or one sending its request too slowly) is closed.
const IDLE: Duration = Duration::from_secs(60);
/// The most a request line and its headers may take.
const MAX_HEAD: usize = 32 * 1024;
const MAX_HEADERS: usize = 64;

/// A request's line and headers (the viewer reads no request bodies).
pub(crate) struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    /// HTTP/1.0 without keep-alive, or `Connection: close`.
    close: bool,
    /// A body was announced: it is not read, so the connection closes.
    has_body: bool,
}

impl Request {
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target: path and query, as sent.
    pub fn url(&self) -> &str {
        &self.target
    }

    /// Every value of a header, by name in any case.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response: status, headers, and a body of known length.
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Box<dyn Read + Send>,
    len: u64,
}

impl Reply {
    pub fn new(status: u16, body: Box<dyn Read + Send>, len: u64) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body,
            len,
        }
    }

    /// Adds a header; control characters in the value become spaces, so
    /// no value can end the header early.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        let value = value.replace(|c: char| c.is_control(), " ");
        self.headers.push((name.to_owned(), value));
        self
    }
}

/// Binds 127.0.0.1:`port` (0: a free port).
pub(crate) fn bind(port: u16) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Accepts until `stop` is set, each connection on its own thread; at most
/// `most` at once (more get 503). Returns when every connection is closed.
pub(crate) fn serve(
    listener: &TcpListener,
    most: usize,
    stop: &AtomicBool,
    handler: &(dyn Fn(&Request) -> Reply + Sync),
) {
    let live = AtomicUsize::new(0);
    std::thread::scope(|s| {
        while !stop.load(Ordering::Relaxed) {
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // WouldBlock when nobody is connecting; any other
                    // error (too many open files) is waited out too.
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            };
            if live.load(Ordering::Relaxed) >= most {
                let busy = Reply::new(503, Box::new(io::empty()), 0);
                let _ =
                    prepare(&stream).and_then(|()| write_reply(&stream, busy, "GET", false, stop));
                continue;
            }
            live.fetch_add(1, Ordering::Relaxed);
            let live = &live;
            s.spawn(move || {
                connection(stream, handler, stop);
                live.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
}

fn prepare(stream: &TcpStream) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(TICK))?;
    stream.set_write_timeout(Some(TICK))
}

/// Serves one connection's requests in turn.
fn connection(stream: TcpStream, handler: &(dyn Fn(&Request) -> Reply + Sync), stop: &AtomicBool) {
    if prepare(&stream).is_err() {
        return;
    }
    let mut pending = Vec::new();
    loop {
        let req = match read_request(&stream, &mut pending, stop) {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(status) => {
                let bad = Reply::new(status, Box::new(io::empty()), 0);
                let _ = write_reply(&stream, bad, "GET", false, stop);
                return;
            }
        };
        let keep = !req.close && !req.has_body;
        let reply = handler(&req);
        if write_reply(&stream, reply, &req.method, keep, stop).is_err() || !keep {
            return;
        }
    }
}

fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// The next request, `Ok(None)` when the connection ends, or the status to
/// refuse it with.
fn read_request(
    mut stream: &TcpStream,
    pending: &mut Vec<u8>,
    stop: &AtomicBool,
) -> Result<Option<Request>, u16> {
    let since = Instant::now();
    let mut chunk = [0u8; 8192];
    loop {
        if !pending.is_empty() {
            if let Some((req, used)) = parse(pending)? {
                pending.drain(..used);
                return Ok(Some(req));
            }
            if pending.len() > MAX_HEAD {
                return Err(431);
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(e) if timed_out(&e) => {
                if stop.load(Ordering::Relaxed) || since.elapsed() > IDLE {
                    return Ok(None);
                }
            }
            Err(_) => return Ok(None),
        }
    }
}

/// A whole request head and its length, `Ok(None)` for a partial one.
fn parse(buf: &[u8]) -> Result<Option<(Request, usize)>, u16> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut slots);
    let used = match head.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(431),
        Err(_) => return Err(400),
    };
    let headers: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let connection = find("Connection").unwrap_or_default();
    let old = head.version == Some(0);
    let close = connection.contains("close") || (old && !connection.contains("keep-alive"));
    let has_body = find("Transfer-Encoding").is_some()
        || find("Content-Length").is_some_and(|v| v.trim() != "0");
    let req = Request {
        method: head.method.unwrap_or("GET").to_owned(),
        target: head.path.unwrap_or("/").to_owned(),
        headers,
        close,
        has_body,
    };
    Ok(Some((req, used)))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        303 => "See Other",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// Writes the head and (but to HEAD) the body. An error, or a body that
/// ends short, closes the connection: the length was promised.
fn write_reply(
    stream: &TcpStream,
    mut reply: Reply,
    method: &str,
    keep: bool,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", reply.len));
    head.push_str(if keep {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    write_patiently(stream, head.as_bytes(), stop)?;
    if method.eq_ignore_ascii_case("HEAD") {
        return Ok(());
    }
    let mut left = reply.len;
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        let n = match reply.body.read(&mut buf[..want]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        write_patiently(stream, &buf[..n], stop)?;
        left -= n as u64;
    }
    Ok(())
}

/// Writes it all, however long the browser takes to read (a paused video
/// stops reading), unless the server stops.
fn write_patiently(mut stream: &TcpStream, mut data: &[u8], stop: &AtomicBool) -> io::Result<()> {
    while !data.is_empty() {
        match stream.write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if timed_out(&e) => {
                if stop.load(Ordering::Relaxed) {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed_whole_or_not_at_all() {
        let raw = b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nCookie: k=v\r\n\r\nGET /next";
        let (req, used) = parse(raw).unwrap().unwrap();
        assert_eq!((req.method(), req.url()), ("GET", "/a?b=c"));
        assert_eq!(req.header("cookie"), Some("k=v"));
        assert!(!req.close && !req.has_body);
        assert_eq!(&raw[used..], b"GET /next");
        assert!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n").err(),
            Some(400)
        );
        let (old, _) = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(old.close);
        let (post, _) = parse(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
            .unwrap()
            .unwrap();
        assert!(post.has_body);
        let r = Reply::new(200, Box::new(io::empty()), 0).with_header("Location", "/a\r\nX: y");
        assert_eq!(r.headers[0].1, "/a  X: y");
    }
}
