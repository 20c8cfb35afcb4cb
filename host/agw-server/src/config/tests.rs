use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vars {
    pairs.iter().map(|(k, v)| (format!("{PREFIX}{k}"), *v)).collect()
}

fn line<'a>(settings: &'a [Setting], name: &str) -> &'a Setting {
    settings.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name} not reported"))
}

#[test]
fn the_reader_reads_every_known_setting_once_in_list_order() {
    let (_, settings) = Config::explain(&Vars::default()).unwrap();
    let names: Vec<&str> = settings.iter().map(|s| s.name).collect();
    assert_eq!(names, SETTINGS);
    assert!(settings.iter().all(|s| s.origin == Origin::Default));
}

#[test]
fn the_readme_documents_every_setting() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    for name in SETTINGS {
        assert!(
            readme.contains(&format!("`{PREFIX}{name}`")) || readme.contains(&format!("`_{name}`")),
            "README.md's configuration table lacks {PREFIX}{name}"
        );
    }
}

#[test]
fn defaults_are_the_documented_ones() {
    let config = Config::from_vars(&Vars::default()).unwrap();
    assert_eq!(config.data_dir, PathBuf::from("./runtime"));
    assert_eq!(config.plugins.dir, PathBuf::from("./runtime/plugins"));
    assert_eq!(config.plugins.host.cache_dir, Some(PathBuf::from("./runtime/plugin-cache")));
    assert_eq!(config.db_path(), PathBuf::from("./runtime/gateway.sqlite3"));
    assert_eq!(config.server.flows_dir, None);
    assert!(!config.server.json_logs);
    assert_eq!((config.server.max_sse, config.server.max_bundle_bytes), (32, 75 << 20));
    assert_eq!(config.upload_body_cap(), 77 << 20);
    assert!(config.security.enabled && config.security.tokens.is_empty());
    assert_eq!((config.store.backend, config.store.fsync), (StoreBackend::File, true));
    let t = config.runner.tuning;
    assert!(config.runner.enabled);
    assert_eq!((t.poll, t.tick_workers, t.tick_max_steps), (Duration::from_millis(250), 4, 100));
    assert_eq!((t.tick_slice, t.command_batch), (Duration::from_millis(50), 200));
    let h = &config.plugins.host;
    assert!(config.plugins.watch);
    assert_eq!((h.memory_limit_bytes, h.call_deadline, h.fuel), (64 << 20, Duration::from_secs(2), None));
    assert_eq!((h.http_timeout, h.http_max_response_bytes), (Duration::from_secs(30), 16 << 20));
    assert!(h.trusted_keys.is_empty() && !h.require_signature);
}

#[test]
fn the_environment_fills_each_group_and_is_reported_as_such() {
    let (config, settings) = Config::explain(&vars(&[
        ("DATA_DIR", "/srv/gw"),
        ("FLOWS_DIR", " /srv/flows "),
        ("MAX_FLOW_NODES", "7"),
        ("AUTH_TOKENS", "b, ,c"),
        ("AUTH_TOKEN", "a"),
        ("ALLOWED_ORIGINS", "https://x.example"),
        ("STORE_BACKEND", "SQLite"),
        ("FSYNC", "off"),
        ("TICK_WORKERS", "2"),
        ("TICK_SLICE_MS", "20"),
        ("POLL_S", "0.05"),
        ("PLUGIN_MEMORY_MIB", "8"),
        ("PLUGIN_FUEL", "max"),
        ("LOG_FORMAT", "json"),
    ]))
    .unwrap();
    assert_eq!(config.plugins.dir, PathBuf::from("/srv/gw/plugins"));
    assert_eq!(config.server.flows_dir, Some(PathBuf::from("/srv/flows")));
    assert_eq!(config.server.bundle_limits.max_flow_nodes, 7);
    let tokens: Vec<&str> = config.security.tokens.iter().map(|t| t.expose().as_str()).collect();
    assert_eq!(tokens, ["a", "b", "c"]);
    assert_eq!(config.security.policy.allowed_origins, ["https://x.example"]);
    assert_eq!((config.store.backend, config.store.fsync), (StoreBackend::Sqlite, false));
    assert_eq!(config.db_path(), PathBuf::from("/srv/gw/gateway.sqlite3"));
    assert_eq!(config.runner.tuning.tick_workers, 2);
    assert_eq!(config.runner.tuning.tick_slice, Duration::from_millis(20));
    assert_eq!(config.plugins.host.memory_limit_bytes, 8 << 20);
    assert_eq!(config.plugins.host.fuel, Some(u64::MAX));
    assert!(config.server.json_logs);

    let shown: Vec<String> = settings.iter().map(ToString::to_string).collect();
    for expected in [
        "ABSTRACTGATEWAY_DATA_DIR = /srv/gw (environment)",
        "ABSTRACTGATEWAY_AUTH_TOKEN = *** (environment)",
        "ABSTRACTGATEWAY_AUTH_TOKENS = *** (environment)",
        "ABSTRACTGATEWAY_STORE_BACKEND = sqlite (environment)",
        "ABSTRACTGATEWAY_FSYNC = 0 (environment)",
        "ABSTRACTGATEWAY_POLL_S = 0.05 (environment)",
        "ABSTRACTGATEWAY_TICK_WORKERS = 2 (environment)",
        "ABSTRACTGATEWAY_TICK_MAX_STEPS = 100 (default)",
        "ABSTRACTGATEWAY_PLUGIN_FUEL = max (environment)",
        "ABSTRACTGATEWAY_PLUGINS_DIR = /srv/gw/plugins (default)",
        "ABSTRACTGATEWAY_DB_PATH = /srv/gw/gateway.sqlite3 (default)",
        "ABSTRACTGATEWAY_FLOWS_DIR = /srv/flows (environment)",
        "ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS = (none) (default)",
        "ABSTRACTGATEWAY_LOG_FORMAT = json (environment)",
    ] {
        assert!(shown.iter().any(|s| s == expected), "no line {expected:?} in {shown:#?}");
    }
}

#[test]
fn unset_secrets_and_samples_say_so() {
    let (_, settings) = Config::explain(&Vars::default()).unwrap();
    assert_eq!(line(&settings, "AUTH_TOKEN").value, "(none)");
    assert_eq!(line(&settings, "FLOWS_DIR").value, "(built-in samples)");
    assert_eq!(line(&settings, "PLUGIN_FUEL").value, "off");
    assert_eq!(line(&settings, "TICK_SLICE_MS").value, "50");
    assert_eq!(line(&settings, "ALLOWED_ORIGINS").value, "http://localhost:*,http://127.0.0.1:*");
}

#[test]
fn tokens_never_show_in_debug_or_in_the_report() {
    let (config, settings) =
        Config::explain(&vars(&[("AUTH_TOKEN", "tok-one-s3cret"), ("AUTH_TOKENS", "tok-two-s3cret")])).unwrap();
    let printed = format!("{config:?}\n{config:#?}\n{:?}\n{}", config.security, render(&settings));
    assert!(!printed.contains("s3cret"), "{printed}");
    assert!(printed.contains("***"));
    assert_eq!(config.security.tokens.len(), 2);
}

#[test]
fn bad_values_are_refused_with_the_variable_named() {
    let error = |pairs: &[(&str, &str)]| Config::from_vars(&vars(pairs)).unwrap_err().to_string();
    assert_eq!(error(&[("SECURITY", "Maybe")]), "ABSTRACTGATEWAY_SECURITY=\"maybe\" is not a boolean (use 1 or 0)");
    assert_eq!(error(&[("TICK_SLICE_MS", "0")]), "ABSTRACTGATEWAY_TICK_SLICE_MS must be at least 1");
    assert_eq!(
        error(&[("PLUGIN_FUEL", "-3")]),
        "ABSTRACTGATEWAY_PLUGIN_FUEL=\"-3\" is invalid: invalid digit found in string"
    );
    assert_eq!(error(&[("POLL_S", "-1")]), "ABSTRACTGATEWAY_POLL_S must be a positive number of seconds");
    assert!(error(&[("STORE_BACKEND", "mongo")]).contains("use file or sqlite"));
    assert!(error(&[("PLUGIN_REQUIRE_SIGNATURE", "1")]).contains("requires ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS"));
}

#[test]
fn unknown_variables_get_the_closest_known_name() {
    let warnings = unknown_variables(&vars(&[
        ("AUTH_TOKN", "x"),
        ("TICK_WORKER", "2"),
        ("AUTH_TOKEN", "x"),
        ("TICK_WORKERS", "2"),
        ("PLUGIN_MEMORY_MB", ""),
    ]));
    assert_eq!(
        warnings,
        [
            "ABSTRACTGATEWAY_AUTH_TOKN: unknown; did you mean ABSTRACTGATEWAY_AUTH_TOKEN?",
            "ABSTRACTGATEWAY_PLUGIN_MEMORY_MB: unknown; did you mean ABSTRACTGATEWAY_PLUGIN_MEMORY_MIB?",
            "ABSTRACTGATEWAY_TICK_WORKER: unknown; did you mean ABSTRACTGATEWAY_TICK_WORKERS?",
        ]
    );
}

#[test]
fn known_and_foreign_variables_get_no_warning() {
    let mut all: Vec<(String, String)> = SETTINGS.iter().map(|n| (format!("{PREFIX}{n}"), "1".to_owned())).collect();
    all.extend([("PATH".to_owned(), "/bin".to_owned()), ("RUST_LOG".to_owned(), "info".to_owned())]);
    assert_eq!(unknown_variables(&all.into_iter().collect()), Vec::<String>::new());
}

#[test]
fn the_output_text_default_comes_from_the_capability_defaults_file_then_the_variables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = |pairs: &[(&str, &str)]| Config::from_vars(&vars(pairs)).map(|c| c.plugins.host.llm_defaults);
    let route = |p: Option<&str>, m: Option<&str>| (p.map(str::to_owned), m.map(str::to_owned));

    let only_vars = config(&[("PROVIDER", "lmstudio"), ("MODEL", "qwen")]).expect("reads");
    assert_eq!((only_vars.provider, only_vars.model), route(Some("lmstudio"), Some("qwen")));

    // AbstractCore's shape; `output.text` wins over the variables, `input.text` stands in for it.
    let file = dir.path().join("defaults.json");
    std::fs::write(
        &file,
        r#"{"capability_defaults": {"version": 1, "routes": {"input.text": {"provider": "openai", "model": "gpt"}}}}"#,
    )
    .expect("write");
    let path = file.display().to_string();
    let from_file = config(&[("PROVIDER", "lmstudio"), ("CAPABILITY_DEFAULTS", &path)]).expect("reads");
    assert_eq!((from_file.provider, from_file.model), route(Some("openai"), Some("gpt")));
    assert_eq!(from_file.source.as_deref(), Some(path.as_str()));

    // A file that cannot be used stops the gateway, naming it.
    std::fs::write(&file, r#"{"capability_defaults": {"routes": {"output.text": {"provider": 7}}}}"#).expect("write");
    let error = format!("{:#}", config(&[("CAPABILITY_DEFAULTS", &path)]).expect_err("refused"));
    assert!(error.contains(&path) && error.contains("output.text.provider"), "{error}");
    let missing =
        format!("{:#}", config(&[("CAPABILITY_DEFAULTS", "/nonexistent/defaults.json")]).expect_err("refused"));
    assert!(missing.contains("/nonexistent/defaults.json"), "{missing}");
}
