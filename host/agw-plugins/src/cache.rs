//! Compiled components cached on disk, keyed by the source's sha256 and the engine's
//! compatibility hash, so a restart deserializes in milliseconds instead of compiling.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A short, stable fingerprint of everything in the engine that affects compiled code
/// (wasmtime version, target, settings). Compiled artifacts are only valid for the same one.
pub(crate) fn engine_hash(engine: &Engine) -> String {
    let mut hasher = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let digest = hasher.0.finalize();
    hex::encode(&digest[..8])
}

/// Feeds `Hash` output into sha256: unlike `DefaultHasher` the result is the same in every
/// process, which is what a file name on disk needs.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        // Never used: the digest is read from the inner state instead.
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Obtained {
    Compiled,
    CacheHit,
}

/// The on-disk cache (or none: every load compiles).
pub(crate) struct DiskCache {
    dir: Option<PathBuf>,
    engine_hash: String,
}

impl DiskCache {
    pub(crate) fn new(dir: Option<PathBuf>, engine: &Engine) -> Self {
        Self { dir, engine_hash: engine_hash(engine) }
    }

    pub(crate) fn engine_hash(&self) -> &str {
        &self.engine_hash
    }

    fn path_for(&self, sha256: &str) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.join(format!("{sha256}-{}.cwasm", self.engine_hash)))
    }

    /// The compiled component for `bytes`: from the cache when present and readable, else
    /// compiled (and then written to the cache; a failed write only costs a later recompile).
    pub(crate) fn component(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, Obtained)> {
        let path = self.path_for(sha256);
        if let Some(path) = path.as_deref().filter(|p| p.is_file()) {
            match deserialize(engine, path) {
                Ok(component) => return Ok((component, Obtained::CacheHit)),
                Err(error) => {
                    tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "cached component unusable; recompiling");
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Some(path) = path
            && let Err(error) = write_atomically(&path, &component)
        {
            tracing::warn!(path = %path.display(), error = %error, "could not write the compiled-component cache");
        }
        Ok((component, Obtained::Compiled))
    }
}

/// Loads a cache file.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` trusts its input to be machine code wasmtime produced. That
    // holds here: the file lives in the host's own cache directory and only this module writes
    // it, from `Component::serialize`, via a temp file + rename so a torn or half-written file
    // is never visible under the final name. The name carries the engine's compatibility
    // hash, and wasmtime still checks the header and refuses (with an error, not UB) an
    // artifact made by a different engine version or configuration.
    unsafe { Component::deserialize_file(engine, path) }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes the serialized component next to its final name, syncs it, then renames: readers
/// see either the old complete file, the new complete file, or none.
fn write_atomically(path: &Path, component: &Component) -> std::io::Result<()> {
    let bytes = component.serialize().map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    let dir = path.parent().ok_or_else(|| std::io::Error::other("cache path has no parent"))?;
    std::fs::create_dir_all(dir)?;
    let unique = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{file_name}.{}.{unique}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
