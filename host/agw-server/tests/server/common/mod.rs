//! Running the real `abstractgateway` binary: processes on a shared data dir, and a small
//! HTTP client for them.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const TOKEN: &str = "split-token";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A flows dir with the project's samples and the reference's samples.
pub fn flows(into: &Path) {
    std::fs::create_dir_all(into).expect("flows dir");
    for dir in [repo().join("flows"), repo().join("tests/data/reference-flows")] {
        for entry in std::fs::read_dir(&dir).expect("read flows").flatten() {
            if entry.path().extension().is_some_and(|e| e == "flow") {
                std::fs::copy(entry.path(), into.join(entry.file_name())).expect("copy bundle");
            }
        }
    }
}

/// How the processes of one test are configured.
#[derive(Debug, Clone)]
pub struct Setup {
    pub data: PathBuf,
    pub flows: PathBuf,
    pub backend: &'static str,
    pub env: Vec<(String, String)>,
}

impl Setup {
    pub fn new(root: &Path, backend: &'static str) -> Self {
        let flows_dir = root.join("flows");
        flows(&flows_dir);
        Self { data: root.join("data"), flows: flows_dir, backend, env: Vec::new() }
    }

    /// Every process of the test logs to `<root>/processes.log`.
    fn log(&self) -> Stdio {
        let path = self.data.with_file_name("processes.log");
        std::fs::OpenOptions::new().create(true).append(true).open(path).map(Stdio::from).unwrap_or(Stdio::null())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.data.with_file_name("processes.log")).unwrap_or_default()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_abstractgateway"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("ABSTRACTGATEWAY_DATA_DIR", &self.data)
            .env("ABSTRACTGATEWAY_FLOWS_DIR", &self.flows)
            .env("ABSTRACTGATEWAY_AUTH_TOKEN", TOKEN)
            .env("ABSTRACTGATEWAY_STORE_BACKEND", self.backend)
            .env("ABSTRACTGATEWAY_POLL_S", "0.05")
            .env(
                "ABSTRACTGATEWAY_PLUGIN_CACHE_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("process-plugin-cache"),
            )
            .env("RUST_LOG", "warn")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(self.log());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// `serve` on an ephemeral port; returns the process and its base URL.
    pub fn serve(&self, extra: &[&str]) -> Proc {
        let mut args = vec!["serve", "--port", "0"];
        args.extend_from_slice(extra);
        let mut child = self.command(&args).spawn().expect("spawn serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        let addr = line.strip_prefix("abstractgateway listening on ").unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve did not start: {line:?}\n{}", self.log_text())
        });
        // Keep draining stdout so the process never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Proc { child, base: Some(addr.trim().to_owned()) }
    }

    /// `runner` alone.
    pub fn runner(&self) -> Proc {
        Proc { child: self.command(&["runner"]).spawn().expect("spawn runner"), base: None }
    }
}

/// A running gateway process.
pub struct Proc {
    pub child: Child,
    pub base: Option<String>,
}

impl Proc {
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/gateway{path}", self.base.as_deref().expect("an HTTP process"))
    }

    /// SIGKILL: no shutdown of any kind.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().expect("wait")
    }

    /// Whether the process is still running after `grace`.
    pub fn alive_after(&mut self, grace: Duration) -> bool {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Http {
    client: reqwest::Client,
}

impl Default for Http {
    fn default() -> Self {
        Self { client: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client") }
    }
}

impl Http {
    pub async fn get(&self, url: &str) -> reqwest::Result<(u16, Value)> {
        let response = self.client.get(url).bearer_auth(TOKEN).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    pub async fn post(&self, url: &str, body: &Value) -> reqwest::Result<(u16, Value)> {
        let response = self.client.post(url).bearer_auth(TOKEN).json(body).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    pub async fn text(&self, url: &str) -> reqwest::Result<String> {
        self.client.get(url).bearer_auth(TOKEN).send().await?.text().await
    }

    /// Polls a run until `done(view)`, for up to `within`.
    pub async fn wait_for(&self, proc: &Proc, run_id: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            if let Ok((200, view)) = self.get(&proc.url(&format!("/runs/{run_id}"))).await
                && done(&view)
            {
                return view;
            }
            assert!(Instant::now() < deadline, "run {run_id} never got there");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn command(
        &self,
        proc: &Proc,
        id: &str,
        run_id: &str,
        kind: &str,
        payload: Value,
    ) -> reqwest::Result<(u16, Value)> {
        self.post(
            &proc.url("/commands"),
            &json!({"command_id": id, "run_id": run_id, "type": kind, "payload": payload}),
        )
        .await
    }
}
