//! Temp files left behind by writes a crash cut short. A write goes to a temp file that names
//! its process (`<stem>.tmp-<pid>-<n>` beside the file it replaces, `.upload-<pid>-<n>.tmp`
//! among uploads) and is then renamed into place; a SIGKILL in between leaves the temp file,
//! and nothing else ever removes it. The stores sweep their directories when they open.
//!
//! A temp file is stale when the process that wrote it is gone (no `/proc/<pid>`), or when it
//! is older than [`MAX_AGE`] whoever has its pid now (a write takes milliseconds; an old temp
//! file is a dead writer's whose pid was reused). A fresh temp file of a live process is
//! never touched: the API and the runner may share a data dir and write at the same time.
//! Without procfs only the age counts. Processes sharing a data dir must share a pid
//! namespace, or a writer in another one could look dead.

use std::path::Path;
use std::time::Duration;

/// Far longer than any write takes, fsync included.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// Removes the stale temp files directly in `dir` (not below); returns how many. Best effort:
/// a file that cannot be inspected or removed stays, and is only logged.
pub(crate) fn sweep(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(writer_pid) else { continue };
        let Ok(meta) = entry.metadata() else { continue };
        // A modification time in the future counts as fresh.
        let age = meta.modified().ok().and_then(|t| t.elapsed().ok()).unwrap_or_default();
        if !meta.is_file() || (age <= MAX_AGE && alive(pid)) {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed += 1,
            Err(error) => tracing::warn!(path = %entry.path().display(), %error, "cannot remove a stale temp file"),
        }
    }
    if removed > 0 {
        tracing::info!(dir = %dir.display(), removed, "removed temp files of interrupted writes");
    }
    removed
}

/// The writer's pid, if `name` is a temp file: `<stem>.tmp-<pid>-<n>` or `.upload-<pid>-<n>.tmp`.
fn writer_pid(name: &str) -> Option<u32> {
    let tail = match name.strip_prefix(".upload-").and_then(|rest| rest.strip_suffix(".tmp")) {
        Some(tail) => tail,
        None => name.rsplit_once(".tmp-")?.1,
    };
    let (pid, n) = tail.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

fn alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_and_their_writers() {
        assert_eq!(writer_pid("run_ab-12.tmp-4321-7"), Some(4321));
        assert_eq!(writer_pid("commands_cursor.tmp-1-0"), Some(1));
        assert_eq!(writer_pid(".upload-99-3.tmp"), Some(99));
        for data in ["run_ab-12.json", "ledger_x.jsonl", "commands.jsonl", "a.tmp-1-2.json", "x.tmp-a-1", "x@1.flow"] {
            assert_eq!(writer_pid(data), None, "{data}");
        }
    }

    /// Above Linux's `PID_MAX_LIMIT` (2^22): never a live process.
    const DEAD: u32 = 4_194_305;

    #[test]
    fn opening_the_stores_removes_dead_writers_temp_files_only() {
        let temp = tempfile::tempdir().expect("tempdir");
        let data = temp.path();
        let live = std::process::id();
        let write = |path: &Path| {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
            std::fs::write(path, b"{}").expect("write");
        };
        let run_dir = data.join("artifacts/runs/r1");
        let uploads = data.join("bundles");
        let stale = [
            data.join(format!("run_r1.tmp-{DEAD}-0")),
            data.join(format!("commands_cursor.tmp-{DEAD}-1")),
            data.join(format!("artifacts/blobs/abc.tmp-{DEAD}-2")),
            run_dir.join(format!("a1.tmp-{DEAD}-3")),
            uploads.join(format!(".upload-{DEAD}-4.tmp")),
        ];
        let old = data.join(format!("run_r2.tmp-{live}-5"));
        let kept = [
            data.join(format!("run_r3.tmp-{live}-6")),
            run_dir.join(format!("a2.tmp-{live}-7")),
            uploads.join(format!(".upload-{live}-8.tmp")),
            data.join("run_r1.json"),
            data.join("ledger_r1.jsonl"),
            data.join("commands.jsonl"),
            data.join("artifacts/blobs/abc.bin"),
            run_dir.join("a1.json"),
            uploads.join("x@1.0.0.flow"),
        ];
        for path in stale.iter().chain(kept.iter()).chain([&old]) {
            write(path);
        }
        // A live pid on a file older than any write: the pid was reused.
        let file = std::fs::File::options().write(true).open(&old).expect("open");
        file.set_modified(std::time::SystemTime::now() - MAX_AGE - Duration::from_secs(60)).expect("mtime");
        drop(file);

        crate::FileStore::open(data).expect("file store");
        crate::ArtifactStore::open(data.join("artifacts")).expect("artifact store");
        let sources = crate::BundleSources {
            uploads_dir: uploads,
            roots: Vec::new(),
            embedded: &[],
            limits: agw_domain::bundle::BundleLimits::default(),
            sync: false,
        };
        let _ = sources.load();

        for path in stale.iter().chain([&old]) {
            assert!(!path.exists(), "{} should be gone", path.display());
        }
        for path in &kept {
            assert!(path.exists(), "{} should be kept", path.display());
        }
    }
}
