//! The password hashing service: a small fixed pool of dedicated threads behind a bounded queue.
//!
//! Each Argon2 hash needs its memory cost in RAM (19 MiB by default). Hashing on tokio's
//! blocking pool let hundreds of hashes run at once, and glibc kept their memory in per-thread
//! heaps for good (gigabytes after a registration storm). Here each worker owns one Argon2
//! buffer, allocated on its first job and reused for every later one, so hashing memory is at
//! most `workers × memory cost` whatever the load. When the queue is full a call fails at once
//! with `rate_limited` (429) and a `Retry-After` estimated from the recent hashing speed.

use super::password::{self, Memory};
use crate::error::{AppError, AppResult};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<AppResult<String>>,
    },
    Verify {
        password: String,
        phc: String,
        reply: oneshot::Sender<bool>,
    },
}

impl Job {
    /// The caller went away (a client that disconnected): nothing to compute.
    fn abandoned(&self) -> bool {
        match self {
            Job::Hash { reply, .. } => reply.is_closed(),
            Job::Verify { reply, .. } => reply.is_closed(),
        }
    }
}

/// A handle on the hashing pool. Dropping the last handle stops the workers (after the jobs
/// already queued) and frees their buffers.
pub struct Hasher {
    jobs: SyncSender<Job>,
    workers: usize,
    queue: usize,
    /// Moving average of one job's duration, in microseconds.
    job_micros: Arc<AtomicU64>,
}

impl Hasher {
    /// Starts `workers` threads (at least one) behind a queue of `queue` jobs (at least one),
    /// hashing new passwords with `memory_kib` KiB.
    pub fn start(workers: usize, queue: usize, memory_kib: u32) -> std::io::Result<Hasher> {
        password::params(memory_kib).map_err(|e| std::io::Error::other(e.to_string()))?;
        let (workers, queue) = (workers.max(1), queue.max(1));
        let (jobs, rx) = mpsc::sync_channel(queue);
        let rx = Arc::new(Mutex::new(rx));
        // Until a job has been timed: ~60 ms per hash at the default 19 MiB.
        let guess = (u64::from(memory_kib) * 60_000 / (19 * 1024)).max(1_000);
        let job_micros = Arc::new(AtomicU64::new(guess));
        for i in 0..workers {
            let (rx, micros) = (rx.clone(), job_micros.clone());
            std::thread::Builder::new()
                .name(format!("hearth-hash-{i}"))
                .spawn(move || work(&rx, memory_kib, &micros))?;
        }
        Ok(Hasher {
            jobs,
            workers,
            queue,
            job_micros,
        })
    }

    /// Hashes a new password (PHC string, fresh salt) with the configured memory cost.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer.await.map_err(|_| gone())?
    }

    /// Checks a password against a stored PHC string (with the string's own parameters).
    pub async fn verify(&self, password: String, phc: String) -> AppResult<bool> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            phc,
            reply,
        })?;
        answer.await.map_err(|_| gone())
    }

    fn submit(&self, job: Job) -> AppResult<()> {
        match self.jobs.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(AppError::RateLimited {
                message: "the server is busy checking passwords; try again later".into(),
                retry_after: self.backlog(),
            }),
            Err(TrySendError::Disconnected(_)) => Err(gone()),
        }
    }

    /// How long a full queue takes to drain at the recent speed (at least a second).
    fn backlog(&self) -> Duration {
        let per_job = Duration::from_micros(self.job_micros.load(Ordering::Relaxed));
        let rounds = (self.queue + self.workers).div_ceil(self.workers) as u32;
        (per_job * rounds).max(Duration::from_secs(1))
    }
}

fn gone() -> AppError {
    AppError::Internal("the password hashing pool stopped".into())
}

/// Hashing yields the CPU to everything else: during a login storm on a busy machine the
/// request workers and the message writer (nice 0) run first, so the storm slows logins, not
/// other users' traffic. Linux only (where a nice value is per thread); elsewhere a no-op.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: `setpriority` with `who == 0` changes only the calling thread's nice value; it
    // touches no memory of ours. A failure (not permitted) leaves the priority as it was.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// One worker: takes jobs until every [`Hasher`] handle is dropped.
fn work(jobs: &Mutex<Receiver<Job>>, memory_kib: u32, job_micros: &AtomicU64) {
    lower_priority();
    let mut memory: Option<Memory> = None;
    loop {
        // The lock is held only while waiting for the next job, never while hashing.
        let job = match jobs.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        if job.abandoned() {
            continue;
        }
        let mem = match memory {
            Some(ref mut m) => m,
            None => match Memory::new(memory_kib) {
                Ok(m) => memory.insert(m),
                Err(e) => {
                    if let Job::Hash { reply, .. } = job {
                        let _ = reply.send(Err(e));
                    }
                    continue;
                }
            },
        };
        let started = Instant::now();
        match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(password::hash_with(mem, &password, memory_kib));
            }
            Job::Verify {
                password,
                phc,
                reply,
            } => {
                let _ = reply.send(password::verify_with(mem, &password, &phc));
            }
        }
        let took = started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
        let avg = job_micros.load(Ordering::Relaxed);
        job_micros.store((avg * 7 + took) / 8, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_and_verifies_in_the_pool() {
        let h = Hasher::start(2, 4, 1024).unwrap();
        let phc = h.hash("pool password".into()).await.unwrap();
        assert!(h.verify("pool password".into(), phc.clone()).await.unwrap());
        assert!(!h.verify("pool passwordx".into(), phc).await.unwrap());
        assert!(!h.verify("x".into(), "garbage".into()).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_fails_fast_with_retry_after() {
        let h = Hasher::start(1, 1, 8 * 1024).unwrap();
        let calls = (0..10).map(|i| h.hash(format!("password {i}")));
        let results = futures_util::future::join_all(calls).await;
        let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(refused.len() >= 7, "{results:?}");
        assert!(results.iter().any(Result::is_ok), "{results:?}");
        for e in refused {
            assert_eq!(e.code(), "rate_limited");
            assert!(e.retry_after().is_some_and(|d| d >= Duration::from_secs(1)));
        }
    }
}
