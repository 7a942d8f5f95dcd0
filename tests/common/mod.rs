//! What the tests that run the example binaries share: where the binaries are, running one, and
//! the two outcomes they check (refused with a message, or a success).

#![allow(dead_code)] // each test crate uses its own part

pub mod browser;
pub mod explore_server;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes zero-filled IDX files of the given shapes into `dir`, as `(file name, dims)`: an
/// MNIST-format folder (`.gz` names are compressed).
pub fn write_idx_files(dir: &Path, files: &[(&str, &[usize])]) {
    for &(name, dims) in files {
        let n: usize = dims.iter().product();
        ae_data::idx::write_idx(&dir.join(name), dims, &vec![0u8; n]).expect("an IDX file");
    }
}

/// The folder of the example binaries built with the tests.
pub fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .join("examples")
}

/// The example binary `name`, which `cargo test` builds beside the tests.
pub fn example_path(name: &str) -> PathBuf {
    let path = examples_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the examples (cargo test builds them)",
        path.display()
    );
    path
}

/// An example's exit code and standard error.
pub struct Outcome {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// What it printed on standard error.
    pub stderr: String,
}

/// Runs `example` with `args`, plain progress lines.
pub fn run(example_name: &str, args: &[&str]) -> Outcome {
    let output = Command::new(example_path(example_name))
        .args(args)
        .env("AE_PROGRESS", "plain")
        .output()
        .expect("the example runs");
    Outcome {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs and checks: a failure exit code (not a crash by signal), no panic, `needle` in stderr.
pub fn refused(example: &str, args: &[&str], needle: &str) {
    let outcome = run(example, args);
    let shown = format!("{example} {args:?}:\n{}", outcome.stderr);
    assert!(
        matches!(outcome.code, Some(c) if c != 0),
        "exit {:?} for {shown}",
        outcome.code
    );
    assert!(!outcome.stderr.contains("panicked"), "a panic for {shown}");
    assert!(outcome.stderr.contains(needle), "no `{needle}` for {shown}");
}

/// Runs and checks a success exit code.
pub fn ok(example: &str, args: &[&str]) {
    let outcome = run(example, args);
    assert_eq!(
        outcome.code,
        Some(0),
        "{example} {args:?}:\n{}",
        outcome.stderr
    );
}

/// Runs an example that must fail within `seconds`: killed and reported if it runs longer (a
/// FIFO read blocks forever).
pub fn refused_within(seconds: u64, example: &str, args: &[&str], needle: &str) {
    let mut child = Command::new(example_path(example))
        .args(args)
        .env("AE_PROGRESS", "plain")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the example runs");
    let start = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed().as_secs() >= seconds {
            let _ = child.kill();
            panic!("{example} {args:?} still ran after {seconds} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let shown = format!("{example} {args:?}:\n{stderr}");
    assert!(!output.status.success(), "exit 0 for {shown}");
    assert!(!stderr.contains("panicked"), "a panic for {shown}");
    assert!(stderr.contains(needle), "no `{needle}` for {shown}");
}

pub fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates the file.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}
