//! Streaming reader for the `window.YTD.<name>.partN = [ … ]` files.
//!
//! A DM data file can be hundreds of megabytes. It is never held whole:
//! [`for_each_element`] reads it in chunks, finds each top-level array
//! element with a small byte scanner (strings, escapes and nesting), and
//! hands the element's bytes to a callback, which parses it with
//! `serde_json::from_slice`. X splits conversations into elements of at
//! most 1000 messages, so memory is bounded by the largest element, not by
//! the file.
//!
//! The wrapper is handled the robust way: a UTF-8 BOM is skipped, everything
//! up to and including the first `=` is dropped (the global name changed
//! over the years, so it is never matched), and a trailing `;` is allowed.

use std::io::{self, Read};

use memchr::memchr2;

/// Where a parse problem is, and what it is.
#[derive(Debug)]
pub struct JsError {
    /// 1-based line in the file.
    pub line: u64,
    /// 1-based byte column in that line.
    pub column: u64,
    /// What is wrong.
    pub detail: String,
}

/// Errors of [`for_each_element`].
#[derive(Debug)]
pub enum ScanError {
    /// Reading failed (for a ZIP entry: also a failed CRC check).
    Io(io::Error),
    /// The text is not the expected JSON.
    Syntax(JsError),
}

/// Position of an element's first byte.
#[derive(Debug, Clone, Copy)]
pub struct Pos {
    /// 1-based line.
    pub line: u64,
    /// 1-based byte column.
    pub column: u64,
}

const CHUNK: usize = 1 << 20;
const PREFIX_WINDOW: usize = 1024;

/// Parses a small data file (`manifest.js`, `account.js`) as one JSON
/// value after its prefix, streaming: the file is never held whole, values
/// `T` does not keep are skipped without being stored, and at most `limit`
/// bytes are read (a file cut there fails to parse).
pub fn parse_small<T: serde::de::DeserializeOwned>(
    reader: impl Read,
    limit: u64,
) -> Result<T, ScanError> {
    let mut reader = reader.take(limit);
    let mut head = vec![0u8; PREFIX_WINDOW];
    let mut filled = 0;
    while filled < head.len() {
        match read_some(&mut reader, &mut head[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    head.truncate(filled);
    let (start, pos) = skip_prefix(&head).map_err(ScanError::Syntax)?;
    let body = io::Cursor::new(head.split_off(start)).chain(reader);
    let mut values = serde_json::Deserializer::from_reader(body).into_iter::<T>();
    match values.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) if e.is_io() => Err(ScanError::Io(e.into())),
        Some(Err(e)) => Err(ScanError::Syntax(locate(pos, &e))),
        None => Err(ScanError::Syntax(JsError {
            line: pos.line,
            column: pos.column,
            detail: "no JSON after the `window.YTD… =` prefix".into(),
        })),
    }
}

/// One element of the top-level array, as [`for_each_element_within`]
/// hands it on.
#[derive(Debug, Clone, Copy)]
pub enum Element<'a> {
    /// Its bytes.
    Json(&'a [u8]),
    /// An element larger than the limit, of this many bytes: scanned past,
    /// never held.
    TooLarge(u64),
}

/// Calls `on_element` with the bytes of every element of the top-level
/// array, in order. Stops at the first syntax error; elements before it
/// have been delivered.
///
/// # Errors
/// [`ScanError::Io`] when reading fails, [`ScanError::Syntax`] with the
/// line and column when the text is not a JSON array after the prefix, or
/// when `on_element` rejects an element (its `serde_json` error position is
/// translated to the file's).
pub fn for_each_element<R: Read>(
    reader: R,
    mut on_element: impl FnMut(&[u8], Pos) -> Result<(), serde_json::Error>,
) -> Result<u64, ScanError> {
    for_each_element_within(reader, usize::MAX, |e, pos| match e {
        Element::Json(bytes) => on_element(bytes, pos),
        Element::TooLarge(_) => Ok(()),
    })
}

/// Like [`for_each_element`], but an element of more than `max` bytes is
/// not held: it is scanned past and handed on as [`Element::TooLarge`], so
/// memory stays bounded by `max` whatever the file holds.
///
/// # Errors
/// As [`for_each_element`].
pub fn for_each_element_within<R: Read>(
    mut reader: R,
    max: usize,
    mut on_element: impl FnMut(Element<'_>, Pos) -> Result<(), serde_json::Error>,
) -> Result<u64, ScanError> {
    let mut buf = vec![0u8; CHUNK];
    // Fill at least the prefix window so the `=` can be found.
    let mut filled = 0;
    while filled < PREFIX_WINDOW {
        let n = read_some(&mut reader, &mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    let (start, start_pos) = skip_prefix(&buf[..filled]).map_err(ScanError::Syntax)?;
    let mut sc = Scanner {
        state: State::BeforeArray,
        line: start_pos.line,
        line_start: start as i64 - (start_pos.column as i64 - 1),
        offset: 0,
        depth: 0,
        in_str: false,
        esc: false,
        elem: Vec::new(),
        max,
        oversized: None,
        elem_pos: Pos { line: 0, column: 0 },
        count: 0,
    };
    let mut chunk_start = start;
    loop {
        sc.feed(&buf[chunk_start..filled], chunk_start, &mut on_element)?;
        sc.offset += filled as u64;
        sc.line_start -= filled as i64;
        chunk_start = 0;
        filled = read_some(&mut reader, &mut buf)?;
        if filled == 0 {
            break;
        }
    }
    match sc.state {
        State::AfterArray => Ok(sc.count),
        State::BeforeArray => Err(sc.error("no JSON array after the `window.YTD… =` prefix")),
        _ => Err(sc.error("the file ends before its closing `]`: it is cut short")),
    }
}

fn read_some(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize, ScanError> {
    loop {
        match reader.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ScanError::Io(e)),
        }
    }
}

/// Finds where the JSON starts: after a BOM and the `… =` prefix.
fn skip_prefix(head: &[u8]) -> Result<(usize, Pos), JsError> {
    let bom = if head.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let window = &head[bom..head.len().min(bom + PREFIX_WINDOW)];
    let eq = window.iter().position(|&b| b == b'=');
    let bracket = window.iter().position(|&b| b == b'[' || b == b'{');
    let start = match (eq, bracket) {
        (Some(e), Some(b)) if b < e => bom, // plain JSON, no prefix
        (Some(e), _) => bom + e + 1,
        (None, Some(_)) => bom,
        (None, None) => {
            return Err(JsError {
                line: 1,
                column: 1,
                detail:
                    "no `window.YTD.<name>.partN = ` prefix and no JSON in the first 1024 bytes"
                        .into(),
            })
        }
    };
    let line = 1 + head[..start].iter().filter(|&&b| b == b'\n').count() as u64;
    let line_start = head[..start]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    Ok((
        start,
        Pos {
            line,
            column: (start - line_start) as u64 + 1,
        },
    ))
}

/// Translates a serde_json error inside an element to a file position.
pub(crate) fn locate(start: Pos, e: &serde_json::Error) -> JsError {
    let (line, column) = if e.line() <= 1 {
        (
            start.line,
            start.column + (e.column() as u64).saturating_sub(1),
        )
    } else {
        (start.line + e.line() as u64 - 1, e.column() as u64)
    };
    // serde_json appends " at line L column C" (element-relative): drop it.
    let mut detail = e.to_string();
    if let Some(i) = detail.rfind(" at line ") {
        detail.truncate(i);
    }
    JsError {
        line,
        column: column.max(1),
        detail,
    }
}

/// Makes the strings of an element valid JSON without moving a byte (so
/// positions stay true): raw control characters become spaces, a `\u`
/// escape of half a surrogate pair (half of an emoji) becomes `\uFFFD`,
/// bytes that are not UTF-8 become `?`. Returns the mended bytes and how
/// many places were mended, or `None` when there was nothing of the kind.
pub(crate) fn mend(bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut out = bytes.to_vec();
    let mut fixes = 0;
    let mut i = 0;
    while let Err(e) = std::str::from_utf8(&out[i..]) {
        let bad = i + e.valid_up_to();
        let len = e.error_len().unwrap_or(out.len() - bad);
        out[bad..bad + len].fill(b'?');
        fixes += 1;
        i = bad + len;
    }
    let mut in_str = false;
    let mut k = 0;
    while k < out.len() {
        match (in_str, out[k]) {
            (false, b'"') => in_str = true,
            (false, _) => {}
            (true, b'"') => in_str = false,
            (true, b'\\') if out.get(k + 1) == Some(&b'u') => {
                let (mended, len) = mend_surrogate(&mut out, k);
                fixes += mended;
                k += len - 1;
            }
            (true, b'\\') => k += 1,
            (true, b) if b < 0x20 => {
                out[k] = b' ';
                fixes += 1;
            }
            (true, _) => {}
        }
        k += 1;
    }
    (fixes > 0).then_some((out, fixes))
}

/// At a `\u` escape: half a surrogate pair becomes `\uFFFD`; a whole pair,
/// or any other code point, is left as it is. Returns how many places were
/// mended (0 or 1) and the length of the escape (12 for a pair).
fn mend_surrogate(out: &mut [u8], k: usize) -> (usize, usize) {
    let hex4 = |at: usize| {
        let digits = std::str::from_utf8(out.get(at..at + 4)?).ok()?;
        u32::from_str_radix(digits, 16).ok()
    };
    let Some(cp) = hex4(k + 2) else { return (0, 2) };
    let high = (0xD800..0xDC00).contains(&cp);
    let low_follows = out.get(k + 6..k + 8) == Some(b"\\u".as_slice())
        && hex4(k + 8).is_some_and(|lo| (0xDC00..0xE000).contains(&lo));
    if high && low_follows {
        return (0, 12);
    }
    if !(high || (0xDC00..0xE000).contains(&cp)) {
        return (0, 6);
    }
    out[k + 2..k + 6].copy_from_slice(b"FFFD");
    (1, 6)
}

/// The position of byte `offset` of an element that starts at `start`.
pub(crate) fn position_in(start: Pos, element: &[u8], offset: usize) -> Pos {
    let before = &element[..offset.min(element.len())];
    match before.iter().rposition(|&b| b == b'\n') {
        None => Pos {
            line: start.line,
            column: start.column + offset as u64,
        },
        Some(nl) => Pos {
            line: start.line + before.iter().filter(|&&b| b == b'\n').count() as u64,
            column: (offset - nl) as u64,
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    BeforeArray,
    ExpectFirst,
    ExpectNext,
    InElem,
    AfterElem,
    AfterArray,
}

struct Scanner {
    state: State,
    line: u64,
    /// Offset of the current line's first byte, relative to the current chunk buffer.
    line_start: i64,
    /// Bytes consumed before the current buffer.
    offset: u64,
    depth: u32,
    in_str: bool,
    esc: bool,
    elem: Vec<u8>,
    /// The largest element held.
    max: usize,
    /// The current element is larger than `max`: its length so far.
    oversized: Option<u64>,
    elem_pos: Pos,
    count: u64,
}

impl Scanner {
    fn error(&self, detail: &str) -> ScanError {
        ScanError::Syntax(JsError {
            line: self.line,
            column: 1,
            detail: detail.into(),
        })
    }

    fn error_at(&self, i: usize, detail: String) -> ScanError {
        ScanError::Syntax(JsError {
            line: self.line,
            column: u64::try_from(i as i64 - self.line_start + 1)
                .unwrap_or(1)
                .max(1),
            detail,
        })
    }

    /// Scans `data`, which sits at `base` in the chunk buffer.
    #[allow(clippy::too_many_lines)] // a lexer's state machine is one loop
    fn feed(
        &mut self,
        data: &[u8],
        base: usize,
        on_element: &mut impl FnMut(Element<'_>, Pos) -> Result<(), serde_json::Error>,
    ) -> Result<(), ScanError> {
        let mut i = 0;
        let mut elem_from = 0; // start of the element's bytes in `data`
        let n = data.len();
        while i < n {
            let b = data[i];
            match self.state {
                State::InElem => {
                    if self.in_str {
                        if self.esc {
                            self.esc = false;
                            i += 1;
                            continue;
                        }
                        match memchr2(b'"', b'\\', &data[i..]) {
                            None => i = n,
                            Some(k) => {
                                i += k;
                                if data[i] == b'\\' {
                                    self.esc = true;
                                } else {
                                    self.in_str = false;
                                }
                                i += 1;
                            }
                        }
                        continue;
                    }
                    match b {
                        b'"' => self.in_str = true,
                        b'{' | b'[' => self.depth += 1,
                        b'}' | b']' => {
                            self.depth -= 1;
                            if self.depth == 0 {
                                let last = &data[elem_from..=i];
                                let element = match self.oversized.take() {
                                    Some(len) => Element::TooLarge(len + last.len() as u64),
                                    None if self.elem.is_empty() => Element::Json(last),
                                    None => {
                                        self.elem.extend_from_slice(last);
                                        Element::Json(&self.elem)
                                    }
                                };
                                let pos = self.elem_pos;
                                on_element(element, pos)
                                    .map_err(|e| ScanError::Syntax(locate(pos, &e)))?;
                                self.elem.clear();
                                self.count += 1;
                                self.state = State::AfterElem;
                            }
                        }
                        b'\n' => self.newline(base + i),
                        _ => {}
                    }
                    i += 1;
                }
                _ if b == b'\n' => {
                    self.newline(base + i);
                    i += 1;
                }
                _ if b.is_ascii_whitespace() => i += 1,
                State::BeforeArray => {
                    if b != b'[' {
                        return Err(self.error_at(
                            base + i,
                            format!("expected `[` after the prefix, found `{}`", b as char),
                        ));
                    }
                    self.state = State::ExpectFirst;
                    i += 1;
                }
                State::ExpectFirst | State::ExpectNext => match b {
                    b']' if self.state == State::ExpectFirst => {
                        self.state = State::AfterArray;
                        i += 1;
                    }
                    b']' => return Err(self.error_at(base + i, "trailing comma before `]`".into())),
                    b'{' | b'[' => {
                        self.state = State::InElem;
                        self.depth = 0;
                        self.elem_pos = Pos {
                            line: self.line,
                            column: u64::try_from(base as i64 + i as i64 - self.line_start + 1)
                                .unwrap_or(1),
                        };
                        elem_from = i;
                        // the bracket itself is counted by the InElem arm
                    }
                    _ => {
                        return Err(self.error_at(
                            base + i,
                            format!("expected an object in the array, found `{}`", b as char),
                        ))
                    }
                },
                State::AfterElem => match b {
                    b',' => {
                        self.state = State::ExpectNext;
                        i += 1;
                    }
                    b']' => {
                        self.state = State::AfterArray;
                        i += 1;
                    }
                    _ => {
                        return Err(self.error_at(
                            base + i,
                            format!("expected `,` or `]`, found `{}`", b as char),
                        ))
                    }
                },
                State::AfterArray => {
                    if b != b';' {
                        return Err(self.error_at(
                            base + i,
                            format!("unexpected `{}` after the closing `]`", b as char),
                        ));
                    }
                    i += 1;
                }
            }
        }
        if self.state == State::InElem {
            self.keep(&data[elem_from..]);
        }
        Ok(())
    }

    /// Keeps the part of an element that ends a chunk, unless the element
    /// is larger than `max`: then only its length is counted.
    fn keep(&mut self, part: &[u8]) {
        let len = (self.elem.len() + part.len()) as u64;
        match self.oversized.as_mut() {
            Some(n) => *n += part.len() as u64,
            None if len > self.max as u64 => {
                self.oversized = Some(len);
                self.elem = Vec::new();
            }
            None => self.elem.extend_from_slice(part),
        }
    }

    fn newline(&mut self, at: usize) {
        self.line += 1;
        self.line_start = at as i64 + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(text: &str) -> Result<Vec<String>, ScanError> {
        let mut out = Vec::new();
        for_each_element(text.as_bytes(), |b, _| {
            out.push(String::from_utf8(b.to_vec()).unwrap());
            Ok(())
        })?;
        Ok(out)
    }

    fn syntax(r: Result<Vec<String>, ScanError>) -> JsError {
        match r {
            Err(ScanError::Syntax(e)) => e,
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn wrapper_variants() {
        let forms = [
            "window.YTD.direct_messages.part0 = [ {\"a\" : 1}, {\"b\" : \"x]}\"} ]",
            "window.YTD.direct_message.part0 = [\n  {\"a\":1},\n  {\"b\":\"x]}\"}\n];\n",
            "\u{feff}window.YTD.direct_messages.part0 = [{\"a\":1},{\"b\":\"x]}\"}]",
            "[{\"a\":1},{\"b\":\"x]}\"}]",
        ];
        for f in forms {
            let e = elements(f).unwrap_or_else(|e| panic!("{f}: {e:?}"));
            assert_eq!(e.len(), 2, "{f}");
            assert!(e[1].contains("x]}"), "{f}");
        }
    }

    #[test]
    fn empty_arrays() {
        for f in [
            "window.YTD.direct_messages_group.part0 = [ ]",
            "window.YTD.direct_messages_group.part0 = [];",
            "window.YTD.direct_messages_group.part0 = []\n",
        ] {
            assert!(elements(f).unwrap().is_empty(), "{f}");
        }
    }

    #[test]
    fn escapes_and_quotes_inside_strings() {
        let e = elements(r#"x = [{"t":"a \"quoted\" [ { \\"}, {"t":"\\\""}]"#).unwrap();
        assert_eq!(e.len(), 2);
    }

    #[test]
    fn tiny_chunks_give_the_same_elements() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(3);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text =
            "window.YTD.x.part0 = [\n {\"s\":\"a\\\\\\\"b{[\"},\n {\"n\":[1,2,{\"m\":3}]}\n]";
        let mut got = Vec::new();
        for_each_element(Trickle(text.as_bytes()), |b, p| {
            got.push((String::from_utf8(b.to_vec()).unwrap(), p.line, p.column));
            Ok(())
        })
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "{\"s\":\"a\\\\\\\"b{[\"}");
        assert_eq!((got[0].1, got[0].2), (2, 2));
        assert_eq!((got[1].1, got[1].2), (3, 2));
    }

    #[test]
    fn an_element_larger_than_the_limit_is_passed_over_not_held() {
        let big = format!("{{\"t\":\"{}\"}}", "x".repeat(5000));
        let text = format!("x = [{{\"a\":1}},{big},{{\"b\":2}}]");
        let mut got = Vec::new();
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(64);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        for_each_element_within(Trickle(text.as_bytes()), 1000, |e, _| {
            got.push(match e {
                Element::Json(b) => String::from_utf8(b.to_vec()).unwrap(),
                Element::TooLarge(n) => format!("too large: {n}"),
            });
            Ok(())
        })
        .unwrap();
        assert_eq!(
            got,
            [
                "{\"a\":1}".to_owned(),
                format!("too large: {}", big.len()),
                "{\"b\":2}".to_owned()
            ]
        );
    }

    #[test]
    fn mending_keeps_every_byte_in_place() {
        let raw =
            "{\"t\":\"a\tb\", \"e\":\"\\ud83d!\", \"ok\":\"\\ud83d\\ude02\", \"lo\":\"\\udc00\"}";
        let (mended, fixes) = mend(raw.as_bytes()).unwrap();
        assert_eq!(fixes, 3);
        assert_eq!(mended.len(), raw.len());
        let v: serde_json::Value = serde_json::from_slice(&mended).unwrap();
        assert_eq!(v["t"], "a b");
        assert_eq!(v["e"], "\u{fffd}!");
        assert_eq!(v["ok"], "😂");
        assert_eq!(v["lo"], "\u{fffd}");
        let (bytes, fixes) = mend(b"{\"t\":\"a\xff\xfeb\"}").unwrap();
        assert_eq!(
            (bytes.as_slice(), fixes),
            (b"{\"t\":\"a??b\"}".as_slice(), 2)
        );
        assert_eq!(mend(b"{\"t\":\"fine \\\" \\n\"}"), None);
    }

    #[test]
    fn errors_have_file_positions() {
        // kolib's invalid_json fixture shape: `[` closed by `}`.
        let text = "window.YTD.direct_messages.part0 = [\n  {\n    \"dmConversation\": {\n      \"messages\": [\n    }\n  }\n];\n";
        let mut seen = 0;
        let r = for_each_element(text.as_bytes(), |b, _| {
            seen += 1;
            serde_json::from_slice::<serde_json::Value>(b).map(|_| ())
        });
        let e = match r {
            Err(ScanError::Syntax(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(seen, 1);
        assert_eq!(e.line, 5, "{e:?}");
        assert_eq!(e.column, 5, "{e:?}");
    }

    #[test]
    fn cut_short_and_trailing_garbage() {
        let e = syntax(elements("x = [ {\"a\":1}, {\"b\":"));
        assert!(e.detail.contains("cut short"), "{e:?}");
        let e = syntax(elements("x = [ {\"a\":1}, ]"));
        assert!(e.detail.contains("trailing comma"), "{e:?}");
        let e = syntax(elements("x = [ {\"a\":1} ] oops"));
        assert!(e.detail.contains("after the closing"), "{e:?}");
        let e = syntax(elements("hello"));
        assert!(e.detail.contains("prefix"), "{e:?}");
        let e = syntax(elements("x = "));
        assert!(e.detail.contains("no JSON array"), "{e:?}");
    }

    #[test]
    fn small_object_files() {
        let v: serde_json::Value = parse_small(
            "window.__THAR_CONFIG = {\n \"userInfo\" : {\"accountId\" : \"1\"}\n};".as_bytes(),
            1 << 20,
        )
        .unwrap();
        assert_eq!(v["userInfo"]["accountId"], "1");
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // building test inputs
mod proptests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use serde_json::value::RawValue;
    use serde_json::{Map, Value};

    fn config() -> ProptestConfig {
        crate::testing::proptest_config(256)
    }

    /// What the scanner must not mistake for structure, and some text.
    const TRICKY: &[char] = &[
        '"', '\\', '[', ']', '{', '}', ':', ',', '=', ';', ' ', '\n', '\t', '\0', '\u{1f}', '/',
        'a', 'Z', '0', 'é', '€', '\u{2028}', '\u{feff}', '😀',
    ];

    /// Strings of those characters and any others (generated from plain
    /// integers: regex strategies are slow in a debug build).
    fn text() -> impl Strategy<Value = String> {
        let codes = prop_oneof![9 => vec(any::<u32>(), 0..12), 1 => vec(any::<u32>(), 0..400)];
        codes.prop_map(|v| {
            v.into_iter()
                .map(|n| match n % 4 {
                    0 => char::from_u32((n >> 2) % 0x11_0000).unwrap_or('\u{fffd}'),
                    _ => TRICKY[(n >> 2) as usize % TRICKY.len()],
                })
                .collect()
        })
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| {
                serde_json::Number::from_f64(f).map(Value::Number)
            }),
            text().prop_map(Value::String),
        ]
    }

    fn object(inner: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
        vec((text(), inner), 0..6)
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..6).prop_map(Value::Array),
                object(inner),
            ]
        })
    }

    /// A top-level element: an object (as in every archive), or an array.
    fn element() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => object(value()),
            1 => vec(value(), 0..4).prop_map(Value::Array),
        ]
    }

    /// How a data file wraps its JSON.
    #[derive(Debug, Clone)]
    struct Wrapping {
        pretty: bool,
        prefix: bool,
        bom: bool,
        semicolon: bool,
    }

    fn wrapping() -> impl Strategy<Value = Wrapping> {
        any::<(bool, bool, bool, bool)>().prop_map(|(pretty, prefix, bom, semicolon)| Wrapping {
            pretty,
            prefix,
            bom,
            semicolon,
        })
    }

    fn file(json: &str, w: &Wrapping) -> Vec<u8> {
        let mut f = Vec::new();
        if w.bom {
            f.extend_from_slice(b"\xEF\xBB\xBF");
        }
        if w.prefix {
            f.extend_from_slice(b"window.YTD.direct_messages.part0 = ");
        }
        f.extend_from_slice(json.as_bytes());
        if w.semicolon {
            f.extend_from_slice(b";\n");
        }
        f
    }

    fn to_json(v: &Value, pretty: bool) -> String {
        if pretty {
            serde_json::to_string_pretty(v).unwrap()
        } else {
            serde_json::to_string(v).unwrap()
        }
    }

    /// A well-formed data file, in any of its wrappings.
    fn valid_file() -> impl Strategy<Value = Vec<u8>> {
        (vec(element(), 0..8), wrapping())
            .prop_map(|(elements, w)| file(&to_json(&Value::Array(elements), w.pretty), &w))
    }

    /// `f` with bytes replaced, put in or taken out.
    fn edited(mut f: Vec<u8>, edits: Vec<(prop::sample::Index, u8, u8)>) -> Vec<u8> {
        for (at, byte, op) in edits {
            match op % 3 {
                0 if !f.is_empty() => {
                    let i = at.index(f.len());
                    f[i] = byte;
                }
                1 => f.insert(at.index(f.len() + 1), byte),
                _ if !f.is_empty() => {
                    f.remove(at.index(f.len()));
                }
                _ => {}
            }
        }
        f
    }

    /// Elements as `for_each_element` delivers them, with their positions.
    type Delivered = Vec<(Vec<u8>, Pos)>;

    /// What `for_each_element` delivers, and its result.
    fn scan(f: &[u8], sizes: Vec<usize>) -> (Delivered, Result<u64, ScanError>) {
        let mut got = Vec::new();
        let r = for_each_element(chunked(f, sizes), |bytes, pos| {
            got.push((bytes.to_vec(), pos));
            Ok(())
        });
        (got, r)
    }

    /// Hands out the bytes in the given chunk sizes, in turn; a size of
    /// 0 is an `Interrupted` error, which readers must retry.
    struct Chunked<'a> {
        data: &'a [u8],
        sizes: Vec<usize>,
        turn: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let size = self.sizes[self.turn % self.sizes.len()];
            self.turn += 1;
            if size == 0 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = size.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
        prop_oneof![
            Just(vec![usize::MAX]),
            vec(0..4usize, 1..8),
            vec(0..300usize, 1..8),
            vec(
                prop_oneof![Just(1), Just(1023), Just(1024), Just(1025), 0..2048usize],
                1..8
            ),
        ]
    }

    fn chunked(data: &[u8], sizes: Vec<usize>) -> Chunked<'_> {
        let sizes = if sizes.iter().all(|&s| s == 0) {
            vec![1]
        } else {
            sizes
        };
        Chunked {
            data,
            sizes,
            turn: 0,
        }
    }

    /// The byte offset of a 1-based line and byte column in `f`.
    fn offset_of(f: &[u8], pos: Pos) -> usize {
        let line_start: usize = f
            .split(|&b| b == b'\n')
            .take(pos.line as usize - 1)
            .map(|l| l.len() + 1)
            .sum();
        line_start + pos.column as usize - 1
    }

    /// Bytes made mostly of what matters to the scanner, after a head that
    /// gets it past the prefix.
    fn jsonish_bytes() -> impl Strategy<Value = Vec<u8>> {
        const HEADS: [&[u8]; 5] = [b"", b"x = ", b"\xEF\xBB\xBF", b"x = [", b"["];
        const TRICKY: &[u8] = b"[]{}\"\\,;= \n\t:a1";
        (0..HEADS.len(), vec(any::<u16>(), 0..2048)).prop_map(|(head, body)| {
            let body = body.into_iter().map(|n| match n >> 8 {
                0..0x80 => TRICKY[usize::from(n) % TRICKY.len()],
                _ => n as u8,
            });
            HEADS[head].iter().copied().chain(body).collect()
        })
    }

    fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![vec(any::<u8>(), 0..4096), jsonish_bytes()]
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn elements_are_what_serde_json_reads(
            elements in vec(element(), 0..12),
            w in wrapping(),
            sizes in chunk_sizes(),
        ) {
            let json = to_json(&Value::Array(elements), w.pretty);
            let f = file(&json, &w);
            let raw: Vec<Box<RawValue>> = serde_json::from_str(&json).unwrap();
            let (got, count) = scan(&f, sizes);
            prop_assert_eq!(count.unwrap(), raw.len() as u64);
            prop_assert_eq!(got.len(), raw.len());
            for ((bytes, pos), want) in got.iter().zip(&raw) {
                prop_assert_eq!(bytes.as_slice(), want.get().as_bytes());
                let parsed: Value = serde_json::from_slice(bytes).unwrap();
                let expected: Value = serde_json::from_str(want.get()).unwrap();
                prop_assert_eq!(parsed, expected);
                // The position is where the element starts in the file.
                prop_assert!(f[offset_of(&f, *pos)..].starts_with(bytes), "{:?}", pos);
            }
        }

        #[test]
        fn a_cut_file_delivers_the_elements_before_the_cut(
            f in valid_file(),
            cut in any::<prop::sample::Index>(),
            sizes in chunk_sizes(),
        ) {
            let (all, _) = scan(&f, vec![usize::MAX]);
            let close = f.iter().rposition(|&b| b == b']').unwrap();
            let cut = cut.index(close + 1);
            let (got, r) = scan(&f[..cut], sizes);
            prop_assert!(r.is_err());
            let before = all
                .iter()
                .take_while(|(bytes, pos)| offset_of(&f, *pos) + bytes.len() <= cut)
                .count();
            prop_assert_eq!(got.len(), before);
            for ((bytes, _), (want, _)) in got.iter().zip(&all) {
                prop_assert_eq!(bytes, want);
            }
        }

        #[test]
        fn parse_small_reads_what_serde_json_reads(
            element in element(),
            w in wrapping(),
            sizes in chunk_sizes(),
        ) {
            let json = to_json(&element, w.pretty);
            let f = file(&json, &w);
            let got: Value = parse_small(chunked(&f, sizes), f.len() as u64).unwrap();
            prop_assert_eq!(got, serde_json::from_str::<Value>(&json).unwrap());
        }

        #[test]
        fn edited_files_never_panic(
            f in valid_file(),
            edits in vec((any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..6),
            sizes in chunk_sizes(),
        ) {
            let f = edited(f, edits);
            let _ = for_each_element(chunked(&f, sizes.clone()), |bytes, _| {
                serde_json::from_slice::<Value>(bytes).map(drop)
            });
            let _ = parse_small::<Value>(chunked(&f, sizes), f.len() as u64);
        }

        #[test]
        fn for_each_element_never_panics(data in any_bytes(), sizes in chunk_sizes()) {
            let _ = for_each_element(chunked(&data, sizes), |bytes, _| {
                serde_json::from_slice::<Value>(bytes).map(drop)
            });
        }

        #[test]
        fn parse_small_never_panics(
            data in any_bytes(),
            sizes in chunk_sizes(),
            limit in prop_oneof![0..5000u64, Just(u64::MAX)],
        ) {
            let _ = parse_small::<Value>(chunked(&data, sizes), limit);
        }
    }
}
