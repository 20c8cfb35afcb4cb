//! The bundle catalog: every `.flow` (zip or directory) found in the flows directory and the
//! uploads directory, newest version first per bundle id.
//!
//! A bundle that fails to load is skipped with its file and reason recorded, never fatal.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agw_domain::bundle::{Bundle, BundleError, BundleLimits};
use sha2::{Digest, Sha256};

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
    /// Reads every source now, after removing uploads that a crash cut short.
    pub fn load(&self) -> Result<BundleCatalog, CatalogError> {
        self.load_reusing(&BundleCatalog::default())
    }

    /// Reads every source now, keeping the bundles of `previous` whose file is unchanged
    /// (same path, bytes and time) instead of parsing them again: a reload then costs one
    /// hash per unchanged file, and their flows stay one copy in memory, not two. Uploads
    /// that a crash cut short are removed first.
    pub fn load_reusing(&self, previous: &BundleCatalog) -> Result<BundleCatalog, CatalogError> {
        crate::stale::sweep(&self.uploads_dir);
        let mut roots = Vec::with_capacity(self.roots.len() + 1);
        roots.push(self.uploads_dir.clone());
        roots.extend(self.roots.iter().cloned());
        BundleCatalog::load_reusing(&roots, self.embedded, &self.limits, previous)
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
        let catalog = Arc::new(sources.load_reusing(&self.get())?);
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
        Self::load_reusing(roots, embedded, limits, &Self::default())
    }

    /// Like [`load`](Self::load), taking unchanged packed bundles from `previous`.
    pub fn load_reusing(
        roots: &[PathBuf],
        embedded: &[(&str, &[u8])],
        limits: &BundleLimits,
        previous: &Self,
    ) -> Result<Self, CatalogError> {
        let mut catalog = Self::default();
        let reuse: HashMap<(&Path, &str), &Arc<LoadedBundle>> =
            previous.all().map(|b| ((b.path.as_path(), b.bundle.sha256.as_str()), b)).collect();
        for root in roots {
            if !root.exists() {
                continue;
            }
            if is_bundle(root) {
                catalog.add_path(root, limits, &reuse);
                continue;
            }
            let entries = std::fs::read_dir(root)
                .map_err(|source| CatalogError::Io { path: root.display().to_string(), source })?;
            let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| is_bundle(p)).collect();
            paths.sort();
            for path in paths {
                catalog.add_path(&path, limits, &reuse);
            }
        }
        for (name, bytes) in embedded {
            let path = PathBuf::from(format!("<built-in>/{name}"));
            let created_at = "2026-01-01T00:00:00.000000+00:00".to_owned();
            if let Some(same) = unchanged(&reuse, &path, bytes, &created_at) {
                catalog.add_loaded(&path, same);
                continue;
            }
            let bundle = Bundle::from_zip(bytes, limits).map_err(|e| e.to_string());
            catalog.add(&path, bundle, created_at);
        }
        for versions in catalog.bundles.values_mut() {
            versions
                .sort_by(|a, b| compare_versions(&b.bundle.manifest.bundle_version, &a.bundle.manifest.bundle_version));
        }
        Ok(catalog)
    }

    fn add_path(&mut self, path: &Path, limits: &BundleLimits, reuse: &Reusable<'_>) {
        let modified = modified_iso(path);
        if path.is_file() {
            let bytes = match read_packed(path, limits) {
                Ok(bytes) => bytes,
                Err(reason) => return self.add(path, Err(reason), modified),
            };
            if let Some(same) = unchanged(reuse, path, &bytes, &modified) {
                return self.add_loaded(path, same);
            }
            return self.add(path, Bundle::from_zip(&bytes, limits).map_err(|e| e.to_string()), modified);
        }
        self.add(path, read_bundle(path, limits), modified);
    }

    fn add(&mut self, path: &Path, bundle: Result<Bundle, String>, modified: String) {
        match bundle {
            Ok(bundle) => {
                let created_at = bundle.manifest.created_at.clone().unwrap_or(modified);
                self.add_loaded(path, Arc::new(LoadedBundle { bundle, path: path.to_owned(), created_at }));
            }
            Err(reason) => {
                tracing::warn!(path = %path.display(), %reason, "skipping bundle");
                self.skipped.push(SkippedBundle { path: path.display().to_string(), reason });
            }
        }
    }

    fn add_loaded(&mut self, path: &Path, loaded: Arc<LoadedBundle>) {
        let manifest = &loaded.bundle.manifest;
        let versions = self.bundles.entry(manifest.bundle_id.clone()).or_default();
        if versions.iter().any(|b| b.bundle.manifest.bundle_version == manifest.bundle_version) {
            self.skipped.push(SkippedBundle {
                path: path.display().to_string(),
                reason: format!("duplicate of {} already loaded", loaded.bundle.bundle_ref()),
            });
            return;
        }
        versions.push(loaded);
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

/// Bundles of the previous catalog by (path, sha256).
type Reusable<'a> = HashMap<(&'a Path, &'a str), &'a Arc<LoadedBundle>>;

/// The previous catalog's bundle for this path when its bytes and time are the same.
fn unchanged(reuse: &Reusable<'_>, path: &Path, bytes: &[u8], modified: &str) -> Option<Arc<LoadedBundle>> {
    if reuse.is_empty() {
        return None;
    }
    let sha256 = hex::encode(Sha256::digest(bytes));
    let same = reuse.get(&(path, sha256.as_str()))?;
    let created_at = same.bundle.manifest.created_at.as_deref().unwrap_or(modified);
    (same.created_at == created_at).then(|| Arc::clone(same))
}

/// A packed bundle's bytes, refused unread when the file alone is over the expansion cap.
fn read_packed(path: &Path, limits: &BundleLimits) -> Result<Vec<u8>, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > limits.max_total_bytes {
        return Err(BundleError::TooLarge { limit: limits.max_total_bytes }.to_string());
    }
    std::fs::read(path).map_err(|e| e.to_string())
}

/// A directory bundle.
fn read_bundle(path: &Path, limits: &BundleLimits) -> Result<Bundle, String> {
    let mut files = BTreeMap::new();
    collect_dir(path, path, &mut files, &mut 0, limits)?;
    Bundle::from_files(files, limits).map_err(|e| e.to_string())
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
    fn a_reload_keeps_unchanged_bundles_and_reads_changed_ones() {
        let temp = tempfile::tempdir().expect("temp");
        let packed = |id: &str, greeting: &str| {
            let manifest = format!(
                r#"{{"bundle_format_version":"1","bundle_id":"{id}","bundle_version":"1.0.0",
                    "entrypoints":[{{"flow_id":"main"}}],"flows":{{"main":"flows/main.json"}}}}"#
            );
            let flow = format!(r#"{{"id":"main","name":"{greeting}","nodes":[],"edges":[]}}"#);
            let files = BTreeMap::from([
                ("manifest.json".to_owned(), manifest.into_bytes()),
                ("flows/main.json".to_owned(), flow.into_bytes()),
            ]);
            agw_domain::bundle::pack_zip(&files).expect("pack")
        };
        std::fs::write(temp.path().join("a@1.0.0.flow"), packed("a", "one")).expect("a");
        std::fs::write(temp.path().join("b@1.0.0.flow"), packed("b", "one")).expect("b");
        let sources = BundleSources {
            uploads_dir: temp.path().join("uploads"),
            roots: vec![temp.path().to_owned()],
            embedded: &[],
            limits: BundleLimits::default(),
            sync: false,
        };
        let shared = SharedCatalog::new(sources.load().expect("load"));
        let first = shared.get();
        std::fs::write(temp.path().join("b@1.0.0.flow"), packed("b", "two")).expect("b changes");
        let second = shared.reload(&sources).expect("reload");
        let (a1, a2) = (first.get("a", None).expect("a"), second.get("a", None).expect("a"));
        assert!(Arc::ptr_eq(a1, a2), "an unchanged bundle is the same copy, not parsed again");
        let b = second.get("b", None).expect("b");
        assert!(!Arc::ptr_eq(first.get("b", None).expect("b"), b));
        assert_eq!(b.bundle.flows["main"]["name"], "two");
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(compare_versions("0.10.0", "0.9.1").is_gt());
        assert!(compare_versions("1.0.0", "1.0.0").is_eq());
    }
}
