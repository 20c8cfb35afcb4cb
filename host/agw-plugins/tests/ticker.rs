//! The epoch thread lives exactly as long as the host (its own test binary, so no other test's
//! host is counted).

#![allow(clippy::unwrap_used)]

use agw_plugins::{HostConfig, PluginHost};

/// Threads of this process named like the host's epoch thread.
fn epoch_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.trim() == "agw-epoch")
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn dropping_the_host_stops_the_epoch_thread() {
    if !std::path::Path::new("/proc/self/task").is_dir() {
        return; // Not Linux: nothing to count.
    }
    let before = epoch_threads();
    let host = PluginHost::new(HostConfig::default()).unwrap();
    let session = host.session();
    assert_eq!(epoch_threads(), before + 1);
    drop(host);
    // A live session still needs deadlines: the thread stays until the session goes too.
    assert_eq!(epoch_threads(), before + 1);
    drop(session);
    assert_eq!(epoch_threads(), before);
}
