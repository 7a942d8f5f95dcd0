use super::*;
use crate::autoencoder::Autoencoder;
use crate::persist::SavedModel;
use burn::tensor::{Device, Distribution, Tensor};

#[test]
fn mnist_and_rgb_shapes() {
    let device = Device::flex();
    let model = ConvAutoencoderConfig::new().init(&device);
    let x = Tensor::random([2, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    let out = model.forward(x);
    assert_eq!(out.reconstruction.dims(), [2, 1, 28, 28]);
    assert_eq!(out.latent.dims(), [2, 32]);
    assert_eq!(model.encoder.blocks[1].conv.weight.dims(), [64, 32, 3, 3]);
    assert_eq!(model.to_latent.weight.dims(), [64 * 7 * 7, 32]);

    let rgb = ConvAutoencoderConfig::new()
        .with_input_shape([3, 32, 32])
        .with_channels(vec![16, 32, 64])
        .with_kernel_size(5)
        .with_batch_norm(true)
        .with_latent_dim(10)
        .init(&device);
    let x = Tensor::random([3, 3, 32, 32], Distribution::Uniform(0.0, 1.0), &device);
    let out = rgb.forward(x);
    assert_eq!(out.reconstruction.dims(), [3, 3, 32, 32]);
    assert_eq!(out.latent.dims(), [3, 10]);
    assert!(out.loss.into_scalar::<f32>().is_finite());
}

#[test]
fn sizes_that_do_not_halve_are_rejected() {
    let device = Device::flex();
    let err = ConvAutoencoderConfig::new()
        .with_channels(vec![8, 8, 8])
        .try_init(&device)
        .unwrap_err();
    assert!(err.to_string().contains("divisible by 8"), "{err}");
    assert!(
        ConvAutoencoderConfig::new()
            .with_kernel_size(4)
            .try_init(&device)
            .is_err()
    );
}

#[test]
fn save_then_load_gives_identical_outputs() {
    let device = Device::flex();
    let model = ConvAutoencoderConfig::new()
        .with_batch_norm(true)
        .init(&device);
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = ConvAutoencoder::load(dir.path(), &device).unwrap();
    let x = Tensor::random([2, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    model
        .reconstruct(x.clone())
        .into_data()
        .assert_eq(&loaded.reconstruct(x).into_data(), true);
}
