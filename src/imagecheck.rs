//! Structure checks of JPEG, PNG and GIF files, without decoding them.
//!
//! Decoding a photo costs milliseconds; walking its structure costs
//! microseconds and catches what happens to files in practice: a file cut
//! short (no end-of-image marker, no `IEND` chunk, no GIF trailer) and, for
//! PNG, any changed byte (every chunk has a CRC-32).

/// What the structure of an image shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    /// FFmpeg's name for the container (`jpeg_pipe`, `png_pipe`, `gif`).
    pub container: &'static str,
    /// FFmpeg's name for the codec (`mjpeg`, `png`, `gif`).
    pub codec: &'static str,
    /// Picture width, when the header gives it.
    pub width: Option<u32>,
    /// Picture height.
    pub height: Option<u32>,
    /// What is wrong, if anything.
    pub problem: Option<String>,
}

/// Checks `data` when it is a JPEG, PNG or GIF; `None` for anything else.
pub fn check(data: &[u8]) -> Option<ImageFacts> {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(jpeg(data))
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(png(data))
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some(gif(data))
    } else {
        None
    }
}

/// The picture size a WebP file declares in its first 30 bytes (`VP8 `,
/// `VP8L` or `VP8X` chunk), without decoding it.
pub fn webp_size(d: &[u8]) -> Option<(u32, u32)> {
    if d.get(..4)? != b"RIFF" || d.get(8..12)? != b"WEBP" {
        return None;
    }
    let le24 = |i: usize| -> Option<u32> {
        let b = d.get(i..i + 3)?;
        Some(u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16)
    };
    match d.get(12..16)? {
        b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
        b"VP8L" => {
            let b = d.get(21..25)?;
            let bits = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            (d.get(20) == Some(&0x2f)).then_some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
        }
        b"VP8 " => {
            let b = d.get(26..30)?;
            let w = u32::from(u16::from_le_bytes([b[0], b[1]]) & 0x3fff);
            let h = u32::from(u16::from_le_bytes([b[2], b[3]]) & 0x3fff);
            (d.get(23..26)? == [0x9d, 0x01, 0x2a]).then_some((w, h))
        }
        _ => None,
    }
}

fn be16(d: &[u8], i: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes(
        d.get(i..i + 2)?.try_into().ok()?,
    )))
}

fn jpeg(d: &[u8]) -> ImageFacts {
    let mut f = ImageFacts {
        container: "jpeg_pipe",
        codec: "mjpeg",
        width: None,
        height: None,
        problem: None,
    };
    let mut i = 2;
    loop {
        // Markers may be padded with any number of 0xFF.
        while d.get(i) == Some(&0xFF) && d.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        let (Some(&0xFF), Some(&m)) = (d.get(i), d.get(i + 1)) else {
            f.problem = Some(if i >= d.len() {
                "cut short: it ends in its headers".into()
            } else {
                format!("corrupt: no marker at byte {i}")
            });
            return f;
        };
        match m {
            0xD8 | 0x01 | 0xD0..=0xD7 => {
                i += 2;
                continue;
            }
            0xD9 => {
                f.problem = Some("it ends before its image data".into());
                return f;
            }
            _ => {}
        }
        let Some(len) = be16(d, i + 2).map(|l| l as usize).filter(|&l| l >= 2) else {
            f.problem = Some("cut short: it ends in its headers".into());
            return f;
        };
        let end = i + 2 + len;
        if end > d.len() {
            f.problem = Some("cut short: it ends in its headers".into());
            return f;
        }
        // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&m) && ![0xC4, 0xC8, 0xCC].contains(&m) {
            f.height = be16(d, i + 5).filter(|&h| h > 0);
            f.width = be16(d, i + 7).filter(|&w| w > 0);
        }
        if m == 0xDA {
            // Entropy-coded data follows; a 0xFF in it is stuffed (FF 00) or
            // a restart marker, so FF D9 is the end of the image.
            // It is looked for from the end, where it normally is.
            let rest = &d[end..];
            if memchr::memmem::rfind(rest, &[0xFF, 0xD9]).is_none() {
                f.problem = Some("cut short: no end-of-image marker".into());
            } else if f.width.is_none() || f.height.is_none() {
                f.problem = Some("corrupt: no picture size in its headers".into());
            }
            return f;
        }
        i = end;
    }
}

fn png(d: &[u8]) -> ImageFacts {
    let mut f = ImageFacts {
        container: "png_pipe",
        codec: "png",
        width: None,
        height: None,
        problem: None,
    };
    let mut i = 8;
    loop {
        let Some(len) = d
            .get(i..i + 4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize)
        else {
            f.problem = Some("cut short: no IEND chunk".into());
            return f;
        };
        // Checked: a length near 4 GiB overflows a 32-bit `usize`.
        let Some(end) = len.checked_add(i + 12).filter(|&end| end <= d.len()) else {
            f.problem = Some("cut short: it ends inside a chunk".into());
            return f;
        };
        let kind = &d[i + 4..i + 8];
        let body = &d[i + 4..i + 8 + len];
        let crc = u32::from_be_bytes(d[i + 8 + len..end].try_into().expect("4 bytes"));
        if crc32fast::hash(body) != crc {
            f.problem = Some(format!(
                "corrupt: the {} chunk at byte {i} fails its CRC",
                String::from_utf8_lossy(kind)
            ));
            return f;
        }
        if kind == b"IHDR" && len >= 8 {
            f.width = Some(u32::from_be_bytes(
                d[i + 8..i + 12].try_into().expect("4 bytes"),
            ))
            .filter(|&w| w > 0);
            f.height = Some(u32::from_be_bytes(
                d[i + 12..i + 16].try_into().expect("4 bytes"),
            ))
            .filter(|&h| h > 0);
        }
        if kind == b"IEND" {
            if f.width.is_none() || f.height.is_none() {
                f.problem = Some("corrupt: no picture size (IHDR)".into());
            }
            return f;
        }
        i = end;
    }
}

fn gif(d: &[u8]) -> ImageFacts {
    let le16 = |i: usize| {
        d.get(i..i + 2)
            .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let mut f = ImageFacts {
        container: "gif",
        codec: "gif",
        width: le16(6).filter(|&w| w > 0),
        height: le16(8).filter(|&h| h > 0),
        problem: None,
    };
    if d.last() != Some(&0x3B) {
        f.problem = Some("cut short: no GIF trailer".into());
    } else if f.width.is_none() || f.height.is_none() {
        f.problem = Some("corrupt: no picture size".into());
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/media")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn whole_and_cut_jpegs_and_pngs() {
        for name in [
            "image-testsrc.jpg",
            "image-life.jpg",
            "image-smptebars.jpg",
            "image-cellauto.png",
            "image-rgbtestsrc.png",
        ] {
            let d = fixture(name);
            let f = check(&d).unwrap();
            assert_eq!(f.problem, None, "{name}");
            assert!(f.width.is_some() && f.height.is_some(), "{name}: {f:?}");
            for cut in [d.len() / 2, d.len() - 1, 20] {
                let f = check(&d[..cut]).unwrap();
                assert!(f.problem.is_some(), "{name} cut at {cut}: {f:?}");
            }
        }
    }

    #[test]
    fn a_changed_png_byte_fails_its_crc() {
        let mut d = fixture("image-cellauto.png");
        let at = d.len() / 2;
        d[at] ^= 0x10;
        let f = check(&d).unwrap();
        assert!(f.problem.unwrap().contains("CRC"));
    }

    #[test]
    fn a_png_chunk_longer_than_the_file_is_cut_short() {
        for len in [0xFFFF_FFF0u32, u32::MAX] {
            let mut d = b"\x89PNG\r\n\x1a\n".to_vec();
            d.extend_from_slice(&len.to_be_bytes());
            d.extend_from_slice(b"IDAT\0\0\0\0");
            let problem = check(&d).unwrap().problem.unwrap();
            assert!(problem.contains("inside a chunk"), "{problem}");
        }
    }

    #[test]
    fn gifs_and_other_formats() {
        let mut g = b"GIF89a\x10\x00\x08\x00".to_vec();
        g.extend_from_slice(&[0u8; 20]);
        g.push(0x3B);
        let f = check(&g).unwrap();
        assert_eq!(
            (f.width, f.height, f.problem.clone()),
            (Some(16), Some(8), None)
        );
        g.pop();
        assert!(check(&g).unwrap().problem.is_some());
        assert_eq!(check(b"RIFF....WEBPVP8 "), None);
        // A 30-byte VP8X header that declares 16384 x 16384 pixels.
        let mut x = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
        x.extend_from_slice(&[0xff, 0x3f, 0x00, 0xff, 0x3f, 0x00]);
        assert_eq!(webp_size(&x), Some((16384, 16384)));
        assert_eq!(webp_size(&x[..20]), None);
        assert_eq!(check(&[1, 2, 3]), None);
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // building test inputs
mod proptests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::{select, Index};

    fn config() -> ProptestConfig {
        crate::testing::proptest_config(512)
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    const SIGNATURES: &[&[u8]] = &[
        b"\xFF\xD8\xFF",
        PNG,
        b"GIF87a",
        b"GIF89a",
        b"RIFF\0\0\0\0WEBPVP8 ",
        b"RIFF\0\0\0\0WEBPVP8L",
        b"RIFF\0\0\0\0WEBPVP8X",
    ];

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        vec(any::<u8>(), 0..max)
    }

    /// A PNG chunk, mostly with its true length and CRC, sometimes with
    /// any length (huge ones too) or a wrong CRC.
    fn png_chunk() -> impl Strategy<Value = Vec<u8>> {
        let kind = prop_oneof![
            3 => select(vec![*b"IHDR", *b"IDAT", *b"IEND"]),
            1 => any::<[u8; 4]>(),
        ];
        let odd_len = prop_oneof![Just(0xFFFF_FFF0), Just(u32::MAX), 0..64u32, any::<u32>()];
        let len = prop_oneof![4 => Just(None), 1 => odd_len.prop_map(Some)];
        let crc_ok = prop::bool::weighted(0.9);
        (kind, bytes(40), len, crc_ok).prop_map(|(kind, body, len, crc_ok)| {
            let mut crc = crc32fast::Hasher::new();
            crc.update(&kind);
            crc.update(&body);
            let crc = crc.finalize() ^ u32::from(!crc_ok);
            let len = len.unwrap_or(body.len() as u32).to_be_bytes();
            [&len[..], &kind, &body, &crc.to_be_bytes()].concat()
        })
    }

    fn png_file() -> impl Strategy<Value = Vec<u8>> {
        (vec(png_chunk(), 0..6), bytes(16))
            .prop_map(|(chunks, tail)| [PNG, &chunks.concat(), &tail].concat())
    }

    /// A JPEG marker segment: fill bytes, a marker, and for markers that
    /// have one a length (mostly the true one; sometimes 0, 1, 2 or past
    /// the end) and a body.
    fn jpeg_segment() -> impl Strategy<Value = Vec<u8>> {
        let marker = prop_oneof![
            3 => select(vec![0xC0, 0xC2, 0xC4, 0xCC, 0xDA, 0xD9, 0xD8, 0x01, 0xD0, 0xE0, 0xFF]),
            1 => any::<u8>(),
        ];
        let odd_len = prop_oneof![select(vec![0u16, 1, 2, 3, 7, 0xFFFF]), any::<u16>()];
        let len = prop_oneof![3 => Just(None), 1 => odd_len.prop_map(Some)];
        (0..3usize, marker, len, bytes(24)).prop_map(|(fill, marker, len, body)| {
            let mut s = vec![0xFF; fill + 1];
            s.push(marker);
            if !matches!(marker, 0xD8 | 0xD9 | 0x01 | 0xD0..=0xD7) {
                let len = len.unwrap_or(body.len() as u16 + 2);
                s.extend_from_slice(&len.to_be_bytes());
                s.extend_from_slice(&body);
            }
            s
        })
    }

    fn jpeg_file() -> impl Strategy<Value = Vec<u8>> {
        (vec(jpeg_segment(), 1..6), bytes(32), any::<bool>()).prop_map(|(segments, data, eoi)| {
            let eoi: &[u8] = if eoi { b"\xFF\xD9" } else { b"" };
            [b"\xFF\xD8", &segments.concat()[..], &data, eoi].concat()
        })
    }

    /// A WebP header, with the bytes its sizes depend on mostly right.
    fn webp_file() -> impl Strategy<Value = Vec<u8>> {
        let fourcc = select(vec![*b"VP8 ", *b"VP8L", *b"VP8X", *b"VP8x"]);
        (fourcc, any::<[u8; 30]>(), any::<bool>(), 0..40usize).prop_map(
            |(fourcc, mut d, fix, len)| {
                d[..4].copy_from_slice(b"RIFF");
                d[8..12].copy_from_slice(b"WEBP");
                d[12..16].copy_from_slice(&fourcc);
                if fix {
                    d[20] = 0x2f;
                    d[23..26].copy_from_slice(&[0x9d, 0x01, 0x2a]);
                }
                let mut d = d.to_vec();
                d.resize(len, 0);
                d
            },
        )
    }

    fn signed_bytes() -> impl Strategy<Value = Vec<u8>> {
        (select(SIGNATURES), bytes(256)).prop_map(|(sig, rest)| [sig, &rest].concat())
    }

    fn any_image() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            bytes(2048),
            signed_bytes(),
            png_file(),
            jpeg_file(),
            webp_file(),
        ]
    }

    /// What every answer must be like: sizes are never 0, and an image
    /// without a problem has them.
    fn assert_sane(data: &[u8]) {
        if let Some(f) = check(data) {
            assert_ne!(f.width, Some(0));
            assert_ne!(f.height, Some(0));
            if f.problem.is_none() {
                assert!(f.width.is_some() && f.height.is_some(), "{f:?}");
            }
        }
        if let Some((w, h)) = webp_size(data) {
            assert!(w <= 1 << 24 && h <= 1 << 24);
        }
    }

    /// Every JPEG and PNG fixture, with its name.
    fn fixtures() -> &'static [(Vec<u8>, String)] {
        static FIXTURES: std::sync::OnceLock<Vec<(Vec<u8>, String)>> = std::sync::OnceLock::new();
        FIXTURES.get_or_init(|| {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/media");
            let mut found: Vec<(Vec<u8>, String)> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("jpg" | "png")))
                .map(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    (std::fs::read(&p).unwrap(), name)
                })
                .collect();
            found.sort_by(|a, b| a.1.cmp(&b.1));
            assert!(found.len() >= 10, "{} fixtures", found.len());
            found
        })
    }

    /// Exhaustive rather than sampled: the fixtures are small.
    #[test]
    fn every_cut_of_every_fixture_is_cut_short() {
        for (d, name) in fixtures() {
            assert_eq!(check(d).unwrap().problem, None, "{name}");
            let signature = if name.ends_with(".png") { PNG.len() } else { 3 };
            for cut in 0..d.len() {
                let f = check(&d[..cut]);
                if cut < signature {
                    assert_eq!(f, None, "{name} cut at {cut}");
                } else {
                    let f = f.unwrap();
                    assert!(f.problem.is_some(), "{name} cut at {cut}: {f:?}");
                }
            }
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn check_and_webp_size_never_panic(data in any_image(), cut in any::<Index>()) {
            assert_sane(&data);
            assert_sane(&data[..cut.index(data.len() + 1)]);
        }

        #[test]
        fn each_signature_gives_its_format(data in signed_bytes()) {
            let container = check(&data).map(|f| f.container);
            let want = match data[0] {
                0xFF => Some("jpeg_pipe"),
                0x89 => Some("png_pipe"),
                b'G' => Some("gif"),
                _ => None,
            };
            prop_assert_eq!(container, want);
        }

        #[test]
        fn edited_fixtures_never_panic(
            which in any::<Index>(),
            edits in vec((any::<Index>(), any::<u8>()), 1..6),
        ) {
            let mut d = which.get(fixtures()).0.clone();
            for (at, byte) in edits {
                let i = at.index(d.len());
                d[i] = byte;
            }
            assert_sane(&d);
        }
    }
}
