//! The GPU backends' work on one CubeCL stream (the default) against CubeCL's stream per thread
//! (`AE_STREAMS=per-thread`): the same trained model, and no cross-stream flush, counted by
//! CubeCL's own streaming logger (a `cubecl.toml` in the trainer's working folder).
//!
//! Runs on wgpu (Mesa's lavapipe is enough); skipped with a printed reason where no adapter
//! exists, unless `AE_REQUIRE_WGPU=1`.

#![cfg(all(feature = "cli", feature = "wgpu"))]

mod common;

use std::path::Path;
use std::process::Command;

/// What one run of `train_vanilla` on wgpu left: its exit, standard error, the test MSE of its
/// report, whether its steps were captured, and the number of flushes the streaming logger wrote.
struct Run {
    success: bool,
    stderr: String,
    test_mse: Option<f64>,
    captured: Option<bool>,
    flushes: usize,
    adapters: Vec<String>,
}

fn train(folder: &Path, streams: &str) -> Run {
    train_with(folder, streams, &[])
}

fn train_with(folder: &Path, streams: &str, flags: &[&str]) -> Run {
    std::fs::write(
        folder.join("cubecl.toml"),
        "[streaming.logger]\nlevel = \"basic\"\nfile = \"stream.log\"\n",
    )
    .unwrap();
    let _ = std::fs::remove_file(folder.join("stream.log"));
    let _ = std::fs::remove_dir_all(folder.join("run"));
    let output = Command::new(common::example_path("train_vanilla"))
        .args([
            "--device", "wgpu", "--limit", "1024", "--epochs", "2", "--out", "run",
        ])
        .args(flags)
        .current_dir(folder)
        .env("AE_PROGRESS", "plain")
        .env("AE_STREAMS", streams)
        .output()
        .expect("train_vanilla runs");
    let report = std::fs::read_to_string(folder.join("run/report.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
    let test_mse = report.as_ref().and_then(|r| r["test"]["mse"].as_f64());
    let captured = report.as_ref().and_then(|r| r["captured"].as_bool());
    let adapters = report
        .as_ref()
        .and_then(|r| r["adapters"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    let log = std::fs::read_to_string(folder.join("stream.log")).unwrap_or_default();
    Run {
        success: output.status.success(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        test_mse,
        captured,
        adapters,
        flushes: log
            .lines()
            .filter(|l| l.to_lowercase().contains("flush"))
            .count(),
    }
}

#[test]
fn one_stream_trains_the_same_model_without_flushes() {
    let folder = tempfile::tempdir().unwrap();
    let per_thread = train(folder.path(), "per-thread");
    if !per_thread.success && per_thread.stderr.contains("no usable `wgpu` device") {
        assert!(
            !std::env::var("AE_REQUIRE_WGPU").is_ok_and(|v| v == "1"),
            "AE_REQUIRE_WGPU=1 but: {}",
            per_thread.stderr
        );
        eprintln!("skipped: {}", per_thread.stderr);
        return;
    }
    assert!(per_thread.success, "per-thread: {}", per_thread.stderr);
    // The report names the adapter, and says when it is Mesa's software renderer.
    match &per_thread.adapters[..] {
        [adapter] => assert!(
            adapter.starts_with("wgpu: ")
                && (!adapter.contains("llvmpipe") || adapter.contains("no GPU")),
            "{adapter}"
        ),
        other => panic!("adapters {other:?}"),
    }
    let single = train(folder.path(), "single");
    assert!(single.success, "single: {}", single.stderr);
    // burn-train's metric thread reads the training thread's outputs: with a stream per thread
    // the scheduler flushes the training stream for it, with one stream there is nothing to
    // flush.
    assert!(per_thread.flushes > 0, "the logger saw no flush per thread");
    assert_eq!(single.flushes, 0, "flushes with one stream");
    let (a, b) = (per_thread.test_mse.unwrap(), single.test_mse.unwrap());
    assert!(
        (a - b).abs() <= 1e-6 * a.abs(),
        "test MSE {a} per thread, {b} on one stream"
    );
}

/// `--capture` through the trainer: the steps replayed from one captured graph train the model
/// the ordinary steps train, with no cross-stream flush either.
#[test]
fn captured_steps_train_the_same_model_as_ordinary_ones() {
    let folder = tempfile::tempdir().unwrap();
    let ordinary = train(folder.path(), "single");
    if !ordinary.success && ordinary.stderr.contains("no usable `wgpu` device") {
        assert!(
            !std::env::var("AE_REQUIRE_WGPU").is_ok_and(|v| v == "1"),
            "AE_REQUIRE_WGPU=1 but: {}",
            ordinary.stderr
        );
        eprintln!("skipped: {}", ordinary.stderr);
        return;
    }
    assert!(ordinary.success, "ordinary: {}", ordinary.stderr);
    let captured = train_with(folder.path(), "single", &["--capture"]);
    assert!(captured.success, "captured: {}", captured.stderr);
    assert_eq!(
        (ordinary.captured, captured.captured),
        (Some(false), Some(true))
    );
    assert_eq!(captured.flushes, 0, "flushes of a captured run");
    let (a, b) = (ordinary.test_mse.unwrap(), captured.test_mse.unwrap());
    assert!(
        (a - b).abs() <= 1e-4 * a.abs(),
        "test MSE {a} ordinary, {b} captured"
    );
}

#[test]
fn an_unknown_stream_policy_is_refused() {
    let folder = tempfile::tempdir().unwrap();
    let run = train(folder.path(), "perthread");
    assert!(
        !run.success && !run.stderr.contains("panicked"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("AE_STREAMS") && run.stderr.contains("per-thread"),
        "{}",
        run.stderr
    );
}
