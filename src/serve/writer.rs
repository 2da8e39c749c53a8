//! The service's one store connection, on a thread of its own: SQLite
//! calls block, so they never run on the async runtime's threads. Requests
//! hand it work through a channel and await the answer; the thread takes
//! every piece of work waiting (up to [`BATCH`]) into one transaction, so
//! a burst of webhooks costs one commit (one sync to disk) instead of one
//! per request. An answer is sent only after the commit: a provider that
//! got 200 will find its status in the store.
//!
//! A batch whose transaction fails is rolled back and its pieces run again
//! one transaction each, so one bad request cannot fail its neighbours.

use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::store::{Store, StoreError};

/// Pieces of work per transaction at most: a commit stays short enough
/// that the requests waiting behind it are not held for long.
const BATCH: usize = 512;

/// What a piece of work did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    /// Events or changes that were new.
    pub added: u64,
    /// Statuses about messages the outbox does not hold.
    pub unmatched: u64,
}

type Work = Box<dyn FnMut(&Store) -> Result<Written, StoreError> + Send>;

struct Job {
    work: Work,
    answer: oneshot::Sender<Result<Written, String>>,
}

/// The handle requests write through; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writing thread on `store`; it ends when every handle is
    /// dropped and the work already sent is done.
    pub fn start(store: Store) -> (Writer, JoinHandle<()>) {
        let (jobs, receiver) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("herald-serve-writer".into())
            .spawn(move || write_loop(&store, &receiver))
            .unwrap_or_else(|error| panic!("cannot start the store thread: {error}"));
        (Writer { jobs }, thread)
    }

    /// Runs `work` in a transaction and waits for its commit. `work` may
    /// run twice (once in a batch that failed, once alone), each time in a
    /// transaction that is rolled back unless it commits whole.
    pub async fn write(
        &self,
        work: impl FnMut(&Store) -> Result<Written, StoreError> + Send + 'static,
    ) -> Result<Written, String> {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send(Job {
                work: Box::new(work),
                answer,
            })
            .map_err(|_| "the store thread has stopped".to_string())?;
        answered
            .await
            .map_err(|_| "the store thread has stopped".to_string())?
    }
}

fn write_loop(store: &Store, receiver: &mpsc::Receiver<Job>) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match run_batch(store, &mut batch) {
            Ok(results) => {
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.answer.send(Ok(result));
                }
            }
            Err(_) => {
                for mut job in batch {
                    let result = run_batch(store, std::slice::from_mut(&mut job))
                        .map(|mut results| results.pop().unwrap_or_default())
                        .map_err(|error| error.to_string());
                    let _ = job.answer.send(result);
                }
            }
        }
    }
}

/// Runs every job's work in one transaction; their results after the commit.
fn run_batch(store: &Store, batch: &mut [Job]) -> Result<Vec<Written>, StoreError> {
    store.begin()?;
    let results: Result<Vec<Written>, StoreError> =
        batch.iter_mut().map(|job| (job.work)(store)).collect();
    match results {
        Ok(results) => match store.commit() {
            Ok(()) => Ok(results),
            Err(error) => {
                store.rollback();
                Err(error)
            }
        },
        Err(error) => {
            store.rollback();
            Err(error)
        }
    }
}
