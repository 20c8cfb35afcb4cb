//! `abstractgateway migrate` and the SQLite backend's start-up checks, through the binary.

use std::path::Path;
use std::process::{Command, Output};

use agw_store::conformance::{new_command, sample_records, sample_run};
use agw_store::{FileStore, RunStore, SqliteStore};

fn gateway(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_abstractgateway"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ABSTRACTGATEWAY_DATA_DIR", data)
        .env("ABSTRACTGATEWAY_PLUGIN_CACHE_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plugin-cache"))
        .env("RUST_LOG", "error");
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn migrate(data: &Path, args: &[&str]) -> Output {
    gateway(data).arg("migrate").args(args).output().expect("run migrate")
}

/// A file data dir with `runs` runs (each with two ledger records), two commands and a cursor.
fn file_data_dir(data: &Path, runs: usize) -> FileStore {
    let store = FileStore::open_with_sync(data, false).expect("file store");
    for i in 0..runs {
        let run_id = format!("run-{i:05}");
        store.create_run(&sample_run(&run_id, &format!("2026-01-01T00:00:00.{i:06}+00:00"))).expect("run");
        store.append_ledger(&run_id, &sample_records(&run_id, 2)).expect("ledger");
    }
    store.append_command(new_command("c1", "run-00000")).expect("c1");
    store.append_command(new_command("c2", "run-00001")).expect("c2");
    store.set_command_cursor(1).expect("cursor");
    store
}

#[test]
fn migrate_copies_everything_and_refuses_to_clobber() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    let files = file_data_dir(&data, 3);

    let output = migrate(&data, &["--from=file", "--to=sqlite"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("runs 3, ledger records 6, commands 2, command cursor 1"), "{stdout}");
    assert!(stdout.contains("gateway.sqlite3"), "{stdout}");
    assert!(text(&output.stderr).is_empty(), "no progress for a small data dir: {}", text(&output.stderr));

    let db = SqliteStore::open(data.join("gateway.sqlite3")).expect("open the database");
    assert_eq!(db.list_runs().expect("runs"), files.list_runs().expect("runs"));
    for run in files.list_runs().expect("runs") {
        assert_eq!(
            db.read_ledger(&run.run_id, 0, 10).expect("db"),
            files.read_ledger(&run.run_id, 0, 10).expect("files")
        );
    }
    assert_eq!(db.commands_after(0, 10).expect("db"), files.commands_after(0, 10).expect("files"));
    assert_eq!(db.command_cursor().expect("cursor"), 1);
    drop(db);

    let again = migrate(&data, &[]);
    assert!(!again.status.success());
    let stderr = text(&again.stderr);
    assert!(stderr.contains("already exists") && stderr.contains("--overwrite"), "{stderr}");

    // Overwriting replaces what the database holds with what the files hold.
    let db = SqliteStore::open(data.join("gateway.sqlite3")).expect("open");
    db.create_run(&sample_run("only-in-the-db", "2026-02-01T00:00:00.000000+00:00")).expect("extra run");
    drop(db);
    let overwrite = migrate(&data, &["--overwrite"]);
    assert!(overwrite.status.success(), "{}", text(&overwrite.stderr));
    let db = SqliteStore::open(data.join("gateway.sqlite3")).expect("open");
    assert!(db.load_run("only-in-the-db").expect("load").is_none());
    assert_eq!(db.list_runs().expect("runs").len(), 3);
}

#[test]
fn migrate_refuses_a_database_outside_the_data_dir_and_other_directions() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    file_data_dir(&data, 1);
    let outside = temp.path().join("other.sqlite3");
    let output = migrate(&data, &["--db-path", outside.to_str().expect("utf-8")]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("outside the data dir") && stderr.contains(outside.to_str().expect("utf-8")), "{stderr}");
    assert!(!outside.exists());

    let output = migrate(&data, &["--from=sqlite", "--to=file"]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("only --from=file --to=sqlite"), "{}", text(&output.stderr));

    let missing = migrate(&temp.path().join("nothing-here"), &[]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("does not exist"), "{}", text(&missing.stderr));
}

#[test]
fn migrate_reports_progress_on_a_large_data_dir() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    file_data_dir(&data, 1100);
    let output = migrate(&data, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    let progress: Vec<&str> = stderr.lines().filter(|l| l.starts_with("migrated ")).collect();
    assert_eq!(
        progress,
        [
            "migrated 500/1100 runs (1000 ledger records)",
            "migrated 1000/1100 runs (2000 ledger records)",
            "migrated 1100/1100 runs (2200 ledger records)",
        ],
        "{stderr}"
    );
    assert!(text(&output.stdout).contains("runs 1100, ledger records 2200"), "{}", text(&output.stdout));
}

#[test]
fn serve_on_sqlite_refuses_a_database_outside_the_data_dir() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    let outside = temp.path().join("elsewhere/gateway.sqlite3");
    let output = gateway(&data)
        .env("ABSTRACTGATEWAY_AUTH_TOKEN", "t")
        .env("ABSTRACTGATEWAY_STORE_BACKEND", "sqlite")
        .env("ABSTRACTGATEWAY_DB_PATH", &outside)
        .args(["serve", "--port", "0"])
        .output()
        .expect("run serve");
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("refusing to start") && stderr.contains("outside the data dir"), "{stderr}");
    assert!(
        stderr.contains(outside.to_str().expect("utf-8")) && stderr.contains(data.to_str().expect("utf-8")),
        "{stderr}"
    );
    assert!(!outside.exists());

    let output = gateway(&data)
        .env("ABSTRACTGATEWAY_AUTH_TOKEN", "t")
        .env("ABSTRACTGATEWAY_STORE_BACKEND", "mysql")
        .args(["serve", "--port", "0"])
        .output()
        .expect("run serve");
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("ABSTRACTGATEWAY_STORE_BACKEND=\"mysql\" is invalid"),
        "{}",
        text(&output.stderr)
    );
}
