//! The same model, with the same weights, gives the same outputs on every compiled backend.
//!
//! wgpu runs where a Vulkan (or Metal/DX12) adapter exists — Mesa's software `lavapipe`
//! (`apt-get install mesa-vulkan-drivers`) is enough — and is skipped with a printed reason
//! otherwise, unless `AE_REQUIRE_WGPU=1`, which turns a missing adapter into a failure. CUDA
//! (`--features cuda`) likewise, with `AE_REQUIRE_CUDA=1` (`examples/backend_bench/cuda_rows.sh`
//! runs this test on a lent GPU).

use ae_data::mnist_sample;
use ae_models::{Autoencoder, ModelConfig, PRESETS, VanillaAutoencoderConfig};
use ae_train::{Backend, DeviceSpec};
use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Device, Tensor};

/// Every compiled backend but the reference, with a usable device.
fn other_devices() -> Vec<(Backend, Device)> {
    let required = |backend: Backend| {
        let variable = match backend {
            Backend::Wgpu => "AE_REQUIRE_WGPU",
            Backend::Cuda => "AE_REQUIRE_CUDA",
            _ => return false,
        };
        std::env::var(variable).is_ok_and(|v| v == "1")
    };
    let mut devices = Vec::new();
    for backend in [Backend::NdArray, Backend::Wgpu, Backend::Cuda] {
        if !backend.is_compiled() {
            assert!(
                !required(backend),
                "{backend} is required but this test binary was built without its feature"
            );
            eprintln!("skipped {backend}: not compiled in (cargo feature `{backend}`)");
            continue;
        }
        match DeviceSpec::new(backend).device() {
            Ok(device) => devices.push((backend, device)),
            Err(err) if backend != Backend::NdArray && !required(backend) => {
                eprintln!("skipped {backend}: {err}");
            }
            Err(err) => panic!("{backend}: {err}"),
        }
    }
    devices
}

/// The first 8 images of `data` at `shape` (the colour presets take 64x64 and 128x128 RGB).
fn at_shape(data: &ae_data::ImageDataset, [c, h, w]: [usize; 3]) -> ae_data::ImageDataset {
    let color = if c == 3 {
        ae_data::image_folder::ColorMode::Rgb
    } else {
        ae_data::image_folder::ColorMode::Grayscale
    };
    data.take(8).resized(h, w, color).unwrap()
}

fn max_abs_diff(a: Tensor<2>, b: Tensor<2>) -> f32 {
    let a = a.into_data().try_to_vec_as::<f32>().unwrap();
    let b = b.into_data().try_to_vec_as::<f32>().unwrap();
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn vanilla_forward_agrees_across_backends() {
    let reference = DeviceSpec::new(Backend::Flex).device().unwrap();
    reference.seed(7);
    let config = VanillaAutoencoderConfig::new();
    let model = config.init(&reference);
    let weights = model.clone().into_record().into_bytes().unwrap();

    // Sixteen real digits from the embedded sample.
    let test = mnist_sample().unwrap().test;
    let x_ref = test.batch(0..16, &reference);
    let out_ref = model.forward(x_ref.images);
    let loss_ref = out_ref.loss.into_scalar::<f32>();
    assert!(loss_ref.is_finite() && loss_ref > 0.0);

    let others = other_devices();
    for (backend, device) in others {
        let record = ModuleRecord::from_bytes(weights.clone()).unwrap();
        let copy = config.init(&device).load_record(record);
        let x = test.batch(0..16, &device);
        let out = copy.forward(x.images);
        let latent = max_abs_diff(out_ref.latent.clone(), out.latent.to_device(&reference));
        let recon = max_abs_diff(
            out_ref.reconstruction.clone().flatten(1, 3),
            out.reconstruction.to_device(&reference).flatten(1, 3),
        );
        let loss = out.loss.into_scalar::<f32>();
        println!(
            "{backend}: max |Δ| latent {latent:.2e}, reconstruction {recon:.2e}, loss {loss} vs {loss_ref}"
        );
        assert!(latent < 1e-4, "{backend}: latent differs by {latent}");
        assert!(recon < 1e-5, "{backend}: reconstruction differs by {recon}");
        assert!(
            (loss - loss_ref).abs() < 1e-6,
            "{backend}: loss {loss} vs {loss_ref}"
        );
    }
}

/// Every preset of the zoo: the same weights give the same codes and reconstructions (the
/// deterministic paths; training forward passes of the VAE and the denoising model draw noise
/// from each backend's own generator).
#[test]
fn every_preset_agrees_across_backends() {
    let reference = DeviceSpec::new(Backend::Flex).device().unwrap();
    let test = mnist_sample().unwrap().test;
    let others = other_devices();
    for (name, _) in PRESETS {
        reference.seed(3);
        let config = ModelConfig::preset(name).unwrap();
        let model = config.init(&reference).unwrap();
        let test = at_shape(&test, model.input_shape());
        let x = test.batch(0..8, &reference).images;
        let codes = model.encode(x.clone());
        let recon: Tensor<2> = model.reconstruct(x).flatten(1, 3);
        let weights = model.clone().into_record().into_bytes().unwrap();
        for (backend, device) in &others {
            let record = ModuleRecord::from_bytes(weights.clone()).unwrap();
            let copy = config.init(device).unwrap().load_record(record);
            let x = test.batch(0..8, device).images;
            let c = max_abs_diff(codes.clone(), copy.encode(x.clone()).to_device(&reference));
            let r = max_abs_diff(
                recon.clone(),
                copy.reconstruct(x).flatten(1, 3).to_device(&reference),
            );
            println!("{name} on {backend}: max |Δ| code {c:.2e}, reconstruction {r:.2e}");
            assert!(c < 1e-3, "{name} on {backend}: codes differ by {c}");
            assert!(
                r < 1e-4,
                "{name} on {backend}: reconstructions differ by {r}"
            );
        }
    }
}

/// The image loader serves the same batches (order, values, labels, padding) on every backend,
/// from the device or from host memory, as on flex from host memory.
#[test]
fn the_image_loader_serves_the_same_batches_everywhere() {
    use ae_data::{BatchPlan, ImageLoader, Residency};
    let reference = DeviceSpec::new(Backend::Flex).device().unwrap();
    let data = mnist_sample().unwrap().test.take(300);
    let values = |t: Tensor<4>| t.into_data().try_to_vec_as::<f32>().unwrap();
    for plan in [BatchPlan::training(64, 5), BatchPlan::in_order(128)] {
        let expected: Vec<Vec<f32>> =
            ImageLoader::new(data.clone(), plan, Residency::Host, &reference)
                .epoch()
                .map(|b| values(b.images))
                .collect();
        for (backend, device) in other_devices() {
            for residency in [Residency::Host, Residency::Device] {
                let loader = ImageLoader::new(data.clone(), plan, residency, &device);
                let got: Vec<Vec<f32>> = loader.epoch().map(|b| values(b.images)).collect();
                assert_eq!(got, expected, "{backend} {residency:?} {plan:?}");
            }
        }
    }
}
