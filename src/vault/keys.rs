//! The vault's secret and the ways to unlock it.
//!
//! A vault has one secret, made at `init`: an age X25519 identity (objects
//! and catalog segments are encrypted to its recipient) and 32 random bytes
//! from which the object-naming key and the catalog MAC key are derived.
//! The secret is stored once per unlock method under `keys/`, as a standard
//! age file encrypted either to a user's X25519 identity or with a
//! passphrase (scrypt, work factor set explicitly). Adding or removing an
//! unlock method writes or deletes one small file and never touches an
//! object.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::fsutil;
use crate::error::Error as VaultError;

/// The default scrypt work factor (log2 N) for passphrase keys: about one
/// second on a current machine.
pub const DEFAULT_SCRYPT_LOG_N: u8 = 18;

/// The largest scrypt work factor accepted when unlocking.
const MAX_SCRYPT_LOG_N: u8 = 22;

/// The unlocked vault secret.
#[derive(Clone)]
pub struct VaultSecret {
    identity: age::x25519::Identity,
    recipient: age::x25519::Recipient,
    secret: [u8; 32],
    id_key: [u8; 32],
    mac_key: [u8; 32],
    index_key: [u8; 32],
    forget_key: [u8; 32],
    vault_id: String,
    /// A write-only importer's id: then `identity` is the importer's own
    /// (it decrypts nothing of the vault), `mac_key` authenticates its
    /// inbox segments and `index_key` its local index.
    importer: Option<String>,
}

impl fmt::Debug for VaultSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VaultSecret(..)")
    }
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    format: String,
    version: u32,
    identity: String,
    secret: String,
}

const KEY_FORMAT: &str = "dmvault-vault-secret";

impl VaultSecret {
    /// Makes a new random secret.
    pub fn generate() -> Result<VaultSecret, VaultError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| VaultError::Random(e.to_string()))?;
        Ok(VaultSecret::from_parts(
            age::x25519::Identity::generate(),
            secret,
        ))
    }

    fn from_parts(identity: age::x25519::Identity, secret: [u8; 32]) -> VaultSecret {
        VaultSecret {
            recipient: identity.to_public(),
            id_key: blake3::derive_key("dmvault 2026-11 v1 object id", &secret),
            mac_key: blake3::derive_key("dmvault 2026-11 v1 catalog mac", &secret),
            index_key: blake3::derive_key("dmvault 2026-12 v2 index key", &secret),
            forget_key: blake3::derive_key("dmvault 2026-12 forget", &secret),
            vault_id: hex(&blake3::derive_key("dmvault 2026-12 vault id", &secret)[..16]),
            identity,
            secret,
            importer: None,
        }
    }

    /// What a write-only importer holds in place of the secret: the
    /// vault's recipient and object-naming key, its own MAC key, and its
    /// own identity (which decrypts nothing of the vault).
    pub(crate) fn for_importer(key: &super::importer::ImporterKey) -> VaultSecret {
        VaultSecret {
            recipient: key.recipient.clone(),
            id_key: key.id_key,
            mac_key: key.mac_key,
            index_key: blake3::derive_key("dmvault 2026-12 importer index", &key.mac_key),
            // A write-only importer knows nothing of what was forgotten;
            // the owner's merge obeys the ledger.
            forget_key: [0; 32],
            vault_id: key.vault.clone(),
            identity: key.identity.clone(),
            secret: [0; 32],
            importer: Some(key.id.clone()),
        }
    }

    /// The MAC key of the write-only importer `id`: derived from the vault
    /// secret, so that the owner checks its segments without storing it.
    pub(crate) fn importer_mac_key(&self, id: &str) -> [u8; 32] {
        let mut material = self.secret.to_vec();
        material.extend_from_slice(id.as_bytes());
        blake3::derive_key("dmvault 2026-12 importer mac", &material)
    }

    /// The write-only importer this is, if it is one.
    pub fn importer(&self) -> Option<&str> {
        self.importer.as_deref()
    }

    /// A name for the vault that says nothing of its secret: the name of
    /// the local folder that caches an S3 vault's index.
    pub fn vault_id(&self) -> String {
        self.vault_id.clone()
    }

    /// The raw SQLCipher key of the index (no passphrase KDF on open).
    pub fn index_key(&self) -> &[u8; 32] {
        &self.index_key
    }

    /// The key of the erasure ledger's hashes (see [`super::ledger`]).
    pub fn forget_key(&self) -> &[u8; 32] {
        &self.forget_key
    }

    /// The key that names objects (`BLAKE3-keyed(id_key, BLAKE3(plaintext))`).
    pub fn id_key(&self) -> &[u8; 32] {
        &self.id_key
    }

    /// The key that authenticates catalog segments.
    pub fn mac_key(&self) -> &[u8; 32] {
        &self.mac_key
    }

    /// The age identity that decrypts objects and segments.
    pub fn identity(&self) -> &age::x25519::Identity {
        &self.identity
    }

    /// The vault's age recipient (kept out of the vault in clear).
    pub fn recipient(&self) -> &age::x25519::Recipient {
        &self.recipient
    }

    /// The identity as an age identity file, for the stock `age` CLI.
    pub fn identity_file_text(&self) -> SecretString {
        SecretString::from(format!(
            "# dmvault vault identity: decrypts every object and catalog segment of the vault.\n# recipient: {}\n{}\n",
            self.recipient,
            self.identity.to_string().expose_secret()
        ))
    }

    fn to_plaintext(&self) -> SecretString {
        let k = KeyFile {
            format: KEY_FORMAT.into(),
            version: 1,
            identity: self.identity.to_string().expose_secret().to_owned(),
            secret: hex(&self.secret),
        };
        SecretString::from(serde_json::to_string(&k).expect("serialisable"))
    }

    fn from_plaintext(text: &[u8]) -> Option<VaultSecret> {
        let k: KeyFile = serde_json::from_slice(text).ok()?;
        if k.format != KEY_FORMAT || k.version != 1 {
            return None;
        }
        let identity = age::x25519::Identity::from_str(&k.identity).ok()?;
        let secret: [u8; 32] = unhex(&k.secret)?.try_into().ok()?;
        Some(VaultSecret::from_parts(identity, secret))
    }
}

/// A way to unlock the vault.
pub enum Unlock {
    /// age X25519 identities (from an identity file).
    Identities(Vec<age::x25519::Identity>),
    /// A passphrase.
    Passphrase(SecretString),
    /// A write-only importer key (`dmvault key add --write-only`): it
    /// imports, and reads nothing.
    Importer(Box<super::importer::ImporterKey>),
}

impl fmt::Debug for Unlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unlock::Identities(ids) => write!(f, "Identities({})", ids.len()),
            Unlock::Passphrase(_) => f.write_str("Passphrase(..)"),
            Unlock::Importer(_) => f.write_str("Importer(..)"),
        }
    }
}

/// A new unlock method to store the secret under.
pub enum NewKey {
    /// Encrypt to this X25519 recipient.
    Recipient(age::x25519::Recipient),
    /// Encrypt with this passphrase at this scrypt work factor.
    Passphrase(SecretString, u8),
}

/// Reads the X25519 identities of an age identity file.
pub fn read_identity_file(path: &Path) -> Result<Vec<age::x25519::Identity>, VaultError> {
    let f = std::fs::File::open(path).map_err(|e| VaultError::read(path, e))?;
    let mut ids = Vec::new();
    for line in BufReader::new(f).lines() {
        let line = line.map_err(|e| VaultError::read(path, e))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match age::x25519::Identity::from_str(line) {
            Ok(id) => ids.push(id),
            Err(_) => {
                return Err(VaultError::BadIdentityFile {
                    path: path.to_owned(),
                })
            }
        }
    }
    if ids.is_empty() {
        return Err(VaultError::BadIdentityFile {
            path: path.to_owned(),
        });
    }
    Ok(ids)
}

/// Writes a new identity file (mode 0600, never over an existing file).
pub fn write_identity_file(
    path: &Path,
    identity: &age::x25519::Identity,
) -> Result<(), VaultError> {
    let text = format!(
        "# created by dmvault: an age identity that unlocks a dmvault vault\n# public key: {}\n{}\n",
        identity.to_public(),
        identity.to_string().expose_secret()
    );
    fsutil::write_new_private(path, text.as_bytes()).map_err(|e| VaultError::write(path, e))
}

/// Encrypts the secret for one unlock method.
pub fn seal(secret: &VaultSecret, key: &NewKey) -> Result<Vec<u8>, VaultError> {
    if secret.importer.is_some() {
        return Err(VaultError::Crypto(
            "a write-only importer key holds no vault secret to store".into(),
        ));
    }
    let enc = match key {
        NewKey::Recipient(r) => {
            age::Encryptor::with_recipients(std::iter::once(r as &dyn age::Recipient))
                .map_err(|e| VaultError::Crypto(e.to_string()))?
        }
        NewKey::Passphrase(p, log_n) => {
            let mut r = age::scrypt::Recipient::new(p.clone());
            r.set_work_factor(*log_n);
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                .map_err(|e| VaultError::Crypto(e.to_string()))?
        }
    };
    let mut out = Vec::new();
    let mut w = enc
        .wrap_output(&mut out)
        .map_err(|e| VaultError::Crypto(e.to_string()))?;
    w.write_all(secret.to_plaintext().expose_secret().as_bytes())
        .and_then(|_| w.finish().map(|_| ()))
        .map_err(|e| VaultError::Crypto(e.to_string()))?;
    Ok(out)
}

/// The kind of unlock method a key file holds, read from its age header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// Encrypted to an X25519 identity.
    Identity,
    /// Encrypted with a passphrase.
    Passphrase,
    /// A write-only importer key (it adds archives, reads nothing).
    WriteOnly,
}

/// Reads which kind a key file is.
pub fn key_kind(bytes: &[u8]) -> Option<KeyKind> {
    let d = age::Decryptor::new(bytes).ok()?;
    Some(if d.is_scrypt() {
        KeyKind::Passphrase
    } else {
        KeyKind::Identity
    })
}

/// Tries to open one key file with an unlock method. `None` when it does
/// not fit (or is not a key file).
pub fn open(bytes: &[u8], unlock: &Unlock) -> Option<VaultSecret> {
    let d = age::Decryptor::new(bytes).ok()?;
    let mut reader = match unlock {
        Unlock::Identities(ids) => {
            if d.is_scrypt() {
                return None;
            }
            d.decrypt(ids.iter().map(|i| i as &dyn age::Identity))
                .ok()?
        }
        Unlock::Passphrase(p) => {
            if !d.is_scrypt() {
                return None;
            }
            let mut id = age::scrypt::Identity::new(p.clone());
            id.set_max_work_factor(MAX_SCRYPT_LOG_N);
            d.decrypt(std::iter::once(&id as &dyn age::Identity)).ok()?
        }
        Unlock::Importer(_) => return None,
    };
    let mut text = Vec::new();
    reader.read_to_end(&mut text).ok()?;
    let s = VaultSecret::from_plaintext(&text);
    text.iter_mut().for_each(|b| *b = 0);
    s
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[(b >> 4) as usize] as char);
        s.push(D[(b & 15) as usize] as char);
    }
    s
}

/// Parses lower- or upper-case hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Where a key file of the vault lives.
pub fn key_path(vault: &Path, name: &str) -> PathBuf {
    vault.join(key_key(name))
}

/// The vault-relative key of a key file.
pub fn key_key(name: &str) -> String {
    format!("keys/{name}.age")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_with_identity_and_passphrase() {
        let s = VaultSecret::generate().unwrap();
        let user = age::x25519::Identity::generate();
        let sealed = seal(&s, &NewKey::Recipient(user.to_public())).unwrap();
        assert_eq!(key_kind(&sealed), Some(KeyKind::Identity));
        let o = open(&sealed, &Unlock::Identities(vec![user])).unwrap();
        assert_eq!(o.id_key(), s.id_key());
        assert_eq!(o.mac_key(), s.mac_key());
        assert_eq!(o.recipient().to_string(), s.recipient().to_string());
        let other = age::x25519::Identity::generate();
        assert!(open(&sealed, &Unlock::Identities(vec![other])).is_none());
        assert!(open(&sealed, &Unlock::Passphrase("x".to_owned().into())).is_none());

        let p = seal(
            &s,
            &NewKey::Passphrase("correct horse".to_owned().into(), 10),
        )
        .unwrap();
        assert_eq!(key_kind(&p), Some(KeyKind::Passphrase));
        assert!(open(&p, &Unlock::Passphrase("correct horse".to_owned().into())).is_some());
        assert!(open(&p, &Unlock::Passphrase("wrong".to_owned().into())).is_none());
    }

    #[test]
    fn hex_round_trip() {
        let b = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&b), "0001abff");
        assert_eq!(unhex("0001abff").unwrap(), b);
        assert!(unhex("0g").is_none());
    }
}
