//! What Ctrl+C (or a `kill`) says during training: where the finished epochs' checkpoints are and
//! how to go on. Without it the process just ends, and a user cannot tell what was kept.
//!
//! The checkpoints are complete files written atomically, so stopping at any moment keeps every
//! finished epoch; what a stopped write left behind is removed by the next run in the folder.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The run folder being trained into (the latest, when a program trains several).
static RUN_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// From now on, SIGINT and SIGTERM end the process with a line naming `dir`'s checkpoints and
/// `--resume` (exit status 128 + the signal, as a shell reports it). The first call installs the handler; later calls name another
/// folder.
pub fn say_how_to_resume(dir: &Path) {
    let Ok(mut current) = RUN_DIR.lock() else {
        return;
    };
    let first = current.is_none();
    *current = Some(dir.to_path_buf());
    drop(current);
    if first {
        install();
    }
}

#[cfg(unix)]
fn install() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    // Without a handler the default one ends the process silently, as before.
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let dir = RUN_DIR.lock().ok().and_then(|dir| dir.clone());
                if let Some(dir) = dir {
                    let checkpoints = dir.join("checkpoint");
                    match ae_train::latest_complete_checkpoint(&checkpoints) {
                        Some(epoch) => eprintln!(
                            "\ninterrupted: the checkpoints of the finished epochs (up to {epoch}) \
                             are kept in {}; continue with the same command and --resume",
                            checkpoints.display()
                        ),
                        None => eprintln!(
                            "\ninterrupted before the first epoch's checkpoint: nothing to resume \
                             in {}; start over with the same command and --overwrite",
                            dir.display()
                        ),
                    }
                }
                // The status a shell gives a process ended by the signal.
                std::process::exit(128 + signal);
            }
        });
}

#[cfg(not(unix))]
fn install() {}
