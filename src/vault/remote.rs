//! What a vault in object storage needs beyond its files: creating it,
//! and the writers' lock.
//!
//! **The lock** is restic's: each writer puts its own lock object
//! `locks/writer-<owner>.json`, naming its owner (a random id), a hash of
//! the machine, the process id and when it expires (30 minutes ahead,
//! pushed on every 5 minutes while the writer runs), then lists `locks/`.
//! If another writer's lock is there, it deletes its own and tries again a
//! random moment later. While it only tries, its lock object expires in 10
//! minutes (one left by a writer killed while waiting stops others that
//! long at most); once it holds the lock, in 30. On a store with read-after-write and list-after-
//! write consistency (S3 since 2020, Garage, MinIO) two writers can never
//! both go on: the one that lists second sees the other. Nothing rests on
//! conditional puts, which some stores ignore and some check before they
//! write, not atomically. A lock past its expiry was left by a writer that
//! died, and is deleted, as is one of this machine whose process is gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::backend::Payload;
use super::keys::{self, NewKey, VaultSecret};
use super::place::Place;
use crate::error::{Error, Result};

/// Every writer's lock object starts so: `locks/writer-<owner>.json`, and
/// `locks/writer.json`, the one lock object earlier versions wrote, which is
/// honoured too.
const LOCK_PREFIX: &str = "locks/writer";
const STALE: Duration = Duration::from_secs(30 * 60);
/// The life of a lock object while its writer only tries for the lock: one
/// that a waiting writer left (killed between its put and its delete)
/// stops others for this long at most.
const TRYING: Duration = Duration::from_secs(10 * 60);
/// A writer that took longer than this from its put to the end of its
/// listing tries again: its lock object must not have come near its
/// expiry (another writer's clock may be ahead) before it is renewed.
const DECIDE: Duration = Duration::from_secs(60);
const REFRESH: Duration = Duration::from_secs(5 * 60);

#[derive(Serialize, Deserialize)]
struct LockBody {
    owner: String,
    host: String,
    pid: u32,
    expires_ms: i64,
}

/// A lock past its expiry, or one this machine's process holds that is
/// gone (a run killed here; restic's rule too).
fn stale(h: &LockBody) -> bool {
    h.expires_ms < now_ms()
        || (h.host == hostname() && !std::path::Path::new(&format!("/proc/{}", h.pid)).exists())
}

/// This machine, as a lock names it: a hash of its machine id and host
/// name, so that the bucket learns no name.
fn hostname() -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let machine = format!(
        "dmvault lock host\n{}\n{}",
        read("/etc/machine-id").trim(),
        read("/proc/sys/kernel/hostname").trim()
    );
    blake3::hash(machine.as_bytes()).to_hex()[..16].to_owned()
}

fn now_ms() -> i64 {
    crate::time::Timestamp::now().millis()
}

fn body(owner: &str, life: Duration) -> Vec<u8> {
    let b = LockBody {
        owner: owner.to_owned(),
        host: hostname(),
        pid: std::process::id(),
        expires_ms: now_ms() + i64::try_from(life.as_millis()).unwrap_or(i64::MAX),
    };
    serde_json::to_vec(&b).expect("serialisable")
}

/// A writer's lock object, released when dropped.
pub struct RemoteLock {
    place: Place,
    key: String,
    stop: Arc<AtomicBool>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

impl RemoteLock {
    /// Takes the writers' lock, waiting at most `wait` for another writer.
    ///
    /// # Errors
    /// [`Error::Locked`] when another writer holds it that long; the
    /// store's errors.
    pub fn take(place: &Place, wait: Duration) -> Result<RemoteLock> {
        let files = place.files();
        let owner = keys::hex(&random::<12>()?);
        let mine = format!("{LOCK_PREFIX}-{owner}.json");
        let io = |e| Error::write(place.name_of(&mine), e);
        let start = Instant::now();
        loop {
            let put = Instant::now();
            files
                .put_replace(&mine, &body(&owner, TRYING))
                .map_err(io)?;
            // Whatever happens now, the lock object goes unless it is held.
            let free = others_hold(place, &mine).map(|held| !held && put.elapsed() < DECIDE);
            let held = match free {
                Ok(true) => files
                    .put_replace(&mine, &body(&owner, STALE))
                    .map_err(|e| Some(io(e))),
                Ok(false) => Err(None),
                Err(e) => Err(Some(e)),
            };
            match held {
                Ok(()) => return Ok(RemoteLock::hold(place, owner, mine)),
                Err(e) => {
                    let gone = files.delete(&mine).map_err(io);
                    if let Some(e) = e {
                        return Err(e);
                    }
                    gone?;
                }
            }
            if start.elapsed() >= wait {
                return Err(Error::Locked {
                    path: place.describe().into(),
                    waited_s: wait.as_secs(),
                });
            }
            // Two writers that met back off for different times.
            let jitter = u64::from(u16::from_le_bytes(random::<2>()?) % 700);
            std::thread::sleep(Duration::from_millis(300 + jitter));
        }
    }

    fn hold(place: &Place, owner: String, key: String) -> RemoteLock {
        let stop = Arc::new(AtomicBool::new(false));
        let refresher = {
            let (place, key, stop) = (place.clone(), key.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    if last.elapsed() >= REFRESH {
                        let _ = place.files().put_replace(&key, &body(&owner, STALE));
                        last = Instant::now();
                    }
                }
            })
        };
        RemoteLock {
            place: place.clone(),
            key,
            stop,
            refresher: Some(refresher),
        }
    }
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut r = [0u8; N];
    getrandom::fill(&mut r).map_err(|e| Error::Random(e.to_string()))?;
    Ok(r)
}

/// Whether a writer other than the one whose lock is `mine` holds the
/// lock. Stale locks are deleted on the way; one that cannot be read is
/// held (it may be a lock being written).
fn others_hold(place: &Place, mine: &str) -> Result<bool> {
    let files = place.files();
    let listed = files
        .list(LOCK_PREFIX)
        .map_err(|e| Error::read(place.name_of("locks/"), e))?;
    let mut held = false;
    for (key, _) in listed {
        if key == mine {
            continue;
        }
        let body = match files.get(&key) {
            Ok(b) => serde_json::from_slice::<LockBody>(&b).ok(),
            // Released between the listing and now.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::read(place.name_of(&key), e)),
        };
        if body.as_ref().is_some_and(stale) {
            // Left by a writer that died.
            files
                .delete(&key)
                .map_err(|e| Error::write(place.name_of(&key), e))?;
        } else {
            held = true;
        }
    }
    Ok(held)
}

impl Drop for RemoteLock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        // Parts of a killed run's uploads that landed after the first
        // abort go now.
        let _ = self.place.files().abort_stale_uploads(true);
        let _ = self.place.files().delete(&self.key);
    }
}

/// Creates a vault in object storage (an empty bucket or prefix) with one
/// unlock method; returns the key's id. The format file, written last,
/// makes it a vault.
///
/// # Errors
/// [`Error::NotEmpty`] when something is there already; the store's.
pub fn init(place: &Place, key: &NewKey, readme: &str, format: &[u8]) -> Result<String> {
    let files = place.files();
    let here = files
        .list("")
        .map_err(|e| Error::read(place.name_of(""), e))?;
    if !here.is_empty() {
        return Err(Error::NotEmpty {
            path: place.describe().into(),
        });
    }
    let secret = VaultSecret::generate()?;
    let id = super::layout::write_key(place, &secret, key)?;
    for (k, v) in [
        ("README.txt", readme.as_bytes()),
        (super::layout::FORMAT_FILE, format),
    ] {
        files
            .put_if_absent(k, Payload::Bytes(v))
            .map_err(|e| Error::write(place.name_of(k), e))?;
    }
    Ok(id)
}
