//! Catching a backend's panic without its message on the terminal: the caller turns the failure
//! into an error that says it better (a GPU driver that cannot be loaded prints some 30 lines of
//! cudarc's; Burn's SVD panics on a matrix it cannot decompose).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many [`catch_quietly`] calls are running. While any is, the hook prints nothing, on any
/// thread: a backend may panic on a thread of its own (a device's runner) before the caller's
/// thread sees the failure.
static QUIET: AtomicUsize = AtomicUsize::new(0);
static HOOK: Once = Once::new();

/// Runs `work`, returning its panic as an `Err` and printing nothing for it. The panic hook is
/// wrapped once, never swapped back and forth, so concurrent calls cannot leave the process
/// silent; panics outside these calls reach the hook that was installed before.
pub(crate) fn catch_quietly<T>(work: impl FnOnce() -> T) -> std::thread::Result<T> {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.load(Ordering::SeqCst) == 0 {
                previous(info);
            }
        }));
    });
    QUIET.fetch_add(1, Ordering::SeqCst);
    let result = catch_unwind(AssertUnwindSafe(work));
    QUIET.fetch_sub(1, Ordering::SeqCst);
    result
}

/// The message of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> Option<String> {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_is_an_error_with_its_message() {
        let caught = catch_quietly(|| -> u32 { panic!("no driver") }).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()).as_deref(), Some("no driver"));
        assert_eq!(catch_quietly(|| 3).unwrap(), 3);
        assert_eq!(QUIET.load(Ordering::SeqCst), 0);
    }
}
