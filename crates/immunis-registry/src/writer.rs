//! Group commit: one writer thread takes every queued write job, runs as many
//! as are waiting in one transaction and commits once; a second thread makes
//! the commit durable (one fsync, which covers every commit before it too)
//! and answers the batch's jobs, while the writer already runs the next
//! batch. A job's answer is sent only after its commit is durable. If the
//! batch transaction fails, each job is retried alone so one bad job cannot
//! take its neighbours down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;

use immunis_store::{PendingSync, Store, StoreError, Tx};
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

/// Committed batches waiting for their fsync; beyond this the writer waits
/// (the disk is the bottleneck then, and more batches in flight would only
/// hold more answers back).
const SYNC_QUEUE: usize = 4;

type Committed = (Vec<Box<dyn WriteJob>>, PendingSync);

/// Makes committed batches durable, then answers their jobs, in commit
/// order. One fsync covers every commit before it, so a backlog costs one.
/// A failed fsync sets `failed`: the disk may have dropped those pages, and
/// later batches may have been built on them, so the writer takes no more
/// work (the operator restarts the registry, which recovers from what the
/// disk holds; nothing acknowledged was in doubt).
fn sync_loop(rx: Receiver<Committed>, failed: Arc<AtomicBool>) {
    while let Ok(first) = rx.recv() {
        let mut ready = vec![first];
        while let Ok(more) = rx.try_recv() {
            ready.push(more);
        }
        let mut syncs: Vec<PendingSync> = Vec::with_capacity(ready.len());
        let mut jobs = Vec::new();
        for (batch, sync) in ready {
            syncs.push(sync);
            jobs.extend(batch);
        }
        // The last commit's sync makes the earlier ones durable too.
        let outcome = match syncs.pop() {
            Some(last) => last.wait(),
            None => Ok(()),
        };
        match outcome {
            Ok(()) => jobs.into_iter().for_each(|j| j.finish(Ok(()))),
            Err(e) => {
                failed.store(true, Ordering::SeqCst);
                tracing::error!("commit not made durable, the writer stops: {e}");
                jobs.into_iter()
                    .for_each(|j| j.finish(Err(RegistryError::Store(e.to_string()))));
            }
        }
    }
}

fn writer_loop(store: Arc<dyn Store>, rx: Receiver<Box<dyn WriteJob>>) {
    let (to_sync, committed) = mpsc::sync_channel::<Committed>(SYNC_QUEUE);
    let failed = Arc::new(AtomicBool::new(false));
    let sync_failed = failed.clone();
    let syncer = thread::Builder::new()
        .name("immunis-sync".into())
        .spawn(move || sync_loop(committed, sync_failed));
    // Without the thread, each batch is made durable here, as before.
    let to_sync = match syncer {
        Ok(_) => Some(to_sync),
        Err(e) => {
            tracing::error!("cannot start the sync thread: {e}");
            None
        }
    };
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        if failed.load(Ordering::SeqCst) {
            for j in batch {
                j.finish(Err(RegistryError::Store(
                    "storage failed (an fsync was refused); restart the registry".into(),
                )));
            }
            continue;
        }
        let together = store.write_pipelined(&mut |tx| {
            for job in batch.iter_mut() {
                job.run(tx)?;
            }
            Ok(())
        });
        match together {
            Ok(sync) => {
                let unsent = match &to_sync {
                    Some(q) => q.send((batch, sync)).err().map(|e| e.0),
                    None => Some((batch, sync)),
                };
                if let Some((batch, sync)) = unsent {
                    let outcome = sync.wait().map_err(|e| {
                        failed.store(true, Ordering::SeqCst);
                        RegistryError::Store(e.to_string())
                    });
                    for j in batch {
                        j.finish(outcome.clone());
                    }
                }
            }
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
                            if matches!(e, StoreError::Io(_)) {
                                failed.store(true, Ordering::SeqCst);
                            }
                            tracing::error!("write failed: {e}");
                            job.finish(Err(RegistryError::Store(e.to_string())))
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    /// A real SQLite store whose pipelined commits become "durable" only
    /// when the test opens the gate.
    struct GatedStore {
        inner: Arc<dyn Store>,
        /// One per pipelined commit: `true` makes it durable, `false` fails
        /// its fsync.
        gates: Mutex<Vec<mpsc::Receiver<bool>>>,
    }

    impl Store for GatedStore {
        fn backend(&self) -> &'static str {
            "gated"
        }
        fn write(
            &self,
            f: &mut dyn FnMut(&mut Tx<'_>) -> Result<(), StoreError>,
        ) -> Result<(), StoreError> {
            self.inner.write(f)
        }
        fn read(
            &self,
            f: &mut dyn FnMut(&mut Tx<'_>) -> Result<(), StoreError>,
        ) -> Result<(), StoreError> {
            self.inner.read(f)
        }
        fn write_pipelined(
            &self,
            f: &mut dyn FnMut(&mut Tx<'_>) -> Result<(), StoreError>,
        ) -> Result<PendingSync, StoreError> {
            let real = self.inner.write_pipelined(f)?;
            let gate = self.gates.lock().expect("gates").remove(0);
            Ok(PendingSync::by(move || {
                if gate.recv().expect("gate") {
                    real.wait()
                } else {
                    Err(StoreError::Io("injected fsync failure".into()))
                }
            }))
        }
    }

    #[test]
    fn answers_wait_for_durability_while_the_next_batch_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (open1, gate1) = mpsc::channel();
        let (open2, gate2) = mpsc::channel();
        let store = Arc::new(GatedStore {
            inner: immunis_store::open(dir.path(), None).expect("store"),
            gates: Mutex::new(vec![gate1, gate2]),
        });
        let writer = Writer::start(store.clone());
        let first = writer.submit(|tx| tx.count_patients());
        // The first batch is committed but not durable: no answer yet.
        std::thread::sleep(Duration::from_millis(200));
        let mut first = first;
        assert!(first.try_recv().is_err(), "answered before its fsync");
        // Meanwhile the writer runs the next batch.
        let ran = Arc::new(AtomicBool::new(false));
        let ran2 = ran.clone();
        let second = writer.submit(move |tx| {
            ran2.store(true, Ordering::SeqCst);
            tx.count_patients()
        });
        for _ in 0..100 {
            if ran.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            ran.load(Ordering::SeqCst),
            "the next batch waited for the fsync"
        );
        assert!(first.try_recv().is_err(), "answered before its fsync");
        open1.send(true).expect("open");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert_eq!(rt.block_on(first).expect("reply").expect("ok"), 0);
        open2.send(true).expect("open");
        assert_eq!(rt.block_on(second).expect("reply").expect("ok"), 0);
    }

    #[test]
    fn a_failed_fsync_fails_its_batch_and_stops_the_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (open, gate) = mpsc::channel();
        let store = Arc::new(GatedStore {
            inner: immunis_store::open(dir.path(), None).expect("store"),
            gates: Mutex::new(vec![gate]),
        });
        let writer = Writer::start(store);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let first = writer.submit(|tx| tx.count_patients());
        open.send(false).expect("fail the fsync");
        let err = rt.block_on(first).expect("reply").expect_err("not durable");
        assert!(err.to_string().contains("injected fsync failure"), "{err}");
        // Nothing more is written on top of pages the disk may have lost.
        let later = rt.block_on(writer.run(|tx| tx.count_patients()));
        let err = later.expect_err("the writer refuses work");
        assert!(err.to_string().contains("restart the registry"), "{err}");
    }
}
