//! Where a database may live: inside its data dir, so one environment's state is never
//! wired into another's by a stray `ABSTRACTGATEWAY_DB_PATH`.

use std::path::{Path, PathBuf};

/// Why a database path was refused.
#[derive(Debug, thiserror::Error)]
pub enum DbPathError {
    #[error(
        "database path {db} (resolved to {resolved}) is outside the data dir {data_dir} (resolved to {data_resolved}); \
         put the database inside the data dir"
    )]
    Outside { db: String, resolved: String, data_dir: String, data_resolved: String },
    #[error("cannot resolve {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// `db_path` with symlinks and `..` resolved, if it lies inside `data_dir` (which must
/// exist); the file itself and missing parent folders need not exist yet.
pub fn db_path_inside(data_dir: &Path, db_path: &Path) -> Result<PathBuf, DbPathError> {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DbPathError {
        let path = path.display().to_string();
        move |source| DbPathError::Io { path, source }
    }
    let data = data_dir.canonicalize().map_err(io(data_dir))?;
    let resolved = resolve(db_path).map_err(io(db_path))?;
    if resolved.starts_with(&data) && resolved != data {
        return Ok(resolved);
    }
    Err(DbPathError::Outside {
        db: db_path.display().to_string(),
        resolved: resolved.display().to_string(),
        data_dir: data_dir.display().to_string(),
        data_resolved: data.display().to_string(),
    })
}

/// Canonicalizes the longest existing ancestor of `path` and appends the rest, which must
/// be plain names (a `..` after a missing folder cannot be resolved honestly).
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(mut resolved) => {
                resolved.extend(rest.iter().rev());
                return Ok(resolved);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (Some(name), Some(parent)) = (existing.file_name(), existing.parent()) else {
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"));
                };
                if name == ".." {
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "'..' after a missing folder"));
                }
                rest.push(name);
                existing = parent;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_outside_and_sneaky_paths() {
        let temp = tempfile::tempdir().expect("tempdir");
        let data = temp.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let inside = db_path_inside(&data, &data.join("sub/gateway.sqlite3")).expect("inside");
        assert!(inside.ends_with("data/sub/gateway.sqlite3"), "{}", inside.display());
        for outside in [
            temp.path().join("gateway.sqlite3"),
            data.join("../gateway.sqlite3"),
            temp.path().join("data2/gateway.sqlite3"),
            data.clone(),
        ] {
            let error = db_path_inside(&data, &outside).expect_err("outside");
            let text = error.to_string();
            assert!(text.contains("outside the data dir") && text.contains(&data.display().to_string()), "{text}");
        }
        // A symlink inside the data dir that points out of it is outside.
        let elsewhere = temp.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).expect("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, data.join("link")).expect("symlink");
        assert!(db_path_inside(&data, &data.join("link/gateway.sqlite3")).is_err());
    }
}
