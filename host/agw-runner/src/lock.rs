//! `gateway_runner.lock`: one runner per data dir.
//!
//! The lock is an OS advisory lock (flock) on the file, so a killed runner's lock is released
//! by the kernel and the next runner takes over; the pid inside is only informational.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another runner holds {path} (pid {holder}); only one runner may work on a data dir")]
    Held { path: String, holder: String },
    #[error("cannot open runner lock {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Held for as long as the runner works on the data dir.
#[derive(Debug)]
pub struct RunnerLock {
    _file: File,
    path: PathBuf,
}

impl RunnerLock {
    /// Takes the runner lock of `data_dir`, or says who holds it.
    pub fn acquire(data_dir: &agw_app::DataDir) -> Result<Self, LockError> {
        let path = data_dir.runner_lock();
        let io = |source| LockError::Io { path: path.display().to_string(), source };
        let mut file =
            OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default().trim().to_owned();
                return Err(LockError::Held { path: path.display().to_string(), holder });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_runner_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = RunnerLock::acquire(&agw_app::DataDir::new(dir.path())).expect("first");
        let err = RunnerLock::acquire(&agw_app::DataDir::new(dir.path())).unwrap_err();
        assert!(err.to_string().contains(&std::process::id().to_string()), "{err}");
        drop(first);
        RunnerLock::acquire(&agw_app::DataDir::new(dir.path())).expect("taken over after release");
    }
}
