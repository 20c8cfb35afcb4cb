//! Run artifacts: content-addressed blobs plus one metadata file per artifact, per run.
//!
//! ```text
//! <dir>/blobs/<sha256>.bin                  the bytes; one file per distinct content
//! <dir>/runs/<run_id>/<artifact_id>.json    what the bytes are, and whose
//! ```
//!
//! Both are written atomically (temp file, rename), the blob first, so a metadata file never
//! names a missing blob and a reader never sees half of either. Two artifacts with the same
//! bytes share one blob. Ids become file names, so only plain ids are accepted.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use agw_domain::run::FlowRef;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::file::write_atomic;

/// Why an artifact operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("Invalid {kind} '{id}': must contain only alphanumeric characters, hyphens, and underscores")]
    InvalidId { kind: &'static str, id: String },
    #[error("artifact '{artifact_id}' of run '{run_id}' not found")]
    NotFound { run_id: String, artifact_id: String },
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("corrupt artifact data in {path}: {reason}")]
    Corrupt { path: String, reason: String },
}

impl ArtifactError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }

    fn corrupt(path: &Path, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt { path: path.display().to_string(), reason: reason.to_string() }
    }
}

impl From<crate::StoreError> for ArtifactError {
    fn from(error: crate::StoreError) -> Self {
        match error {
            crate::StoreError::Io { path, source } => Self::Io { path, source },
            other => Self::Corrupt { path: String::new(), reason: other.to_string() },
        }
    }
}

/// What is known about one stored artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactMeta {
    pub artifact_id: String,
    /// sha256 of the bytes: the blob's name.
    pub blob_id: String,
    pub run_id: String,
    pub content_type: String,
    pub size_bytes: u64,
    /// The digest clients see: `tags.sha256` when the producer names one (a workflow
    /// snapshot hashes its canonical JSON, as the reference does), else the blob's.
    pub sha256: String,
    pub created_at: String,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub tags: Map<String, Value>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// Optional facts a producer attaches to an artifact.
#[derive(Debug, Clone, Default)]
pub struct ArtifactExtra {
    pub tags: Map<String, Value>,
    pub metadata: Map<String, Value>,
    pub filename: Option<String>,
}

/// Artifacts as files under one directory (`<data>/artifacts`).
#[derive(Debug)]
pub struct ArtifactStore {
    dir: PathBuf,
    sync: bool,
}

impl ArtifactStore {
    /// Opens (and creates) a store that fsyncs every write.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, ArtifactError> {
        Self::open_with_sync(dir, true)
    }

    /// Opens a store; `sync: false` skips fsync, like the run store's setting. Removes the
    /// temp files that writes cut short by a crash left behind (`crate::stale`).
    pub fn open_with_sync(dir: impl Into<PathBuf>, sync: bool) -> Result<Self, ArtifactError> {
        let dir = dir.into();
        for sub in ["blobs", "runs"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|e| ArtifactError::io(&path, e))?;
        }
        crate::stale::sweep(&dir.join("blobs"));
        for run in std::fs::read_dir(dir.join("runs")).into_iter().flatten().flatten() {
            crate::stale::sweep(&run.path());
        }
        Ok(Self { dir, sync })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn blob_path(&self, blob_id: &str) -> PathBuf {
        self.dir.join("blobs").join(format!("{blob_id}.bin"))
    }

    fn run_dir(&self, run_id: &str) -> PathBuf {
        self.dir.join("runs").join(run_id)
    }

    /// Stores `bytes` as a new artifact of `run_id`.
    pub fn put(
        &self,
        run_id: &str,
        bytes: &[u8],
        content_type: &str,
        extra: ArtifactExtra,
    ) -> Result<ArtifactMeta, ArtifactError> {
        check_id("run_id", run_id)?;
        let blob_id = hex::encode(Sha256::digest(bytes));
        let blob = self.blob_path(&blob_id);
        // Same name, same bytes: an existing blob is already the content.
        if !blob.exists() {
            write_atomic(&blob, bytes, self.sync)?;
        }
        let sha256 = extra.tags.get("sha256").and_then(Value::as_str).map_or_else(|| blob_id.clone(), str::to_owned);
        let meta = ArtifactMeta {
            artifact_id: uuid::Uuid::new_v4().simple().to_string(),
            blob_id,
            run_id: run_id.to_owned(),
            content_type: content_type.to_owned(),
            size_bytes: bytes.len() as u64,
            sha256,
            created_at: agw_domain::env::iso(chrono::Utc::now()),
            filename: extra.filename,
            tags: extra.tags,
            metadata: extra.metadata,
        };
        let run_dir = self.run_dir(run_id);
        std::fs::create_dir_all(&run_dir).map_err(|e| ArtifactError::io(&run_dir, e))?;
        let path = run_dir.join(format!("{}.json", meta.artifact_id));
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| ArtifactError::corrupt(&path, e))?;
        write_atomic(&path, &json, self.sync)?;
        Ok(meta)
    }

    /// A run's artifacts, oldest first. A run without artifacts has an empty list.
    pub fn list(&self, run_id: &str) -> Result<Vec<ArtifactMeta>, ArtifactError> {
        check_id("run_id", run_id)?;
        let dir = self.run_dir(run_id);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ArtifactError::io(&dir, e)),
        };
        let mut items = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| ArtifactError::io(&dir, e))?.path();
            // Temp files of a write in progress end in `.tmp-*`, not `.json`.
            if path.extension().is_some_and(|e| e == "json") {
                items.push(read_meta(&path)?);
            }
        }
        items.sort_by(|a, b| (&a.created_at, &a.artifact_id).cmp(&(&b.created_at, &b.artifact_id)));
        Ok(items)
    }

    /// One artifact's metadata, if `run_id` owns it.
    pub fn meta(&self, run_id: &str, artifact_id: &str) -> Result<ArtifactMeta, ArtifactError> {
        check_id("run_id", run_id)?;
        check_id("artifact_id", artifact_id)?;
        let path = self.run_dir(run_id).join(format!("{artifact_id}.json"));
        match std::fs::metadata(&path) {
            Ok(_) => read_meta(&path),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                Err(ArtifactError::NotFound { run_id: run_id.to_owned(), artifact_id: artifact_id.to_owned() })
            }
            Err(e) => Err(ArtifactError::io(&path, e)),
        }
    }

    /// One artifact and its bytes, checked against the blob's digest.
    pub fn get(&self, run_id: &str, artifact_id: &str) -> Result<(ArtifactMeta, Vec<u8>), ArtifactError> {
        let meta = self.meta(run_id, artifact_id)?;
        check_id("blob_id", &meta.blob_id)?;
        let path = self.blob_path(&meta.blob_id);
        let bytes = std::fs::read(&path).map_err(|e| ArtifactError::io(&path, e))?;
        if hex::encode(Sha256::digest(&bytes)) != meta.blob_id {
            return Err(ArtifactError::corrupt(&path, "content does not match its sha256"));
        }
        Ok((meta, bytes))
    }
}

fn read_meta(path: &Path) -> Result<ArtifactMeta, ArtifactError> {
    let bytes = std::fs::read(path).map_err(|e| ArtifactError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| ArtifactError::corrupt(path, e))
}

/// Ids become file names: letters, digits, `-` and `_` only.
fn check_id(kind: &'static str, id: &str) -> Result<(), ArtifactError> {
    let ok = !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err(ArtifactError::InvalidId { kind, id: id.to_owned() }) }
}

/// The snapshot of the flow a run executes, stored as the run's `workflow_snapshot` artifact
/// so that a run's history can be replayed without the bundle. Idempotent: a run that has a
/// snapshot keeps it.
///
/// The content is what the reference stores: compact JSON
/// `{"kind":"visualflow_json","bundle_ref","flow_id","visualflow"}` with the flow's `id` set
/// to the workflow id; `tags.sha256` hashes the same document with sorted keys.
pub fn store_flow_snapshot(
    store: &ArtifactStore,
    run_id: &str,
    flow: &FlowRef,
    flow_json: &Value,
) -> Result<ArtifactMeta, ArtifactError> {
    if let Some(existing) = store.list(run_id)?.into_iter().find(is_flow_snapshot) {
        return Ok(existing);
    }
    let workflow_id = flow.workflow_id();
    // Written straight from the bundle's flow: copying it (twice, with the sorted copy) made
    // each run start cost three times the flow's size in memory.
    let doc = |sorted| Snapshot {
        bundle_ref: format!("{}@{}", flow.bundle_id, flow.bundle_version),
        flow_id: &flow.flow_id,
        visualflow: WithId { flow: flow_json, id: &workflow_id, sorted },
    };
    let mut bytes = Vec::new();
    write_compact_ascii(&doc(false), &mut bytes);
    let mut canonical = HashWriter(Sha256::new());
    write_compact_ascii(&doc(true), &mut canonical);
    let canonical_sha = hex::encode(canonical.0.finalize());
    // Sorted, as the reference lists them.
    let mut tags = Map::new();
    tags.insert("format".into(), "visualflow_json".into());
    tags.insert("kind".into(), "workflow_snapshot".into());
    tags.insert("sha256".into(), canonical_sha.into());
    tags.insert("workflow_id".into(), workflow_id.into());
    store.put(run_id, &bytes, "application/json", ArtifactExtra { tags, ..ArtifactExtra::default() })
}

/// Whether `meta` is a run's workflow snapshot.
pub fn is_flow_snapshot(meta: &ArtifactMeta) -> bool {
    meta.tags.get("kind").and_then(Value::as_str) == Some("workflow_snapshot")
}

/// The snapshot document: `{"kind","bundle_ref","flow_id","visualflow"}`, or with every
/// object's keys sorted (for the canonical digest).
struct Snapshot<'a> {
    bundle_ref: String,
    flow_id: &'a str,
    visualflow: WithId<'a>,
}

impl serde::Serialize for Snapshot<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(4))?;
        if !self.visualflow.sorted {
            map.serialize_entry("kind", "visualflow_json")?;
        }
        map.serialize_entry("bundle_ref", &self.bundle_ref)?;
        map.serialize_entry("flow_id", self.flow_id)?;
        if self.visualflow.sorted {
            map.serialize_entry("kind", "visualflow_json")?;
        }
        map.serialize_entry("visualflow", &self.visualflow)?;
        map.end()
    }
}

/// A flow with its `id` set to `id` (in place, or last when it has none), keys sorted or not.
struct WithId<'a> {
    flow: &'a Value,
    id: &'a str,
    sorted: bool,
}

impl serde::Serialize for WithId<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(flow) = self.flow else { return Sorted(self.flow, self.sorted).serialize(serializer) };
        let mut keys: Vec<&str> = flow.keys().map(String::as_str).collect();
        if !flow.contains_key("id") {
            keys.push("id");
        }
        if self.sorted {
            keys.sort_unstable();
        }
        let mut map = serializer.serialize_map(Some(keys.len()))?;
        for key in keys {
            match flow.get(key) {
                _ if key == "id" => map.serialize_entry(key, self.id)?,
                Some(value) => map.serialize_entry(key, &Sorted(value, self.sorted))?,
                None => {}
            }
        }
        map.end()
    }
}

/// A value as it is, or with every object's keys sorted, written without copying it.
struct Sorted<'a>(&'a Value, bool);

impl serde::Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(object) if self.1 => {
                let mut keys: Vec<&String> = object.keys().collect();
                keys.sort_unstable();
                let mut map = serializer.serialize_map(Some(keys.len()))?;
                for key in keys {
                    map.serialize_entry(key, &Sorted(&object[key], true))?;
                }
                map.end()
            }
            Value::Array(items) if self.1 => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Sorted(item, true))?;
                }
                seq.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// Feeds what is written to a digest.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes JSON as Python's `json.dumps(value, separators=(",", ":"))` does: compact, with
/// non-ASCII characters escaped.
fn write_compact_ascii(value: &impl serde::Serialize, out: &mut impl std::io::Write) {
    use serde_json::ser::{CompactFormatter, Formatter, Serializer};

    struct Ascii;
    impl Formatter for Ascii {
        fn write_string_fragment<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            fragment: &str,
        ) -> std::io::Result<()> {
            for c in fragment.chars() {
                if c.is_ascii() {
                    w.write_all(&[c as u8])?;
                } else {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        write!(w, "\\u{unit:04x}")?;
                    }
                }
            }
            Ok(())
        }
        fn write_char_escape<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            escape: serde_json::ser::CharEscape,
        ) -> std::io::Result<()> {
            CompactFormatter.write_char_escape(w, escape)
        }
    }

    // Serializing JSON values into a Vec or a digest cannot fail.
    let _ = value.serialize(&mut Serializer::with_formatter(out, Ascii));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RUN: &str = "0b7f3f4e-2c55-4a8e-9d7e-1f2a3b4c5d6e";

    fn store() -> (tempfile::TempDir, ArtifactStore) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ArtifactStore::open_with_sync(dir.path().join("artifacts"), false).expect("open");
        (dir, store)
    }

    #[test]
    fn put_then_get_round_trips() {
        let (_dir, store) = store();
        let meta = store.put(RUN, b"hello", "text/plain", ArtifactExtra::default()).expect("put");
        assert_eq!(meta.size_bytes, 5);
        assert_eq!(meta.blob_id, hex::encode(Sha256::digest(b"hello")));
        assert_eq!(meta.sha256, meta.blob_id);
        assert_eq!(meta.artifact_id.len(), 32);
        let (again, bytes) = store.get(RUN, &meta.artifact_id).expect("get");
        assert_eq!((again, bytes), (meta.clone(), b"hello".to_vec()));
        assert_eq!(store.list(RUN).expect("list"), vec![meta]);
    }

    #[test]
    fn same_content_shares_one_blob() {
        let (_dir, store) = store();
        let a = store.put(RUN, b"same", "text/plain", ArtifactExtra::default()).expect("put a");
        let b = store.put("other-run", b"same", "text/plain", ArtifactExtra::default()).expect("put b");
        assert_ne!(a.artifact_id, b.artifact_id);
        assert_eq!(a.blob_id, b.blob_id);
        let blobs = std::fs::read_dir(store.dir().join("blobs")).expect("blobs").count();
        assert_eq!(blobs, 1);
    }

    #[test]
    fn artifacts_belong_to_their_run() {
        let (_dir, store) = store();
        let meta = store.put(RUN, b"x", "text/plain", ArtifactExtra::default()).expect("put");
        assert!(matches!(store.get("other-run", &meta.artifact_id), Err(ArtifactError::NotFound { .. })));
        assert!(store.list("other-run").expect("list").is_empty());
    }

    #[test]
    fn hostile_ids_never_touch_the_filesystem() {
        let (_dir, store) = store();
        let long = "a".repeat(129);
        for id in ["..", "../x", "a/b", "a\\b", "", ".hidden", "x\0y", long.as_str()] {
            assert!(matches!(store.list(id), Err(ArtifactError::InvalidId { .. })), "{id:?}");
            assert!(matches!(store.get(RUN, id), Err(ArtifactError::InvalidId { .. })), "{id:?}");
            assert!(matches!(store.put(id, b"", "x", ArtifactExtra::default()), Err(ArtifactError::InvalidId { .. })));
        }
    }

    #[test]
    fn a_changed_blob_is_reported_not_served() {
        let (_dir, store) = store();
        let meta = store.put(RUN, b"original", "text/plain", ArtifactExtra::default()).expect("put");
        std::fs::write(store.blob_path(&meta.blob_id), b"tampered").expect("tamper");
        assert!(matches!(store.get(RUN, &meta.artifact_id), Err(ArtifactError::Corrupt { .. })));
    }

    #[test]
    fn flow_snapshot_matches_the_reference_and_is_stored_once() {
        let (_dir, store) = store();
        let flow = FlowRef { bundle_id: "b".into(), bundle_version: "1.0.0".into(), flow_id: "main".into() };
        let json = json!({"id": "main", "name": "Café", "nodes": [{"z": 1, "a": 2.0}]});
        let meta = store_flow_snapshot(&store, RUN, &flow, &json).expect("snapshot");
        let (_, bytes) = store.get(RUN, &meta.artifact_id).expect("get");
        let expected = r#"{"kind":"visualflow_json","bundle_ref":"b@1.0.0","flow_id":"main","visualflow":{"id":"b@1.0.0:main","name":"Caf\u00e9","nodes":[{"z":1,"a":2.0}]}}"#;
        assert_eq!(String::from_utf8(bytes).expect("utf-8"), expected);
        let sorted = r#"{"bundle_ref":"b@1.0.0","flow_id":"main","kind":"visualflow_json","visualflow":{"id":"b@1.0.0:main","name":"Caf\u00e9","nodes":[{"a":2.0,"z":1}]}}"#;
        assert_eq!(meta.sha256, hex::encode(Sha256::digest(sorted)));
        assert_eq!(meta.tags["kind"], "workflow_snapshot");
        assert_eq!(meta.tags["workflow_id"], "b@1.0.0:main");
        assert_eq!(meta.content_type, "application/json");
        let again = store_flow_snapshot(&store, RUN, &flow, &json).expect("again");
        assert_eq!(again, meta);
        assert_eq!(store.list(RUN).expect("list").len(), 1);
    }

    #[test]
    fn a_flow_without_an_id_gets_it_last_and_sorted_in_the_digest() {
        let (_dir, store) = store();
        let flow = FlowRef { bundle_id: "b".into(), bundle_version: "1".into(), flow_id: "f".into() };
        let json = json!({"nodes": [], "edges": [{"b": [{"y": 1, "x": 2}]}]});
        let meta = store_flow_snapshot(&store, RUN, &flow, &json).expect("snapshot");
        let (_, bytes) = store.get(RUN, &meta.artifact_id).expect("get");
        let expected = r#"{"kind":"visualflow_json","bundle_ref":"b@1","flow_id":"f","visualflow":{"nodes":[],"edges":[{"b":[{"y":1,"x":2}]}],"id":"b@1:f"}}"#;
        assert_eq!(String::from_utf8(bytes).expect("utf-8"), expected);
        let sorted = r#"{"bundle_ref":"b@1","flow_id":"f","kind":"visualflow_json","visualflow":{"edges":[{"b":[{"x":2,"y":1}]}],"id":"b@1:f","nodes":[]}}"#;
        assert_eq!(meta.sha256, hex::encode(Sha256::digest(sorted)));
    }
}
