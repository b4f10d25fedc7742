//! `dmvault people`: who the ids are.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use dmvault::index::people::Person;
use dmvault::people::set::{set_names, SetReport};
use dmvault::people::userfile::{self, Entry};
use dmvault::people::{clean_handle, clean_user_id};

use super::{path_arg, unlock, Global, VaultArgs};
use crate::exit::Code;
use crate::output::Out;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PeopleArgs {
    #[command(subcommand)]
    pub command: Option<PeopleCommand>,
    #[command(flatten)]
    pub vault: Option<VaultArgs>,
    /// Only the people nobody has named yet (no handle and no name).
    #[arg(long)]
    pub unresolved: bool,
}

#[derive(Debug, Subcommand)]
pub enum PeopleCommand {
    /// Name people from a CSV names file or a vCard address book.
    ///
    /// CSV: UTF-8, lines starting with # are comments, an optional header:
    ///   user_id,handle,display_name,note
    ///   1234567890123456789,example_handle,Alex Example,school friend
    ///   987654321,,Grandma,
    ///   ,some_handle,Sam,            (no id: matched by a handle the archives gave)
    ///
    /// vCard (.vcf, from a phone or mail program): FN is the name; the X
    /// account comes from X-SOCIALPROFILE;TYPE=twitter, X-TWITTER or a URL on
    /// x.com or twitter.com, matched by the handle the archives gave.
    ///
    /// A name you give always wins over one harvested from the archives;
    /// both are kept. Importing the same file again changes nothing.
    ///
    /// Examples:
    ///   dmvault people import --vault ~/dm-vault names.csv
    ///   dmvault people import --vault ~/dm-vault contacts.vcf
    #[command(verbatim_doc_comment)]
    Import(PeopleImportArgs),
    /// Set one person's name, handle or note.
    ///
    /// Fields not given keep their value; an empty one ("") removes yours,
    /// so that the name harvested from the archives shows again.
    ///
    /// Examples:
    ///   dmvault people set --vault ~/dm-vault 987654321 --name Grandma
    ///   dmvault people set --vault ~/dm-vault @some_handle --note "from school"
    #[command(verbatim_doc_comment)]
    Set(PeopleSetArgs),
}

#[derive(Debug, Args)]
pub struct PeopleImportArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The CSV or vCard file.
    #[arg(value_name = "FILE", value_parser = path_arg)]
    pub file: PathBuf,
    /// How long to wait for an import on the same vault to finish.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_wait: u64,
}

#[derive(Debug, Args)]
pub struct PeopleSetArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The user id (as in the DM files), or @handle when the archives gave it.
    #[arg(value_name = "ID")]
    pub user: String,
    /// Their display name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Their handle (without @).
    #[arg(long, value_name = "HANDLE")]
    pub handle: Option<String>,
    /// A note of yours.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// How long to wait for an import on the same vault to finish.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_wait: u64,
}

pub fn run(args: &PeopleArgs, global: &Global) -> Result<Code> {
    match &args.command {
        Some(PeopleCommand::Import(a)) => run_import(a, global),
        Some(PeopleCommand::Set(a)) => run_set(a, global),
        None => {
            let vault = args
                .vault
                .as_ref()
                .context("no vault given: use --vault PATH or set DMVAULT_VAULT")?;
            run_list(vault, args.unresolved, global)
        }
    }
}

fn run_list(vault: &VaultArgs, unresolved: bool, global: &Global) -> Result<Code> {
    let vault = unlock::open(vault, global)?;
    let people = vault.index.people()?;
    let mut out = Out::new();
    let shown = people
        .iter()
        .filter(|p| !unresolved || (p.handle.is_none() && p.name.is_none()));
    if global.json {
        for p in shown {
            out.json(p)?;
        }
        return Ok(Code::Ok);
    }
    let (mut count, mut named) = (0, 0);
    for p in shown {
        count += 1;
        named += usize::from(p.handle.is_some() || p.name.is_some());
        print_person(&mut out, p)?;
    }
    if !global.quiet {
        let hint = if named < count {
            "; name the others with `dmvault people set ID --name NAME` or `dmvault people import names.csv`"
        } else {
            ""
        };
        out.line(format_args!("{count} people, {named} named{hint}"))?;
    }
    Ok(Code::Ok)
}

fn print_person(out: &mut Out, p: &Person) -> std::io::Result<()> {
    let handle = p
        .handle
        .as_ref()
        .map_or_else(|| "-".to_owned(), |h| format!("@{}", h.value));
    let name = p.name.as_ref().map_or("-", |n| n.value.as_str());
    let source = p
        .name
        .as_ref()
        .or(p.handle.as_ref())
        .map_or(String::new(), |c| format!(" ({})", c.source.as_str()));
    let owner = if p.owner { ", you" } else { "" };
    out.line(format_args!(
        "{:>20}  {handle:<17} {name}{source}{owner}  {} messages, {} media, {} conversations",
        p.user_id,
        p.messages_sent,
        p.media_sent,
        p.conversations.len()
    ))
}

fn run_import(args: &PeopleImportArgs, global: &Global) -> Result<Code> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "{} is not UTF-8 text; save it as UTF-8 (CSV) or export the contacts as vCard",
            args.file.display()
        )
    })?;
    let parsed = userfile::parse(&text);
    let mut vault = unlock::open(&args.vault, global)?;
    vault.lock(Duration::from_secs(args.lock_wait))?;
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    let mut report = set_names(&mut vault, &parsed.entries, name.as_deref())?;
    let mut problems = parsed.problems;
    problems.append(&mut report.problems);
    report.problems = problems
        .into_iter()
        .map(|p| format!("{}: {p}", args.file.display()))
        .collect();
    print_report(&report, global)
}

fn run_set(args: &PeopleSetArgs, global: &Global) -> Result<Code> {
    if args.name.is_none() && args.handle.is_none() && args.note.is_none() {
        anyhow::bail!("nothing to set: give --name, --handle or --note");
    }
    let handle = match args.handle.as_deref() {
        Some("") => Some(String::new()),
        Some(h) => Some(clean_handle(h).with_context(|| {
            format!("{h:?} is not an X handle (letters, digits and _, without spaces)")
        })?),
        None => None,
    };
    let mut entry = Entry {
        handle,
        name: args.name.clone(),
        note: args.note.clone(),
        ..Entry::default()
    };
    let mut vault = unlock::open(&args.vault, global)?;
    vault.lock(Duration::from_secs(args.lock_wait))?;
    if let Some(id) = clean_user_id(&args.user) {
        entry.user = Some(id);
    } else if let Some(h) = args.user.strip_prefix('@').and_then(clean_handle) {
        let users = vault.index.users_with_handle(&h)?;
        match users.as_slice() {
            [one] => entry.user = Some(one.clone()),
            [] => anyhow::bail!(
                "no archive in the vault names @{h}; give the user id (the number in the DM files, see `dmvault people`)"
            ),
            many => anyhow::bail!("@{h} was the handle of several users ({}); give the id", many.join(", ")),
        }
    } else {
        anyhow::bail!(
            "{:?} is neither a user id (digits) nor an @handle; see `dmvault people`",
            args.user
        );
    }
    let report = set_names(&mut vault, &[entry], None)?;
    print_report(&report, global)
}

fn print_report(report: &SetReport, global: &Global) -> Result<Code> {
    let mut out = Out::new();
    if global.json {
        out.message("people_set", report)?;
    } else {
        for p in &report.problems {
            crate::report_warning(p, false);
        }
        if !global.quiet {
            out.line(format_args!(
                "{} people named, {} unchanged, {} left out",
                report.set,
                report.unchanged,
                report.problems.len()
            ))?;
        }
    }
    Ok(if report.problems.is_empty() {
        Code::Ok
    } else {
        Code::Partial
    })
}
