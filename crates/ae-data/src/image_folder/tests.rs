use super::decode::is_cut_short_jpeg;
use super::*;
use image::{Rgb, RgbImage};

fn write_png(path: &Path, w: u32, h: u32, color: [u8; 3]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    RgbImage::from_pixel(w, h, Rgb(color)).save(path).unwrap();
}

#[test]
fn reads_classes_from_subfolders_resized() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("cats/a.png"), 10, 6, [255, 0, 0]);
    write_png(&dir.path().join("cats/b.PNG"), 3, 3, [255, 0, 0]);
    write_png(&dir.path().join("dogs/c.bmp"), 8, 8, [0, 0, 255]);
    fs::write(dir.path().join("dogs/notes.txt"), "not an image").unwrap();
    let opts = ImageFolderOptions::new(4, 5, ColorMode::Rgb);
    let folder = load_image_folder(dir.path(), &opts).unwrap();
    let ds = &folder.dataset;
    assert_eq!(ds.count(), 3);
    assert_eq!(ds.shape(), ImageShape::new(3, 4, 5));
    assert_eq!(ds.class_names(), &["cats".to_string(), "dogs".to_string()]);
    assert_eq!(ds.labels().unwrap(), &[0, 0, 1]);
    // Planar layout: the red plane of a red image is all 255, its blue plane all 0.
    let red = ds.image(0).unwrap();
    assert!(red[..20].iter().all(|&p| p == 255));
    assert!(red[40..].iter().all(|&p| p == 0));
    let blue = ds.image(2).unwrap();
    assert!(blue[40..].iter().all(|&p| p == 255));
}

#[test]
fn grayscale_without_labels() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("x/y/a.png"), 2, 2, [255, 255, 255]);
    write_png(&dir.path().join("b.png"), 2, 2, [0, 0, 0]);
    let mut opts = ImageFolderOptions::new(2, 2, ColorMode::Grayscale);
    opts.labels_from_subfolders = false;
    let folder = load_image_folder(dir.path(), &opts).unwrap();
    assert_eq!(folder.dataset.count(), 2);
    assert!(folder.dataset.labels().is_none());
    assert_eq!(folder.dataset.pixels(), &[0, 0, 0, 0, 255, 255, 255, 255]);
}

#[test]
fn a_corrupt_file_fails_with_its_path_or_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a/good.png"), 4, 4, [9, 9, 9]);
    fs::write(
        dir.path().join("a/broken.png"),
        b"\x89PNG\r\n\x1a\nnot really",
    )
    .unwrap();
    let mut opts = ImageFolderOptions::new(4, 4, ColorMode::Grayscale);
    let err = load_image_folder(dir.path(), &opts).unwrap_err();
    assert!(matches!(err, DataError::Image { .. }), "{err}");
    assert!(err.to_string().contains("broken.png"));
    opts.on_bad_image = OnBadImage::Skip;
    let folder = load_image_folder(dir.path(), &opts).unwrap();
    assert_eq!(folder.dataset.count(), 1);
    assert_eq!(folder.skipped.len(), 1);
    assert!(folder.skipped[0].0.ends_with("broken.png"));
}

/// A JPEG of `w` x `h`, its left half red and its right half blue, with an EXIF
/// orientation tag when `orientation` is given.
fn jpeg(w: u32, h: u32, orientation: Option<u16>) -> Vec<u8> {
    // A little texture, so that the scan (not the tables) is most of the file.
    let image = RgbImage::from_fn(w, h, |x, y| {
        let t = ((x * 7 + y * 13) % 32) as u8;
        if x < w / 2 {
            Rgb([255 - t, t, 0])
        } else {
            Rgb([t, 0, 255 - t])
        }
    });
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    if let Some(value) = orientation {
        // APP1 "Exif": a little-endian TIFF header and one IFD entry, Orientation (0x0112),
        // SHORT, one value.
        let mut tiff = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
        tiff.extend(value.to_le_bytes());
        tiff.extend([0, 0, 0, 0, 0, 0]);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff);
        let mut segment = vec![0xFF, 0xE1];
        segment.extend(((app1.len() + 2) as u16).to_be_bytes());
        segment.extend(app1);
        bytes.splice(2..2, segment);
    }
    bytes
}

#[test]
fn a_jpeg_cut_short_is_refused_and_exif_orientation_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ImageFolderOptions::new(16, 8, ColorMode::Rgb);
    // Orientation 6: stored sideways, shown turned 90 degrees clockwise, so the left
    // (red) half of the stored 16x8 image is the top half of the 8x16 one shown.
    let turned = dir.path().join("turned.jpg");
    fs::write(&turned, jpeg(16, 8, Some(6))).unwrap();
    let pixels = decode_image(&turned, &opts).unwrap();
    let plane = 16 * 8;
    let (red_top, red_bottom) = (pixels[8 + 3], pixels[plane - 8 + 3]);
    assert!(red_top > 180 && red_bottom < 80, "{red_top} {red_bottom}");
    let (blue_top, blue_bottom) = (pixels[2 * plane + 3], pixels[3 * plane - 8 + 3]);
    assert!(
        blue_top < 80 && blue_bottom > 180,
        "{blue_top} {blue_bottom}"
    );

    let whole = jpeg(256, 256, None);
    let cut = dir.path().join("cut.jpg");
    fs::write(&cut, &whole[..whole.len() * 2 / 3]).unwrap();
    let err = decode_image(&cut, &opts).unwrap_err().to_string();
    assert!(err.contains("cut.jpg is cut short"), "{err}");
    fs::write(&cut, &whole).unwrap();
    assert!(decode_image(&cut, &opts).is_ok());
    // Whole, with data after its end marker (a motion photo's video), start-of-scan bytes
    // among it: read.
    let mut motion = whole.clone();
    motion.extend([0x00, 0xFF, 0xDA, 0x00, 0x08, 0x12, 0xFF, 0xD8, 0x34]);
    fs::write(&cut, &motion).unwrap();
    assert!(decode_image(&cut, &opts).is_ok());
    // Cut inside a header segment, or right after the start of the scan: cut short.
    for end in [20, whole.len() / 2, whole.len() - 2] {
        assert!(is_cut_short_jpeg(&whole[..end]), "cut at {end}");
    }
    assert!(!is_cut_short_jpeg(&whole));
}

#[test]
fn what_would_be_left_out_without_a_word_is_refused() {
    let opts = ImageFolderOptions::new(4, 4, ColorMode::Rgb);
    let refused = |dir: &Path, needle: &str| {
        let err = load_image_folder(dir, &opts).unwrap_err().to_string();
        assert!(err.contains(needle), "{needle:?} not in {err}");
    };
    // A class folder with no image read here would shift every class after it.
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a_cats/1.png"), 2, 2, [1, 2, 3]);
    fs::create_dir_all(dir.path().join("b_birds")).unwrap();
    fs::write(dir.path().join("b_birds/1.gif"), b"GIF89a").unwrap();
    write_png(&dir.path().join("c_dogs/1.png"), 2, 2, [1, 2, 3]);
    refused(dir.path(), "1.gif is a GIF image, a format not read here");
    fs::remove_file(dir.path().join("b_birds/1.gif")).unwrap();
    fs::write(dir.path().join("b_birds/notes.txt"), "not an image").unwrap();
    refused(dir.path(), "b_birds holds no PNG, JPEG or BMP image");
    fs::remove_dir_all(dir.path().join("b_birds")).unwrap();
    // Images beside the class folders.
    write_png(&dir.path().join("loose.png"), 2, 2, [1, 2, 3]);
    refused(
        dir.path(),
        "1 image(s) at its top level beside its class folders",
    );
    fs::remove_file(dir.path().join("loose.png")).unwrap();
    // JFIF is JPEG: read.
    fs::write(dir.path().join("c_dogs/2.JFIF"), jpeg(4, 4, None)).unwrap();
    assert_eq!(
        load_image_folder(dir.path(), &opts)
            .unwrap()
            .dataset
            .count(),
        3
    );
    // Sizes a model cannot take are refused before anything is decoded.
    let huge = ImageFolderOptions::new(4096, 4096, ColorMode::Rgb);
    let err = load_image_folder(dir.path(), &huge)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("more than the 16777216 a model here takes"),
        "{err}"
    );
}

#[test]
fn a_limited_read_decodes_only_the_images_it_keeps() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..14u8 {
        let class = if i % 2 == 0 { "even" } else { "odd" };
        write_png(
            &dir.path().join(format!("{class}/{i:02}.png")),
            3,
            3,
            [i * 9, 0, 0],
        );
    }
    let opts = ImageFolderOptions::new(3, 3, ColorMode::Rgb);
    // The same datasets as reading everything, splitting and keeping the first images.
    let all = load_image_folder(dir.path(), &opts).unwrap().dataset;
    let (train, test) = all.split(0.2, 5).unwrap();
    let (part_train, part_test) = load_image_folder_split(dir.path(), &opts, 0.2, 5, 4)
        .unwrap()
        .unwrap();
    for (part, whole) in [(&part_train, train.take(4)), (&part_test, test.take(4))] {
        assert_eq!(part.pixels(), whole.pixels());
        assert_eq!(part.labels(), whole.labels());
        assert_eq!(part.class_names(), whole.class_names());
    }
    assert_eq!((part_train.count(), part_test.count()), (4, 3));
    // A broken file the split does not keep is not read. With one more image (15), the rows
    // a limit of 1 keeps are the first of each part; break a file of another row (the
    // listing is class folders in name order, then files in name order).
    write_png(&dir.path().join("odd/99.png"), 3, 3, [1, 1, 1]);
    let (held_out, kept) = crate::images::split_rows(15, 0.2, 5).unwrap();
    let unread = (0..15)
        .find(|r| *r != held_out[0] && *r != kept[0])
        .unwrap();
    let mut listing: Vec<PathBuf> = Vec::new();
    for class in ["even", "odd"] {
        let mut files: Vec<PathBuf> = fs::read_dir(dir.path().join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        listing.extend(files);
    }
    fs::write(&listing[unread], b"\x89PNG\r\n\x1a\nbroken").unwrap();
    assert!(load_image_folder(dir.path(), &opts).is_err());
    assert!(
        load_image_folder_split(dir.path(), &opts, 0.2, 5, 1)
            .unwrap()
            .is_some()
    );
}

#[test]
fn colour_is_detected_from_more_than_the_first_image() {
    let dir = tempfile::tempdir().unwrap();
    let gray = |path: &Path| {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_pixel(2, 2, image::Luma([90]))
            .save(path)
            .unwrap();
    };
    gray(&dir.path().join("a/1.png"));
    gray(&dir.path().join("b/1.png"));
    // An image beside the class folders is not read, so its colour does not count.
    write_png(&dir.path().join("top.png"), 2, 2, [200, 10, 10]);
    assert_eq!(detect_color(dir.path()).unwrap(), ColorMode::Grayscale);
    write_png(&dir.path().join("b/2.png"), 2, 2, [200, 10, 10]);
    assert_eq!(detect_color(dir.path()).unwrap(), ColorMode::Rgb);
}

#[test]
fn an_empty_folder_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ImageFolderOptions::new(4, 4, ColorMode::Grayscale);
    assert!(matches!(
        load_image_folder(dir.path(), &opts).unwrap_err(),
        DataError::EmptyImageFolder { .. }
    ));
    assert!(load_image_folder(Path::new("/nonexistent/folder"), &opts).is_err());
}

#[test]
fn an_empty_image_file_is_named_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a/good.png"), 2, 2, [1, 2, 3]);
    fs::write(dir.path().join("a/empty.png"), b"").unwrap();
    let opts = ImageFolderOptions::new(2, 2, ColorMode::Grayscale);
    let err = load_image_folder(dir.path(), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("empty.png") && err.contains("empty (0 bytes)"),
        "{err}"
    );
}

#[test]
fn images_outside_class_folders_are_named_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a.png"), 2, 2, [1, 2, 3]);
    write_png(&dir.path().join("b.png"), 2, 2, [1, 2, 3]);
    fs::create_dir(dir.path().join("empty-class")).unwrap();
    let opts = ImageFolderOptions::new(2, 2, ColorMode::Grayscale);
    let err = load_image_folder(dir.path(), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2 image(s) at its top level") && err.contains("sub-folder"),
        "{err}"
    );
}
