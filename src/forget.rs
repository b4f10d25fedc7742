//! Forgetting a conversation, a person or a message, for good: what people
//! ask of a tool that keeps their messages (a sender may ask that their
//! videos be deleted).
//!
//! [`forget`] works out what goes ([`Index::forget_plan`]), records it in
//! the erasure ledger (keyed hashes only, see [`crate::vault::ledger`]) so
//! that no import brings it back, and compacts the catalog without it
//! ([`crate::vault::compact`]): the new chain of segments holds none of
//! it, the objects nothing kept uses are deleted, and the index is made
//! anew. What dmvault cannot reach (exports, archives, copies) is listed
//! by [`out_of_reach`].

use std::collections::HashSet;

use serde::Serialize;

use crate::error::{Error, Result};
pub use crate::index::forget::{Forget, ForgetPlan};
use crate::index::Index;
use crate::progress::Progress;
use crate::time::Timestamp;
use crate::vault::catalog::Record;
use crate::vault::compact::Compacted;
use crate::vault::keys::hex;
use crate::vault::ledger::{self, Forgotten, ForgottenRecord, Ledger};
use crate::vault::store::ObjectId;
use crate::vault::Vault;

/// What [`forget`] did.
#[derive(Debug, Clone, Serialize)]
pub struct ForgetReport {
    /// What went (empty when it was forgotten before).
    pub plan: ForgetPlan,
    /// It was forgotten before: nothing was left to do.
    pub already: bool,
    /// The compaction.
    #[serde(skip)]
    pub compacted: Compacted,
}

impl Forget {
    /// The scope's name (`conversation`, `person`, `message`).
    pub fn scope(&self) -> &'static str {
        match self {
            Forget::Conversation(_) => "conversation",
            Forget::Person(_) => "person",
            Forget::Message(_) => "message",
        }
    }

    /// The id given.
    pub fn id(&self) -> &str {
        match self {
            Forget::Conversation(id) | Forget::Person(id) | Forget::Message(id) => id,
        }
    }

    /// Whether the ledger says this was forgotten already.
    pub fn in_ledger(&self, ledger: &Ledger) -> bool {
        match self {
            Forget::Conversation(id) => ledger.has_conversation(id),
            Forget::Person(id) => ledger.has_person(id),
            Forget::Message(id) => ledger.has_message(id),
        }
    }
}

/// What forgetting `what` would take away, or `None` when the ledger says
/// it was forgotten before.
///
/// # Errors
/// [`Error::Invalid`] when the vault never held it.
pub fn plan(index: &Index, forget_key: &[u8; 32], what: &Forget) -> Result<Option<ForgetPlan>> {
    match index.forget_plan(what) {
        Ok(plan) => Ok(Some(plan)),
        Err(Error::Invalid(e)) => {
            if what.in_ledger(&index.ledger(forget_key)?) {
                return Ok(None);
            }
            Err(Error::Invalid(e))
        }
        Err(e) => Err(e),
    }
}

/// Forgets `what`: the ledger records it, the catalog is compacted
/// without it, its objects are deleted, and the index is made anew. The
/// caller holds the lock, with the catalog freshly loaded and the inbox
/// merged. A write-only key cannot forget.
///
/// # Errors
/// [`Error::WriteOnlyKey`]; [`Error::Invalid`] when the vault never held
/// it; catalog and write errors (a failure leaves the vault as before or
/// as after; the next writer finishes the job).
pub fn forget(vault: &mut Vault, what: &Forget, progress: &dyn Progress) -> Result<ForgetReport> {
    vault.unlocked().readable()?;
    let key = *vault.secret().forget_key();
    let Some(plan) = plan(&vault.index, &key, what)? else {
        return Ok(ForgetReport {
            plan: ForgetPlan::default(),
            already: true,
            compacted: Compacted::default(),
        });
    };
    let record = ledger_record(&key, what, &plan);
    let mut objects = plan.objects.clone();
    objects.extend(plan.posters.iter().copied());
    let keep = Keep::new(what, &plan, &objects);
    let compacted = vault.compact(
        vec![Record::Forgotten(record)],
        objects,
        &|r| keep.record(r),
        progress,
    )?;
    Ok(ForgetReport {
        plan,
        already: false,
        compacted,
    })
}

/// The ledger's record of a forgetting: keyed hashes, no id.
fn ledger_record(key: &[u8; 32], what: &Forget, plan: &ForgetPlan) -> ForgottenRecord {
    let hashes = |kind, ids: &mut dyn Iterator<Item = &[u8]>| -> Vec<String> {
        ids.map(|id| hex(&ledger::hash(key, kind, id))).collect()
    };
    ForgottenRecord {
        at: Timestamp::now(),
        scope: what.scope().into(),
        messages: hashes(
            Forgotten::Message,
            &mut plan.messages.iter().map(|m| m.as_bytes()),
        ),
        contents: hashes(
            Forgotten::Content,
            &mut plan.contents.iter().map(|c| &c[..]),
        ),
        conversations: hashes(
            Forgotten::Conversation,
            &mut plan.conversations.iter().map(|c| c.as_bytes()),
        ),
        people: match what {
            Forget::Person(p) => hashes(Forgotten::Person, &mut std::iter::once(p.as_bytes())),
            _ => Vec::new(),
        },
    }
}

/// What a compaction keeps of each record.
struct Keep {
    messages: HashSet<String>,
    conversations: HashSet<String>,
    person: Option<String>,
    objects: HashSet<ObjectId>,
    /// The forgotten messages' numbers, ascending.
    numbers: Vec<u64>,
}

impl Keep {
    fn new(what: &Forget, plan: &ForgetPlan, objects: &[ObjectId]) -> Keep {
        Keep {
            messages: plan.messages.iter().cloned().collect(),
            conversations: plan.conversations.iter().cloned().collect(),
            person: match what {
                Forget::Person(p) => Some(p.clone()),
                _ => None,
            },
            objects: objects.iter().copied().collect(),
            numbers: plan.numbers.clone(),
        }
    }

    /// The record as the new chain keeps it, if it does.
    fn record(&self, r: Record) -> Option<Record> {
        let gone = |m: &str| self.messages.contains(m);
        let is_person = |u: &str| self.person.as_deref() == Some(u);
        match r {
            Record::Message(m) if gone(&m.id) => None,
            Record::Message(mut m) => {
                ledger::scrub_message(&mut m, &is_person);
                Some(Record::Message(m))
            }
            Record::Seen { ref message, .. } if gone(message) => None,
            Record::SeenRanges { archive, ranges } => {
                let ranges = renumber(&ranges, &self.numbers);
                (!ranges.is_empty()).then_some(Record::SeenRanges { archive, ranges })
            }
            Record::Media(m) if gone(&m.message) => None,
            Record::Orphan(o) if o.prefix.as_deref().is_some_and(gone) => None,
            Record::Object(o) if self.objects.contains(&o.id) => None,
            Record::Integrity(i) if self.objects.contains(&i.object) => None,
            Record::Poster(p)
                if self.objects.contains(&p.of) || self.objects.contains(&p.object) =>
            {
                None
            }
            Record::Conversation(c) if self.conversations.contains(&c.id) => None,
            Record::Conversation(mut c) => {
                ledger::scrub_conversation(&mut c, &is_person);
                Some(Record::Conversation(c))
            }
            Record::Name(n) if is_person(&n.user) => None,
            Record::Compaction(_) => None,
            r => Some(r),
        }
    }
}

/// Seen ranges of message numbers, numbered again without the forgotten
/// messages `gone` (ascending): a message's number is its place among the
/// log's messages, so each later one moves down by the number of
/// forgotten ones before it. A range stays a range.
fn renumber(ranges: &[(u64, u64)], gone: &[u64]) -> Vec<(u64, u64)> {
    let below = |n: u64| gone.partition_point(|&g| g < n) as u64;
    ranges
        .iter()
        .filter(|(a, b)| a <= b)
        .filter_map(|&(a, b)| {
            let first = a - below(a);
            let last = (b + 1 - below(b + 1)).checked_sub(1)?;
            (first <= last && last > 0).then_some((first, last))
        })
        .collect()
}

/// The places dmvault cannot reach, which may still hold what was
/// forgotten: the user must clean them up.
pub fn out_of_reach(vault: &Vault) -> Result<Vec<String>> {
    let mut out = vec![
        "exports you made of it (`dmvault export`, `export --html`, `export-sqlite`): plain files, delete them yourself".to_owned(),
        "the X archives (ZIP files or folders) it came from: an import no longer brings it back, but they still hold it".to_owned(),
        "other copies of this vault (backups, synced or copied folders, snapshots) until they are replaced by this one".to_owned(),
    ];
    let importers = vault
        .index
        .importers()?
        .into_iter()
        .filter(|i| i.revoked.is_none())
        .count();
    if importers > 0 {
        out.push(format!(
            "the computers of this vault's {importers} write-only importer key(s): their record of what they sent (in ~/.cache/dmvault/{}/ there) names what they imported",
            vault.secret().vault_id()
        ));
    }
    if vault.place().is_remote() {
        out.push("object versions, replicas or backups of the bucket, if the storage keeps them: deleted objects can stay there (check the bucket's versioning and lifecycle settings)".into());
        out.push("other computers that opened this vault: their index cache is made anew the next time they open it".into());
    } else {
        out.push("the disk itself: deleted files can stay readable on it (SSDs, file system snapshots) until they are overwritten".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn ranges_are_numbered_again_without_the_forgotten_messages() {
        // Messages 3, 4 and 8 go: 5 becomes 3, 9 becomes 6.
        let gone = [3, 4, 8];
        assert_eq!(renumber(&[(1, 2)], &gone), vec![(1, 2)]);
        assert_eq!(renumber(&[(1, 5)], &gone), vec![(1, 3)]);
        assert_eq!(renumber(&[(3, 4)], &gone), vec![]);
        assert_eq!(renumber(&[(4, 9)], &gone), vec![(3, 6)]);
        assert_eq!(renumber(&[(8, 8), (9, 10)], &gone), vec![(6, 7)]);
        assert_eq!(renumber(&[(5, 4)], &gone), vec![]);
    }
}
