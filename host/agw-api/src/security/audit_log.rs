//! The audit log file: lines are handed to a writer thread over a bounded channel, so a
//! request never waits on the disk, and the file is rotated by size as the reference does it
//! (`audit_log.<UTC timestamp>.jsonl`, the newest `AUDIT_LOG_ROTATIONS` kept).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Lines waiting for the disk before new ones are dropped (and the drop is logged).
const QUEUE: usize = 8192;
/// Lines written per open of the file.
const BATCH: usize = 512;

pub(super) struct AuditLog {
    lines: SyncSender<String>,
    dropped: AtomicU64,
}

impl AuditLog {
    /// Starts the writer thread for `path`. `None` (logged) when the thread cannot start.
    pub fn start(path: PathBuf, max_bytes: u64, rotations: usize) -> Option<Self> {
        let (lines, queue) = sync_channel(QUEUE);
        let writer = Writer { path, max_bytes, rotations };
        match std::thread::Builder::new().name("agw-audit".into()).spawn(move || writer.run(queue)) {
            Ok(_) => Some(Self { lines, dropped: AtomicU64::new(0) }),
            Err(error) => {
                tracing::error!(%error, "cannot start the audit log writer; audit log disabled");
                None
            }
        }
    }

    /// Queues one line (without its newline). Never blocks: when the disk cannot keep up
    /// the line is dropped and counted.
    pub fn append(&self, mut line: String) {
        line.push('\n');
        match self.lines.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(dropped, "audit log queue full; lines dropped");
                }
            }
            Err(TrySendError::Disconnected(_)) => tracing::error!("audit log writer is gone"),
        }
    }
}

struct Writer {
    path: PathBuf,
    max_bytes: u64,
    rotations: usize,
}

impl Writer {
    /// Writes until every sender is gone (the server stopped), then returns.
    fn run(self, queue: Receiver<String>) {
        while let Ok(first) = queue.recv() {
            let mut batch = vec![first];
            batch.extend(queue.try_iter().take(BATCH - 1));
            if let Err(error) = self.write(&batch) {
                tracing::error!(path = %self.path.display(), %error, lines = batch.len(), "cannot write the audit log");
            }
        }
    }

    fn write(&self, lines: &[String]) -> io::Result<()> {
        let (mut file, mut size) = self.open()?;
        for line in lines {
            if self.max_bytes > 0 && size >= self.max_bytes {
                drop(file);
                self.rotate()?;
                (file, size) = self.open()?;
            }
            // One write per line with O_APPEND: lines of several processes never interleave.
            file.write_all(line.as_bytes())?;
            size += line.len() as u64;
        }
        Ok(())
    }

    fn open(&self) -> io::Result<(File, u64)> {
        let file = OpenOptions::new().create(true).append(true).mode(0o600).open(&self.path)?;
        let size = file.metadata()?.len();
        Ok((file, size))
    }

    /// Renames the full file aside and deletes the oldest rotated files beyond `rotations`.
    fn rotate(&self) -> io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let target = loop {
            let stamp = agw_domain::env::iso(chrono::Utc::now()).replace([':', '-'], "");
            let target = dir.join(format!("audit_log.{stamp}.jsonl"));
            if !target.exists() {
                break target;
            }
            // Two rotations within one microsecond: the next stamp keeps the names in order.
            std::thread::sleep(std::time::Duration::from_micros(1));
        };
        std::fs::rename(&self.path, &target)?;
        let mut rotated: Vec<String> = std::fs::read_dir(dir)?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| name.starts_with("audit_log.") && name.ends_with(".jsonl") && name != "audit_log.jsonl")
            .collect();
        // The timestamps sort by name; newest first.
        rotated.sort_unstable_by(|a, b| b.cmp(a));
        for old in rotated.iter().skip(self.rotations) {
            if let Err(error) = std::fs::remove_file(dir.join(old)) {
                tracing::warn!(file = %old, %error, "cannot delete an old audit log");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_the_newest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let writer = Writer { path: dir.path().join("audit_log.jsonl"), max_bytes: 1, rotations: 2 };
        for i in 0..5 {
            writer.write(&[format!("{{\"n\":{i}}}\n")]).expect("write");
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        assert_eq!(names.len(), 3, "the live file and two rotations: {names:?}");
        assert_eq!(std::fs::read_to_string(dir.path().join("audit_log.jsonl")).expect("live"), "{\"n\":4}\n");
        let newest = names.iter().filter(|n| *n != "audit_log.jsonl").max().expect("rotated");
        assert_eq!(std::fs::read_to_string(dir.path().join(newest)).expect("rotated"), "{\"n\":3}\n");
    }
}
