//! A user's own colour images at their own size, through the examples: a folder of RGB PNGs of
//! 48x64 trained on at 32x32 in colour (detected from the images, then asked for), the digits at
//! another size, and sizes a model cannot take refused with the sizes that work.

#![cfg(feature = "cli")]

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(common::example_path(name))
        .args(args)
        .env("AE_PROGRESS", "plain")
        .output()
        .expect("the example runs")
}

fn report(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    serde_json::from_str(&text).expect("JSON")
}

/// Two classes of 48x64 colour pictures: warm and cool gradients with a stripe.
fn colour_folder(dir: &Path) {
    for (class, base) in [("warm", [200u8, 80, 40]), ("cool", [30u8, 90, 210])] {
        let folder = dir.join(class);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..24u32 {
            let image = image::RgbImage::from_fn(64, 48, |x, y| {
                let stripe = if (x + i) % 16 < 3 { 60 } else { 0 };
                image::Rgb([
                    base[0].saturating_add((y * 2) as u8).saturating_sub(stripe),
                    base[1].saturating_add((x + i) as u8 % 50),
                    base[2].saturating_sub((y * 3) as u8 % 90),
                ])
            });
            image.save(folder.join(format!("{i:02}.png"))).unwrap();
        }
    }
}

#[test]
fn a_colour_folder_trains_in_colour_at_the_size_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("photos");
    colour_folder(&data);
    let data = data.to_str().unwrap();
    let out = dir.path().join("conv");
    let common = [
        "--dataset",
        "image-folder",
        "--data-dir",
        data,
        "--epochs",
        "1",
    ];
    let mut args = common.to_vec();
    args.extend([
        "--image-size",
        "32",
        "--batch-size",
        "8",
        "--out",
        out.to_str().unwrap(),
    ]);
    let output = run("train_conv", &args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The colour was detected from the images and said so; the report records the shape.
    assert!(
        stdout.contains("image folder read at 32x32, rgb"),
        "{stdout}"
    );
    assert_eq!(report(&out)["image_shape"], "3x32x32");
    let picture = image::open(out.join("reconstructions.png")).unwrap();
    assert!(picture.color().has_color());
    let pixels = picture.to_rgb8();
    assert!(
        pixels.pixels().any(|p| p[0] != p[1] || p[1] != p[2]),
        "the reconstructions are drawn in colour"
    );

    // The applications read the folder as the model takes it: `compress` says how, `explore`
    // does it (and splits the folder with the trainer's seed).
    let model = out.to_str().unwrap();
    let folder = [
        "--dataset",
        "image-folder",
        "--data-dir",
        data,
        "--model",
        model,
    ];
    common::refused("compress", &folder, "--image-size 32x32 --color rgb");
    // The folder split by another seed would put training images in the test split.
    let compressed = dir.path().join("compressed");
    let other_seed = [
        "--image-size",
        "32",
        "--seed",
        "7",
        "--out",
        compressed.to_str().unwrap(),
    ];
    common::refused(
        "compress",
        &[&folder[..], &other_seed].concat(),
        "pass --seed 42",
    );
    let server = common::explore_server::start(&[
        "--model",
        model,
        "--dataset",
        "image-folder",
        "--data-dir",
        data,
    ]);
    let info = common::explore_server::request(
        server.port,
        "GET",
        "/api/info",
        Some(common::explore_server::TOKEN),
        b"",
    );
    assert_eq!(info.status, 200, "{}", String::from_utf8_lossy(&info.body));
    drop(server);

    // Gray when asked, at another shape.
    let gray = dir.path().join("gray");
    let mut args = common.to_vec();
    args.extend([
        "--image-size",
        "16x24",
        "--color",
        "gray",
        "--batch-size",
        "8",
    ]);
    args.extend(["--out", gray.to_str().unwrap()]);
    let output = run("train_vanilla", &args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(report(&gray)["image_shape"], "1x16x24");
}

#[test]
fn the_digits_at_another_size_and_sizes_a_model_cannot_take() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("digits");
    let output = run(
        "train_vanilla",
        &[
            "--limit",
            "300",
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--image-size",
            "32",
            "--color",
            "rgb",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(report(&out)["image_shape"], "3x32x32");

    // Two stride-2 layers need sides divisible by 4: 30 is refused, naming what works.
    let output = run(
        "train_conv",
        &["--limit", "300", "--epochs", "1", "--image-size", "30"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(
        stderr.contains("divisible by 4") && stderr.contains("28x28 or 32x32"),
        "{stderr}"
    );
    for bad in ["0", "64x", "x64", "5000", "purple"] {
        let output = run("train_vanilla", &["--image-size", bad]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--image-size"), "{bad}: {stderr}");
    }
    let output = run("train_vanilla", &["--color", "purple"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("--color"));
}
