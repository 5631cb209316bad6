//! The live progress line on an interactive terminal: rows and bytes scanned and time elapsed,
//! shown once a statement has run for about a second, redrawn in place on stderr and erased when
//! the statement ends. Never written to a pipe or a file.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::outcome::ProgressSnapshot;

/// Reads a running statement's progress now.
pub type ReadProgress = Arc<dyn Fn() -> ProgressSnapshot + Send + Sync>;

/// How long a statement runs before progress shows; `LAKESHELL_PROGRESS_DELAY_MS` overrides it
/// (tests set it to 0 so they need no slow query).
fn delay() -> Duration {
    std::env::var("LAKESHELL_PROGRESS_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(1))
}

/// A running progress line; [`ProgressLine::finish`] erases it.
pub struct ProgressLine {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Human-readable byte count.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The progress text for one reading.
pub fn line(s: &ProgressSnapshot) -> String {
    if let Some(task) = &s.task {
        return format!("{task}, {:.1} s  (Ctrl-C cancels)", s.elapsed.as_secs_f64());
    }
    format!(
        "{} rows, {} scanned, {:.1} s  (Ctrl-C cancels)",
        s.rows_scanned,
        human_bytes(s.bytes_scanned),
        s.elapsed.as_secs_f64()
    )
}

impl ProgressLine {
    /// Starts a progress line that shows `read()` when stderr is a terminal and `enabled`;
    /// otherwise a no-op handle.
    pub fn start(read: ReadProgress, enabled: bool) -> Self {
        if !enabled || !std::io::stderr().is_terminal() {
            return ProgressLine {
                stop: None,
                task: None,
            };
        }
        let (tx, mut rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(delay()) => {}
                _ = &mut rx => return,
            }
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let mut err = std::io::stderr();
                        let _ = write!(err, "\r\x1b[2K{}", line(&read()));
                        let _ = err.flush();
                    }
                    _ = &mut rx => {
                        let mut err = std::io::stderr();
                        let _ = write!(err, "\r\x1b[2K");
                        let _ = err.flush();
                        return;
                    }
                }
            }
        });
        ProgressLine {
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops and erases the line.
    pub async fn finish(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
