//! Media made by someone else: a "video" may try to make FFmpeg fetch a
//! URL or read a local file, or be a picture far larger than memory.

use std::io::Write;
use std::net::TcpListener;

use crate::util::*;

/// An HLS playlist named `.mp4` names a URL and a local file: neither is
/// ever opened, at import or at `verify --decode`.
#[test]
fn a_playlist_posing_as_a_video_opens_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("local-secret.ts");
    std::fs::write(&secret, b"not for dmvault").unwrap();
    let playlist = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:{port}/leak.ts\n#EXTINF:10,\nfile:{}\n#EXT-X-ENDLIST\n",
        secret.display()
    );
    let b = ArchiveBuilder::new(tmp.path(), "playlist");
    b.conversations(&[conversation(
        "1-2",
        &[message(
            "1101",
            "1",
            "\"2022-02-02T00:00:00Z\"",
            Some("v.mp4"),
        )],
    )])
    .media("1101-v.mp4", playlist.as_bytes());
    let v = TestVault::new();
    let o = v.run(["import".as_ref(), b.root.as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = v.run(["verify", "--decode"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((mut s, _)) => {
            let _ = s.write_all(b"HTTP/1.0 404 Not Found\r\n\r\n");
            panic!("dmvault connected to the URL in the playlist");
        }
        Err(e) => panic!("{e}"),
    }
    let rows = v.ls(&[]);
    assert_eq!(rows[0]["integrity"], "unreadable", "{rows:?}");
}
