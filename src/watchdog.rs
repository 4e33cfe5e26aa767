//! What the daemon's jobs are doing, for `/readyz`: a job that runs past its
//! limit (a source or server that stopped answering mid-way), or whose last
//! run ended on a dependency that did not answer (the SMTP server), makes the
//! instance unready with the reason, while the other jobs go on.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Watchdog {
    jobs: Mutex<BTreeMap<String, Job>>,
}

#[derive(Default)]
struct Job {
    /// When the current run started, with its limit.
    running: Option<(Instant, Duration)>,
    /// What its last run left wrong (None: nothing).
    trouble: Option<String>,
}

/// A job's run, until dropped.
pub struct Running {
    dog: Arc<Watchdog>,
    name: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.dog.with(&self.name, |j| j.running = None);
    }
}

impl Watchdog {
    fn with<T>(&self, name: &str, f: impl FnOnce(&mut Job) -> T) -> T {
        // A poisoned lock still holds whole values: each is replaced at once.
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        f(jobs.entry(name.to_owned()).or_default())
    }

    /// `name` starts a run that should end within `limit`.
    pub fn start(self: &Arc<Self>, name: &str, limit: Duration) -> Running {
        self.with(name, |j| j.running = Some((Instant::now(), limit)));
        Running {
            dog: Arc::clone(self),
            name: name.to_owned(),
        }
    }

    /// What `name`'s last run left wrong, or None once it is right again.
    pub fn trouble(&self, name: &str, trouble: Option<String>) {
        self.with(name, |j| j.trouble = trouble);
    }

    /// Forgets what the jobs' last runs left wrong: this instance no longer
    /// runs them (another leads), so it is not what makes it unready.
    pub fn clear_troubles(&self) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        for j in jobs.values_mut() {
            j.trouble = None;
        }
    }

    /// Why the instance is not ready, one line per job: overruns first.
    pub fn problems(&self) -> Vec<String> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<String> = jobs
            .iter()
            .filter_map(|(name, j)| {
                let (since, limit) = j.running?;
                let took = since.elapsed();
                (took > limit).then(|| {
                    format!(
                        "job {name} has run for {} s, over its limit of {} s (schedule.job_limit_secs)",
                        took.as_secs(),
                        limit.as_secs()
                    )
                })
            })
            .collect();
        out.extend(
            jobs.iter()
                .filter_map(|(name, j)| Some(format!("job {name}: {}", j.trouble.as_ref()?))),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overrun_and_a_trouble_are_reported_until_they_end() {
        let dog = Arc::new(Watchdog::default());
        let run = dog.start("poll tinh", Duration::ZERO);
        std::thread::sleep(Duration::from_millis(5));
        let p = dog.problems();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("job poll tinh has run for"), "{p:?}");
        drop(run);
        assert!(dog.problems().is_empty());
        let _ok = dog.start("send", Duration::from_secs(60));
        assert!(dog.problems().is_empty(), "within its limit");
        dog.trouble("send", Some("the SMTP server did not answer".into()));
        assert_eq!(
            dog.problems(),
            vec!["job send: the SMTP server did not answer".to_owned()]
        );
        dog.trouble("send", None);
        assert!(dog.problems().is_empty());
    }
}
