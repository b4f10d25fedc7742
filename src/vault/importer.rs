//! Write-only importer keys (`dmvault key add --write-only FILE`).
//!
//! An importer key lets a machine nobody watches add archives to a vault
//! without being able to read it. It holds:
//!
//! - the vault's age **recipient** (objects and segments are encrypted to
//!   it; only the vault's identity decrypts them);
//! - the **object-naming key**, so that a content already stored is
//!   recognised by its object's name (a dedup hit, by existence);
//! - a **MAC key of its own**, derived from the vault secret and the
//!   importer's id, which authenticates the segments it writes to
//!   `inbox/<id>/`; the owner derives it again to check them;
//! - an age **identity of its own**, which decrypts only the importer's
//!   registration file `importers/<id>.age` (so that a revoked key, or
//!   another vault's, is told so before anything is uploaded).
//!
//! The owner's catalog records the key when it is made and when it is
//! revoked; segments of a revoked importer are never merged.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::backend::{direct_child, Payload};
use super::fsutil;
use super::keys::{hex, unhex, VaultSecret};
use super::place::Place;
use crate::error::{Error, Result};

/// The line of an importer key file that holds the key.
const LINE_PREFIX: &str = "DMVAULT-IMPORTER-KEY-1 ";
const REGISTRATION_FORMAT: &str = "dmvault-importer-registration";

/// A write-only importer key, as read from its file.
pub struct ImporterKey {
    pub(crate) vault: String,
    pub(crate) id: String,
    pub(crate) recipient: age::x25519::Recipient,
    pub(crate) id_key: [u8; 32],
    pub(crate) mac_key: [u8; 32],
    pub(crate) identity: age::x25519::Identity,
}

#[derive(Serialize, Deserialize)]
struct KeyLine {
    vault: String,
    importer: String,
    recipient: String,
    id_key: String,
    mac_key: String,
    identity: String,
}

#[derive(Serialize, Deserialize)]
struct Registration {
    format: String,
    vault: String,
    importer: String,
}

impl ImporterKey {
    /// The importer's id (as `dmvault key list` shows it).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether a file's text is an importer key (rather than an age
    /// identity file).
    pub fn is_key_text(text: &str) -> bool {
        text.lines()
            .any(|l| l.trim_start().starts_with(LINE_PREFIX))
    }

    /// Reads an importer key file.
    ///
    /// # Errors
    /// [`Error::Io`], or [`Error::BadImporterKey`] when its key line does
    /// not parse.
    pub fn read_file(path: &Path) -> Result<ImporterKey> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        let bad = || Error::BadImporterKey {
            path: path.to_owned(),
        };
        let line = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(LINE_PREFIX))
            .ok_or_else(bad)?;
        let k: KeyLine = serde_json::from_str(line).map_err(|_| bad())?;
        let key32 = |s: &str| -> Option<[u8; 32]> { unhex(s)?.try_into().ok() };
        Ok(ImporterKey {
            recipient: age::x25519::Recipient::from_str(&k.recipient).map_err(|_| bad())?,
            id_key: key32(&k.id_key).ok_or_else(bad)?,
            mac_key: key32(&k.mac_key).ok_or_else(bad)?,
            identity: age::x25519::Identity::from_str(&k.identity).map_err(|_| bad())?,
            vault: k.vault,
            id: k.importer,
        })
    }

    /// Writes the key to a new file (mode 0600, never over an existing one).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn write_file(&self, path: &Path) -> Result<()> {
        let line = KeyLine {
            vault: self.vault.clone(),
            importer: self.id.clone(),
            recipient: self.recipient.to_string(),
            id_key: hex(&self.id_key),
            mac_key: hex(&self.mac_key),
            identity: self.identity.to_string().expose_secret().to_owned(),
        };
        let text = SecretString::from(format!(
            "# dmvault write-only importer key {}: adds archives to a vault\n\
             # (`dmvault import --identity THIS_FILE`); it cannot read the vault.\n\
             # The vault's owner revokes it with `dmvault key remove {}`.\n{LINE_PREFIX}{}\n",
            self.id,
            self.id,
            serde_json::to_string(&line).expect("serialisable")
        ));
        fsutil::write_new_private(path, text.expose_secret().as_bytes())
            .map_err(|e| Error::write(path, e))
    }
}

/// The key of an importer's registration file.
pub fn registration_key(id: &str) -> String {
    format!("importers/{id}.age")
}

/// Makes a new importer key for the vault (see
/// [`crate::vault::Vault::add_importer`]).
pub(crate) fn new_key(secret: &VaultSecret) -> Result<ImporterKey> {
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).map_err(|e| Error::Random(e.to_string()))?;
    let id = format!("w{}", hex(&r));
    Ok(ImporterKey {
        vault: secret.vault_id(),
        recipient: secret.recipient().clone(),
        id_key: *secret.id_key(),
        mac_key: secret.importer_mac_key(&id),
        identity: age::x25519::Identity::generate(),
        id,
    })
}

/// Writes an importer's registration file, which only the importer can
/// read: it tells the importer that it is this vault's, and not revoked.
pub(crate) fn write_registration(place: &Place, key: &ImporterKey) -> Result<()> {
    let reg = Registration {
        format: REGISTRATION_FORMAT.into(),
        vault: key.vault.clone(),
        importer: key.id.clone(),
    };
    let sealed = seal_to(
        &key.identity.to_public(),
        &serde_json::to_vec(&reg).expect("serialisable"),
    )?;
    let k = registration_key(&key.id);
    place
        .files()
        .put_if_absent(&k, Payload::Bytes(&sealed))
        .map_err(|e| Error::write(place.name_of(&k), e))?;
    Ok(())
}

/// Checks, as the importer, that its key is registered in this vault.
///
/// # Errors
/// [`Error::ImporterNotRegistered`] when it was revoked or is another
/// vault's.
pub(crate) fn check_registration(place: &Place, key: &ImporterKey) -> Result<()> {
    let k = registration_key(&key.id);
    let not = || Error::ImporterNotRegistered {
        importer: key.id.clone(),
    };
    let bytes = match place.files().get(&k) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not()),
        Err(e) => return Err(Error::read(place.name_of(&k), e)),
    };
    let plain = open_with(&bytes, &key.identity).ok_or_else(not)?;
    let reg: Registration = serde_json::from_slice(&plain).map_err(|_| not())?;
    if reg.format != REGISTRATION_FORMAT || reg.vault != key.vault || reg.importer != key.id {
        return Err(not());
    }
    Ok(())
}

/// Deletes an importer's registration file.
pub(crate) fn unregister(place: &Place, id: &str) -> Result<()> {
    let k = registration_key(id);
    place
        .files()
        .delete(&k)
        .map_err(|e| Error::write(place.name_of(&k), e))
}

/// The ids of the importers registered in the vault.
///
/// # Errors
/// [`Error::Io`] when `importers/` cannot be listed.
pub fn registered(place: &Place) -> Result<Vec<String>> {
    let listed = place
        .files()
        .list("importers/")
        .map_err(|e| Error::read(place.name_of("importers"), e))?;
    Ok(listed
        .into_iter()
        .filter_map(|(k, _)| {
            let name = direct_child(&k, "importers/")?.strip_suffix(".age")?;
            Some(name.to_owned())
        })
        .collect())
}

/// Where a write-only importer keeps its own index (what it sent), outside
/// the vault: `$XDG_CACHE_HOME/dmvault/<vault id>/importer-<id>`.
pub fn local_dir(key_vault: &str, id: &str) -> PathBuf {
    super::place::cache_dir()
        .join(key_vault)
        .join(format!("importer-{id}"))
}

fn seal_to(recipient: &age::x25519::Recipient, plain: &[u8]) -> Result<Vec<u8>> {
    let enc = age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
        .map_err(|e| Error::Crypto(e.to_string()))?;
    let mut out = Vec::new();
    let mut w = enc
        .wrap_output(&mut out)
        .map_err(|e| Error::Crypto(e.to_string()))?;
    w.write_all(plain)
        .and_then(|()| w.finish().map(|_| ()))
        .map_err(|e| Error::Crypto(e.to_string()))?;
    Ok(out)
}

fn open_with(bytes: &[u8], identity: &age::x25519::Identity) -> Option<Vec<u8>> {
    let d = age::Decryptor::new(bytes).ok()?;
    let mut r = d
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .ok()?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).ok()?;
    Some(out)
}
