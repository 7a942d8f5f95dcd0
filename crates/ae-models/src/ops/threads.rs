//! Running a loop over the models on the CPU kernels' threads: [`on_kernel_threads`].

/// Runs `work` on one of rayon's threads when `device` is the CPU (`flex`), else on this thread,
/// and returns what it returns.
///
/// The CPU kernels (these and flex's own) split large operations across rayon's threads. A
/// thread outside rayon's pool that starts one hands all of it to the pool and sleeps until it is
/// done: every operation wakes pool threads and then the caller again, and with as many pool
/// threads as cores, three threads share them. Started on a pool thread, the caller does its own
/// share and the other threads steal the rest, as PyTorch's caller does in its OpenMP regions.
/// `ae_train::fit` runs its training loop through this, and so does a program's own loop over
/// the models that wants the same speed (measured on 2 cores: dense training steps +8-27%,
/// inference +10%, a whole training run +18-21%).
///
/// `work` may block on other threads (burn-train's learner waits on its event processor and its
/// data loaders, which run tensor operations too): a pool thread is lent to at most all but one
/// such call at a time, so that one is always left for the work they wait on. The others, and
/// calls on a pool thread already, run here.
///
/// The first call on the CPU also sets the pool's threads to flush denormal floats to zero
/// (x86-64's FTZ and DAZ), as TensorFlow runs its CPU threads and PyTorch does after
/// `torch.set_flush_denormal(True)`: values below 1.2e-38 then count as 0. Without it, training
/// slows down as it goes: a sigmoid output driven towards 0 (a dark pixel) and Adam's moments of
/// units that stopped learning reach that range, and every operation on such a value takes a
/// microcode assist (20 epochs of `train_vanilla` on Fashion-MNIST: 18.3 s, the later epochs
/// 40% slower than the second; with the flush 12.2 s at the same test MSE). The calling thread
/// is left as it is.
pub fn on_kernel_threads<R: Send>(
    device: &burn::tensor::Device,
    work: impl FnOnce() -> R + Send,
) -> R {
    #[cfg(feature = "flex")]
    if matches!(device.as_dispatch(), burn::backend::DispatchDevice::Flex(_)) {
        flush_denormals_on_pool();
        if rayon::current_thread_index().is_none()
            && let Some(_seat) = PoolSeat::take()
        {
            return rayon::scope(|_| work());
        }
    }
    #[cfg(not(feature = "flex"))]
    let _ = device;
    work()
}

/// Sets every thread of rayon's pool to flush denormal floats to zero, once per process (see
/// [`on_kernel_threads`]).
#[cfg(feature = "flex")]
fn flush_denormals_on_pool() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        rayon::broadcast(|_| flush_denormals_on_this_thread());
    });
}

/// Sets this thread's MXCSR to flush denormal results to zero (FTZ, bit 15) and to read denormal
/// operands as zero (DAZ, bit 6).
#[cfg(all(feature = "flex", target_arch = "x86_64"))]
fn flush_denormals_on_this_thread() {
    const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);
    let mut control = 0u32;
    // SAFETY: `stmxcsr` stores this thread's SSE control and status register into `control`,
    // `ldmxcsr` loads it back with the two mode bits set; nothing else is read or written. The
    // modes change only how values below the smallest normal float round (to zero). The compiler
    // assumes the default modes, so arithmetic it folds at compile time may still give a denormal
    // that the same arithmetic at run time would flush: a difference below 1.2e-38, no more.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut control, options(nostack, preserves_flags));
        control |= FTZ_DAZ;
        std::arch::asm!("ldmxcsr [{}]", in(reg) &control, options(nostack, preserves_flags));
    }
}

/// Other targets keep their floating-point modes.
#[cfg(all(feature = "flex", not(target_arch = "x86_64")))]
fn flush_denormals_on_this_thread() {}

/// Calls of [`on_kernel_threads`] running on a pool thread now.
#[cfg(feature = "flex")]
static LENT_POOL_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A pool thread lent to one call of [`on_kernel_threads`], given back when dropped.
#[cfg(feature = "flex")]
struct PoolSeat;

#[cfg(feature = "flex")]
impl PoolSeat {
    /// A seat while fewer than all but one of the pool's threads are lent.
    fn take() -> Option<Self> {
        use std::sync::atomic::Ordering::SeqCst;
        let seats = rayon::current_num_threads().saturating_sub(1);
        LENT_POOL_THREADS
            .fetch_update(SeqCst, SeqCst, |lent| (lent < seats).then_some(lent + 1))
            .ok()
            .map(|_| PoolSeat)
    }
}

#[cfg(feature = "flex")]
impl Drop for PoolSeat {
    fn drop(&mut self) {
        LENT_POOL_THREADS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// `on_kernel_threads` moves work on the CPU onto a pool thread (when the pool has two), runs a
    /// nested call in place, and leaves other devices' work where it is. Then two calls at once
    /// whose work blocks until a thread outside the pool gets a rayon job done (as burn-train's
    /// learner waits on its event processor) both finish: a pool thread is always left for that job.
    /// With every pool thread lent to a blocked call, they would wait forever. Last, the pool's
    /// threads flush denormals and the caller's does not. (One test: the pool's seats are shared by
    /// the whole process, and no other test here may call `on_kernel_threads`.)
    #[test]
    fn kernel_threads_take_cpu_work_into_the_pool_and_leave_one_thread() {
        use std::sync::{Arc, Barrier, mpsc};
        use std::time::Duration;

        let where_run = |device: &Device| on_kernel_threads(device, rayon::current_thread_index);
        if rayon::current_num_threads() >= 2 {
            assert!(where_run(&Device::flex()).is_some());
            let (outer, inner) = on_kernel_threads(&Device::flex(), || {
                (rayon::current_thread_index(), where_run(&Device::flex()))
            });
            assert_eq!(outer, inner);
        }
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)]
        // ndarray is deprecated upstream; it is the other CPU backend here
        let ndarray = Device::ndarray();
        #[cfg(feature = "ndarray")]
        assert_eq!(where_run(&ndarray), None);

        let calls = 2.max(rayon::current_num_threads());
        let all_inside = Arc::new(Barrier::new(calls));
        let (done, finished) = mpsc::channel();
        for _ in 0..calls {
            let (all_inside, done) = (all_inside.clone(), done.clone());
            std::thread::spawn(move || {
                let sum = on_kernel_threads(&Device::flex(), || {
                    all_inside.wait();
                    let (job, result) = mpsc::channel();
                    std::thread::spawn(move || job.send(rayon::join(|| 1, || 2)));
                    let (a, b) = result.recv().expect("the helper thread answers");
                    a + b
                });
                done.send(sum).expect("the test waits");
            });
        }
        for _ in 0..calls {
            let sum = finished
                .recv_timeout(Duration::from_secs(60))
                .expect("blocked calls on the pool deadlocked");
            assert_eq!(sum, 3);
        }

        // After a call on the CPU, rayon's threads flush denormal results to zero; this thread (not
        // one of the pool's) does not.
        #[cfg(target_arch = "x86_64")]
        {
            let tiny = f32::MIN_POSITIVE;
            let halved = || std::hint::black_box(tiny) / 2.0;
            let on_pool = rayon::broadcast(|_| halved());
            assert!(on_pool.iter().all(|&v| v == 0.0), "{on_pool:?}");
            assert!(halved() > 0.0);
        }
    }
}
