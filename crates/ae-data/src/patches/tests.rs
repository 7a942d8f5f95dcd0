use super::*;

#[test]
fn patches_alternate_normal_and_defects_with_the_same_files_for_a_seed() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("gradient.png");
    RgbImage::from_fn(200, 100, |x, y| Rgb([x as u8, y as u8, 128]))
        .save(&photo)
        .unwrap();
    let options = PatchOptions {
        size: 32,
        stride: 32,
        long_side: 128,
    };
    let out = dir.path().join("patches");
    let counts = write_defect_patches(std::slice::from_ref(&photo), &out, options, 7).unwrap();
    // 128x64 after scaling: a 4x2 grid, every other patch normal, the others in turn.
    assert_eq!(counts, [2, 4, 1, 1]);
    let normal = image::open(out.join("normal").join("gradient-0000.png")).unwrap();
    assert_eq!((normal.width(), normal.height()), (32, 32));
    // A defect changes its patch; the same seed writes the same files.
    let blotted = image::open(out.join("blot").join("gradient-0001.png")).unwrap();
    let scaled = image::imageops::resize(
        &image::open(&photo).unwrap().into_rgb8(),
        128,
        64,
        FilterType::Triangle,
    );
    let clean = image::imageops::crop_imm(&scaled, 32, 0, 32, 32).to_image();
    assert_ne!(blotted.to_rgb8(), clean);
    let again = dir.path().join("again");
    write_defect_patches(&[photo], &again, options, 7).unwrap();
    for class in PATCH_CLASSES {
        for entry in std::fs::read_dir(out.join(class)).unwrap() {
            let path = entry.unwrap().path();
            let twin = again.join(class).join(path.file_name().unwrap());
            assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(twin).unwrap());
        }
    }
    assert!(write_defect_patches(&[], &out, options, 7).is_err());
}

#[test]
fn the_folder_holds_one_run_and_a_refused_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("a.png");
    RgbImage::from_fn(200, 100, |x, y| Rgb([x as u8, y as u8, 128]))
        .save(&photo)
        .unwrap();
    let out = dir.path().join("patches");
    let cut = |long_side, photos: &[PathBuf]| {
        let options = PatchOptions {
            size: 32,
            stride: 32,
            long_side,
        };
        write_defect_patches(photos, &out, options, 7)
    };
    let files = || {
        let mut names = Vec::new();
        for class in PATCH_CLASSES {
            if let Ok(entries) = std::fs::read_dir(out.join(class)) {
                names.extend(entries.map(|e| e.unwrap().file_name()));
            }
        }
        names.len()
    };
    assert_eq!(
        cut(128, std::slice::from_ref(&photo))
            .unwrap()
            .iter()
            .sum::<usize>(),
        8
    );
    // A second run with fewer patches replaces the first whole.
    assert_eq!(
        cut(64, std::slice::from_ref(&photo))
            .unwrap()
            .iter()
            .sum::<usize>(),
        2
    );
    assert_eq!(files(), 2);
    // `--out DIR/` names the same folder (its staging folder goes beside it, not inside).
    let slashed = PathBuf::from(format!("{}/", out.display()));
    let options = PatchOptions {
        size: 32,
        stride: 32,
        long_side: 128,
    };
    let counts = write_defect_patches(std::slice::from_ref(&photo), &slashed, options, 7);
    assert_eq!(counts.unwrap().iter().sum::<usize>(), 8);
    assert_eq!(files(), 8);
    assert_eq!(
        cut(64, std::slice::from_ref(&photo))
            .unwrap()
            .iter()
            .sum::<usize>(),
        2
    );
    // Nothing is left beside it.
    let beside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".patches"))
        .collect();
    assert!(beside.is_empty(), "{beside:?}");
    // A photograph that is not one, two photographs of one name, too many patches: refused
    // before anything is written.
    let fake = dir.path().join("fake.png");
    std::fs::write(&fake, "not a png").unwrap();
    let err = cut(128, &[photo.clone(), fake]).unwrap_err().to_string();
    assert!(err.contains("fake.png"), "{err}");
    std::fs::create_dir_all(dir.path().join("x")).unwrap();
    let twin = dir.path().join("x/a.png");
    std::fs::copy(&photo, &twin).unwrap();
    let err = cut(128, &[photo.clone(), twin]).unwrap_err().to_string();
    assert!(err.contains("both write patches named a-*.png"), "{err}");
    let options = PatchOptions {
        size: 8,
        stride: 1,
        long_side: MAX_LONG_SIDE,
    };
    let err = write_defect_patches(std::slice::from_ref(&photo), &out, options, 7)
        .unwrap_err()
        .to_string();
    assert!(err.contains("patches"), "{err}");
    assert_eq!(files(), 2);
    // A folder that holds anything else is not replaced; nor is one of class folders of
    // PNGs that this function did not write (a user's own images), nor `.`.
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let err = cut(64, std::slice::from_ref(&photo))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an earlier set of patches"), "{err}");
    assert!(out.join("notes.txt").exists());
    std::fs::remove_file(out.join("notes.txt")).unwrap();
    std::fs::remove_file(out.join(PATCHES_MARKER)).unwrap();
    let err = cut(64, std::slice::from_ref(&photo))
        .unwrap_err()
        .to_string();
    assert!(err.contains("did not write"), "{err}");
    assert_eq!(files(), 2);
    let options = PatchOptions {
        size: 32,
        stride: 32,
        long_side: 64,
    };
    let err = write_defect_patches(std::slice::from_ref(&photo), Path::new("."), options, 7)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not name a folder of its own"), "{err}");
}
