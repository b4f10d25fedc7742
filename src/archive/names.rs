//! Reading an archive's names: the tweet files and the owner's files, for
//! [`crate::people::harvest`].

use super::{ytd, Archive, Counting, MAX_ELEMENT};
use crate::people::harvest::{Harvest, NameFile};
use crate::people::NameSource;
use crate::progress::Progress;
use crate::time::Timestamp;

/// What harvesting an archive's names gave.
#[derive(Debug, Default)]
pub struct NamesRead {
    /// The sightings.
    pub harvest: Harvest,
    /// Files or elements that could not be read (names only: nothing else
    /// is lost), one sentence each.
    pub problems: Vec<String>,
}

impl Archive {
    /// The data files that carry names (tweet files, `account.js`,
    /// `screen-name-change.js`), at the top or in `data/`, and the bytes
    /// they hold.
    pub fn name_files(&self) -> Vec<(super::source::Entry, NameFile)> {
        self.entries
            .iter()
            .filter_map(|e| {
                let rel = e.path.strip_prefix(self.root.as_str())?;
                let name = rel.strip_prefix("data/").unwrap_or(rel);
                if name.contains('/') {
                    return None;
                }
                NameFile::classify(name).map(|k| (e.clone(), k))
            })
            .collect()
    }

    /// Gathers every (id, handle, name) the archive's own files give:
    /// mentions, replies and media sources of the tweet files, and the
    /// owner's handle, name and handle history. Never fails: what cannot
    /// be read is named in [`NamesRead::problems`].
    ///
    /// Progress is reported in bytes of the files read.
    pub fn harvest_names(&mut self, progress: &dyn Progress) -> NamesRead {
        let mut out = NamesRead::default();
        self.owner_sightings(&mut out.harvest);
        let archive = self.path.clone();
        for (entry, kind) in self.name_files() {
            if kind == NameFile::Account {
                continue;
            }
            let file = entry
                .path
                .rsplit('/')
                .next()
                .unwrap_or(&entry.path)
                .to_owned();
            let reader = match self.container.open_entry(&archive, &entry) {
                Ok(r) => r,
                Err(e) => {
                    out.problems.push(format!("names not read: {e}"));
                    continue;
                }
            };
            let reader = Counting {
                inner: reader,
                progress,
            };
            let (mut bad, harvest) = (0u64, &mut out.harvest);
            let r = ytd::for_each_element_within(reader, MAX_ELEMENT, |e, _| {
                let ytd::Element::Json(bytes) = e else {
                    bad += 1;
                    return Ok(());
                };
                let read = match kind {
                    NameFile::Tweets => harvest.tweet_element(&file, bytes),
                    _ => harvest.screen_name_change_element(&file, bytes),
                };
                bad += u64::from(read.is_err());
                Ok(())
            });
            if bad > 0 {
                out.problems.push(format!(
                    "{}: {bad} elements are not what dmvault expects there; the names in them were not read",
                    entry.path
                ));
            }
            if let Err(e) = r {
                out.problems.push(format!(
                    "names not read past the error: {}",
                    self.scan_error(&entry.path, e)
                ));
            }
        }
        out
    }

    /// The owner's id, handle and display name, dated by the archive's
    /// generation date.
    fn owner_sightings(&self, harvest: &mut Harvest) {
        let info = &self.info;
        let (Some(id), Some(file)) = (&info.account_id, info.owner_file) else {
            return;
        };
        let source = if file == "account.js" {
            NameSource::Account
        } else {
            NameSource::Manifest
        };
        let at = info
            .generation_date
            .as_deref()
            .and_then(Timestamp::parse_created_at);
        harvest.note(
            id,
            info.username.as_deref(),
            info.display_name.as_deref(),
            source,
            file,
            at,
        );
    }
}
