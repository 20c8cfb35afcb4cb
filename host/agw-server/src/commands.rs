//! What each subcommand does.

use std::path::Path;

use abstractgateway::config::Config;
use abstractgateway::{Gateway, launch, wiring};
use agw_plugins::PluginSource;
use anyhow::Context;
use tokio::sync::watch;

/// `RUST_LOG` filter (default `info`); `ABSTRACTGATEWAY_LOG_FORMAT=json` for production.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if abstractgateway::config::json_logs() {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

pub fn serve(host: &str, port: u16, no_runner: bool) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    config.check_auth()?;
    let gateway = Gateway::open(config)?;
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind((host, port))
            .await
            .with_context(|| format!("cannot listen on {host}:{port}"))?;
        let launched = launch(&gateway, listener, !no_runner).await?;
        println!("abstractgateway listening on http://{}", launched.addr);
        shutdown_signal().await;
        tracing::info!("shutting down");
        launched.stop().await
    })
}

pub fn runner() -> anyhow::Result<()> {
    let gateway = Gateway::open(Config::from_env()?)?;
    runtime()?.block_on(async move {
        let (shutdown, shutdown_rx) = watch::channel(false);
        let runner = gateway.spawn_runner(shutdown_rx)?.context("another runner holds this data dir's lock")?;
        shutdown_signal().await;
        let _ = shutdown.send(true);
        runner.await.context("runner task")
    })
}

/// `config`: every setting's effective value and where it came from, secrets redacted.
pub fn config() -> anyhow::Result<()> {
    let (_, settings) = Config::from_env_explained()?;
    print!("{}", abstractgateway::config::render(&settings));
    Ok(())
}

pub fn plugins_list(json: bool) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let host = wiring::plugin_host(&config)?;
    let plugins = host.plugins();
    let problems = host.problems();
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "plugins": plugins, "problems": problems }))?);
        return Ok(());
    }
    println!(
        "{:<20} {:<10} {:<12} {:<14} {:>5}  {:<24} SIGNATURE",
        "NAME", "VERSION", "ORIGIN", "WORLDS", "NODES", "DIGEST"
    );
    for p in &plugins {
        let origin = serde_json::to_value(p.origin)?;
        let origin = origin.as_str().unwrap_or_default();
        let digest = p.sha256.get(..16).unwrap_or(&p.sha256);
        println!(
            "{:<20} {:<10} {:<12} {:<14} {:>5}  sha256:{digest:<17} {}",
            p.name,
            p.version,
            origin,
            p.worlds.join(","),
            p.nodes.len(),
            p.signature.describe()
        );
        print_grant(p);
    }
    for problem in &problems {
        println!("NOT LOADED {}: {}", problem.label, problem.reason);
    }
    Ok(())
}

/// The indented lines under a plugin in `plugins list`: what it requests, is granted, and
/// what it was refused (names only: secret values are never shown).
fn print_grant(p: &agw_plugins::PluginSummary) {
    let requested = &p.capabilities;
    let hosts = |hosts: Vec<String>| if hosts.is_empty() { "-".to_owned() } else { hosts.join(", ") };
    let list = |items: &[String]| if items.is_empty() { "-".to_owned() } else { items.join(", ") };
    println!(
        "    requests: workspace {}; hosts {}; config {}; secrets {}",
        requested.workspace,
        hosts(requested.outbound_hosts.iter().map(|h| format!("{} {}", h.methods.join("|"), h.host)).collect()),
        list(&requested.config_keys),
        list(&requested.secrets)
    );
    let g = &p.granted;
    let workspace =
        serde_json::to_value(g.workspace).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    println!(
        "    granted:  workspace {workspace}; hosts {}; config {}; secrets {}; memory {} MiB; deadline {} ms{}",
        hosts(g.outbound_hosts.iter().map(|h| format!("{} {}", h.methods.join("|"), h.host)).collect()),
        list(&g.config_keys),
        list(&g.secrets),
        g.memory_mib,
        g.deadline_ms,
        g.policy_file.as_deref().map(|f| format!(" (policy {f})")).unwrap_or_default()
    );
    let d = &p.denied;
    if d.workspace.is_some() || !d.outbound_hosts.is_empty() || !d.config_keys.is_empty() || !d.secrets.is_empty() {
        println!(
            "    denied:   workspace {}; hosts {}; config {}; secrets {}",
            d.workspace.as_deref().unwrap_or("-"),
            list(&d.outbound_hosts),
            list(&d.config_keys),
            list(&d.secrets)
        );
    }
    for note in &g.notes {
        println!("    note:     {note}");
    }
}

/// `plugins inspect`: what one component implements and requests, and what the configured
/// policy and trusted keys would make of it, as JSON.
pub fn plugins_inspect(file: &Path) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let label = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let signature = agw_plugins::signing::read_signature(file)?;
    let policy = agw_plugins::policy::Policy::from_dir(&config.plugins.dir)?;
    let host = wiring::empty_plugin_host(&config)?;
    let report = host.load_with(vec![PluginSource::file(label, bytes).with_signature(signature)], &policy);
    match (host.plugins().into_iter().next(), report.problems.into_iter().next()) {
        (Some(summary), _) => println!("{}", serde_json::to_string_pretty(&summary)?),
        (None, Some(problem)) => anyhow::bail!("{problem}"),
        (None, None) => anyhow::bail!("{} was not loaded", file.display()),
    }
    Ok(())
}

/// `plugins export`: writes a first-party plugin's component to a file, to inspect or sign it
/// (its signature then goes in the plugins directory as `<name>.wasm.sig`).
pub fn plugins_export(name: &str, out: &Path) -> anyhow::Result<()> {
    let plugin = agw_firstparty::EMBEDDED.iter().find(|p| p.name == name).with_context(|| {
        let names: Vec<&str> = agw_firstparty::EMBEDDED.iter().map(|p| p.name).collect();
        format!("no first-party plugin is named '{name}' (there are: {})", names.join(", "))
    })?;
    std::fs::write(out, plugin.wasm).with_context(|| format!("cannot write {}", out.display()))?;
    println!("{}", out.display());
    Ok(())
}

pub fn pack(source: &Path, out: &Path) -> anyhow::Result<()> {
    // Held to the limits the gateway in this environment will load it with.
    let limits = Config::from_env()?.server.bundle_limits;
    let (bundle, bytes) = abstractgateway::pack_dir(source, &limits)?;
    std::fs::create_dir_all(out)?;
    let target = out.join(format!("{}.flow", bundle.bundle_ref()));
    std::fs::write(&target, bytes).with_context(|| format!("cannot write {}", target.display()))?;
    println!("{}", target.display());
    Ok(())
}

pub fn migrate(data_dir: &Path, db_path: &Path, overwrite: bool) -> anyhow::Result<()> {
    use agw_store::migrate::{CHUNK_RUNS, Progress, file_to_sqlite};
    let mut report_progress = |p: &Progress| {
        // Only a data dir big enough to take a while says how far it is.
        if p.runs_total > CHUNK_RUNS as u64 {
            eprintln!("migrated {}/{} runs ({} ledger records)", p.runs_done, p.runs_total, p.ledger_records);
        }
    };
    let report = file_to_sqlite(data_dir, db_path, overwrite, &mut report_progress)?;
    println!("Migrated file store {} to sqlite DB {}", data_dir.display(), report.db_path.display());
    println!(
        "runs {}, ledger records {}, commands {}, command cursor {}",
        report.runs, report.ledger_records, report.commands, report.cursor
    );
    Ok(())
}

/// `plugins keygen`: the secret key goes to a new file only its owner can read; the public key
/// line, the part to share, goes to stdout.
pub fn plugins_keygen(out: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let (secret, public) = agw_plugins::signing::keygen()?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| format!("cannot create {} (an existing key is never overwritten)", out.display()))?;
    let written = file.write_all(secret.as_bytes()).and_then(|()| file.sync_all());
    if let Err(error) = written {
        let _ = std::fs::remove_file(out);
        return Err(error).with_context(|| format!("cannot write {}", out.display()));
    }
    eprintln!("wrote the secret key to {}; keep it private", out.display());
    println!("{public}");
    Ok(())
}

/// `plugins sign`: writes `<file.wasm>.sig` whole or not at all (a plugins directory watcher
/// never sees half a signature) and prints its path.
pub fn plugins_sign(key: &Path, file: &Path) -> anyhow::Result<()> {
    use agw_plugins::signing;
    let secret = std::fs::read_to_string(key).with_context(|| format!("cannot read {}", key.display()))?;
    let wasm = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let signature = signing::sign(&secret, &wasm).with_context(|| key.display().to_string())?;
    let target = signing::signature_path(file);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = target.with_file_name(format!(".{name}.partial"));
    if let Err(error) = std::fs::write(&partial, signature).and_then(|()| std::fs::rename(&partial, &target)) {
        let _ = std::fs::remove_file(&partial);
        return Err(error).with_context(|| format!("cannot write {}", target.display()));
    }
    println!("{}", target.display());
    Ok(())
}

/// `plugins verify`: prints the component's sha256 and what its signature is worth; fails
/// unless a trusted key signed it.
pub fn plugins_verify(file: &Path, trusted_keys: &str) -> anyhow::Result<()> {
    use agw_plugins::signing::{self, TrustedKeys};
    let trusted = TrustedKeys::parse(trusted_keys).context("--trusted-keys")?;
    let wasm = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let signature = signing::read_signature(file)
        .with_context(|| format!("cannot read {}", signing::signature_path(file).display()))?;
    let status = signing::check(&wasm, signature.as_deref(), &trusted);
    println!("sha256:{}", signing::sha256_hex(&wasm));
    println!("signature: {}", status.describe());
    if !status.is_trusted() {
        let hint = if trusted.is_empty() {
            " (no key is trusted: pass --trusted-keys or set ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS)"
        } else {
            ""
        };
        anyhow::bail!("{} is not trusted: {}{hint}", file.display(), status.describe());
    }
    Ok(())
}
