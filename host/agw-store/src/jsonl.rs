//! Append-only JSON-lines files that survive crashes.
//!
//! A line counts only once its `\n` is on disk: a torn tail left by a crash is invisible to
//! readers and cut off before the next append, so it can never be parsed into garbage or
//! glued to the next record. Readers keep an index of line offsets and only scan what was
//! appended since their last look, so reading a long ledger from the end stays cheap, also
//! when another process is the one appending.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::{StoreError, StoreResult};

/// Byte offsets of the complete lines of one file, as far as it has been scanned.
#[derive(Debug, Default, Clone)]
pub(crate) struct LineIndex {
    /// Start offset of every complete line, plus the end of the last one.
    bounds: Vec<u64>,
}

impl LineIndex {
    pub(crate) fn len(&self) -> u64 {
        self.bounds.len().saturating_sub(1) as u64
    }

    fn end(&self) -> u64 {
        self.bounds.last().copied().unwrap_or(0)
    }

    /// Scans whatever complete lines were appended since the last refresh.
    pub(crate) fn refresh(&mut self, path: &Path) -> StoreResult<()> {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(path, e)),
        };
        let size = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
        if size < self.end() {
            // The file shrank: only a repair of a torn tail does that, and it never cuts
            // complete lines, so a shrink below our index means someone replaced the file.
            return Err(StoreError::Corrupt { path: path.display().to_string(), reason: "file shrank".into() });
        }
        if size == self.end() {
            return Ok(());
        }
        if self.bounds.is_empty() {
            self.bounds.push(0);
        }
        let start = self.end();
        file.seek(SeekFrom::Start(start)).map_err(|e| StoreError::io(path, e))?;
        let mut buf = Vec::with_capacity((size - start) as usize);
        file.take(size - start).read_to_end(&mut buf).map_err(|e| StoreError::io(path, e))?;
        for (i, byte) in buf.iter().enumerate() {
            if *byte == b'\n' {
                self.bounds.push(start + i as u64 + 1);
            }
        }
        Ok(())
    }

    /// Reads complete lines `[from, to)`.
    pub(crate) fn read_lines(&self, path: &Path, from: u64, to: u64) -> StoreResult<Vec<Vec<u8>>> {
        let to = to.min(self.len());
        if from >= to {
            return Ok(Vec::new());
        }
        let (start, end) = (self.bounds[from as usize], self.bounds[to as usize]);
        let mut file = File::open(path).map_err(|e| StoreError::io(path, e))?;
        file.seek(SeekFrom::Start(start)).map_err(|e| StoreError::io(path, e))?;
        let mut buf = vec![0; (end - start) as usize];
        file.read_exact(&mut buf).map_err(|e| StoreError::io(path, e))?;
        Ok(buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect())
    }
}

/// Appends complete lines (and syncs them when `sync`). Cuts a torn tail first. The caller
/// holds whatever lock makes it the only writer, and has refreshed `index`.
pub(crate) fn append_lines(path: &PathBuf, lines: &[Vec<u8>], index: &LineIndex, sync: bool) -> StoreResult<()> {
    let io = |e| StoreError::io(path, e);
    let mut file = OpenOptions::new().create(true).append(true).read(true).open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > index.end() {
        // Bytes past the last complete line: a write torn by a crash. Drop them.
        file.set_len(index.end()).map_err(io)?;
    }
    let mut buf = Vec::new();
    for line in lines {
        buf.extend_from_slice(line);
        buf.push(b'\n');
    }
    file.write_all(&buf).map_err(io)?;
    if sync {
        file.sync_data().map_err(io)?;
    }
    Ok(())
}
