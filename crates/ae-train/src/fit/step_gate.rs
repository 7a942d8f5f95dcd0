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
    arrived: Arc<(Mutex<u64>, Condvar)>,
    workers: u64,
}

impl StepGate {
    /// The gate of a run whose steps have `workers` workers each.
    pub fn new(workers: usize) -> Self {
        Self {
            arrived: Arc::new((Mutex::new(0), Condvar::new())),
            workers: workers.max(1) as u64,
        }
    }

    /// The gate a run on `devices` needs: several devices, one of them remote.
    pub fn for_devices(devices: &[Device]) -> Option<Self> {
        let remote = |device: &Device| {
            matches!(
                device.clone().inner().as_dispatch(),
                burn::backend::DispatchDevice::Remote(_)
            )
        };
        #[cfg(not(feature = "remote"))]
        let _ = remote;
        (cfg!(feature = "remote") && devices.len() > 1 && devices.iter().any(remote))
            .then(|| Self::new(devices.len()))
    }

    /// Arrives at the gate and waits for the other workers of this step (at most 10 s: a worker
    /// that failed never arrives).
    pub fn pass(&self) {
        let (count, all_arrived) = &*self.arrived;
        let Ok(mut arrived) = count.lock() else {
            return;
        };
        *arrived += 1;
        let step_done = arrived.div_ceil(self.workers) * self.workers;
        all_arrived.notify_all();
        let deadline = Instant::now() + PATIENCE;
        while *arrived < step_done {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            match all_arrived.wait_timeout(arrived, left) {
                Ok((guard, _)) => arrived = guard,
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
        assert_eq!(*gate.arrived.0.lock().unwrap(), 6);
    }

    #[test]
    fn only_remote_data_parallel_runs_have_a_gate() {
        assert!(StepGate::for_devices(&[Device::flex(), Device::flex()]).is_none());
        assert!(StepGate::for_devices(&[Device::flex()]).is_none());
    }
}
