//! What a vault in object storage needs beyond its files: creating it,
//! and the writers' lock object.
//!
//! **The lock object** `locks/writer.json` names its owner (a random id, a
//! hash of the machine, the process id) and when it expires (30 minutes
//! ahead, pushed on every 5 minutes while the writer runs; restic's rule). It is created with put-if-absent; on a store
//! that ignores conditional puts the writer reads it back a moment later
//! and goes on only if it is still its own. A lock past its expiry was
//! left by a writer that died, and is taken over, as is one of this
//! machine whose process is gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::backend::{Conditional, Payload, Put};
use super::keys::{self, NewKey, VaultSecret};
use super::place::Place;
use crate::error::{Error, Result};

const LOCK_KEY: &str = "locks/writer.json";
const STALE: Duration = Duration::from_secs(30 * 60);
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

fn body(owner: &str) -> Vec<u8> {
    let b = LockBody {
        owner: owner.to_owned(),
        host: hostname(),
        pid: std::process::id(),
        expires_ms: now_ms() + i64::try_from(STALE.as_millis()).unwrap_or(i64::MAX),
    };
    serde_json::to_vec(&b).expect("serialisable")
}

/// A writer's lock object, released when dropped.
pub struct RemoteLock {
    place: Place,
    owner: String,
    stop: Arc<AtomicBool>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

impl RemoteLock {
    /// Takes the lock object, waiting at most `wait` for another writer.
    ///
    /// # Errors
    /// [`Error::Locked`] when another writer holds it that long; the
    /// store's errors.
    pub fn take(place: &Place, wait: Duration) -> Result<RemoteLock> {
        let files = place.files();
        let io = |e| Error::write(place.name_of(LOCK_KEY), e);
        let mut r = [0u8; 12];
        getrandom::fill(&mut r).map_err(|e| Error::Random(e.to_string()))?;
        let owner = keys::hex(&r);
        let start = Instant::now();
        loop {
            if files
                .put_if_absent(LOCK_KEY, Payload::Bytes(&body(&owner)))
                .map_err(io)?
                == Put::Created
                && still_ours(place, &owner)?
            {
                return Ok(RemoteLock::hold(place, owner));
            }
            let held: Option<LockBody> = files
                .get(LOCK_KEY)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            if held.as_ref().is_some_and(stale) {
                // Left by a writer that died.
                files.delete(LOCK_KEY).map_err(io)?;
                continue;
            }
            if start.elapsed() >= wait {
                return Err(Error::Locked {
                    path: place.describe().into(),
                    waited_s: wait.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn hold(place: &Place, owner: String) -> RemoteLock {
        let stop = Arc::new(AtomicBool::new(false));
        let refresher = {
            let (place, owner, stop) = (place.clone(), owner.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    if last.elapsed() >= REFRESH {
                        let _ = place.files().put_replace(LOCK_KEY, &body(&owner));
                        last = Instant::now();
                    }
                }
            })
        };
        RemoteLock {
            place: place.clone(),
            owner,
            stop,
            refresher: Some(refresher),
        }
    }
}

/// On a store that ignores conditional puts, two writers may both have
/// "created" the lock: the one whose body is there a moment later has it.
fn still_ours(place: &Place, owner: &str) -> Result<bool> {
    let conditional = place
        .files()
        .conditional_puts()
        .map_err(|e| Error::write(place.name_of("locks"), e))?;
    if conditional == Conditional::Honoured {
        return Ok(true);
    }
    std::thread::sleep(Duration::from_secs(1));
    let held: Option<LockBody> = place
        .files()
        .get(LOCK_KEY)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    Ok(held.is_some_and(|h| h.owner == owner))
}

impl Drop for RemoteLock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        let held: Option<LockBody> = self
            .place
            .files()
            .get(LOCK_KEY)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if held.is_some_and(|h| h.owner == self.owner) {
            // Parts of a killed run's uploads that landed after the first
            // abort go now.
            let _ = self.place.files().abort_stale_uploads(true);
            let _ = self.place.files().delete(LOCK_KEY);
        }
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
