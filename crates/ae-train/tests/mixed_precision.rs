//! Mixed precision (`TrainingConfig::precision`, `--precision`): the layers compute in bf16/f16
//! while the weights, the optimizer and the metrics stay f32; an f16 step whose gradients
//! overflow is skipped and halves the loss scale; a device or model without the type is
//! refused. On flex (which computes in both types) and on wgpu (lavapipe: f16 only; skipped
//! where no adapter exists, unless `AE_REQUIRE_WGPU=1`).

mod common;

use ae_data::mnist_sample;
use ae_models::{ConvAutoencoder, ConvAutoencoderConfig, VanillaAutoencoderConfig, ops};
use ae_train::{
    Backend, DeviceSpec, FitOptions, ModelSteps, Precision, StepPrecision, TrainingConfig,
    evaluate, fit, read_epoch_log,
};
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::LinearConfig;
use burn::tensor::{DType, Device, FloatDType, Tensor, TensorData};
use burn::train::TrainStep;

/// The dtypes of every float parameter of a module.
fn parameter_dtypes<M: Module>(module: &M) -> Vec<DType> {
    struct Dtypes(Vec<DType>);
    impl ModuleVisitor for Dtypes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().dtype());
        }
    }
    let mut visitor = Dtypes(Vec::new());
    module.visit(&mut visitor);
    visitor.0
}

/// The train loss of each epoch of a run folder.
fn train_losses(dir: &std::path::Path) -> Vec<f64> {
    read_epoch_log(&dir.join("metrics.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|r| r.split == "train")
        .map(|r| r.metrics["Loss"])
        .collect()
}

/// Trains the Keras dense autoencoder for three epochs on 2,048 real digits in `precision`:
/// the test MSE of the (f32) trained model and the train loss of each epoch.
fn train_vanilla(device: &Device, precision: Precision) -> (f64, Vec<f64>) {
    device.seed(7);
    let data = mnist_sample().unwrap();
    let (train, valid) = data.train.take(2048).split(0.1, 7).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = TrainingConfig::new()
        .with_epochs(3)
        .with_batch_size(64)
        .with_seed(7)
        .with_precision(precision);
    let fitted = fit(
        VanillaAutoencoderConfig::new().init(device),
        train,
        valid,
        &config,
        &FitOptions::new(dir.path(), device),
    )
    .unwrap();
    assert!(
        parameter_dtypes(&fitted.model)
            .iter()
            .all(|d| *d == DType::F32),
        "{precision:?}: the trained weights are not all f32"
    );
    let report = evaluate(&fitted.model, &data.test.take(1000), 500, device).unwrap();
    (report.mse, train_losses(dir.path()))
}

/// Each precision's run lowers its loss and ends within 10% of the f32 run's test MSE.
fn half_precisions_train_like_f32(device: &Device, precisions: &[Precision]) {
    let (reference, _) = train_vanilla(device, Precision::F32);
    for &precision in precisions {
        let (mse, losses) = train_vanilla(device, precision);
        println!("{precision:?}: test MSE {mse:.5} (f32: {reference:.5}), losses {losses:?}");
        assert!(losses[2] < losses[0], "{precision:?}: losses {losses:?}");
        assert!(
            (mse - reference).abs() < 0.1 * reference,
            "{precision:?}: test MSE {mse}, f32 {reference}"
        );
    }
}

#[test]
fn bf16_and_f16_on_the_cpu_train_like_f32_and_keep_f32_weights() {
    let device = DeviceSpec::new(Backend::Flex).device().unwrap();
    half_precisions_train_like_f32(&device, &[Precision::Bf16, Precision::F16]);
}

/// Inside autocast a dense layer computes its product in f16/bf16 from f32 inputs, adds its
/// bias in f32 and returns f32, and its weight's and bias's gradients come back f32: with an
/// input of 1 + 2^-12 (which both half types round to 1), a weight of 1 and a bias of 2^-11
/// (which f16 and bf16 would lose beside 1), the f32 layer gives 1 + 2^-12 + 2^-11 and the
/// autocast layer exactly 1 + 2^-11.
#[test]
fn a_layer_inside_autocast_computes_in_half_and_answers_in_f32() {
    let device = Device::flex().autodiff();
    let mut layer = LinearConfig::new(1, 1).init(&device);
    layer.weight = layer.weight.map(|w| w.ones_like().require_grad());
    layer.bias = layer
        .bias
        .map(|b| b.map(|b| b.ones_like().mul_scalar(2f32.powi(-11)).require_grad()));
    let x = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f32 + 2f32.powi(-12)], [1, 1]),
        &device,
    );
    let full: f32 = ops::linear(&layer, x.clone()).into_scalar();
    assert_eq!(full, 1.0 + 2f32.powi(-12) + 2f32.powi(-11));
    for dtype in [FloatDType::F16, FloatDType::BF16] {
        let y = ops::autocast(dtype, || ops::linear(&layer, x.clone()));
        assert_eq!(y.dtype(), DType::F32, "{dtype:?}");
        assert_eq!(
            y.clone().into_scalar::<f32>(),
            1.0 + 2f32.powi(-11),
            "{dtype:?}"
        );
        let grads = y.sum().backward();
        let grad = layer
            .weight
            .grad(&grads)
            .expect("the weight has a gradient");
        assert_eq!(grad.dtype(), DType::F32, "{dtype:?}");
        // d(w x)/dw = x, rounded to the half type.
        assert_eq!(grad.into_scalar::<f32>(), 1.0, "{dtype:?}");
        let bias = layer.bias.as_ref().unwrap().grad(&grads).unwrap();
        assert_eq!(bias.dtype(), DType::F32, "{dtype:?}");
        assert_eq!(bias.into_scalar::<f32>(), 1.0, "{dtype:?}");
    }
    assert_eq!(
        ops::autocast_dtype(),
        None,
        "autocast ends with its closure"
    );
}

/// f16's loss scale is per device: data-parallel training in f16 is refused (bf16 is not).
#[test]
fn f16_on_several_devices_is_refused() {
    let device = DeviceSpec::new(Backend::Flex).device().unwrap();
    let data = mnist_sample().unwrap();
    let (train, valid) = data.train.take(512).split(0.1, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options =
        FitOptions::new(dir.path(), &device).with_devices(vec![device.clone(), device.clone()]);
    let err = fit(
        VanillaAutoencoderConfig::new().init(&device),
        train,
        valid,
        &TrainingConfig::new()
            .with_epochs(1)
            .with_precision(Precision::F16),
        &options,
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains("--precision") && err.contains("bf16"), "{err}");
}

/// One training step of `model` (a convolutional autoencoder) on 64 real digits with
/// `precision`.
fn conv_step(
    model: &ConvAutoencoder,
    precision: StepPrecision,
) -> (
    burn::train::TrainOutput<ae_train::ReconstructionOutput>,
    StepPrecision,
) {
    let device = Device::flex();
    let batch = mnist_sample()
        .unwrap()
        .train
        .batch(0..64, &device.autodiff());
    let steps = ModelSteps {
        model: model.clone(),
        precision: precision.clone(),
        gate: None,
    }
    .train();
    (steps.step(batch), precision)
}

/// An f16 step whose gradients overflow (the loss scaled by 2^100: the 16-bit backward pass of
/// the layers meets infinities) hands the optimizer no gradient and halves the scale; at the
/// default scale the same step's gradients are all there, finite, and close to f32's.
#[test]
fn an_overflowing_f16_step_is_skipped_and_halves_the_scale() {
    let device = Device::flex();
    device.seed(3);
    let model = ConvAutoencoderConfig::new().init(&device);
    let (output, precision) = conv_step(&model, StepPrecision::f16_with_scale(2f32.powi(100)));
    assert!(output.grads.is_empty(), "{} gradients", output.grads.len());
    let scale = precision.loss_scale().unwrap();
    assert_eq!((scale.scale(), scale.skipped_steps()), (2f32.powi(99), 1));

    let (full, _) = conv_step(&model, StepPrecision::new(Precision::F32));
    let (half, precision) = conv_step(&model, StepPrecision::new(Precision::F16));
    assert_eq!(precision.loss_scale().unwrap().skipped_steps(), 0);
    assert_eq!(half.grads.len(), full.grads.len());
    assert!(full.grads.len() >= 6, "{} gradients", full.grads.len());
    let mut compared = 0;
    for (id, dims) in parameter_ids(&model) {
        if dims != 4 {
            continue;
        }
        let a: Tensor<4> = full.grads.get(id).unwrap();
        let b: Tensor<4> = half.grads.get(id).unwrap();
        let scale = a.clone().abs().max().into_scalar::<f32>();
        let error = (a - b).abs().max().into_scalar::<f32>();
        assert!(
            error.is_finite() && error <= 0.05 * scale,
            "{id}: error {error}, scale {scale}"
        );
        compared += 1;
    }
    assert!(compared >= 2, "{compared} convolution kernels compared");
}

/// The id and rank of every float parameter.
fn parameter_ids<M: Module>(module: &M) -> Vec<(burn::module::ParamId, usize)> {
    struct Ids(Vec<(burn::module::ParamId, usize)>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push((param.id, D));
        }
    }
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    ids.0
}

#[test]
fn f16_trains_on_wgpu_and_bf16_is_refused_where_it_has_no_arithmetic() {
    let Some(device) = common::wgpu() else {
        return;
    };
    if device.supports_dtype(DType::F16) {
        half_precisions_train_like_f32(&device, &[Precision::F16]);
    } else {
        eprintln!("this adapter has no f16: only the refusals are tested");
    }
    for precision in [Precision::Bf16, Precision::F16, Precision::Tf32] {
        let usable = match precision.compute_dtype() {
            Some(dtype) => device.supports_dtype(dtype),
            None => false,
        };
        if usable {
            continue;
        }
        let data = mnist_sample().unwrap();
        let (train, valid) = data.train.take(256).split(0.1, 1).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = fit(
            VanillaAutoencoderConfig::new().init(&device),
            train,
            valid,
            &TrainingConfig::new().with_precision(precision),
            &FitOptions::new(dir.path(), &device),
        )
        .err()
        .unwrap_or_else(|| panic!("{precision:?} was not refused"))
        .to_string();
        assert!(
            err.contains("--precision") && err.contains(precision.name()),
            "{err}"
        );
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "a refused run wrote into its folder"
        );
    }
}
