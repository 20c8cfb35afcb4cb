//! The bundle catalog: every `.flow` (zip or directory) found in the flows directory and the
//! uploads directory, newest version first per bundle id.
//!
//! A bundle that fails to load is skipped with its file and reason recorded, never fatal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agw_domain::bundle::{Bundle, BundleError, BundleLimits};

/// A bundle and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedBundle {
    pub bundle: Bundle,
    pub path: PathBuf,
    /// When the file was last modified, ISO 8601; the manifest's `created_at` wins.
    pub created_at: String,
}

/// A file that was not loaded, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedBundle {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read flows directory {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Where the catalog's bundles come from, so it can be rebuilt while the gateway runs.
#[derive(Debug, Clone)]
pub struct BundleSources {
    /// Bundles uploaded over HTTP (`<data>/bundles`). Loaded first, so an upload with
    /// `overwrite` replaces a bundle of the same `id@version` found elsewhere.
    pub uploads_dir: PathBuf,
    /// The operator's flows directory (or `.flow` file), never written to.
    pub roots: Vec<PathBuf>,
    /// Packed bundles built into the binary, as (file name, bytes).
    pub embedded: &'static [(&'static str, &'static [u8])],
    pub limits: BundleLimits,
    /// fsync uploads before they count.
    pub sync: bool,
}

impl BundleSources {
    /// Reads every source now.
    pub fn load(&self) -> Result<BundleCatalog, CatalogError> {
        let mut roots = Vec::with_capacity(self.roots.len() + 1);
        roots.push(self.uploads_dir.clone());
        roots.extend(self.roots.iter().cloned());
        BundleCatalog::load(&roots, self.embedded, &self.limits)
    }
}

/// The current catalog, swapped whole on reload so readers never see half of one.
#[derive(Debug, Default, Clone)]
pub struct SharedCatalog {
    current: Arc<std::sync::RwLock<Arc<BundleCatalog>>>,
    /// Serializes reloads, so a slow scan never replaces a newer one.
    reloading: Arc<std::sync::Mutex<()>>,
}

impl SharedCatalog {
    pub fn new(catalog: BundleCatalog) -> Self {
        Self { current: Arc::new(std::sync::RwLock::new(Arc::new(catalog))), reloading: Arc::default() }
    }

    pub fn get(&self) -> Arc<BundleCatalog> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn replace(&self, catalog: BundleCatalog) {
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(catalog);
    }

    /// Rescans `sources` and swaps the result in; readers keep the old catalog until then.
    /// Blocking (reads files).
    pub fn reload(&self, sources: &BundleSources) -> Result<Arc<BundleCatalog>, CatalogError> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let catalog = Arc::new(sources.load()?);
        for skipped in &catalog.skipped {
            tracing::warn!(path = %skipped.path, reason = %skipped.reason, "bundle skipped");
        }
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = catalog.clone();
        Ok(catalog)
    }
}

/// Loaded bundles, immutable once built; reloads build a new catalog.
#[derive(Debug, Default, Clone)]
pub struct BundleCatalog {
    /// bundle id → versions, newest first.
    bundles: BTreeMap<String, Vec<Arc<LoadedBundle>>>,
    pub skipped: Vec<SkippedBundle>,
}

impl BundleCatalog {
    /// Loads every bundle under `roots` (each a `.flow` file, a directory bundle, or a folder
    /// of them), then `embedded` packed bundles given as (name, bytes). When two files hold the
    /// same `id@version`, the first one loaded wins and the other is listed as skipped.
    pub fn load(roots: &[PathBuf], embedded: &[(&str, &[u8])], limits: &BundleLimits) -> Result<Self, CatalogError> {
        let mut catalog = Self::default();
        for root in roots {
            if !root.exists() {
                continue;
            }
            if is_bundle(root) {
                catalog.add_path(root, limits);
                continue;
            }
            let entries = std::fs::read_dir(root)
                .map_err(|source| CatalogError::Io { path: root.display().to_string(), source })?;
            let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| is_bundle(p)).collect();
            paths.sort();
            for path in paths {
                catalog.add_path(&path, limits);
            }
        }
        for (name, bytes) in embedded {
            let path = PathBuf::from(format!("<built-in>/{name}"));
            let bundle = Bundle::from_zip(bytes, limits).map_err(|e| e.to_string());
            catalog.add(&path, bundle, "2026-01-01T00:00:00.000000+00:00".into());
        }
        for versions in catalog.bundles.values_mut() {
            versions
                .sort_by(|a, b| compare_versions(&b.bundle.manifest.bundle_version, &a.bundle.manifest.bundle_version));
        }
        Ok(catalog)
    }

    fn add_path(&mut self, path: &Path, limits: &BundleLimits) {
        self.add(path, read_bundle(path, limits), modified_iso(path));
    }

    fn add(&mut self, path: &Path, bundle: Result<Bundle, String>, modified: String) {
        match bundle {
            Ok(bundle) => {
                let id = bundle.manifest.bundle_id.clone();
                let versions = self.bundles.entry(id).or_default();
                if versions.iter().any(|b| b.bundle.manifest.bundle_version == bundle.manifest.bundle_version) {
                    self.skipped.push(SkippedBundle {
                        path: path.display().to_string(),
                        reason: format!("duplicate of {} already loaded", bundle.bundle_ref()),
                    });
                    return;
                }
                let created_at = bundle.manifest.created_at.clone().unwrap_or(modified);
                versions.push(Arc::new(LoadedBundle { bundle, path: path.to_owned(), created_at }));
            }
            Err(reason) => {
                tracing::warn!(path = %path.display(), %reason, "skipping bundle");
                self.skipped.push(SkippedBundle { path: path.display().to_string(), reason });
            }
        }
    }

    /// The newest version of every bundle, ordered by id.
    pub fn latest(&self) -> impl Iterator<Item = &Arc<LoadedBundle>> {
        self.bundles.values().filter_map(|v| v.first())
    }

    /// Every loaded version of every bundle, by id then newest first.
    pub fn all(&self) -> impl Iterator<Item = &Arc<LoadedBundle>> {
        self.bundles.values().flatten()
    }

    /// One bundle; `version` `None` means the newest.
    pub fn get(&self, bundle_id: &str, version: Option<&str>) -> Option<&Arc<LoadedBundle>> {
        let versions = self.bundles.get(bundle_id)?;
        match version {
            None => versions.first(),
            Some(v) => versions.iter().find(|b| b.bundle.manifest.bundle_version == v),
        }
    }
}

fn is_bundle(path: &Path) -> bool {
    (path.is_file() && path.extension().is_some_and(|e| e == "flow")) || path.join("manifest.json").is_file()
}

fn read_bundle(path: &Path, limits: &BundleLimits) -> Result<Bundle, String> {
    if path.is_dir() {
        let mut files = BTreeMap::new();
        collect_dir(path, path, &mut files, &mut 0, limits)?;
        return Bundle::from_files(files, limits).map_err(|e| e.to_string());
    }
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > limits.max_total_bytes {
        return Err(BundleError::TooLarge { limit: limits.max_total_bytes }.to_string());
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    Bundle::from_zip(&bytes, limits).map_err(|e| e.to_string())
}

/// Reads a directory bundle. Symlinks are not followed: a bundle cannot reach outside itself.
/// `total` counts the bytes read so far, so an oversized file is refused before it is read.
fn collect_dir(
    root: &Path,
    dir: &Path,
    files: &mut BTreeMap<String, Vec<u8>>,
    total: &mut u64,
    limits: &BundleLimits,
) -> Result<(), String> {
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())?.flatten() {
        let kind = entry.file_type().map_err(|e| e.to_string())?;
        let path = entry.path();
        if kind.is_dir() {
            collect_dir(root, &path, files, total, limits)?;
        } else if kind.is_file() {
            if files.len() >= limits.max_entries {
                return Err(BundleError::TooManyEntries { limit: limits.max_entries }.to_string());
            }
            *total = total.saturating_add(entry.metadata().map_err(|e| e.to_string())?.len());
            if *total > limits.max_total_bytes {
                return Err(BundleError::TooLarge { limit: limits.max_total_bytes }.to_string());
            }
            let rel = path.strip_prefix(root).map_err(|e| e.to_string())?;
            let rel = rel.to_str().ok_or_else(|| format!("non-UTF-8 file name {}", rel.display()))?;
            files.insert(rel.replace('\\', "/"), std::fs::read(&path).map_err(|e| e.to_string())?);
        }
    }
    Ok(())
}

fn modified_iso(path: &Path) -> String {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
    agw_domain::env::iso(chrono::DateTime::<chrono::Utc>::from(modified))
}

/// Orders dotted versions numerically where they are numbers (`0.10.0` > `0.9.1`).
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<(u64, String)> {
        v.split(['.', '-', '+']).map(|p| (p.parse().unwrap_or(0), p.to_owned())).collect()
    };
    parts(a).cmp(&parts(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(compare_versions("0.10.0", "0.9.1").is_gt());
        assert!(compare_versions("1.0.0", "1.0.0").is_eq());
    }
}
