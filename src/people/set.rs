//! Names from the user, into the vault: each becomes a
//! [`NameRecord`] of source `user`, committed as one catalog segment.

use serde::Serialize;

use super::userfile::Entry;
use super::NameSource;
use crate::error::Result;
use crate::time::Timestamp;
use crate::vault::catalog::{NameRecord, Record};
use crate::vault::Vault;

/// What setting names did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SetReport {
    /// People whose handle, name or note the user set or changed.
    pub set: u64,
    /// Entries that changed nothing (the same as set before).
    pub unchanged: u64,
    /// Entries left out, one sentence each (an unknown handle, …).
    pub problems: Vec<String>,
}

/// Sets the names the entries give (from `file`, or from the command line
/// when `None`), committed at once. An entry without an id is matched by
/// the handle the archives gave; one that matches no user, or several, is
/// left out and named in the report.
///
/// # Errors
/// Vault errors (the catalog could not be written).
pub fn set_names(vault: &mut Vault, entries: &[Entry], file: Option<&str>) -> Result<SetReport> {
    let mut report = SetReport::default();
    let mut records = Vec::new();
    let now = Timestamp::now();
    for e in entries {
        let Some(user) = user_of(vault, e, &mut report)? else {
            continue;
        };
        let r = NameRecord {
            user,
            handle: e.handle.clone(),
            name: e.name.clone(),
            note: e.note.clone(),
            source: NameSource::User,
            file: file.map(str::to_owned),
            archive: None,
            first_seen: Some(now),
            last_seen: Some(now),
            count: 1,
        };
        if vault.index.user_names_unchanged(&r)? {
            report.unchanged += 1;
        } else {
            report.set += 1;
            records.push(Record::Name(r));
        }
    }
    vault.commit(records)?;
    Ok(report)
}

fn user_of(vault: &Vault, e: &Entry, report: &mut SetReport) -> Result<Option<String>> {
    if let Some(u) = &e.user {
        return Ok(Some(u.clone()));
    }
    let Some(h) = &e.handle else {
        return Ok(None);
    };
    let users = vault.index.users_with_handle(h)?;
    let place = if e.line > 0 {
        format!("line {}: ", e.line)
    } else {
        String::new()
    };
    match users.as_slice() {
        [one] => return Ok(Some(one.clone())),
        [] => report.problems.push(format!(
            "{place}no archive in the vault names @{h}, so its user id is unknown; give the id (the number in the DM files)"
        )),
        many => report.problems.push(format!(
            "{place}@{h} was the handle of several users ({}); give the id",
            many.join(", ")
        )),
    }
    Ok(None)
}
