//! Datasets of thousands of classes: the applications that train something per class, or a
//! classifier over the classes, refuse them at once with the figure and what to do, instead of
//! running for hours (a softmax over 3,000 classes, 3,000 one-class models).

#![cfg(feature = "cli")]

mod common;

use std::path::Path;

use common::refused_within;

/// An image folder of `classes` classes (folders `c0000`, ...) of `per_class` 8x8 grey images.
fn class_folder(root: &Path, classes: usize, per_class: usize) {
    for class in 0..classes {
        let folder = root.join(format!("c{class:04}"));
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..per_class {
            let shade = ((class * 7 + i * 13) % 256) as u8;
            let image = image::GrayImage::from_fn(8, 8, |x, y| {
                image::Luma([shade.wrapping_add((x * y) as u8)])
            });
            image.save(folder.join(format!("{i}.png"))).unwrap();
        }
    }
}

#[test]
fn thousands_of_classes_are_refused_before_anything_trains() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("classes");
    class_folder(&data, 1200, 2);
    let data = data.to_str().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let args = [
        "--dataset",
        "image-folder",
        "--data-dir",
        data,
        "--epochs",
        "1",
        "--out",
        out,
    ];
    refused_within(60, "latent_classify", &args, "1200 classes");
    refused_within(60, "anomaly_oneclass", &args, "at most 100 with --classes");
}
