//! `dmvault forget`: take a conversation, a person or a message out of the
//! vault for good.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use dmvault::forget::{Forget, ForgetPlan, ForgetReport};
use dmvault::index::people::Directory;
use dmvault::vault::Vault;

use super::{unlock, Global, VaultArgs};
use crate::exit::Code;
use crate::output::Out;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["conversation", "person", "message", "list"])))]
pub struct ForgetArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// Forget a conversation whole: its id (12345-67890, or a group id),
    /// its name, or the other person's @handle.
    #[arg(long, value_name = "CONVERSATION")]
    pub conversation: Option<String>,
    /// Forget a person: the messages and media they sent in every
    /// conversation, your one-to-one conversations with them, their
    /// names, reactions and group events. A user id or @handle.
    #[arg(long, value_name = "WHO")]
    pub person: Option<String>,
    /// Forget one message (its id) and its media.
    #[arg(long, value_name = "MESSAGE_ID")]
    pub message: Option<String>,
    /// List what was forgotten before: when, what kind, how many messages
    /// and files (never what).
    #[arg(long)]
    pub list: bool,
    /// Show what would go, and change nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed when not on a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// How long to wait for an import on the same vault to finish.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_wait: u64,
}

pub fn run(args: &ForgetArgs, global: &Global) -> Result<Code> {
    let mut vault = unlock::open(&args.vault, global)?;
    if args.list {
        return list(&vault, global);
    }
    let what = target(&vault, args)?;
    let key = *vault.secret().forget_key();
    if args.dry_run {
        let plan = dmvault::forget::plan(&vault.index, &key, &what)?;
        print_plan(&vault, &what, plan.as_ref(), true, global)?;
        return Ok(Code::Ok);
    }
    vault.lock(Duration::from_secs(args.lock_wait))?;
    if vault.tidied() {
        crate::report_warning(
            "a `dmvault forget` cut short was finished: what it compacted away is deleted",
            global.json,
        );
    }
    unlock::watch_rollback(&mut vault, global.json);
    let merged = dmvault::import::merge_inbox(&vault)?;
    unlock::report_merge(&merged, global.json);
    let plan = dmvault::forget::plan(&vault.index, &key, &what)?;
    if plan.is_some() && !args.yes {
        print_plan(&vault, &what, plan.as_ref(), false, global)?;
        if !confirmed()? {
            bail!("nothing was forgotten");
        }
    }
    let named = label(&vault, &what)?;
    let lines = plan.as_ref().map(|p| plan_lines(&vault, p)).transpose()?;
    let progress = crate::progress::for_command(global, "forget");
    let report = dmvault::forget::forget(&mut vault, &what, progress.as_ref())?;
    progress.finish();
    print_report(
        &vault,
        &what,
        &named,
        lines.unwrap_or_default(),
        &report,
        global,
    )?;
    Ok(Code::Ok)
}

/// What the arguments name, resolved to an id (an id the vault forgot
/// before is taken as it is, so that the command can be run again).
fn target(vault: &Vault, args: &ForgetArgs) -> Result<Forget> {
    let dir = Directory::load(&vault.index)?;
    let id_like = |q: &str| !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    Ok(match (&args.conversation, &args.person, &args.message) {
        (Some(c), _, _) => Forget::Conversation(dmvault::query::one_conversation(&dir, c)?),
        (_, Some(p), _) => match dmvault::query::one_user(&dir, p) {
            Ok(u) => Forget::Person(u),
            Err(dmvault::Error::Invalid(_)) if id_like(p) => Forget::Person(p.clone()),
            Err(e) => return Err(e.into()),
        },
        (_, _, Some(m)) => Forget::Message(m.clone()),
        _ => bail!("say what to forget: --conversation, --person or --message"),
    })
}

/// Asks on the terminal; without one, `--yes` is needed.
fn confirmed() -> Result<bool> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(dmvault::Error::Ambiguous(
            "forgetting cannot be undone: confirm with --yes (or see what would go with --dry-run)"
                .into(),
        )
        .into());
    }
    let mut err = std::io::stderr().lock();
    write!(err, "Forget this for good? It cannot be undone. Type yes: ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

/// The thing forgotten, with its name.
fn label(vault: &Vault, what: &Forget) -> Result<String> {
    let dir = Directory::load(&vault.index)?;
    let id = what.id();
    let name = match what {
        Forget::Conversation(c) => dir.conversation_label(c).to_owned(),
        Forget::Person(u) => dir.label(u),
        Forget::Message(_) => id.to_owned(),
    };
    Ok(if name == id {
        format!("{} {id}", what.scope())
    } else {
        format!("{} {id} ({name})", what.scope())
    })
}

fn print_plan(
    vault: &Vault,
    what: &Forget,
    plan: Option<&ForgetPlan>,
    dry_run: bool,
    global: &Global,
) -> Result<()> {
    let mut out = Out::new();
    if global.json {
        let v = serde_json::json!({
            "scope": what.scope(), "id": what.id(), "dry_run": dry_run,
            "already_forgotten": plan.is_none(), "plan": plan,
        });
        out.message("plan", &v)?;
        return Ok(());
    }
    if global.quiet && dry_run {
        return Ok(());
    }
    let Some(plan) = plan else {
        out.line(format_args!(
            "{} was forgotten before: nothing is left to forget",
            label(vault, what)?
        ))?;
        return Ok(());
    };
    let head = if dry_run {
        "would forget"
    } else {
        "about to forget"
    };
    out.line(format_args!("{head} {}:", label(vault, what)?))?;
    for line in plan_lines(vault, plan)? {
        out.line(format_args!("  {line}"))?;
    }
    if dry_run {
        out.line("nothing was changed (--dry-run)")?;
    }
    Ok(())
}

/// What a plan takes away, line by line.
fn plan_lines(vault: &Vault, plan: &ForgetPlan) -> Result<Vec<String>> {
    let dir = Directory::load(&vault.index)?;
    let mut lines = Vec::new();
    for c in &plan.conversations {
        match dir.conversation_name(c) {
            Some(name) => lines.push(format!("conversation {c} ({name}), whole")),
            None => lines.push(format!("conversation {c}, whole")),
        }
    }
    lines.push(format!(
        "{} message(s), {} media reference(s), {} orphan file(s)",
        plan.messages.len(),
        plan.references,
        plan.orphans
    ));
    lines.push(format!(
        "{} file(s) deleted ({}); {} kept, because a message that stays uses them",
        plan.contents_deleted,
        super::import::bytes(plan.bytes_deleted),
        plan.contents_shared
    ));
    if plan.names + plan.reactions + plan.events > 0 {
        lines.push(format!(
            "{} name sighting(s), {} reaction(s) and {} group event(s) of theirs",
            plan.names, plan.reactions, plan.events
        ));
    }
    Ok(lines)
}

fn print_report(
    vault: &Vault,
    what: &Forget,
    named: &str,
    lines: Vec<String>,
    report: &ForgetReport,
    global: &Global,
) -> Result<()> {
    let reach = dmvault::forget::out_of_reach(vault)?;
    let mut out = Out::new();
    if global.json {
        let c = &report.compacted;
        let v = serde_json::json!({
            "scope": what.scope(), "id": what.id(),
            "already_forgotten": report.already,
            "plan": (!report.already).then_some(&report.plan),
            "segments_before": c.segments_before, "segments_after": c.segments_after,
            "objects_deleted": c.objects_deleted,
            "out_of_reach": reach,
        });
        out.message("forgotten", &v)?;
        return Ok(());
    }
    if global.quiet {
        return Ok(());
    }
    if report.already {
        out.line(format_args!(
            "{named} was forgotten before: nothing is left to forget"
        ))?;
        return Ok(());
    }
    out.line(format_args!("forgot {named}:"))?;
    for line in lines {
        out.line(format_args!("  {line}"))?;
    }
    let c = &report.compacted;
    out.line(format_args!(
        "  catalog compacted ({} segment(s) written again as {}), {} object(s) deleted, index made anew",
        c.segments_before, c.segments_after, c.objects_deleted
    ))?;
    out.line("  an import of the same archives will not bring it back")?;
    out.line("dmvault cannot reach these; they may still hold it:")?;
    for r in reach {
        out.line(format_args!("  - {r}"))?;
    }
    Ok(())
}

fn list(vault: &Vault, global: &Global) -> Result<Code> {
    let all = vault.index.forgettings()?;
    let mut out = Out::new();
    if global.json {
        for f in &all {
            out.message("forgetting", f)?;
        }
        return Ok(Code::Ok);
    }
    if all.is_empty() {
        out.line("nothing was forgotten in this vault")?;
    }
    for f in &all {
        out.line(format_args!(
            "{}  {:<12}  {} message(s), {} file(s)",
            f.at, f.scope, f.messages, f.contents
        ))?;
    }
    Ok(Code::Ok)
}
