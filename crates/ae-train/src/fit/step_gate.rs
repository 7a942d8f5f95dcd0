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
    round: Arc<(Mutex<Round>, Condvar)>,
    workers: usize,
    patience: Duration,
}

/// The step the workers are gathering for, and how many have arrived.
#[derive(Debug, Default)]
struct Round {
    /// Bumped when every worker has arrived, or when one gave up waiting: a worker waits until
    /// it changes.
    number: u64,
    arrived: usize,
}

impl StepGate {
    /// The gate of a run whose steps have `workers` workers each.
    pub fn new(workers: usize) -> Self {
        Self {
            round: Arc::new((Mutex::new(Round::default()), Condvar::new())),
            workers: workers.max(1),
            patience: PATIENCE,
        }
    }

    /// The gate a run on `devices` needs: several devices, one of them remote.
    pub fn for_devices(devices: &[Device]) -> Option<Self> {
        #[cfg(feature = "remote")]
        {
            let remote = |device: &Device| {
                matches!(
                    device.clone().inner().as_dispatch(),
                    burn::backend::DispatchDevice::Remote(_)
                )
            };
            (devices.len() > 1 && devices.iter().any(remote)).then(|| Self::new(devices.len()))
        }
        #[cfg(not(feature = "remote"))]
        {
            let _ = devices;
            None
        }
    }

    /// Arrives at the gate and waits for the other workers of this step (at most 10 s: a worker
    /// that failed never arrives). A worker that gives up starts a new round, so that a step
    /// with fewer workers leaves the next ones as they were.
    pub fn pass(&self) {
        let (round, changed) = &*self.round;
        let Ok(mut current) = round.lock() else {
            return;
        };
        current.arrived += 1;
        if current.arrived >= self.workers {
            current.number += 1;
            current.arrived = 0;
            changed.notify_all();
            return;
        }
        let number = current.number;
        let deadline = Instant::now() + self.patience;
        while current.number == number {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                current.number += 1;
                current.arrived = 0;
                changed.notify_all();
                return;
            };
            match changed.wait_timeout(current, left) {
                Ok((guard, _)) => current = guard,
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
        let passed: Vec<_> = (0..3)
            .map(|i| {
                let gate = gate.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(50 * i));
                    gate.pass();
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
        // The next step starts from an empty gate: three more pass together again.
        let again: Vec<_> = (0..3)
            .map(|_| {
                let gate = gate.clone();
                std::thread::spawn(move || gate.pass())
            })
            .collect();
        for worker in again {
            worker.join().unwrap();
        }
        let round = gate.round.0.lock().unwrap();
        assert_eq!((round.number, round.arrived), (2, 0));
    }

    #[test]
    fn a_worker_alone_goes_on_after_its_patience_and_the_next_step_is_whole_again() {
        let mut gate = StepGate::new(2);
        gate.patience = Duration::from_millis(100);
        // A step with one worker (the other failed): it waits its patience, then goes on.
        let started = Instant::now();
        gate.pass();
        assert!(started.elapsed() >= Duration::from_millis(100));
        // The next step has both: they pass together, the second arrival releasing the first.
        gate.patience = Duration::from_secs(60);
        let first = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.pass())
        };
        std::thread::sleep(Duration::from_millis(50));
        gate.pass();
        first.join().unwrap();
        let round = gate.round.0.lock().unwrap();
        assert_eq!((round.number, round.arrived), (2, 0));
    }

    #[test]
    fn only_remote_data_parallel_runs_have_a_gate() {
        assert!(StepGate::for_devices(&[Device::flex(), Device::flex()]).is_none());
        assert!(StepGate::for_devices(&[Device::flex()]).is_none());
    }
}
