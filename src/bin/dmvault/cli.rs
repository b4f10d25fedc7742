//! Command-line syntax (clap). Each subcommand's runner lives in its own
//! module below.

pub mod csv;
pub mod export;
pub mod forget;
pub mod import;
pub mod index;
pub mod init;
pub mod inspect;
pub mod key;
pub mod ls;
pub mod people;
pub mod show;
pub mod unlock;
pub mod verify;
pub mod view;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A path from the command line or the environment. A leading `~` is the
/// home folder even when the shell did not expand it (a quoted
/// `DMVAULT_VAULT="~/dm-vault"`), rather than a folder named `~`.
pub fn path_arg(s: &str) -> Result<PathBuf, String> {
    if s.is_empty() {
        return Err("an empty path".into());
    }
    let rest = match s.strip_prefix('~') {
        Some("") => Some(""),
        Some(r) if r.starts_with('/') => Some(&r[1..]),
        _ => None,
    };
    match (rest, std::env::var_os("HOME").filter(|h| !h.is_empty())) {
        (Some(r), Some(home)) => Ok(PathBuf::from(home).join(r)),
        (Some(_), None) => Err(format!(
            "{s}: `~` stands for the home folder, but HOME is not set"
        )),
        (None, _) => Ok(PathBuf::from(s)),
    }
}

/// Preserve the photos, GIFs and videos of your Twitter/X direct messages.
///
/// dmvault reads the archives X gives you ("Download an archive of your
/// data"), ZIP or unpacked folder, from 2018 to today, links every DM media
/// file to its message, and keeps them in an encrypted vault that merges
/// all your archives and stores every file once.
///
/// Start with:
///   dmvault init --vault ~/dm-vault            (creates a key in ~/.config/dmvault/)
///   dmvault import --vault ~/dm-vault twitter-*.zip
///   dmvault ls --vault ~/dm-vault --kind video
///
/// Exit codes: 0 ok, 1 error, 2 usage, 3 partial (some input unreadable),
/// 4 integrity problems, 10 no vault, 11 locked, 12 no key fits,
/// 130 interrupted. See docs/cli.md.
#[derive(Debug, Parser)]
#[command(name = "dmvault", version, max_term_width = 100, verbatim_doc_comment)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Print machine-readable JSON (one object per line) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Never draw progress bars (they are only drawn on a terminal anyway).
    #[arg(long, global = true)]
    pub no_progress: bool,
}

/// Where the vault is and how to unlock it.
#[derive(Debug, Args, Clone)]
pub struct VaultArgs {
    /// The vault: a folder, or s3://BUCKET/PREFIX in S3-compatible object
    /// storage (endpoint, region and credentials from AWS_ENDPOINT_URL,
    /// AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or
    /// AWS_PROFILE and the AWS config files).
    #[arg(long, env = "DMVAULT_VAULT", value_name = "PATH", value_parser = path_arg)]
    pub vault: PathBuf,
    /// An age identity file that unlocks the vault, or a write-only key
    /// (`key add --write-only`), which only imports
    /// [default: ~/.config/dmvault/identity.txt when it exists].
    #[arg(short = 'i', long, env = "DMVAULT_IDENTITY", value_name = "FILE", value_parser = path_arg)]
    pub identity: Option<PathBuf>,
    /// Read the passphrase from the first line of this file (or set
    /// DMVAULT_PASSPHRASE; without either, dmvault asks on the terminal).
    #[arg(long, env = "DMVAULT_PASSPHRASE_FILE", value_name = "FILE", value_parser = path_arg)]
    pub passphrase_file: Option<PathBuf>,
}

/// Selects media references (ls, export).
#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// Only this conversation: its id (12345-67890, or a group id), its
    /// name, or the other person's @handle or name.
    #[arg(long, value_name = "CONVERSATION")]
    pub conversation: Option<String>,
    /// Only media sent by this person: a user id, @handle or name.
    #[arg(long, value_name = "WHO")]
    pub sender: Option<String>,
    /// Only the media of this message (its id).
    #[arg(long, value_name = "MESSAGE_ID")]
    pub message: Option<String>,
    /// Only media sent on or after this date (YYYY-MM-DD, UTC) or time (RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only media sent up to this date (inclusive) or before this time.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Only this kind of media.
    #[arg(long, value_parser = ["image", "gif", "video"])]
    pub kind: Option<String>,
    /// Only media seen in this archive (its file name, number, or the first 8 or more hex digits
    /// of its BLAKE3, as `b3sum` prints it).
    #[arg(long, value_name = "ARCHIVE")]
    pub archive: Option<String>,
    /// Only media with this FFmpeg verdict.
    #[arg(long, value_parser = ["ok", "damaged", "unreadable"])]
    pub integrity: Option<String>,
}

impl FilterArgs {
    pub fn to_filter(&self, missing: bool) -> anyhow::Result<dmvault::query::Filter> {
        use dmvault::query::Filter;
        let mut f = Filter::default();
        f.conversation = self.conversation.clone();
        f.sender = self.sender.clone();
        f.message = self.message.clone();
        f.since = self.since.as_deref().map(Filter::parse_since).transpose()?;
        f.until = self.until.as_deref().map(Filter::parse_until).transpose()?;
        f.kind = self
            .kind
            .as_deref()
            .and_then(dmvault::media::MediaKind::parse);
        f.archive = self.archive.clone();
        f.integrity = self
            .integrity
            .as_deref()
            .and_then(dmvault::integrity::Verdict::parse);
        f.missing = missing;
        Ok(f)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what X archives hold: messages, conversations, DM media found,
    /// missing and orphaned.
    ///
    /// Reads each archive (a .zip as downloaded, or the folder it was
    /// unpacked into) without changing or unpacking anything, and prints a
    /// summary per archive. With --json, one JSON object per archive, one
    /// per line. Needs no vault.
    ///
    /// Examples:
    ///   dmvault inspect twitter-2024-11-09.zip
    ///   dmvault inspect --json ~/archives/*.zip | jq .media_missing
    #[command(verbatim_doc_comment)]
    Inspect(inspect::InspectArgs),
    /// Create a new, empty vault.
    ///
    /// With no key given, dmvault creates an age identity file at
    /// ~/.config/dmvault/identity.txt (mode 0600; or uses the one already
    /// there) and prints its public key. Keep that file safe and separate
    /// from the vault: without it (or another key you add) the vault cannot
    /// be opened by anyone.
    ///
    /// Examples:
    ///   dmvault init --vault ~/dm-vault
    ///   dmvault init --vault ~/dm-vault -i ~/keys/dmvault.txt
    ///   dmvault init --vault /mnt/usb/vault --passphrase          (asks twice)
    ///   dmvault init --vault /mnt/usb/vault --passphrase-file ~/.dmvault-pass
    #[command(verbatim_doc_comment)]
    Init(init::InitArgs),
    /// Import archives into the vault: messages merged by id, every media
    /// file stored once, encrypted.
    ///
    /// Archives can be given in any order and any number; importing one again
    /// adds nothing. An interrupted import (Ctrl-C, a crash, a full disk)
    /// leaves the vault consistent; run the same command again to finish.
    ///
    /// Examples:
    ///   dmvault import --vault ~/dm-vault twitter-2021.zip twitter-2024.zip
    ///   dmvault import --vault ~/dm-vault --dry-run ~/Downloads/twitter-*.zip
    ///   dmvault import --vault s3://bucket/dm -i ~/nas-importer.key twitter-*.zip
    ///
    /// With a write-only key (`dmvault key add --write-only FILE`) the import
    /// goes to the vault's inbox: it can add, not read; the next command run
    /// with the vault's key merges it.
    #[command(verbatim_doc_comment)]
    Import(import::ImportArgs),
    /// List the media references the vault holds.
    ///
    /// One line per stored media reference (orphan files included); with
    /// --missing, the references whose file no archive had. --json prints
    /// one object per line.
    ///
    /// Examples:
    ///   dmvault ls --vault ~/dm-vault --kind video --since 2023-01-01
    ///   dmvault ls --vault ~/dm-vault --missing --json
    #[command(verbatim_doc_comment)]
    Ls(ls::LsArgs),
    /// Print a conversation: messages with names, times, text (links
    /// expanded), reactions, edits, group events and media.
    ///
    /// CONVERSATION is its id, its name, or the other person's @handle or
    /// name; when several conversations fit, they are listed (exit code 2).
    /// On a terminal the transcript goes through a pager ($DMVAULT_PAGER,
    /// $PAGER or less). --json prints the conversation, then one object per
    /// message or event.
    ///
    /// Examples:
    ///   dmvault show --vault ~/dm-vault @some_handle
    ///   dmvault show --vault ~/dm-vault "weekend plans" --since 2024-01-01
    ///   dmvault show --vault ~/dm-vault 12345-67890 --around 1742204983262221334
    #[command(verbatim_doc_comment)]
    Show(show::ShowArgs),
    /// Find messages by what they say (full text, newest first).
    ///
    /// QUERY is words (all must appear), "a phrase" and prefix*; case does
    /// not matter. Each result shows its date, conversation, sender, the
    /// text around the match (matches in **) and its media.
    ///
    /// Examples:
    ///   dmvault search --vault ~/dm-vault friday
    ///   dmvault search --vault ~/dm-vault '"the blue one"' --sender @some_handle
    ///   dmvault search --vault ~/dm-vault vid* --has-media --since 2023-01-01 --json
    #[command(verbatim_doc_comment)]
    Search(show::SearchArgs),
    /// Show what the vault holds, in figures.
    Stats(ls::StatsArgs),
    /// Decrypt selected media into a folder, named by conversation, date,
    /// sender and message, with an index.json describing each file.
    ///
    /// Files keep the time the message was sent as their modification time.
    /// A file already there is never overwritten.
    ///
    /// Examples:
    ///   dmvault export --vault ~/dm-vault ~/dm-export
    ///   dmvault export --vault ~/dm-vault --conversation 123-456 --kind video ./videos
    #[command(verbatim_doc_comment)]
    Export(export::ExportArgs),
    /// Write the catalog as a plain SQLite database, for Datasette or sqlite3.
    ///
    /// Tables: archives, conversations, participants, conversation_names,
    /// messages (with the archives each was seen in), media (one row per
    /// reference, with kind, size, hashes and FFmpeg's facts), objects,
    /// orphans, reactions, edits. See docs/cli.md. The file is NOT encrypted:
    /// it holds every message's text. It must not exist yet.
    ///
    /// Examples:
    ///   dmvault export-sqlite --vault ~/dm-vault ~/dm.sqlite
    ///   datasette ~/dm.sqlite
    #[command(verbatim_doc_comment)]
    ExportSqlite(export::ExportSqliteArgs),
    /// Check that the vault holds exactly what was put in.
    ///
    /// By default: the catalog decrypts and authenticates, has not been rolled
    /// back, and every object exists with its size. --read-data also decrypts
    /// and re-hashes every object; --decode fully decodes every video and GIF.
    /// Objects that --read-data proves damaged are moved to quarantine/ (one
    /// the system cannot read is left in place); import an archive that
    /// holds them again to heal the vault.
    ///
    /// Exit codes: 0 no problem, 4 problems found, 12 no key fits.
    ///
    /// Examples:
    ///   dmvault verify --vault ~/dm-vault
    ///   dmvault verify --vault ~/dm-vault --read-data --subset 3/7
    ///   dmvault verify --vault ~/dm-vault --decode --json
    #[command(verbatim_doc_comment)]
    Verify(verify::VerifyArgs),
    /// Manage the ways to unlock the vault (identity files, passphrases).
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// List the people in your conversations, and name them.
    ///
    /// X archives give DM participants as numeric ids. dmvault takes the
    /// names it can from the archives themselves (the tweet files' mentions,
    /// replies and media, your own account files) when it imports them, and
    /// you can name the rest: `people set` for one, `people import` for a
    /// CSV or vCard file. Names never come from the network.
    ///
    /// Without a subcommand: every participant, with the handle and name
    /// shown (and where they come from), and how many messages and media
    /// they sent, by messages sent.
    ///
    /// Examples:
    ///   dmvault people --vault ~/dm-vault
    ///   dmvault people --vault ~/dm-vault --unresolved
    ///   dmvault people set --vault ~/dm-vault 987654321 --name Grandma
    ///   dmvault people import --vault ~/dm-vault names.csv
    #[command(verbatim_doc_comment)]
    People(people::PeopleArgs),
    /// Browse the vault in a web browser: conversations, media, search and
    /// people, served from the encrypted vault on this computer only.
    ///
    /// Listens on 127.0.0.1 (never the network) and prints a URL that
    /// carries a fresh secret token; requests without it are refused. Media
    /// is decrypted as it is sent and seeks within videos; nothing plaintext
    /// is written to disk. With a desktop it opens the browser (unless
    /// --no-open). Read-only. Ctrl-C stops it. With --json the first line is
    /// {"message_type":"listening","url":…}.
    ///
    /// Examples:
    ///   dmvault view --vault ~/dm-vault
    ///   dmvault view --vault ~/dm-vault --port 8765 --no-open
    #[command(verbatim_doc_comment)]
    View(view::ViewArgs),
    /// Manage the vault's index (rebuild it from the catalog).
    #[command(subcommand)]
    Index(index::IndexCommand),
    /// Forget a conversation, a person or a message, for good.
    ///
    /// For a deletion request: the messages go, with their media
    /// references and every file no message that stays uses (a file a kept
    /// message also uses stays). The catalog is written again without
    /// them, the old one and the files are deleted, and the index is made
    /// anew: nothing of it is left in the vault, in object storage too.
    /// The vault keeps keyed hashes of what went (no ids, no text), so an
    /// import of the same archives does not bring it back; `--list` shows
    /// when and how much was forgotten.
    ///
    /// It shows what will go and asks first (`--yes` does not ask; off a
    /// terminal it is needed). It cannot be undone, and it cannot reach
    /// exports, archives or other copies of the vault: it lists them.
    /// Interrupted, it leaves the vault as before or as after; run it
    /// again to finish.
    ///
    /// Examples:
    ///   dmvault forget --vault ~/dm-vault --conversation 12345-67890 --dry-run
    ///   dmvault forget --vault ~/dm-vault --person @some_handle
    ///   dmvault forget --vault ~/dm-vault --message 1742204983262221334 --yes
    ///   dmvault forget --vault ~/dm-vault --list
    #[command(verbatim_doc_comment)]
    Forget(forget::ForgetArgs),
}
