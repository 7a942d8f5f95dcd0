//! A captured reconstruction (`ae_models::capture`) replayed for several batches gives what the
//! forward pass gives, on flex (where a replay runs the pass again) and on wgpu (a software
//! graph; Mesa's lavapipe is enough; skipped where no adapter exists, unless
//! `AE_REQUIRE_WGPU=1`).

mod common;

use ae_data::mnist_sample;
use ae_models::capture::CapturedReconstruction;
use ae_models::{Autoencoder, ConvAutoencoderConfig, ModelError, VanillaAutoencoderConfig};
use ae_train::{Backend, CapturedAdam, CapturedTrainingStep, DeviceSpec, adam_optimizer};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, Tolerance};

/// Held by each test that captures on wgpu: every GPU thread of this process shares one CubeCL
/// stream (`ae_train::Streams`), and while a capture records, that stream accepts dispatches
/// only — another test's read-back would fail meanwhile.
static ONE_CAPTURE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Three different batches of 64 real digits.
fn digit_batches(device: &Device) -> Vec<Tensor<4>> {
    let data = mnist_sample().unwrap().train;
    (0..3)
        .map(|i| data.batch(i * 64..(i + 1) * 64, device).images)
        .collect()
}

/// Replays of `model` equal its forward passes, each result kept intact by later replays.
fn replays_equal_forward_passes<M: Autoencoder + Clone + 'static>(
    model: M,
    device: &Device,
    graph: bool,
) {
    let batches = digit_batches(device);
    let mut captured = CapturedReconstruction::new(model.clone(), batches[0].clone()).unwrap();
    assert_eq!(captured.is_graph(), graph);
    let replayed: Vec<_> = batches
        .iter()
        .map(|b| captured.reconstruct(b.clone()).unwrap())
        .collect();
    // In reverse, so that the first result is compared after the last replay overwrote the
    // captured output buffer.
    for (batch, out) in batches.iter().zip(&replayed).rev() {
        let expected = model.reconstruct(batch.clone()).into_data();
        out.clone()
            .into_data()
            .assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-6));
    }
    // The batches differ, and so do their reconstructions: the test can fail.
    let (first, last) = (replayed[0].clone(), replayed[2].clone());
    assert!((first - last).abs().max().into_scalar::<f32>() > 1e-3);
    // The input buffer is the capture's own: the caller's first batch is unchanged.
    batches[0]
        .clone()
        .into_data()
        .assert_eq(&digit_batches(device)[0].clone().into_data(), true);

    let err = captured
        .reconstruct(batches[0].clone().narrow(0, 0, 32))
        .unwrap_err();
    assert!(
        matches!(&err, ModelError::Capture(m) if m.contains("[64, 1, 28, 28]") && m.contains("[32, 1, 28, 28]")),
        "{err}"
    );
}

#[test]
fn replays_on_the_cpu_run_the_forward_pass_again() {
    let device = DeviceSpec::new(Backend::Flex).device().unwrap();
    device.seed(5);
    replays_equal_forward_passes(
        VanillaAutoencoderConfig::new().init(&device),
        &device,
        false,
    );
}

#[test]
fn replays_of_a_software_graph_on_wgpu_equal_forward_passes() {
    let _alone = ONE_CAPTURE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(device) = common::wgpu() else {
        return;
    };
    device.seed(5);
    replays_equal_forward_passes(VanillaAutoencoderConfig::new().init(&device), &device, true);
    replays_equal_forward_passes(ConvAutoencoderConfig::new().init(&device), &device, true);
}

const ADAM: CapturedAdam = CapturedAdam {
    learning_rate: 1e-3,
    beta_1: 0.9,
    beta_2: 0.999,
    epsilon: 1e-8,
};

/// Five training steps of the dense autoencoder over three batches of real digits, replayed
/// from a captured step and taken the ordinary way (burn-train's optimizer adaptor over
/// `FusedAdam`): the same losses, and the same trained model.
fn captured_steps_equal_ordinary_steps(device: &Device) {
    let model = VanillaAutoencoderConfig::new().init(device);
    let batches = digit_batches(device);
    let order = [0, 1, 2, 0, 1];
    let untrained = model.reconstruct(batches[2].clone()).into_data();

    let mut ordinary = model.clone().train();
    let mut optim = adam_optimizer(&AdamConfig::new().with_epsilon(ADAM.epsilon));
    let mut expected = Vec::new();
    for &i in &order {
        let output = ordinary.forward(batches[i].clone().autodiff());
        let grads = GradientsParams::from_grads(output.loss.backward(), &ordinary);
        expected.push(output.loss.without_autodiff().into_scalar::<f32>());
        ordinary = optim.step(f64::from(ADAM.learning_rate), ordinary, grads);
    }

    // Handed in on the autodiff device, sharing its weights' buffers with `model` and
    // `ordinary`'s start: the capture must copy them.
    let mut captured =
        CapturedTrainingStep::new(model.clone().train(), batches[0].clone(), ADAM).unwrap();
    let losses: Vec<f32> = order
        .iter()
        .map(|&i| captured.step(batches[i].clone()).unwrap().into_scalar())
        .collect();
    assert_eq!(captured.steps(), 5);
    println!("ordinary {expected:?}\ncaptured {losses:?}");
    for (a, b) in losses.iter().zip(&expected) {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs(),
            "losses {losses:?} vs {expected:?}"
        );
    }
    // The loss falls over the repeated batches: the replays train.
    assert!(losses[3] < losses[0] && losses[4] < losses[1], "{losses:?}");
    let trained = captured.into_model();
    let probe = batches[2].clone();
    trained
        .reconstruct(probe.clone())
        .into_data()
        .assert_approx_eq::<f32>(
            &ordinary.valid().reconstruct(probe.clone()).into_data(),
            Tolerance::absolute(1e-5),
        );
    // The model handed to the capture was copied, not trained in place.
    model
        .reconstruct(probe)
        .into_data()
        .assert_eq(&untrained, true);
}

#[test]
fn replayed_training_steps_equal_ordinary_steps_on_wgpu() {
    let _alone = ONE_CAPTURE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(device) = common::wgpu() else {
        return;
    };
    device.seed(9);
    captured_steps_equal_ordinary_steps(&device);
}

#[test]
fn a_captured_training_step_on_the_cpu_is_refused_with_what_to_do() {
    let device = DeviceSpec::new(Backend::Flex).device().unwrap();
    let model = VanillaAutoencoderConfig::new().init(&device);
    let batch = digit_batches(&device).remove(0);
    let err = CapturedTrainingStep::new(model, batch, ADAM)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("capture") && err.contains("GPU backend") && err.contains("without capturing"),
        "{err}"
    );
}

#[test]
fn a_batch_the_model_does_not_take_is_refused() {
    let device = DeviceSpec::new(Backend::Flex).device().unwrap();
    let model = VanillaAutoencoderConfig::new().init(&device);
    for dims in [[4, 3, 28, 28], [0, 1, 28, 28]] {
        let err = CapturedReconstruction::new(model.clone(), Tensor::zeros(dims, &device))
            .err()
            .expect("refused");
        assert!(err.to_string().contains(&format!("{dims:?}")), "{err}");
    }
}

#[test]
fn an_autodiff_batch_is_refused() {
    let device = DeviceSpec::new(Backend::Flex).device().unwrap();
    let model = VanillaAutoencoderConfig::new().init(&device);
    let batch = digit_batches(&device.clone().autodiff()).remove(0);
    let err = CapturedReconstruction::new(model, batch)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("autodiff"), "{err}");
}
