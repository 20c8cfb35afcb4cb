//! The run's workspace directory, mounted at `/workspace` when the operator grants it.
//!
//! The gateway mounts only the current run's workspace, read-only or read-write as granted;
//! nothing else of the host's filesystem is visible, and `..` or symlinks cannot leave it. Use
//! paths relative to the workspace: [`path`] joins them under `/workspace` and rejects
//! absolute paths and `..` with a clear error before the filesystem is touched. Plain
//! `std::fs` works too, with absolute `/workspace/...` paths (relative paths resolve
//! against `/`, which is not mounted).
//!
//! Without a grant there is no `/workspace` at all and every call fails with "not found";
//! with a read-only grant, writes fail with "permission denied".

use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Where the workspace is mounted inside the plugin.
pub const ROOT: &str = "/workspace";

/// A workspace path or file operation that failed.
#[derive(Debug)]
pub enum WorkspaceError {
    /// The path is absolute, contains `..`, or is otherwise not a plain relative path.
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The file operation failed.
    Io {
        /// What was being done (`read`, `write`, `list`...).
        op: &'static str,
        /// The full path inside the plugin (`/workspace/...`).
        path: PathBuf,
        /// The underlying error.
        error: io::Error,
    },
}

impl fmt::Display for WorkspaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPath { path, reason } => write!(f, "workspace path '{path}' is not allowed: {reason}"),
            Self::Io { op, path, error } => {
                write!(f, "cannot {op} {}: {error}", path.display())?;
                match error.kind() {
                    io::ErrorKind::PermissionDenied => f.write_str(" (is the workspace granted read-write?)"),
                    io::ErrorKind::NotFound if !Path::new(ROOT).exists() => {
                        f.write_str(" (no workspace is granted to this plugin)")
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for WorkspaceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidPath { .. } => None,
            Self::Io { error, .. } => Some(error),
        }
    }
}

/// `/workspace/<relative>`, after checking that `relative` stays inside the workspace: no
/// absolute path, no `..`. An empty path or `.` is the workspace itself.
///
/// ```
/// use abstractgateway_sdk::workspace;
///
/// assert_eq!(workspace::path("notes/todo.md").unwrap(), std::path::Path::new("/workspace/notes/todo.md"));
/// assert!(workspace::path("../etc/passwd").is_err());
/// assert!(workspace::path("/etc/passwd").is_err());
/// ```
pub fn path(relative: &str) -> Result<PathBuf, WorkspaceError> {
    let invalid = |reason| WorkspaceError::InvalidPath { path: relative.to_owned(), reason };
    let mut full = PathBuf::from(ROOT);
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) => full.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(invalid("'..' would leave the workspace")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(invalid("use a path relative to the workspace, not an absolute one"));
            }
        }
    }
    if relative.contains('\0') {
        return Err(invalid("contains a NUL byte"));
    }
    Ok(full)
}

fn io_err(op: &'static str, path: PathBuf) -> impl FnOnce(io::Error) -> WorkspaceError {
    move |error| WorkspaceError::Io { op, path, error }
}

/// Reads a workspace file as bytes.
pub fn read(relative: &str) -> Result<Vec<u8>, WorkspaceError> {
    let full = path(relative)?;
    std::fs::read(&full).map_err(io_err("read", full))
}

/// Reads a workspace file as UTF-8 text.
pub fn read_to_string(relative: &str) -> Result<String, WorkspaceError> {
    let full = path(relative)?;
    std::fs::read_to_string(&full).map_err(io_err("read", full))
}

/// Writes a workspace file, creating missing parent directories and replacing an existing
/// file. Needs a read-write grant.
pub fn write(relative: &str, contents: impl AsRef<[u8]>) -> Result<(), WorkspaceError> {
    let full = path(relative)?;
    if let Some(parent) = full.parent().filter(|p| *p != Path::new(ROOT)) {
        std::fs::create_dir_all(parent).map_err(io_err("create directory", parent.to_owned()))?;
    }
    std::fs::write(&full, contents).map_err(io_err("write", full))
}

/// The names of the entries of a workspace directory, sorted.
pub fn list(relative: &str) -> Result<Vec<String>, WorkspaceError> {
    let full = path(relative)?;
    let entries = std::fs::read_dir(&full).map_err(io_err("list", full.clone()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("list", full.clone()))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Whether a workspace file or directory exists (false for an invalid path).
pub fn exists(relative: &str) -> bool {
    path(relative).is_ok_and(|p| p.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_relative_paths() {
        assert_eq!(path("a/b.txt").unwrap(), Path::new("/workspace/a/b.txt"));
        assert_eq!(path("./a//b").unwrap(), Path::new("/workspace/a/b"));
        assert_eq!(path("").unwrap(), Path::new("/workspace"));
    }

    #[test]
    fn rejects_escapes_early() {
        for bad in ["..", "a/../../b", "a/..", "/etc/passwd", "/workspace/a"] {
            let err = path(bad).unwrap_err();
            assert!(matches!(err, WorkspaceError::InvalidPath { .. }), "{bad}: {err}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
