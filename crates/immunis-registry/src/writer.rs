//! Group commit: one writer thread takes every queued write job, runs as many
//! as are waiting in one transaction, commits once (one fsync), then answers
//! them all. A job's answer is sent only after its commit is durable. If the
//! batch transaction fails, each job is retried alone so one bad job cannot
//! take its neighbours down.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;

use immunis_store::{Store, StoreError, Tx};
use tokio::sync::oneshot;

use crate::RegistryError;

/// A unit of work for the writer; re-runnable (a failed batch is retried).
pub trait WriteJob: Send {
    fn run(&mut self, tx: &mut Tx<'_>) -> Result<(), StoreError>;
    /// Called once, after the job's transaction committed (or failed for good).
    fn finish(self: Box<Self>, outcome: Result<(), RegistryError>);
}

/// Where a job's result goes: an async waiter or a blocking one.
enum ReplyTo<T> {
    Async(oneshot::Sender<Result<T, RegistryError>>),
    Blocking(mpsc::SyncSender<Result<T, RegistryError>>),
}

struct FnJob<T, F> {
    f: F,
    out: Option<T>,
    reply: Option<ReplyTo<T>>,
}

impl<T: Send, F: FnMut(&mut Tx<'_>) -> Result<T, StoreError> + Send> WriteJob for FnJob<T, F> {
    fn run(&mut self, tx: &mut Tx<'_>) -> Result<(), StoreError> {
        self.out = Some((self.f)(tx)?);
        Ok(())
    }

    fn finish(mut self: Box<Self>, outcome: Result<(), RegistryError>) {
        let result = outcome.and_then(|()| {
            self.out
                .take()
                .ok_or_else(|| RegistryError::Internal("job produced no result".into()))
        });
        // The caller may have gone away (connection closed); the data is committed anyway.
        match self.reply.take() {
            Some(ReplyTo::Async(tx)) => {
                let _ = tx.send(result);
            }
            Some(ReplyTo::Blocking(tx)) => {
                let _ = tx.send(result);
            }
            None => {}
        }
    }
}

/// Handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    queue: SyncSender<Box<dyn WriteJob>>,
}

/// The most jobs committed together; bounds latency and transaction size.
const MAX_BATCH: usize = 512;
/// Jobs waiting beyond this block their submitters (back-pressure, not loss).
const QUEUE_DEPTH: usize = 8192;

impl Writer {
    pub fn start(store: Arc<dyn Store>) -> Writer {
        let (tx, rx) = mpsc::sync_channel::<Box<dyn WriteJob>>(QUEUE_DEPTH);
        thread::Builder::new()
            .name("immunis-writer".into())
            .spawn(move || writer_loop(store, rx))
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!("cannot start writer thread: {e}"));
        Writer { queue: tx }
    }

    /// Queues `f` to run in the next group commit; the receiver yields its
    /// result once committed.
    pub fn submit<T, F>(&self, f: F) -> oneshot::Receiver<Result<T, RegistryError>>
    where
        T: Send + 'static,
        F: FnMut(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        self.enqueue(Box::new(FnJob {
            f,
            out: None,
            reply: Some(ReplyTo::Async(reply)),
        }));
        rx
    }

    fn enqueue(&self, job: Box<dyn WriteJob>) {
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                // Back-pressure: wait for room rather than dropping work.
                if let Err(e) = self.queue.send(job) {
                    e.0.finish(Err(RegistryError::Unavailable));
                }
            }
            Err(TrySendError::Disconnected(job)) => job.finish(Err(RegistryError::Unavailable)),
        }
    }

    /// Runs `f` through the group commit and waits (for synchronous callers).
    pub fn run_blocking<T, F>(&self, f: F) -> Result<T, RegistryError>
    where
        T: Send + 'static,
        F: FnMut(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        // A std channel, so this works from any thread, async runtimes included
        // (administrative calls are rare; ingest uses the async path).
        let (reply, rx) = mpsc::sync_channel(1);
        self.enqueue(Box::new(FnJob {
            f,
            out: None,
            reply: Some(ReplyTo::Blocking(reply)),
        }));
        rx.recv().unwrap_or(Err(RegistryError::Unavailable))
    }

    /// Runs `f` through the group commit and awaits it.
    pub async fn run<T, F>(&self, f: F) -> Result<T, RegistryError>
    where
        T: Send + 'static,
        F: FnMut(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(f)
            .await
            .unwrap_or(Err(RegistryError::Unavailable))
    }
}

fn writer_loop(store: Arc<dyn Store>, rx: Receiver<Box<dyn WriteJob>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let together = store.write(&mut |tx| {
            for job in batch.iter_mut() {
                job.run(tx)?;
            }
            Ok(())
        });
        match together {
            Ok(()) => batch.into_iter().for_each(|j| j.finish(Ok(()))),
            Err(e) if batch.len() == 1 => {
                tracing::error!("write failed: {e}");
                batch
                    .into_iter()
                    .for_each(|j| j.finish(Err(RegistryError::Store(e.to_string()))));
            }
            Err(_) => {
                // Retry one by one: only the job that fails gets the error.
                for mut job in batch {
                    let r = store.write(&mut |tx| job.run(tx));
                    match r {
                        Ok(()) => job.finish(Ok(())),
                        Err(e) => {
                            tracing::error!("write failed: {e}");
                            job.finish(Err(RegistryError::Store(e.to_string())))
                        }
                    }
                }
            }
        }
    }
}
