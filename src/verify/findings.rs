//! What `verify` reports: one [`Finding`] per problem, each naming what it
//! is about, who uses it and what to do.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::error::Result;
use crate::index::{Index, ObjectFacts};
use crate::vault::catalog::FileFacts;
use crate::vault::store::ObjectId;

/// The kinds of problem `verify` finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Problem {
    /// A catalog segment that does not decrypt, authenticate or chain, or
    /// is missing, or a stray file in `catalog/`.
    Catalog,
    /// The catalog is older than, or another history than, the one this
    /// computer saw.
    Rollback,
    /// An object file is gone.
    Missing,
    /// An object file has another size than was written.
    SizeMismatch,
    /// An object's file is not what was written (proven by reading it).
    Corrupt,
    /// The operating system could not read an object's file: no proof of
    /// damage, so the object is left where it is.
    Unreadable,
    /// A video or GIF does not decode fully.
    Undecodable,
    /// An object file no segment names.
    Unreferenced,
    /// The index did not match the log; it was rebuilt from the log.
    Index,
}

impl Problem {
    /// The name used in `--json` and in the text output.
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Catalog => "catalog",
            Problem::Rollback => "rollback",
            Problem::Missing => "missing",
            Problem::SizeMismatch => "size_mismatch",
            Problem::Corrupt => "corrupt",
            Problem::Unreadable => "unreadable",
            Problem::Undecodable => "undecodable",
            Problem::Unreferenced => "unreferenced",
            Problem::Index => "index",
        }
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The vault does not hold (or cannot give back) what was put in.
    Error,
    /// Worth knowing; nothing is lost.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What kind of problem.
    pub problem: Problem,
    /// How bad.
    pub severity: Severity,
    /// The object (full hex id), when the problem is an object.
    pub object: Option<String>,
    /// The catalog segment, when the problem is a segment.
    pub segment: Option<String>,
    /// What is wrong.
    pub detail: String,
    /// Messages that use the object.
    pub messages: Vec<String>,
    /// Their conversations.
    pub conversations: Vec<String>,
    /// Archives that held the content (import one again to heal).
    pub archives: Vec<String>,
    /// What to do.
    pub hint: String,
}

impl Finding {
    /// A finding about the catalog (severity error).
    pub(crate) fn catalog(
        problem: Problem,
        segment: Option<String>,
        detail: String,
        hint: &str,
    ) -> Finding {
        Finding {
            problem,
            severity: Severity::Error,
            object: None,
            segment,
            detail,
            messages: Vec::new(),
            conversations: Vec::new(),
            archives: Vec::new(),
            hint: hint.to_owned(),
        }
    }

    /// A finding about an object, naming who uses it.
    pub(crate) fn object(
        problem: Problem,
        severity: Severity,
        id: &ObjectId,
        u: Option<&Usage>,
        detail: String,
    ) -> Finding {
        let list = |f: fn(&Usage) -> &BTreeSet<String>| -> Vec<String> {
            u.map(|u| f(u).iter().cloned().collect())
                .unwrap_or_default()
        };
        let archives = list(|u| &u.archives);
        let hint = match problem {
            Problem::Unreferenced => "Nothing refers to it (an import was interrupted); the next import adopts it if it is needed.".to_owned(),
            Problem::Undecodable => "The stored content does not decode; if an archive has a better copy, import it.".to_owned(),
            Problem::Unreadable => "It was left where it is. Check the file's permissions and the disk (a failing disk gives read errors), then verify again.".to_owned(),
            _ if archives.is_empty() => "No archive is recorded for it; import any archive that holds it.".to_owned(),
            _ => format!("Import one of these archives again to restore it: {}.", archives.join(", ")),
        };
        Finding {
            problem,
            severity,
            object: Some(id.hex()),
            segment: None,
            detail,
            messages: list(|u| &u.messages),
            conversations: list(|u| &u.conversations),
            archives,
            hint,
        }
    }
}

/// Who uses an object.
#[derive(Default)]
pub(crate) struct Usage {
    pub messages: BTreeSet<String>,
    pub conversations: BTreeSet<String>,
    pub archives: BTreeSet<String>,
    pub video: bool,
    pub name: Option<String>,
    pub facts: Option<FileFacts>,
}

/// Who uses each object the index names, with what the index records of
/// each object's content (one entry per object, never per message).
pub(crate) fn usage_map(
    index: &Index,
    objects: &BTreeMap<ObjectId, ObjectFacts>,
) -> Result<BTreeMap<ObjectId, Usage>> {
    let names = index.archive_names()?;
    let name_of = |n: u32| {
        (n as usize)
            .checked_sub(1)
            .and_then(|i| names.get(i))
            .map_or_else(|| "?".to_owned(), Clone::clone)
    };
    let mut map: BTreeMap<ObjectId, Usage> = BTreeMap::new();
    index.for_each_use(|u| {
        let e = map.entry(u.object).or_default();
        e.messages.extend(u.message);
        e.conversations.extend(u.conversation);
        e.archives.extend(
            crate::index::bits::members(&u.archives)
                .into_iter()
                .map(name_of),
        );
        e.video |= u.video;
        e.name = e.name.take().or(u.name);
        if e.facts.is_none() {
            e.facts = objects.get(&u.object).and_then(|o| {
                let (blake3, sha256) = o.hashes.clone()?;
                Some(FileFacts {
                    size: o.size,
                    blake3,
                    sha256,
                    object: o.id,
                })
            });
        }
        Ok(())
    })?;
    Ok(map)
}
