//! Progress display for long work: a bar with ETA on a terminal for work longer than two
//! seconds; nothing at all with `--json` or when stderr is not a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use std::sync::OnceLock;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// All bars share one terminal area, so runs made in parallel each keep their own line.
fn multi() -> &'static MultiProgress {
    static M: OnceLock<MultiProgress> = OnceLock::new();
    M.get_or_init(MultiProgress::new)
}

/// A progress indicator that may be disabled.
pub struct Progress {
    bar: Option<ProgressBar>,
    expected: Duration,
    message: String,
}

impl Progress {
    /// A bar for work expected to take `expected` (an estimate) with a message.
    pub fn new(message: &str, expected: Duration, json: bool) -> Progress {
        let enabled = !json && std::io::stderr().is_terminal() && expected > Duration::from_secs(2);
        let bar = enabled.then(|| {
            let bar = multi().add(ProgressBar::new(expected.as_millis() as u64));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:30}] {elapsed}/~{duration} (ETA {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(message.to_string());
            bar
        });
        Progress {
            bar,
            expected,
            message: message.to_string(),
        }
    }

    /// Whether a bar is shown (what feeds [`Progress::note`] can skip its work when not).
    pub fn shown(&self) -> bool {
        self.bar.is_some()
    }

    /// Adds where the work stands to the message (`Bare metal ... — 12 records, largest 3 µs`).
    pub fn note(&self, text: &str) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{} — {text}", self.message));
        }
    }

    /// Updates with the elapsed wall time.
    pub fn tick(&self, elapsed: Duration) {
        if let Some(b) = &self.bar {
            let ms = elapsed.as_millis() as u64;
            if ms > b.length().unwrap_or(0) {
                // Slower than estimated: stretch the bar rather than sit at 100 %.
                b.set_length(ms + self.expected.as_millis() as u64 / 10);
            }
            b.set_position(ms);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
