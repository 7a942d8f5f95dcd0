//! `fit` with `FitOptions::capture` (burn-train's learner with a strategy that replays one
//! captured step per batch) trains as an ordinary `fit` does — the same epoch losses and the same
//! model — on wgpu (Mesa's lavapipe is enough; skipped where no adapter exists, unless
//! `AE_REQUIRE_WGPU=1`); checkpoints of captured and ordinary runs resume each other; a run that
//! cannot be captured trains the ordinary way.

mod common;

use std::path::Path;

use ae_data::{ImageDataset, mnist_sample};
use ae_models::{Autoencoder, VaeConfig, VanillaAutoencoder, VanillaAutoencoderConfig};
use ae_train::{Backend, DeviceSpec, FitOptions, Fitted, TrainingConfig, fit, read_epoch_log};
use burn::tensor::{Device, Tolerance};

/// Held by each test that uses wgpu: every GPU thread of this process shares one CubeCL stream
/// (`ae_train::Streams`), and while a capture records, that stream takes dispatches only —
/// another test's read-back would fail meanwhile.
static ONE_DEVICE_USER_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn splits() -> (ImageDataset, ImageDataset) {
    let data = mnist_sample().unwrap();
    // 100 validation images: the second batch of 64 is padded, and its mask counts.
    (data.train.take(512), data.test.take(100))
}

fn model(device: &Device) -> VanillaAutoencoder {
    device.seed(11);
    VanillaAutoencoderConfig::new().init(device)
}

/// Trains the dense AE into `dir` for `epochs` (resuming when asked).
fn train(
    dir: &Path,
    device: &Device,
    epochs: usize,
    capture: bool,
    resume: bool,
) -> Fitted<VanillaAutoencoder> {
    let (train, valid) = splits();
    let config = TrainingConfig::new()
        .with_epochs(epochs)
        .with_batch_size(64);
    let options = FitOptions::new(dir, device)
        .with_capture(capture)
        .with_resume(resume);
    fit(model(device), train, valid, &config, &options).unwrap()
}

/// `(epoch, split, loss)` of every epoch of a run folder's log.
fn losses(dir: &Path) -> Vec<(usize, String, f64)> {
    read_epoch_log(&dir.join("metrics.jsonl"))
        .unwrap()
        .into_iter()
        .map(|r| (r.epoch, r.split.clone(), r.metrics["Loss"]))
        .collect()
}

fn assert_same_run(a: &Path, b: &Path) {
    let (a, b) = (losses(a), losses(b));
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for ((epoch, split, x), (_, _, y)) in a.iter().zip(&b) {
        assert!(
            (x - y).abs() <= 1e-4 * y.abs(),
            "epoch {epoch} {split}: {x} vs {y} ({a:?} vs {b:?})"
        );
    }
}

fn assert_same_model(a: &VanillaAutoencoder, b: &VanillaAutoencoder, device: &Device) {
    let probe = splits().1.batch(0..32, device).images;
    a.reconstruct(probe.clone())
        .into_data()
        .assert_approx_eq::<f32>(&b.reconstruct(probe).into_data(), Tolerance::absolute(1e-4));
}

#[test]
fn a_captured_fit_trains_as_an_ordinary_fit_and_their_checkpoints_resume_each_other() {
    let _alone = ONE_DEVICE_USER_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(device) = common::wgpu() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let dir = |name: &str| root.path().join(name);

    let ordinary = train(&dir("ordinary"), &device, 3, false, false);
    assert!(!ordinary.captured);
    let captured = train(&dir("captured"), &device, 3, true, false);
    assert!(captured.captured);
    assert_same_run(&dir("captured"), &dir("ordinary"));
    assert_same_model(&captured.model, &ordinary.model, &device);
    // The loss falls: the replays train.
    let log = losses(&dir("captured"));
    assert!(log[4].2 < 0.9 * log[0].2, "{log:?}");

    // Two epochs captured, the third ordinary: the captured run's checkpoint holds Adam's state
    // as Burn's optimizer record.
    train(&dir("captured-then-ordinary"), &device, 2, true, false);
    let resumed = train(&dir("captured-then-ordinary"), &device, 3, false, true);
    assert_eq!((resumed.resumed_from, resumed.captured), (Some(2), false));
    assert_same_run(&dir("captured-then-ordinary"), &dir("ordinary"));
    assert_same_model(&resumed.model, &ordinary.model, &device);

    // Two epochs ordinary, the third captured: the capture starts from the checkpoint's Adam.
    train(&dir("ordinary-then-captured"), &device, 2, false, false);
    let resumed = train(&dir("ordinary-then-captured"), &device, 3, true, true);
    assert_eq!((resumed.resumed_from, resumed.captured), (Some(2), true));
    assert_same_run(&dir("ordinary-then-captured"), &dir("ordinary"));
    assert_same_model(&resumed.model, &ordinary.model, &device);
}

#[test]
fn a_run_that_cannot_be_captured_trains_the_ordinary_way() {
    let _alone = ONE_DEVICE_USER_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (train, valid) = splits();
    let config = TrainingConfig::new().with_epochs(1).with_batch_size(64);
    // The CPU has no graph to replay.
    let flex = DeviceSpec::new(Backend::Flex).device().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = FitOptions::new(dir.path(), &flex).with_capture(true);
    let fitted = fit(
        model(&flex),
        train.clone(),
        valid.clone(),
        &config,
        &options,
    )
    .unwrap();
    assert!(!fitted.captured);
    assert_eq!(fitted.train_items, 512);

    // The VAE samples fresh noise in every step: a replay would repeat the first draw.
    let Some(device) = common::wgpu() else {
        return;
    };
    let vae = VaeConfig::new().init(&device);
    let dir = tempfile::tempdir().unwrap();
    let options = FitOptions::new(dir.path(), &device).with_capture(true);
    let fitted = fit(vae, train, valid, &config, &options).unwrap();
    assert!(!fitted.captured);
    assert!(
        losses(dir.path())
            .iter()
            .all(|(_, _, loss)| loss.is_finite())
    );
}

#[test]
fn a_captured_resume_from_another_runs_adam_state_is_refused_naming_the_file() {
    let _alone = ONE_DEVICE_USER_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(device) = common::wgpu() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let (run, other) = (root.path().join("run"), root.path().join("other"));
    train(&run, &device, 1, false, false);
    train(&other, &device, 1, false, false);
    // The other run's parameters have ids of their own: its Adam state fits no parameter here.
    let optim = run.join("checkpoint/optim-1.bpk");
    std::fs::copy(other.join("checkpoint/optim-1.bpk"), &optim).unwrap();
    let (train_split, valid) = splits();
    let config = TrainingConfig::new().with_epochs(2).with_batch_size(64);
    let options = FitOptions::new(&run, &device)
        .with_capture(true)
        .with_resume(true);
    let err = fit(model(&device), train_split, valid, &config, &options)
        .err()
        .expect("refused")
        .to_string();
    println!("{err}");
    assert!(
        err.contains("optim-1.bpk") && err.contains("Adam state"),
        "{err}"
    );
    // Nothing was lost: the run's own model checkpoint is still there.
    assert!(run.join("checkpoint/model-1.bpk").is_file());
}

/// A table's loader (Burn's) keeps each epoch's last partial batch, which a captured step leaves
/// out, as the image loaders do; a split smaller than one batch is refused, not left untrained.
#[test]
fn a_captured_table_leaves_out_the_partial_batch() {
    let _alone = ONE_DEVICE_USER_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(device) = common::wgpu() else {
        return;
    };
    let rows = |n: usize| {
        let values = (0..n * 12).map(|i| ((i * 7) % 13) as f32 / 13.0).collect();
        ae_data::tabular::VectorDataset::new(12, values, None).unwrap()
    };
    let table_model = || {
        device.seed(3);
        VanillaAutoencoderConfig::new()
            .with_input_shape([1, 1, 12])
            .with_hidden(vec![8])
            .with_latent_dim(4)
            .init(&device)
    };
    let config = TrainingConfig::new().with_epochs(3).with_batch_size(32);
    let dir = tempfile::tempdir().unwrap();
    // 100 rows: three whole batches of 32 and one of 4 each epoch.
    let options = FitOptions::new(dir.path(), &device).with_capture(true);
    let fitted = fit(table_model(), rows(100), rows(40), &config, &options).unwrap();
    assert!(fitted.captured);
    assert_eq!(
        fitted.train_items,
        3 * 96,
        "three epochs of three whole batches"
    );
    let log = losses(dir.path());
    assert!(log[4].2 < log[0].2, "{log:?}");

    let dir = tempfile::tempdir().unwrap();
    let options = FitOptions::new(dir.path(), &device).with_capture(true);
    let err = fit(table_model(), rows(20), rows(40), &config, &options)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("fewer than one batch of 32, and a captured step trains whole batches"),
        "{err}"
    );
}
