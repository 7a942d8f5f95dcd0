//! Starting the workers' training steps of a data-parallel run on remote devices together:
//! [`StepGate`].

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use burn::tensor::Device;

/// How long a worker waits at the gate for the others before it goes on alone (a worker that
/// failed never arrives; the run is ending then anyway).
const PATIENCE: Duration = Duration::from_secs(10);

/// Lets each worker of a data-parallel step queue its forward and backward passes only once every
/// worker of the step has arrived.
///
/// burn-train's multi-device workers start a step by forking the model (on the first device,
/// where the optimizer ran) to their own device. On remote devices the fork is a copy from server
/// to server, which the first device's server hands out in the order of its queue, while the
/// first device's own worker, with nothing to copy, queues its step at once: the copies then wait
/// behind that worker's whole forward and backward pass, and the servers take turns instead of
/// computing together (measured: two servers no faster than one). Waiting here, inside the step
/// and so after the fork, puts every copy in the queue first.
///
/// Every step must then have all the workers: the run gives each device the same number of
/// whole batches (`data_parallel::equal_shares`).
#[derive(Clone, Debug)]
pub struct StepGate {
    passes: Arc<(Mutex<Passes>, Condvar)>,
    workers: usize,
    patience: Duration,
}

/// How many steps each worker (named by its device) has arrived for.
type Passes = Vec<(String, u64)>;

impl StepGate {
    /// The gate of a run whose steps have `workers` workers each.
    pub fn new(workers: usize) -> Self {
        Self {
            passes: Arc::new((Mutex::new(Vec::new()), Condvar::new())),
            workers: workers.max(1),
            patience: PATIENCE,
        }
    }

    /// The gate a run on `devices` needs: see [`StepGate::needed`].
    pub fn for_devices(devices: &[Device]) -> Option<Self> {
        Self::needed(devices).then(|| Self::new(devices.len()))
    }

    /// Whether a run on `devices` starts its steps at a gate: several devices, one of them
    /// remote.
    pub fn needed(devices: &[Device]) -> bool {
        #[cfg(feature = "remote")]
        {
            let remote = |device: &Device| {
                matches!(
                    device.clone().inner().as_dispatch(),
                    burn::backend::DispatchDevice::Remote(_)
                )
            };
            devices.len() > 1 && devices.iter().any(remote)
        }
        #[cfg(not(feature = "remote"))]
        {
            let _ = devices;
            false
        }
    }

    /// Arrives at the gate for `worker`'s next step (the worker named by its device: burn-train
    /// starts new worker threads every epoch) and waits until every worker has arrived for that
    /// step, at most 10 s (a worker that failed never arrives). A worker that arrives late, after
    /// the others gave up on it, finds them past its step and goes on at once.
    pub fn pass(&self, worker: &str) {
        let (passes, changed) = &*self.passes;
        let Ok(mut counts) = passes.lock() else {
            return;
        };
        let step = match counts.iter_mut().find(|(name, _)| name == worker) {
            Some((_, count)) => {
                *count += 1;
                *count
            }
            None => {
                counts.push((worker.to_string(), 1));
                1
            }
        };
        changed.notify_all();
        let deadline = Instant::now() + self.patience;
        let all_there = |counts: &Passes| {
            counts.len() >= self.workers && counts.iter().all(|(_, count)| *count >= step)
        };
        while !all_there(&counts) {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            match changed.wait_timeout(counts, left) {
                Ok((guard, _)) => counts = guard,
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_pass_together_step_after_step() {
        let gate = StepGate::new(3);
        let started = Instant::now();
        let passed: Vec<_> = (0..3u64)
            .map(|i| {
                let gate = gate.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(50 * i));
                    gate.pass(&format!("device {i}"));
                    started.elapsed()
                })
            })
            .collect();
        let times: Vec<Duration> = passed.into_iter().map(|t| t.join().unwrap()).collect();
        // Nobody passes before the last worker arrives (100 ms).
        assert!(
            times.iter().all(|t| *t >= Duration::from_millis(100)),
            "{times:?}"
        );
        // The next step: three more pass together again, on new threads (as in a new epoch).
        let again: Vec<_> = (0..3u64)
            .map(|i| {
                let gate = gate.clone();
                std::thread::spawn(move || gate.pass(&format!("device {i}")))
            })
            .collect();
        for worker in again {
            worker.join().unwrap();
        }
        let counts = gate.passes.0.lock().unwrap();
        assert!(counts.iter().all(|(_, count)| *count == 2), "{counts:?}");
    }

    #[test]
    fn a_worker_left_behind_goes_on_at_once_when_it_arrives() {
        let mut gate = StepGate::new(2);
        gate.patience = Duration::from_millis(100);
        // Step 1: `b` is late; `a` waits its patience and goes on.
        let started = Instant::now();
        gate.pass("a");
        assert!(started.elapsed() >= Duration::from_millis(100));
        // `b` arrives for step 1, which `a` has passed: no wait, even with a long patience.
        gate.patience = Duration::from_secs(60);
        let started = Instant::now();
        gate.pass("b");
        assert!(started.elapsed() < Duration::from_secs(30));
        // Step 2 has both again: the second arrival releases the first.
        let first = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.pass("a"))
        };
        std::thread::sleep(Duration::from_millis(50));
        gate.pass("b");
        first.join().unwrap();
    }

    #[test]
    fn only_remote_data_parallel_runs_have_a_gate() {
        assert!(StepGate::for_devices(&[Device::flex(), Device::flex()]).is_none());
        assert!(StepGate::for_devices(&[Device::flex()]).is_none());
    }
}
