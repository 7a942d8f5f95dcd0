use super::*;
use crate::autoencoder::Autoencoder;
use crate::loss::{OutputActivation, ReconstructionLoss};
use crate::persist::SavedModel;
use burn::config::Config;
use burn::tensor::{Device, Distribution, Tensor, Tolerance};

fn images(n: usize, device: &Device) -> Tensor<4> {
    Tensor::random([n, 1, 28, 28], Distribution::Uniform(0.0, 1.0), device)
}

#[test]
fn keras_tutorial_shapes() {
    let device = Device::flex();
    let model = VanillaAutoencoderConfig::new().init(&device);
    let widths: Vec<[usize; 2]> = model
        .encoder
        .layers
        .iter()
        .chain(&model.decoder.layers)
        .map(|l| l.weight.dims())
        .collect();
    assert_eq!(
        widths,
        vec![
            [784, 128],
            [128, 64],
            [64, 32],
            [32, 64],
            [64, 128],
            [128, 784]
        ]
    );
    let x = images(3, &device);
    assert_eq!(model.encode(x.clone()).dims(), [3, 32]);
    let out = model.forward(x);
    assert_eq!(out.reconstruction.dims(), [3, 1, 28, 28]);
    assert_eq!(out.latent.dims(), [3, 32]);
    assert_eq!(out.loss.dims(), [1]);
    assert_eq!(out.terms[0].name, "reconstruction");
    // A ReLU code is non-negative; a sigmoid output lies in (0, 1).
    assert!(out.latent.min().into_scalar::<f32>() >= 0.0);
    let r = out.reconstruction;
    assert!(r.clone().min().into_scalar::<f32>() > 0.0);
    assert!(r.max().into_scalar::<f32>() < 1.0);
}

#[test]
fn loss_is_the_mse_of_the_reconstruction() {
    let device = Device::flex();
    let model = VanillaAutoencoderConfig::new()
        .with_input_shape([3, 4, 5])
        .with_hidden(vec![16])
        .with_latent_dim(2)
        .init(&device);
    let x = Tensor::random([4, 3, 4, 5], Distribution::Uniform(0.0, 1.0), &device);
    let out = model.forward(x.clone());
    let by_hand = (out.reconstruction.clone() - x.clone()).square().mean();
    out.loss
        .into_data()
        .assert_approx_eq::<f32>(&by_hand.into_data(), Tolerance::default());
    // reconstruct == decode(encode) == the forward pass's reconstruction.
    model
        .reconstruct(x)
        .into_data()
        .assert_approx_eq::<f32>(&out.reconstruction.into_data(), Tolerance::default());
}

#[test]
fn invalid_configs_are_errors() {
    let device = Device::flex();
    assert!(
        VanillaAutoencoderConfig::new()
            .with_latent_dim(0)
            .try_init(&device)
            .is_err()
    );
    assert!(
        VanillaAutoencoderConfig::new()
            .with_hidden(vec![10, 0])
            .try_init(&device)
            .is_err()
    );
    let err = VanillaAutoencoderConfig::new()
        .with_loss(ReconstructionLoss::Bce)
        .with_output_activation(OutputActivation::Identity)
        .try_init(&device)
        .unwrap_err();
    assert!(err.to_string().contains("Sigmoid"), "{err}");
}

#[test]
fn config_round_trips_through_json() {
    let config = VanillaAutoencoderConfig::new()
        .with_hidden(vec![300, 100])
        .with_latent_dim(8)
        .with_loss(ReconstructionLoss::Bce);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    config.save(&path).unwrap();
    let back = VanillaAutoencoderConfig::load(&path).unwrap();
    assert_eq!(back.hidden, vec![300, 100]);
    assert_eq!(back.latent_dim, 8);
    assert_eq!(back.loss, ReconstructionLoss::Bce);
    // A file missing a field is an error that names the field (Burn configs spell out every
    // field in JSON).
    let err = serde_json::from_str::<VanillaAutoencoderConfig>("{}").unwrap_err();
    assert!(err.to_string().contains("input_shape"), "{err}");
}

#[test]
fn save_then_load_gives_identical_outputs() {
    let device = Device::flex();
    let model = VanillaAutoencoderConfig::new()
        .with_latent_dim(5)
        .init(&device);
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = VanillaAutoencoder::load(dir.path(), &device).unwrap();
    assert_eq!(loaded.latent_dim(), 5);
    let x = images(2, &device);
    let a = model.reconstruct(x.clone()).into_data();
    let b = loaded.reconstruct(x).into_data();
    a.assert_eq(&b, true);
    // A fresh model (other random weights) differs: the test can fail. Compared on the decoder's
    // logits of a fixed code, because with 5 ReLU codes a random model maps both images to the
    // zero code about once in 32 draws, and then every model outputs the same sigmoid(0) = 0.5.
    let fresh = VanillaAutoencoderConfig::new()
        .with_latent_dim(5)
        .init(&device);
    let code = || Tensor::<2>::ones([2, 5], &device);
    let (a, c) = (
        loaded.decode_logits(code()).into_data(),
        fresh.decode_logits(code()).into_data(),
    );
    a.assert_eq(&model.decode_logits(code()).into_data(), true);
    assert_ne!(
        a.try_to_vec_as::<f32>().unwrap(),
        c.try_to_vec_as::<f32>().unwrap()
    );
}

#[test]
fn half_precision_weights_halve_the_file_and_load_as_their_rounded_values() {
    use crate::persist::{WEIGHTS_FILE, WeightsPrecision, round_weights};
    let device = Device::flex();
    let model = VanillaAutoencoderConfig::new()
        .with_latent_dim(5)
        .init(&device);
    let (full, half) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    model.save(full.path()).unwrap();
    model.save_as(half.path(), WeightsPrecision::F16).unwrap();
    let size = |dir: &std::path::Path| std::fs::metadata(dir.join(WEIGHTS_FILE)).unwrap().len();
    let (full_bytes, half_bytes) = (size(full.path()), size(half.path()));
    // 221,733 weights: 4 bytes each against 2, plus the same header.
    assert!(
        half_bytes * 2 < full_bytes + 8192,
        "{half_bytes} vs {full_bytes}"
    );
    assert!(
        half_bytes * 2 > full_bytes - 8192,
        "{half_bytes} vs {full_bytes}"
    );

    let loaded = VanillaAutoencoder::load(half.path(), &device).unwrap();
    let x = images(2, &device);
    let rounded = round_weights(model.clone(), WeightsPrecision::F16);
    let (a, b, c) = (
        loaded.reconstruct(x.clone()).into_data(),
        rounded.reconstruct(x.clone()).into_data(),
        model.reconstruct(x).into_data(),
    );
    // Loading the f16 file gives exactly the rounded model, close to (not equal to) the original.
    a.assert_eq(&b, true);
    a.assert_approx_eq::<f32>(&c, burn::tensor::Tolerance::absolute(1e-2));
    // Not equal: compared on the logits of a fixed code, which a dead (all-zero) ReLU code
    // cannot hide (see save_then_load_gives_identical_outputs).
    let code = || Tensor::<2>::ones([2, 5], &device);
    let (a, c) = (
        loaded.decode_logits(code()).into_data(),
        model.decode_logits(code()).into_data(),
    );
    a.assert_approx_eq::<f32>(&c, burn::tensor::Tolerance::absolute(1e-2));
    assert_ne!(
        a.try_to_vec_as::<f32>().unwrap(),
        c.try_to_vec_as::<f32>().unwrap()
    );
}

/// Weights past f16's range are refused by name before anything is written (rounded, they
/// would be infinite and read as a diverged model); f32 stores them.
#[test]
fn weights_too_large_for_f16_are_refused_before_anything_is_written() {
    use crate::persist::{SaveFolder, WeightsPrecision};
    use burn::module::{Module, ModuleMapper, Param};
    struct Times(f32);
    impl ModuleMapper for Times {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let factor = self.0;
            param.map(|tensor| tensor * factor)
        }
    }
    let device = Device::flex();
    let model = VanillaAutoencoderConfig::new()
        .with_latent_dim(5)
        .init(&device)
        .map(&mut Times(1e6));
    let dir = tempfile::tempdir().unwrap();
    let half = dir.path().join("half");
    let err = model
        .clone()
        .save_rounded(&half, WeightsPrecision::F16)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("larger than f16 can store") && err.contains("--weights f32"),
        "{err}"
    );
    assert!(!half.exists());
    let full = dir.path().join("full");
    model.save_rounded(&full, WeightsPrecision::F32).unwrap();
    assert!(VanillaAutoencoder::load(&full, &device).is_ok());
}

#[test]
fn loading_the_wrong_weights_is_an_error() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    VanillaAutoencoderConfig::new()
        .with_latent_dim(5)
        .init(&device)
        .save(dir.path())
        .unwrap();
    // Change the config beside the weights: the shapes no longer fit.
    crate::persist::save_config(
        "vanilla",
        &VanillaAutoencoderConfig::new().with_latent_dim(6),
        &dir.path().join(crate::persist::CONFIG_FILE),
    )
    .unwrap();
    let err = VanillaAutoencoder::load(dir.path(), &device).unwrap_err();
    assert!(matches!(err, crate::ModelError::Weights { .. }), "{err}");
    let config_path = dir.path().join(crate::persist::CONFIG_FILE);
    assert_eq!(crate::persist::read_kind(&config_path).unwrap(), "vanilla");
    std::fs::write(&config_path, "{\"latent_dim\": }").unwrap();
    let err = VanillaAutoencoder::load(dir.path(), &device).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    // A folder of another kind of model is refused by name.
    crate::persist::save_config("vae", &VanillaAutoencoderConfig::new(), &config_path).unwrap();
    let err = VanillaAutoencoder::load(dir.path(), &device).unwrap_err();
    assert!(matches!(err, crate::ModelError::WrongKind { .. }), "{err}");
    assert!(err.to_string().contains("`vae`"), "{err}");
}
