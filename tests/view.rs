//! `dmvault view`: the server's guards and API over plain HTTP, and the
//! pages in a real headless Chromium (Debian's `chromium`, driven through
//! `chromedriver`, both installed by `.ci/setup`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util::*;

/// A running `dmvault view`, stopped when dropped.
pub(crate) struct View {
    child: Child,
    pub port: u16,
    pub token: String,
}

impl Drop for View {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_view(v: &TestVault) -> View {
    serve(v.cmd())
}

/// Starts `dmvault view` with `cmd` (the program, its vault and keys).
pub(crate) fn serve(mut cmd: Command) -> View {
    let mut child = cmd
        .args(["view", "--json", "--no-open"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let first: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(first["message_type"], "listening");
    let url = first["url"].as_str().unwrap().to_owned();
    let rest = url.strip_prefix("http://127.0.0.1:").unwrap();
    let (port, token) = rest.split_once("/?token=").unwrap();
    assert_eq!(token.len(), 64, "a 256-bit token");
    View {
        child,
        port: port.parse().unwrap(),
        token: token.to_owned(),
    }
}

/// One HTTP/1.1 request; (status, headers lower-cased, body).
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    // Read the head, then as many bytes as it says (a server may keep the
    // connection open whatever the request asked).
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let split = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the connection closed before the response's head");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    match length {
        Some(len) => {
            while raw.len() < split + 4 + len {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
            }
        }
        None => {
            s.read_to_end(&mut raw).unwrap();
        }
    }
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let hs = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, hs, raw[split + 4..].to_vec())
}

pub(crate) fn get(
    view: &View,
    path: &str,
    extra: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let cookie = format!("dmvault_token={}", view.token);
    let mut headers = vec![("Cookie", cookie.as_str())];
    headers.extend_from_slice(extra);
    http(view.port, "GET", path, &headers, b"")
}

pub(crate) fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn api(view: &View, path: &str) -> Value {
    let (status, _, body) = get(view, &format!("/api/{path}"), &[]);
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn the_server_answers_only_its_token_on_loopback_and_serves_ranges() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip"]);
    let view = start_view(&v);
    // No token, a wrong one, a foreign Host: refused.
    assert_eq!(
        http(view.port, "GET", "/api/conversations", &[], b"").0,
        401
    );
    assert_eq!(http(view.port, "GET", "/", &[], b"").0, 401);
    let wrong = format!("dmvault_token={}", "0".repeat(64));
    assert_eq!(
        http(view.port, "GET", "/api/people", &[("Cookie", &wrong)], b"").0,
        401
    );
    assert_eq!(http(view.port, "GET", "/?token=abc", &[], b"").0, 403);
    let cookie = format!("dmvault_token={}", view.token);
    let host = format!("attacker.example:{}", view.port);
    let (status, ..) = http(
        view.port,
        "GET",
        "/api/people",
        &[("Cookie", &cookie), ("Host", &host)],
        b"",
    );
    assert_eq!(status, 403, "DNS rebinding");
    // The token becomes an HttpOnly, SameSite=Strict cookie.
    let (status, hs, _) = http(
        view.port,
        "GET",
        &format!("/?token={}", view.token),
        &[],
        b"",
    );
    assert_eq!(status, 303);
    let set = header(&hs, "set-cookie").unwrap();
    assert!(
        set.contains(&view.token) && set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    // Read-only.
    assert_eq!(
        http(
            view.port,
            "POST",
            "/api/people",
            &[("Cookie", &cookie)],
            b"{}"
        )
        .0,
        405
    );
    // Every answer: no-store and a strict CSP.
    let (status, hs, body) = get(&view, "/", &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&hs, "cache-control"), Some("no-store"));
    let csp = header(&hs, "content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(
        !String::from_utf8_lossy(&body).contains("<script>"),
        "no inline script"
    );

    // The API.
    let convs = api(&view, "conversations");
    let birch = convs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Birch Owl")
        .unwrap();
    assert_eq!(birch["messages"], 15);
    let id = birch["id"].as_str().unwrap();
    let page = api(&view, &format!("conversations/{id}/messages?limit=5"));
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    assert_eq!(
        (page["more_before"].as_bool(), page["more_after"].as_bool()),
        (Some(true), Some(false))
    );
    let first = page["items"][0]["id"].as_str().unwrap().to_owned();
    let before = api(
        &view,
        &format!("conversations/{id}/messages?limit=100&before={first}"),
    );
    assert_eq!(before["items"].as_array().unwrap().len(), 10);
    assert_eq!(before["more_before"], false);
    let around = api(
        &view,
        &format!("conversations/{id}/messages?limit=4&around={first}"),
    );
    let ids: Vec<&str> = around["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(ids[2], first, "the anchor after the half before it");
    let hits = api(&view, "search?q=typo");
    assert_eq!(hits[0]["snippet"], "fixed the **typo**");
    assert!(api(&view, "people").as_array().unwrap().len() > 5);

    // Media: the right type, ranges, 416.
    let videos = api(&view, "media?kind=video");
    let video = &videos[0];
    let (obj, size) = (
        video["object"].as_str().unwrap(),
        video["size"].as_u64().unwrap(),
    );
    let (status, hs, body) = get(&view, &format!("/media/{obj}"), &[]);
    assert_eq!(
        (status, header(&hs, "content-type")),
        (200, Some("video/mp4"))
    );
    assert_eq!(header(&hs, "accept-ranges"), Some("bytes"));
    assert_eq!(body.len() as u64, size);
    let (status, hs, part) = get(
        &view,
        &format!("/media/{obj}"),
        &[("Range", "bytes=100-1099")],
    );
    assert_eq!(status, 206);
    assert_eq!(
        header(&hs, "content-range"),
        Some(format!("bytes 100-1099/{size}").as_str())
    );
    assert_eq!(part, body[100..1100]);
    let (status, _, tail) = get(&view, &format!("/media/{obj}"), &[("Range", "bytes=-10")]);
    assert_eq!((status, tail.as_slice()), (206, &body[body.len() - 10..]));
    let (status, hs, _) = get(
        &view,
        &format!("/media/{obj}"),
        &[("Range", &format!("bytes={size}-"))],
    );
    assert_eq!(status, 416);
    assert_eq!(
        header(&hs, "content-range"),
        Some(format!("bytes */{size}").as_str())
    );
    assert_eq!(
        get(&view, &format!("/media/{}", "ab".repeat(32)), &[]).0,
        404
    );
}

// ---- a real browser

/// chromedriver with a headless Chromium session, ended when dropped.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // No request here: a panic in a destructor would abort the tests.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    fn start(profile: &Path) -> Browser {
        assert!(
            Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists(),
            "the browser tests need Debian's chromium and chromium-driver: run ./.ci/setup"
        );
        let port = free_port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"pageLoadStrategy": "eager", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--autoplay-policy=no-user-gesture-required", "--window-size=1200,900",
                     format!("--user-data-dir={}", profile.display())]}}}});
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
        };
        let v = b.call("POST", "/session", &caps);
        b.session = v["value"]["sessionId"]
            .as_str()
            .expect("a session")
            .to_owned();
        let timeouts = json!({"script": 20000, "pageLoad": 20000});
        b.call(
            "POST",
            &format!("/session/{}/timeouts", b.session),
            &timeouts,
        );
        b
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        let body = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(body).unwrap()
        };
        let (status, _, out) = http(
            self.port,
            method,
            path,
            &[("Content-Type", "application/json")],
            &body,
        );
        let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
        assert_eq!(status, 200, "{method} {path}: {v}");
        v
    }

    /// Loads `url` as a new page (a query that changes each time makes even
    /// a change of `#…` alone a full load, which chromedriver waits for:
    /// scripts run while a same-page navigation is pending can hang).
    fn go(&self, url: &str) {
        static LOADS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = LOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let url = match url.split_once('#') {
            Some((page, hash)) if !page.contains('?') => format!("{page}?load={n}#{hash}"),
            _ => url.to_owned(),
        };
        self.call(
            "POST",
            &format!("/session/{}/url", self.session),
            &json!({"url": url}),
        );
    }

    /// Runs `script` (an async function body; `done(value)` ends it).
    fn eval(&self, script: &str) -> Value {
        let body = json!({"script": format!("const done = arguments[arguments.length - 1]; (async () => {{ {script} }})().catch(e => done('error: ' + e));"), "args": []});
        self.call(
            "POST",
            &format!("/session/{}/execute/async", self.session),
            &body,
        )["value"]
            .clone()
    }

    /// Runs a synchronous `script` (its `return` is the value).
    fn value(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.call(
            "POST",
            &format!("/session/{}/execute/sync", self.session),
            &body,
        )["value"]
            .clone()
    }

    /// Waits until the synchronous `script` returns true.
    fn until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.value(script) != true {
            assert!(
                Instant::now() < deadline,
                "waited 20 s for {what}: {}",
                self.value("return {pending: [...document.images].filter(i => !i.complete).map(i => [i.loading, i.src.slice(-12), performance.getEntriesByName(i.src).length]), requests: performance.getEntriesByType('resource').length}")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the page has rendered route `hash`.
    fn ready(&self, hash: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.value("return document.body.dataset.ready || ''");
            if r == hash {
                return;
            }
            assert!(
                r != "error",
                "the page failed: {}",
                self.eval("done(document.getElementById('main').innerText)")
            );
            assert!(Instant::now() < deadline, "page {hash} not ready: {r}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screenshot(&self, name: &str) {
        let v = self.call(
            "GET",
            &format!("/session/{}/screenshot", self.session),
            &Value::Null,
        );
        let png = base64(v["value"].as_str().unwrap());
        let dir = repo().join("target/view-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = s
        .bytes()
        .filter(|&c| c != b'=' && !c.is_ascii_whitespace())
        .map(val)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &d)| acc | (u32::from(d) << (18 - 6 * i)));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// A folder archive whose message text is hostile HTML.
fn hostile_archive(dir: &Path) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let text =
        "<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\"> & <b>bold</b>";
    let conv = json!([{"dmConversation": {"conversationId": "11-22", "messages": [
        {"messageCreate": {"recipientId": "22", "text": text, "mediaUrls": [], "senderId": "11",
          "id": "1874000000000000001", "createdAt": "2025-01-01T00:00:00.000Z"}}]}}]);
    std::fs::write(
        dir.join("data/direct-messages.js"),
        format!("window.YTD.direct_messages.part0 = {conv}"),
    )
    .unwrap();
}

/// Scrolls each image of the messages into view, as a reader would (they
/// load lazily), and returns their decoded widths.
fn images_decode(b: &Browser) -> Vec<u64> {
    let images = b.value("return document.querySelectorAll('#messages img').length");
    for k in 0..images.as_u64().unwrap() {
        let img = format!("document.querySelectorAll('#messages img')[{k}]");
        b.value(&format!("{img}.scrollIntoView({{block: 'center'}})"));
        b.until(
            &format!("image {k}"),
            &format!("return !{img}.dataset.src && {img}.complete"),
        );
    }
    let widths =
        b.value("return [...document.querySelectorAll('#messages img')].map(i => i.naturalWidth)");
    widths
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_u64().unwrap())
        .collect()
}

/// The titles of the conversation list.
fn conversation_titles(b: &Browser) -> Vec<String> {
    let names = b.eval(
        "done([...document.querySelectorAll('#conversations .title')].map(e => e.textContent))",
    );
    serde_json::from_value(names).unwrap()
}

const FIXTURE_NAMES: [&str; 4] = [
    "Birch Owl",
    "Ferry Light",
    "weekend plans & more",
    "@quiet_pc",
];

#[test]
fn the_pages_work_in_headless_chromium() {
    let v = TestVault::new();
    v.import(&["g4-2024.zip", "g3-2020.zip", "damaged-media.zip"]);
    let hostile = v.dir.path().join("hostile");
    hostile_archive(&hostile);
    let o = v.run(["import".as_ref(), hostile.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let view = start_view(&v);
    let b = Browser::start(&v.dir.path().join("chrome"));
    let base = format!("http://127.0.0.1:{}", view.port);

    // Without the token the browser gets nothing.
    b.go(&format!("{base}/"));
    assert_eq!(
        b.eval("done(document.body.innerText.trim())")
            .as_str()
            .unwrap(),
        "open the URL `dmvault view` printed (it carries the token)"
    );

    // The conversation list, by name.
    b.go(&format!("{base}/?token={}#/", view.token));
    b.ready("/");
    let names = conversation_titles(&b);
    for want in FIXTURE_NAMES {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    b.screenshot("conversations");

    // A conversation: its messages; its images decode.
    let id = "48213377-1062514387293179904";
    b.go(&format!("{base}/#/c/{id}"));
    b.ready(&format!("/c/{id}"));
    let count = b.eval("done(document.querySelectorAll('#messages .msg').length)");
    assert_eq!(count, 15);
    let widths = images_decode(&b);
    assert!(
        widths.len() >= 8 && widths.iter().all(|&w| w > 0),
        "{widths:?}"
    );
    b.screenshot("conversation");
    // A GIF is a muted looping video that plays by itself; a file X left
    // out is a placeholder that says so.
    b.value("document.querySelector('#messages video[loop]').scrollIntoView({block: 'center'})");
    b.until(
        "the GIF to play",
        "const g = document.querySelector('#messages video[loop]');
         return g.muted && !g.controls && !g.paused && g.currentTime > 0",
    );
    let missing = b.value("return document.querySelector('#messages .missing').textContent");
    assert!(
        missing.as_str().unwrap().contains("X left this image out"),
        "{missing}"
    );
    // The month index leads to the month's first message.
    let month = b.eval(
        "const a = document.querySelector('nav.months a'); a.click();
         await new Promise(ok => setTimeout(ok, 50)); done(a.getAttribute('href'))",
    );
    let month = month.as_str().unwrap().to_owned();
    b.ready(&month[1..]);
    assert_eq!(
        b.value("return document.querySelectorAll('.msg.target').length"),
        1
    );

    // A video plays and seeks; the seek is served by ranges.
    b.value("const v = document.querySelector('#messages video[controls]'); v.preload = 'auto'; v.muted = true; v.load();");
    b.until("the video's metadata", "const v = document.querySelector('#messages video[controls]'); if (v.error) throw new Error('video: ' + v.error.message); return v.readyState >= 1");
    b.value("const v = document.querySelector('#messages video[controls]'); window.seekTarget = Math.min(1.0, v.duration / 2); v.currentTime = window.seekTarget;");
    b.until("the seek", "const v = document.querySelector('#messages video[controls]'); return !v.seeking && v.readyState >= 2");
    let seek = b.value("const v = document.querySelector('#messages video[controls]'); return {duration: v.duration, target: window.seekTarget, now: v.currentTime, ready: v.readyState}");
    let (target, now) = (
        seek["target"].as_f64().unwrap(),
        seek["now"].as_f64().unwrap(),
    );
    assert!(seek["duration"].as_f64().unwrap() > 0.0, "{seek}");
    assert!((now - target).abs() < 0.5, "{seek}");
    // Before it plays it shows its poster, made at import, which decodes.
    let poster = b.eval(
        "const v = document.querySelector('#messages video[controls]');
         const i = new Image(); i.src = v.poster; await i.decode();
         done({src: v.poster, width: i.naturalWidth})",
    );
    assert!(poster["width"].as_u64().is_some_and(|w| w > 0), "{poster}");

    // Search, and the hit in its conversation.
    b.go(&format!("{base}/#/search?q=typo"));
    b.ready("/search?q=typo");
    let href = b.eval("done(document.querySelector('#results a').getAttribute('href'))");
    let href = href.as_str().unwrap().to_owned();
    assert!(href.starts_with(&format!("#/c/{id}?m=")), "{href}");
    b.go(&format!("{base}/{href}"));
    b.ready(&href[1..]);
    let target = b.eval("done(document.querySelector('.msg.target .text').textContent)");
    assert_eq!(target, "fixed the typo");
    b.screenshot("search-hit");

    // Hostile text is text; nothing ran.
    b.go(&format!("{base}/#/c/11-22"));
    b.ready("/c/11-22");
    let r = b.eval(
        "await new Promise(ok => setTimeout(ok, 300));
         done({pwned: window.pwned || null, text: document.querySelector('.msg .text').textContent,
               imgs: document.querySelectorAll('.msg .text img, .msg .text script, .msg .text b').length})",
    );
    assert_eq!(r["pwned"], Value::Null, "{r}");
    assert_eq!(r["imgs"], 0);
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .starts_with("<script>window.pwned=1</script>"),
        "{r}"
    );

    // People and the gallery render.
    b.go(&format!("{base}/#/people"));
    b.ready("/people");
    assert!(
        b.eval("done(document.querySelectorAll('#people tr').length)")
            .as_u64()
            .unwrap()
            > 5
    );
    b.go(&format!("{base}/#/media?kind=image"));
    b.ready("/media?kind=image");
    assert!(
        b.eval("done(document.querySelectorAll('#gallery img').length)")
            .as_u64()
            .unwrap()
            >= 10
    );
    b.screenshot("media");
    // Damaged and unreadable media carry a badge saying what FFmpeg found.
    for (verdict, at_least) in [("damaged", 3), ("unreadable", 1)] {
        b.go(&format!("{base}/#/media?integrity={verdict}"));
        b.ready(&format!("/media?integrity={verdict}"));
        let badges = b.eval(&format!(
            "done([...document.querySelectorAll('#gallery .badge.{verdict}')].map(e => e.textContent))"
        ));
        let badges = badges.as_array().unwrap();
        assert!(badges.len() >= at_least, "{verdict}: {badges:?}");
        assert!(
            badges
                .iter()
                .all(|t| t.as_str().unwrap().starts_with(&format!("{verdict}: "))),
            "{badges:?}"
        );
    }
    b.screenshot("media-damaged");

    // The static export opens from file:// and shows the same conversation,
    // its images, and a search hit in context.
    let site = v.dir.path().join("site");
    let o = v.run(["export".as_ref(), "--html".as_ref(), site.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let page = format!("file://{}", site.join("index.html").display());
    b.go(&format!("{page}#/"));
    b.ready("/");
    assert_eq!(conversation_titles(&b).len(), names.len());
    b.go(&format!("{page}#/c/{id}"));
    b.ready(&format!("/c/{id}"));
    assert_eq!(
        b.eval("done(document.querySelectorAll('#messages .msg').length)"),
        15
    );
    let widths = images_decode(&b);
    assert!(
        widths.len() >= 8 && widths.iter().all(|&w| w > 0),
        "{widths:?}"
    );
    b.screenshot("static-conversation");
    b.go(&format!("{page}#/search?q=typo"));
    b.ready("/search?q=typo");
    let href = b.eval("done(document.querySelector('#results a').getAttribute('href'))");
    let href = href.as_str().unwrap().to_owned();
    b.go(&format!("{page}{href}"));
    b.ready(&href[1..]);
    assert_eq!(
        b.eval("done(document.querySelector('.msg.target .text').textContent)"),
        "fixed the typo"
    );
    // Nothing but the export's own files is there, and they are the owner's.
    let mode = std::fs::metadata(site.join("data/site.js"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
}

/// A conversation of 100,000 messages (a photo every 500th), opened from
/// the server and from a static export: each is ready in under a second
/// after the navigation starts.
#[test]
fn a_100000_message_conversation_opens_in_under_a_second() {
    let v = TestVault::new();
    let archive = ArchiveBuilder::new(v.dir.path(), "big");
    let start: i64 = 1_600_000_000_000;
    let events: Vec<String> = (0..100_000i64)
        .map(|k| {
            let id = format!("{}", 1_300_000_000_000_000_000 + k);
            let when = chrono_free_rfc3339(start + k * 60_000);
            let photo = (k % 500 == 0).then_some("p.jpg");
            message(
                &id,
                if k % 2 == 0 { "1" } else { "2" },
                &format!("\"{when}\""),
                photo,
            )
        })
        .collect();
    archive.conversations(&[conversation("1-2", &events)]);
    let photo = jpeg("image-life.jpg");
    for k in (0..100_000i64).step_by(500) {
        archive.media(&format!("{}-p.jpg", 1_300_000_000_000_000_000 + k), &photo);
    }
    let o = v.run(["import".as_ref(), archive.zip().as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let site = v.dir.path().join("site");
    let o = v.run(["export".as_ref(), "--html".as_ref(), site.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let view = start_view(&v);
    let b = Browser::start(&v.dir.path().join("chrome"));
    let base = format!("http://127.0.0.1:{}", view.port);
    b.go(&format!("{base}/?token={}#/", view.token));
    b.ready("/");
    let static_page = format!("file://{}", site.join("index.html").display());
    for (what, page) in [("served", base.as_str()), ("static", static_page.as_str())] {
        let mut took = Vec::new();
        for _ in 0..3 {
            b.go(&format!("{page}#/c/1-2"));
            b.ready("/c/1-2");
            took.push(b.value("return window.readyAt").as_f64().unwrap());
        }
        let shown = b.value("return document.querySelectorAll('#messages .msg').length");
        assert_eq!(shown, 100, "{what}: one page of the conversation");
        let last =
            b.value("return [...document.querySelectorAll('#messages .msg')].pop().dataset.id");
        assert_eq!(
            last, "1300000000000099999",
            "{what}: the newest message last"
        );
        took.sort_by(f64::total_cmp);
        eprintln!("{what}: the 100,000-message conversation was ready in {took:?} ms");
        assert!(took[1] < 1000.0, "{what}: {took:?} ms");
        b.screenshot(&format!("big-conversation-{what}"));
    }
}

/// `ms` since the epoch as RFC 3339 (UTC), without a date crate.
fn chrono_free_rfc3339(ms: i64) -> String {
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// Videos get posters when imported: small JPEGs kept as encrypted derived
/// objects. A vault whose videos have none (here imported without FFmpeg's
/// checks, as a release before posters left them) gets them on the next
/// import that meets those videos. `verify --read-data` reads them, and
/// the viewer serves them as JPEGs.
#[test]
fn videos_get_posters_that_verify_checks_and_the_viewer_serves() {
    let v = TestVault::new();
    let first = fixture("series-2021.zip");
    let o = v.run(["import".as_ref(), "--no-probe".as_ref(), first.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let videos = |v: &TestVault| -> Vec<Value> {
        json_lines(&v.run(["ls", "--json"]))
            .into_iter()
            .filter(|r| r["kind"] != "image" && r["object"].is_string())
            .collect()
    };
    let before = videos(&v);
    assert!(!before.is_empty());
    assert!(before.iter().all(|r| r.get("poster").is_none()));
    // The next year's archive holds the same GIF: it gets its poster now,
    // as do the videos new in it.
    v.import(&["series-2022.zip"]);
    let rows = videos(&v);
    let seen_again: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            r["archives"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "series-2022.zip")
        })
        .collect();
    assert!(
        seen_again
            .iter()
            .any(|r| before.iter().any(|b| b["object"] == r["object"])),
        "a content stored before is in the new archive"
    );
    assert!(
        seen_again.iter().all(|r| r["poster"].is_string()),
        "{seen_again:#?}"
    );
    let rows: Vec<Value> = seen_again.into_iter().cloned().collect();
    let o = v.run(["verify", "--read-data", "--json"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let posters: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r["poster"].as_str().unwrap()).collect();
    let contents = json_lines(&v.run(["stats", "--json"]))[0]["objects"]
        .as_u64()
        .unwrap();
    let summary = json_lines(&o).pop().unwrap();
    assert_eq!(
        summary["objects"].as_u64().unwrap(),
        contents + posters.len() as u64,
        "{summary}"
    );

    let view = start_view(&v);
    for p in &posters {
        let (status, hs, body) = get(&view, &format!("/media/{p}"), &[]);
        assert_eq!(status, 200);
        assert_eq!(header(&hs, "content-type"), Some("image/jpeg"));
        assert!(body.starts_with(&[0xFF, 0xD8]) && body.ends_with(&[0xFF, 0xD9]));
    }
    // The pages' data names each video's poster.
    let r = &rows[0];
    let page = api(
        &view,
        &format!(
            "conversations/{}/messages?around={}",
            r["conversation_id"].as_str().unwrap(),
            r["message_id"].as_str().unwrap()
        ),
    );
    let briefs: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["media"].as_array().into_iter().flatten())
        .collect();
    assert!(
        briefs
            .iter()
            .any(|m| m["object"] == r["object"] && m["poster"] == r["poster"]),
        "{briefs:#?}"
    );
}

/// A large photo is shown by its poster, made by the viewer when a page
/// asks and never stored: the import keeps only the photo (decoding a phone
/// photo costs more than the rest of its import). The poster is a JPEG of
/// at most 320 pixels a side; a small image's `/poster/` is the image
/// itself; in the browser the poster shows and leads to the whole photo,
/// served and in an `export --html` site (whose export made the poster).
#[test]
fn a_large_photo_shows_as_a_poster_made_when_a_page_asks() {
    let v = TestVault::new();
    let big = v.dir.path().join("big.jpg");
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=s=2400x1800,noise=alls=40:allf=t")
        .args(["-frames:v", "1", "-q:v", "2"])
        .arg(&big)
        .output()
        .expect("the ffmpeg CLI (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let photo = std::fs::read(&big).unwrap();
    assert!(photo.len() >= 512 << 10, "{} bytes", photo.len());
    let archive = ArchiveBuilder::new(v.dir.path(), "photos");
    let (large, small) = ("1300000000000000001", "1300000000000000002");
    archive.conversations(&[conversation(
        "1-2",
        &[
            message(large, "1", "\"2021-05-01T10:00:00.000Z\"", Some("big.jpg")),
            message(
                small,
                "2",
                "\"2021-05-01T10:01:00.000Z\"",
                Some("small.jpg"),
            ),
        ],
    )]);
    archive.media(&format!("{large}-big.jpg"), &photo);
    archive.media(&format!("{small}-small.jpg"), &jpeg("image-life.jpg"));
    let o = v.run(["import".as_ref(), archive.zip().as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows = json_lines(&v.run(["ls", "--json"]));
    let object = |id: &str| -> String {
        let r = rows.iter().find(|r| r["message_id"] == id).unwrap();
        assert!(r.get("poster").is_none(), "no poster stored: {r}");
        r["object"].as_str().unwrap().to_owned()
    };
    let (large_obj, small_obj) = (object(large), object(small));
    let stats = json_lines(&v.run(["stats", "--json"]));
    assert_eq!(
        stats[0]["objects"], 2,
        "the vault holds the two images only"
    );

    let view = start_view(&v);
    let (status, hs, body) = get(&view, &format!("/poster/{large_obj}"), &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&hs, "content-type"), Some("image/jpeg"));
    let (w, h) = jpeg_size(&body).expect("the poster is a JPEG");
    assert!(w == 320 && h <= 320 && h > 200, "{w}x{h}");
    assert!(body.len() * 20 < photo.len(), "{} bytes", body.len());
    // Asked again, the same poster (kept in memory by the server).
    let (_, _, again) = get(&view, &format!("/poster/{large_obj}"), &[]);
    assert_eq!(again, body);
    let (status, _, body) = get(&view, &format!("/poster/{small_obj}"), &[]);
    assert_eq!(status, 200);
    assert_eq!(body, jpeg("image-life.jpg"), "a small image is itself");
    let (status, _, _) = get(&view, "/poster/00ff", &[]);
    assert_eq!(status, 404);

    // A static site has no server: the export makes the poster.
    let site = v.dir.path().join("site");
    let o = v.run(["export".as_ref(), "--html".as_ref(), site.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let made = std::fs::read(site.join(format!("media/{large_obj}.poster.jpg"))).unwrap();
    assert_eq!(jpeg_size(&made).map(|s| s.0), Some(320));
    assert!(!site.join(format!("media/{small_obj}.poster.jpg")).exists());

    let b = Browser::start(&v.dir.path().join("chrome"));
    let base = format!("http://127.0.0.1:{}", view.port);
    b.go(&format!("{base}/?token={}#/", view.token));
    b.ready("/");
    let static_page = format!("file://{}", site.join("index.html").display());
    for (page, link) in [
        (base.as_str(), format!("/media/{large_obj}")),
        (static_page.as_str(), format!("media/{large_obj}")),
    ] {
        b.go(&format!("{page}#/c/1-2"));
        b.ready("/c/1-2");
        let shown = b.eval(
            "const imgs = [...document.querySelectorAll('#messages img')];
             for (const i of imgs) { i.scrollIntoView({block: 'center'}); }
             await new Promise(ok => setTimeout(ok, 100));
             for (const i of imgs) { if (i.dataset.src) { i.src = i.dataset.src; } await i.decode(); }
             done(imgs.map(i => ({w: i.naturalWidth, link: i.parentElement.getAttribute('href')})))",
        );
        let shown = shown.as_array().unwrap();
        assert_eq!(shown.len(), 2, "{page}: {shown:?}");
        assert!(
            shown
                .iter()
                .any(|i| i["w"] == 320 && i["link"].as_str().is_some_and(|l| l.starts_with(&link))),
            "{page}: the poster, leading to the whole: {shown:?}"
        );
    }
}

/// A JPEG's width and height, from its frame header (SOF0-SOF2).
fn jpeg_size(b: &[u8]) -> Option<(u16, u16)> {
    let mut i = 2;
    while i + 9 < b.len() && b[i] == 0xFF {
        let (marker, len) = (b[i + 1], u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize);
        if (0xC0..=0xC2).contains(&marker) {
            let h = u16::from_be_bytes([b[i + 5], b[i + 6]]);
            let w = u16::from_be_bytes([b[i + 7], b[i + 8]]);
            return Some((w, h));
        }
        i += 2 + len;
    }
    None
}
