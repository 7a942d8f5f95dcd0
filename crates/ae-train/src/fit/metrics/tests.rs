//! The device metric sums against per-step reads, and the loss's divergence watch.

use super::super::step_sums::row_sums;
use super::*;
use burn::tensor::Device;

fn meta() -> MetricMetadata {
    MetricMetadata {
        progress: burn::data::dataloader::Progress::new(1, 1, None),
        iteration: Some(0),
        lr: None,
    }
}

/// flex, and wgpu where an adapter exists (the GPU's running sums are added in place by a
/// kernel of their own; required with `AE_REQUIRE_WGPU=1`).
fn devices() -> Vec<Device> {
    let mut devices = vec![Device::flex()];
    #[cfg(feature = "wgpu")]
    match crate::DeviceSpec::new(crate::Backend::Wgpu).device() {
        Ok(device) => devices.push(device),
        Err(err) => assert!(
            !std::env::var("AE_REQUIRE_WGPU").is_ok_and(|v| v == "1"),
            "AE_REQUIRE_WGPU=1 but: {err}"
        ),
    }
    devices
}

/// Per-row means read every third step equal the mean of every step's values, weighted by
/// rows; between reads the metric reports nothing new.
#[test]
fn sparse_reads_give_the_per_row_mean() {
    for device in devices() {
        sparse_reads_give_the_per_row_mean_on(device);
    }
}

fn sparse_reads_give_the_per_row_mean_on(device: Device) {
    let mut metric = DeviceMeanMetric::new("mse", "MSE", &MetricsContext::new(3));
    let batches: [&[f32]; 4] = [&[1.0, 1.0], &[0.0, 0.0], &[4.0, 4.0], &[0.5]];
    let mut reported = Vec::new();
    for values in batches {
        let mut sums = StepSums::default();
        let (sum, weight) = row_sums(Tensor::<1>::from_floats(values, &device), None);
        sums.add_sum("mse", sum, weight);
        metric.update(&sums, &meta()).unwrap();
        reported.push(metric.value().is_some());
    }
    assert_eq!(reported, [false, false, true, false]);
    metric.compute().unwrap();
    // (1 + 1 + 0 + 0 + 4 + 4 + 0.5) / 7 rows.
    match metric.final_value() {
        NumericEntry::Final(v) => assert!((v - 10.5 / 7.0).abs() < 1e-6, "{v}"),
        other => panic!("unexpected {other:?}"),
    }
    metric.clear();
    metric.compute().unwrap();
    assert!(metric.final_value().current().is_nan());
}

/// A padded batch counts its real rows only.
#[test]
fn masked_rows_are_left_out() {
    for device in devices() {
        masked_rows_are_left_out_on(device);
    }
}

fn masked_rows_are_left_out_on(device: Device) {
    let mut metric = DeviceMeanMetric::new("mse", "MSE", &MetricsContext::new(100));
    let mut sums = StepSums::default();
    let values = Tensor::<1>::from_floats([2.0, 4.0, 100.0], &device);
    let mask = Tensor::<1>::from_floats([1.0, 1.0, 0.0], &device);
    let (sum, weight) = row_sums(values, Some(&mask));
    sums.add_deferred("mse", move || (sum.clone(), weight.clone()));
    metric.update(&sums, &meta()).unwrap();
    metric.compute().unwrap();
    assert!((metric.final_value().current() - 3.0).abs() < 1e-6);
}

/// RMSE over every observed rating, whatever batch it falls in.
#[test]
fn root_mean_weighs_every_rating_equally() {
    for device in devices() {
        root_mean_weighs_every_rating_equally_on(device);
    }
}

fn root_mean_weighs_every_rating_equally_on(device: Device) {
    let mut metric = DeviceMeanMetric::new("rmse", "RMSE", &MetricsContext::new(1))
        .with_reduction(Reduction::RootMean);
    // Batch 1: one observed error of 2. Batch 2: three observed errors of 0.
    for (squared, count) in [(4.0, 1.0), (0.0, 3.0)] {
        let mut sums = StepSums::default();
        sums.add_sum(
            "rmse",
            Tensor::<1>::from_floats([squared], &device),
            Tensor::<1>::from_floats([count], &device),
        );
        metric.update(&sums, &meta()).unwrap();
    }
    metric.compute().unwrap();
    // sqrt(4 / 4) = 1 (a mean of the batch RMSEs weighted by ratings would give 0.5).
    assert!((metric.final_value().current() - 1.0).abs() < 1e-12);
}

/// A loss that stops being finite fails the update that reads it, and says where: the
/// first non-finite step, counted from the steps that were.
#[test]
fn a_non_finite_loss_is_reported_with_its_epoch_and_step() {
    for device in devices() {
        a_non_finite_loss_is_reported_with_its_epoch_and_step_on(device);
    }
}

fn a_non_finite_loss_is_reported_with_its_epoch_and_step_on(device: Device) {
    let mut context = MetricsContext::new(4);
    context.first_epoch = 2;
    let mut metric = DeviceMeanMetric::loss(&context);
    let train = MetricMetadata {
        lr: Some(1e-3.into()),
        ..meta()
    };
    let mut failed_at = None;
    for (i, loss) in [0.5, 0.4, f32::NAN, f32::NAN].into_iter().enumerate() {
        let mut sums = StepSums::default();
        let one = Tensor::<1>::from_floats([1.0], &device);
        sums.add_mean("loss", Tensor::<1>::from_floats([loss], &device), one);
        if metric.update(&sums, &train).is_err() {
            failed_at = Some(i + 1);
        }
    }
    assert_eq!(failed_at, Some(4), "read at the fourth step");
    assert_eq!(
        context.divergence(),
        Some(Divergence {
            split: "train",
            epoch: 3,
            step: 3,
            grew: None,
        })
    );
}

/// A loss that grows past `GROWTH_LIMIT` times its first step's value stops training
/// though it stays finite; one that falls, or a validation loss, does not.
#[test]
fn a_loss_that_explodes_while_finite_is_a_divergence() {
    for device in devices() {
        a_loss_that_explodes_while_finite_is_a_divergence_on(device);
    }
}

fn a_loss_that_explodes_while_finite_is_a_divergence_on(device: Device) {
    let train = MetricMetadata {
        lr: Some(1e-3.into()),
        ..meta()
    };
    let run = |losses: &[f32], metadata: &MetricMetadata| {
        let context = MetricsContext::new(4);
        let mut metric = DeviceMeanMetric::loss(&context);
        let mut failed_at = None;
        for (i, &loss) in losses.iter().enumerate() {
            let mut sums = StepSums::default();
            let one = Tensor::<1>::from_floats([1.0], &device);
            sums.add_mean("loss", Tensor::<1>::from_floats([loss], &device), one);
            if metric.update(&sums, metadata).is_err() {
                failed_at.get_or_insert(i + 1);
            }
        }
        (failed_at, context.divergence())
    };
    let (failed_at, divergence) = run(&[2.0, 3.0, 1e5, 1e5], &train);
    assert_eq!(failed_at, Some(4));
    let divergence = divergence.expect("diverged");
    assert_eq!((divergence.epoch, divergence.step), (1, 4));
    let (first, reached) = divergence.grew.expect("grew");
    assert_eq!(first, 2.0);
    assert!((reached - (2.0 + 3.0 + 2e5) / 4.0).abs() < 1.0, "{reached}");
    // A hundred times its first value, on the way down, or in validation: no divergence.
    assert_eq!(run(&[2.0, 200.0, 1.0, 0.5], &train), (None, None));
    assert_eq!(run(&[2.0, 3.0, 1e5, 1e5], &meta()), (None, None));
}
