//! What the index knows of write-only importers: their keys, how far each
//! importer's inbox is merged, and (for an importer's own index) its
//! epoch.

use rusqlite::{params, OptionalExtension};

use super::msgid::MsgId;
use super::{sql_err, Index};
use crate::error::Result;
use crate::time::Timestamp;
use crate::vault::catalog::ArchiveNo;

/// A write-only importer key the catalog records.
#[derive(Debug, Clone)]
pub struct ImporterState {
    /// Its id.
    pub id: String,
    /// When it was made.
    pub added: Timestamp,
    /// When it was revoked.
    pub revoked: Option<Timestamp>,
}

impl Index {
    /// The write-only importer keys, revoked ones included.
    pub fn importers(&self) -> Result<Vec<ImporterState>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached("SELECT id, added, revoked FROM importers ORDER BY added, id")
            .map_err(sql_err)?;
        let rows = st
            .query_map([], |r| {
                Ok(ImporterState {
                    id: r.get(0)?,
                    added: Timestamp::from_millis_clamped(r.get(1)?),
                    revoked: r
                        .get::<_, Option<i64>>(2)?
                        .map(Timestamp::from_millis_clamped),
                })
            })
            .map_err(sql_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql_err)
    }

    /// How far an importer's epoch is merged: its last segment's number
    /// and MAC.
    pub fn inbox_merged(&self, importer: &str, epoch: &str) -> Result<Option<(u64, [u8; 32])>> {
        self.conn()
            .prepare_cached("SELECT seq, mac FROM inbox_merged WHERE importer = ? AND epoch = ?")
            .and_then(|mut st| {
                st.query_row(params![importer, epoch], |r| {
                    let mac: Vec<u8> = r.get(1)?;
                    Ok((
                        u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                        mac.try_into().unwrap_or([0; 32]),
                    ))
                })
                .optional()
            })
            .map_err(sql_err)
    }

    /// The vault's number of archive `n` of an importer's epoch.
    pub fn inbox_archive(&self, importer: &str, epoch: &str, n: u32) -> Result<Option<ArchiveNo>> {
        self.conn()
            .prepare_cached(
                "SELECT archive FROM inbox_archives WHERE importer = ? AND epoch = ? AND n = ?",
            )
            .and_then(|mut st| {
                st.query_row(params![importer, epoch, n], |r| r.get(0))
                    .optional()
            })
            .map_err(sql_err)
    }

    /// The number the next archive gets.
    pub fn next_archive_no(&self) -> Result<ArchiveNo> {
        let max: i64 = self
            .conn()
            .query_row("SELECT coalesce(max(n), 0) FROM archives", [], |r| r.get(0))
            .map_err(sql_err)?;
        Ok(ArchiveNo::try_from(max + 1).unwrap_or(ArchiveNo::MAX))
    }

    /// A message's number, and whether only a headers file showed it.
    pub fn message_number(&self, id: &str) -> Result<Option<(u64, bool)>> {
        self.conn()
            .prepare_cached("SELECT n, headers_only FROM messages WHERE id = ?")
            .and_then(|mut st| {
                st.query_row(params![MsgId(id)], |r| {
                    Ok((u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0), r.get(1)?))
                })
                .optional()
            })
            .map_err(sql_err)
    }

    /// The epoch of a write-only importer's own index (made on first use).
    pub(crate) fn epoch(&self) -> Result<String> {
        let conn = self.conn();
        let got: Option<String> = conn
            .query_row("SELECT v FROM meta WHERE k = 'epoch'", [], |r| r.get(0))
            .optional()
            .map_err(sql_err)?;
        if let Some(e) = got {
            return Ok(e);
        }
        let mut r = [0u8; 8];
        getrandom::fill(&mut r).map_err(|e| crate::Error::Random(e.to_string()))?;
        let epoch = format!(
            "{}-{}",
            Timestamp::now().millis(),
            crate::vault::keys::hex(&r)
        );
        conn.execute("INSERT INTO meta VALUES ('epoch', ?)", [&epoch])
            .map_err(sql_err)?;
        Ok(epoch)
    }
}
