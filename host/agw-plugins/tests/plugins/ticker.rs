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
                .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "agw-epoch"))
                .count()
        })
        .unwrap_or(0)
}

/// Waits briefly for `expected` epoch threads: a new thread names itself once it runs.
fn settles_at(expected: usize) -> bool {
    for _ in 0..200 {
        if epoch_threads() == expected {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    false
}

#[test]
fn dropping_the_host_stops_the_epoch_thread() {
    if !std::path::Path::new("/proc/self/task").is_dir() {
        return; // Not Linux: nothing to count.
    }
    let before = epoch_threads();
    let host = PluginHost::new(HostConfig::default()).unwrap();
    let session = host.session();
    assert!(settles_at(before + 1));
    drop(host);
    // A live session still needs deadlines: the thread stays until the session goes too.
    assert_eq!(epoch_threads(), before + 1);
    drop(session);
    // The drop joined the thread (the kernel may take a moment to drop its /proc entry).
    assert!(settles_at(before));
}
