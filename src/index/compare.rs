//! `verify --read-data`'s check of the index: a fresh index is built from
//! the log, up to the same head, into an encrypted temp file, and every
//! table of the two is compared by a digest of its rows (streamed: memory
//! stays bounded whatever the vault's size).

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::{remove_files, sql_err, Index};
use crate::error::{Error, Result};
use crate::progress::Quiet;
use crate::vault::catalog;
use crate::vault::keys::{hex, VaultSecret};
use crate::vault::place::Place;

impl Index {
    /// The tables in which this index differs from one built afresh from
    /// the log (empty: it is what the log's records make).
    ///
    /// # Errors
    /// [`Error::Index`] or I/O errors on the vault's `tmp/`.
    pub fn differences_from_log(&self, vault: &Place, secret: &VaultSecret) -> Result<Vec<String>> {
        let head = self.chain()?.seq();
        let dir = vault.local().join("tmp");
        if !dir.is_dir() {
            crate::vault::fsutil::create_private_dir(&dir).map_err(|e| Error::write(&dir, e))?;
        }
        let (file, tmp) =
            crate::vault::fsutil::temp_file(&dir).map_err(|e| Error::write(&dir, e))?;
        drop(file);
        let result = self.compare_with(&tmp, vault, secret, head);
        remove_files(&tmp)?;
        result
    }

    fn compare_with(
        &self,
        tmp: &Path,
        vault: &Place,
        secret: &VaultSecret,
        head: u64,
    ) -> Result<Vec<String>> {
        let fresh = Index::connect(tmp, secret).map_err(|why| Error::Index {
            detail: format!("cannot build a fresh index to compare with: {why}"),
        })?;
        let mut live = catalog::live_segments(vault, secret, false)?;
        live.segments.retain(|(n, _)| *n <= head);
        fresh.update(vault, &live, secret, &Quiet, false)?;
        let mut differ = Vec::new();
        let (a, b) = (self.conn(), fresh.conn());
        for table in tables(&a)? {
            if digest(&a, &table)? != digest(&b, &table)? {
                differ.push(table);
            }
        }
        // The full-text index against the messages it indexes.
        if a.execute(
            "INSERT INTO message_text(message_text, rank) VALUES ('integrity-check', 1)",
            [],
        )
        .is_err()
        {
            differ.push("message_text".into());
        }
        Ok(differ)
    }
}

/// The ordinary tables (not the full-text index's own).
fn tables(conn: &Connection) -> Result<Vec<String>> {
    conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table'
         AND sql NOT LIKE 'CREATE VIRTUAL%' AND name NOT LIKE 'message_text_%' ORDER BY name",
    )
    .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
    .map_err(sql_err)
}

/// BLAKE3 of every row of `table`, in its storage order (rowid or primary
/// key, the same in two indexes built from the same log).
fn digest(conn: &Connection, table: &str) -> Result<String> {
    let mut st = conn
        .prepare(&format!("SELECT * FROM \"{table}\""))
        .map_err(sql_err)?;
    let columns = st.column_count();
    let mut rows = st.query([]).map_err(sql_err)?;
    let mut h = blake3::Hasher::new();
    while let Some(r) = rows.next().map_err(sql_err)? {
        for i in 0..columns {
            match r.get_ref(i).map_err(sql_err)? {
                ValueRef::Null => h.update(b"n"),
                ValueRef::Integer(v) => h.update(b"i").update(&v.to_le_bytes()),
                ValueRef::Real(v) => h.update(b"r").update(&v.to_le_bytes()),
                ValueRef::Text(t) | ValueRef::Blob(t) => h
                    .update(b"t")
                    .update(&(t.len() as u64).to_le_bytes())
                    .update(t),
            };
        }
    }
    Ok(hex(h.finalize().as_bytes()))
}
