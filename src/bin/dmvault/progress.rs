//! Progress bars on the terminal (indicatif), implementing the library's
//! [`dmvault::progress::Progress`].

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Draws one bar per phase on stderr.
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
    prefix: String,
}

impl Bars {
    /// Bars whose lines start with `prefix` (e.g. the archive's name).
    pub fn new(prefix: impl Into<String>) -> Bars {
        Bars {
            bar: Mutex::new(None),
            prefix: crate::output::clean(&prefix.into()).into_owned(),
        }
    }
}

impl Bars {
    fn start(&self, name: &str, total: Option<u64>, counts: &str) {
        let mut slot = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = slot.take() {
            old.finish_and_clear();
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t).with_style(
                ProgressStyle::with_template(&format!(
                    "{{prefix}} {{msg}} [{{bar:30}}] {counts} eta {{eta}}"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner(),
        };
        bar.set_prefix(self.prefix.clone());
        bar.set_message(name.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        *slot = Some(bar);
    }
}

impl dmvault::progress::Progress for Bars {
    fn phase(&self, name: &str, total: Option<u64>) {
        self.start(name, total, "{bytes}/{total_bytes} {bytes_per_sec}");
    }

    fn phase_items(&self, name: &str, total: Option<u64>) {
        self.start(name, total, "{pos}/{len}");
    }

    fn advance(&self, n: u64) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            b.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            b.finish_and_clear();
        }
    }
}

/// Bars on a terminal (unless --json, --quiet or --no-progress), nothing otherwise.
pub fn for_command(
    global: &crate::cli::Global,
    prefix: &str,
) -> Box<dyn dmvault::progress::Progress> {
    if crate::show_progress(global) {
        Box::new(Bars::new(prefix))
    } else {
        Box::new(dmvault::progress::Quiet)
    }
}
