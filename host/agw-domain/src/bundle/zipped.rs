//! Reading and writing the zip container, with caps enforced while reading.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use super::{BundleError, BundleLimits, check_path};

/// Reads every file entry, refusing unsafe paths and counting real (not declared) sizes.
pub(crate) fn read_entries(bytes: &[u8], limits: &BundleLimits) -> Result<BTreeMap<String, Vec<u8>>, BundleError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| BundleError::NotAZip(e.to_string()))?;
    if archive.len() > limits.max_entries {
        return Err(BundleError::TooManyEntries { limit: limits.max_entries });
    }
    let mut files = BTreeMap::new();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(|e| BundleError::NotAZip(e.to_string()))?;
        let name = entry.name().to_owned();
        check_path(&name)?;
        if entry.is_dir() {
            continue;
        }
        let budget = limits.max_total_bytes.saturating_sub(total);
        let mut data = Vec::new();
        entry
            .take(budget + 1)
            .read_to_end(&mut data)
            .map_err(|e| BundleError::NotAZip(format!("cannot read '{name}': {e}")))?;
        total += data.len() as u64;
        if total > limits.max_total_bytes {
            return Err(BundleError::TooLarge { limit: limits.max_total_bytes });
        }
        files.insert(name, data);
    }
    Ok(files)
}

/// Packs files into a deterministic zip (sorted names, fixed timestamps), so a committed
/// `.flow` only changes when its content does.
pub fn pack_zip(files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, BundleError> {
    let io = |e: std::io::Error| BundleError::NotAZip(e.to_string());
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (name, data) in files {
        check_path(name)?;
        writer.start_file(name.as_str(), options).map_err(|e| BundleError::NotAZip(e.to_string()))?;
        writer.write_all(data).map_err(io)?;
    }
    let cursor = writer.finish().map_err(|e| BundleError::NotAZip(e.to_string()))?;
    Ok(cursor.into_inner())
}
