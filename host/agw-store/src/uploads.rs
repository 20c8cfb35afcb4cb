//! Installing uploaded bundles into `<data>/bundles/`.
//!
//! An upload is validated completely (zip limits, paths, manifest, flows) before a byte is
//! written, then written to a temp file in the same directory and moved into place, so the
//! catalog never reads half a bundle and a refused upload leaves nothing behind.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use agw_domain::bundle::{Bundle, BundleError};

use crate::bundles::{BundleCatalog, BundleSources};

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Not a valid bundle; nothing was written.
    #[error("{0}")]
    Invalid(#[from] BundleError),
    /// `id@version` is installed and `overwrite` was not asked for; names the file.
    #[error("Bundle already installed: {0}")]
    AlreadyInstalled(String),
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl UploadError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }
}

/// A bundle written to the uploads directory.
#[derive(Debug, Clone)]
pub struct Installed {
    pub bundle: Bundle,
    pub path: PathBuf,
}

/// Validates `bytes` as a `.flow` bundle and stores it as `<uploads>/<id>@<version>.flow`.
///
/// Without `overwrite`, a bundle whose `id@version` is in `catalog` or already in the uploads
/// directory is refused. Blocking (writes files).
pub fn install_upload(
    sources: &BundleSources,
    catalog: &BundleCatalog,
    bytes: &[u8],
    overwrite: bool,
) -> Result<Installed, UploadError> {
    let bundle = Bundle::from_zip(bytes, &sources.limits)?;
    // The manifest's ids are plain (letters, digits, `-_.+`, no leading dot), so this is a
    // file name and never a path; the check below keeps it that way.
    let file_name = format!("{}.flow", bundle.bundle_ref());
    if file_name.contains(['/', '\\']) || file_name.starts_with('.') {
        return Err(BundleError::UnsafePath(file_name).into());
    }
    let dest = sources.uploads_dir.join(&file_name);
    let installed = catalog.get(&bundle.manifest.bundle_id, Some(&bundle.manifest.bundle_version)).is_some();
    if !overwrite && (installed || dest.exists()) {
        return Err(UploadError::AlreadyInstalled(file_name));
    }

    let dir = &sources.uploads_dir;
    std::fs::create_dir_all(dir).map_err(|e| UploadError::io(dir, e))?;
    let tmp = temp_path(dir);
    let written = write_temp(&tmp, bytes, sources.sync).and_then(|()| {
        if overwrite {
            std::fs::rename(&tmp, &dest).map_err(|e| UploadError::io(&dest, e))
        } else {
            // A hard link fails if the name exists: two uploads racing for one name cannot
            // both win, and neither replaces the other.
            std::fs::hard_link(&tmp, &dest).map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => UploadError::AlreadyInstalled(file_name.clone()),
                _ => UploadError::io(&dest, e),
            })
        }
    });
    // After a rename the temp name is gone already; after a link or a failure it must go.
    let _ = std::fs::remove_file(&tmp);
    written?;
    if sources.sync {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| UploadError::io(dir, e))?;
    }
    tracing::info!(bundle = %bundle.bundle_ref(), path = %dest.display(), "bundle uploaded");
    Ok(Installed { bundle, path: dest })
}

/// A hidden name without the `.flow` extension, so a scan never loads it.
fn temp_path(dir: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!(".upload-{}-{n}.tmp", std::process::id()))
}

fn write_temp(path: &Path, bytes: &[u8], sync: bool) -> Result<(), UploadError> {
    let io = |e| UploadError::io(path, e);
    let mut file = std::fs::File::create(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    if sync {
        file.sync_data().map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use agw_domain::bundle::{BundleLimits, pack_zip};

    use super::*;

    fn packed(id: &str, version: &str) -> Vec<u8> {
        let manifest = format!(
            r#"{{"bundle_format_version":"1","bundle_id":"{id}","bundle_version":"{version}",
                "entrypoints":[{{"flow_id":"main"}}],"flows":{{"main":"flows/main.json"}}}}"#
        );
        let files = BTreeMap::from([
            ("manifest.json".to_owned(), manifest.into_bytes()),
            ("flows/main.json".to_owned(), br#"{"id":"main","nodes":[],"edges":[]}"#.to_vec()),
        ]);
        pack_zip(&files).expect("pack")
    }

    fn sources(dir: &Path) -> BundleSources {
        BundleSources {
            uploads_dir: dir.join("bundles"),
            roots: vec![dir.join("flows")],
            embedded: &[],
            limits: BundleLimits::default(),
            sync: false,
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        let mut names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn upload_is_stored_by_ref_and_loaded_first() {
        let temp = tempfile::tempdir().expect("temp");
        let sources = sources(temp.path());
        std::fs::create_dir_all(temp.path().join("flows")).expect("flows");
        std::fs::write(temp.path().join("flows/x@1.0.0.flow"), packed("x", "1.0.0")).expect("seed");
        let catalog = sources.load().expect("load");

        let err = install_upload(&sources, &catalog, &packed("x", "1.0.0"), false).unwrap_err();
        assert_eq!(err.to_string(), "Bundle already installed: x@1.0.0.flow");
        assert!(names(&sources.uploads_dir).is_empty());

        let installed = install_upload(&sources, &catalog, &packed("x", "1.0.0"), true).expect("overwrite");
        assert_eq!(installed.path, sources.uploads_dir.join("x@1.0.0.flow"));
        let reloaded = sources.load().expect("reload");
        let served = reloaded.get("x", Some("1.0.0")).expect("served");
        assert_eq!(served.path, installed.path, "the upload wins over the flows dir copy");
        assert_eq!(reloaded.skipped.len(), 1);

        install_upload(&sources, &reloaded, &packed("x", "2.0.0"), false).expect("new version");
        assert_eq!(names(&sources.uploads_dir), ["x@1.0.0.flow", "x@2.0.0.flow"]);
        let again = install_upload(&sources, &catalog, &packed("x", "2.0.0"), false).unwrap_err();
        assert!(matches!(again, UploadError::AlreadyInstalled(_)), "a file on disk counts even before a reload");
    }

    #[test]
    fn invalid_uploads_write_nothing() {
        let temp = tempfile::tempdir().expect("temp");
        let mut sources = sources(temp.path());
        sources.limits = BundleLimits { max_entries: 10, max_total_bytes: 64 * 1024, ..BundleLimits::default() };
        let catalog = BundleCatalog::default();
        let err = install_upload(&sources, &catalog, b"not a zip", false).unwrap_err();
        assert!(matches!(err, UploadError::Invalid(BundleError::NotAZip(_))), "{err:?}");

        let zeros = vec![0u8; 1024 * 1024];
        let mut files = BTreeMap::from([("assets/zeros.bin".to_owned(), zeros)]);
        files.insert("manifest.json".into(), b"{}".to_vec());
        let bomb = pack_zip(&files).expect("pack");
        let err = install_upload(&sources, &catalog, &bomb, false).unwrap_err();
        assert!(matches!(err, UploadError::Invalid(BundleError::TooLarge { .. })), "{err:?}");
        assert!(names(&sources.uploads_dir).is_empty());
    }
}
