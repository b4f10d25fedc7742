//! `dmvault view`: the local web viewer.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::Result;
use clap::Args;
use dmvault::view::{ViewOptions, Viewer};

use super::{unlock, Global, VaultArgs};
use crate::exit::Code;
use crate::output::Out;

#[derive(Debug, Args)]
pub struct ViewArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The port on 127.0.0.1 [default: a free one].
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub port: u16,
    /// Do not open a browser; only print the URL.
    #[arg(long)]
    pub no_open: bool,
}

pub fn run(args: &ViewArgs, global: &Global) -> Result<Code> {
    let vault = unlock::open_unmerged(&args.vault, global)?;
    let opts = ViewOptions {
        port: args.port,
        ..ViewOptions::default()
    };
    let viewer = Viewer::bind(&opts)?;
    let url = viewer.url();
    let mut out = Out::new();
    // The first line: scripts and tests read the URL from it.
    if global.json {
        out.message("listening", &serde_json::json!({ "url": url }))?;
    } else {
        out.line(format_args!("{url}"))?;
        if !global.quiet {
            out.line(format_args!(
                "dmvault is serving the vault on 127.0.0.1:{} (only to this computer; the URL above carries the key to it). Ctrl-C stops it.",
                viewer.port()
            ))?;
        }
    }
    let opened = (!args.no_open && has_desktop()).then(|| open_browser(&url));
    if let Some(Err(e)) = &opened {
        crate::report_warning(
            &format!("could not open a browser ({e}); open the URL above"),
            global.json,
        );
    }
    let served = viewer.serve(&vault, &opts, &crate::CANCEL);
    if let Some(Ok(file)) = opened {
        let _ = std::fs::remove_file(file);
    }
    served?;
    if crate::CANCEL.load(Ordering::Relaxed) && !global.quiet && !global.json {
        out.line("stopped")?;
    }
    Ok(Code::Ok)
}

fn has_desktop() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Opens the browser on a 0600 file that redirects to the URL, so that the
/// token never appears on a command line (where other users could see it),
/// as Jupyter does. The file is removed when the server stops.
fn open_browser(url: &str) -> std::io::Result<PathBuf> {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let mut name = [0u8; 8];
    getrandom::fill(&mut name).map_err(|e| std::io::Error::other(e.to_string()))?;
    let path = dir.join(format!(
        "dmvault-view-{}.html",
        name.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    let page = format!(
        "<!DOCTYPE html><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={url}\"><title>dmvault</title><a href=\"{url}\">Open the vault</a>\n"
    );
    dmvault::vault::fsutil::write_new_private(&path, page.as_bytes())?;
    let mut child = std::process::Command::new("xdg-open")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    let _ = std::io::stdout().flush();
    Ok(path)
}
