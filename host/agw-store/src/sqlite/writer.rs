//! The one writer of a store handle: a thread that owns the write connection and commits
//! whatever callers queued meanwhile in one `BEGIN IMMEDIATE` transaction, each caller's
//! work in its own savepoint. A caller blocks until its transaction is committed, so an
//! acknowledged write is as durable as `synchronous` makes a commit.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::Failure;
use crate::{StoreError, StoreResult};

/// Most jobs one transaction carries; a longer queue waits for the next commit.
const MAX_BATCH: usize = 256;

/// Tells a caller how its job ended once the transaction did: `Err` is why the commit failed.
type Reply = Box<dyn FnOnce(Result<(), &str>) + Send>;
/// Runs a caller's work (or learns why it cannot run) and says whether to keep its writes.
type Job = Box<dyn FnOnce(Result<&Connection, &str>) -> (bool, Reply) + Send>;

pub(super) struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    label: String,
}

impl Writer {
    pub(super) fn start(conn: Connection, label: String) -> StoreResult<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("agw-sqlite-writer".into())
            .spawn(move || serve(&conn, &queue))
            .map_err(|e| StoreError::Io { path: label.clone(), source: e })?;
        Ok(Self { jobs: Some(jobs), thread: Some(thread), label })
    }

    /// Runs `work` in the writer's next transaction; returns its result once that committed.
    /// An `Err` from `work` undoes its writes and nothing else.
    pub(super) fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, Failure> + Send + 'static,
    ) -> StoreResult<T> {
        let (done, answer) = mpsc::sync_channel::<StoreResult<T>>(1);
        let label = self.label.clone();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => work(conn).map_err(|f| f.into_store(&label)),
                Err(reason) => Err(StoreError::Database { path: label.clone(), reason: reason.to_owned() }),
            };
            let keep = result.is_ok();
            let reply: Reply = Box::new(move |committed| {
                let result = match (result, committed) {
                    (Ok(_), Err(reason)) => Err(StoreError::Database { path: label, reason: reason.to_owned() }),
                    (result, _) => result,
                };
                // The caller may be gone (a cancelled request); the write stands either way.
                let _ = done.send(result);
            });
            (keep, reply)
        });
        let stopped = || StoreError::Database { path: self.label.clone(), reason: "the writer thread stopped".into() };
        self.jobs.as_ref().ok_or_else(stopped)?.send(job).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has committed what is queued.
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(conn: &Connection, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(MAX_BATCH - 1));
        commit(conn, batch);
    }
}

fn commit(conn: &Connection, batch: Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let reason = e.to_string();
        for job in batch {
            job(Err(&reason)).1(Err(&reason));
        }
        return;
    }
    let mut broken: Option<String> = None;
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        if let Some(reason) = &broken {
            replies.push(job(Err(reason)).1);
            continue;
        }
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            broken = Some(e.to_string());
            replies.push(job(Err(&e.to_string())).1);
            continue;
        }
        let (keep, reply) = job(Ok(conn));
        let end = if keep { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        if let Err(e) = conn.execute_batch(end) {
            broken = Some(e.to_string());
        }
        replies.push(reply);
    }
    let outcome = match broken {
        Some(reason) => Err(reason),
        None => conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
    };
    if outcome.is_err()
        && !conn.is_autocommit()
        && let Err(e) = conn.execute_batch("ROLLBACK")
    {
        tracing::error!(error = %e, "cannot roll back a failed transaction");
    }
    if let Err(reason) = &outcome {
        tracing::error!(%reason, jobs = replies.len(), "sqlite transaction failed");
    }
    for reply in replies {
        reply(outcome.as_ref().map(|_| ()).map_err(String::as_str));
    }
}
