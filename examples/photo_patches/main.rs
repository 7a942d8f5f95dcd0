//! Cuts real photographs into a folder of 64x64 colour patches for anomaly detection: every other
//! patch as it is (`normal/`), the others with a defect drawn in (`blot/`, `scratch/`,
//! `shift/`). The default photographs are scikit-image's public-domain samples as Debian ships
//! them (package `python3-skimage`).
//!
//! ```text
//! cargo run --release --example photo_patches -- --out runs/patches
//! cargo run --release --example anomaly_oneclass -- --dataset image-folder \
//!     --data-dir runs/patches --image-size 64 --classes 1 --epochs 30
//! ```

use std::path::{Path, PathBuf};

use clap::Parser;

use autoencoders::cli::{exit_on_error, ranges};
use autoencoders::data::patches::{PATCH_CLASSES, PatchOptions, write_defect_patches};
use autoencoders::train::TrainError;

/// Where Debian's `python3-skimage` installs its sample images.
const SKIMAGE_DATA: &str = "/usr/lib/python3/dist-packages/skimage/data";
/// The sample photographs used, all public domain or CC0 (see `_fetchers.py` beside them):
/// the astronaut Eileen Collins (NASA), immunohistochemistry staining, Chelsea the cat, a coffee
/// cup, a human retina, the DSCOVR launch (SpaceX).
const PHOTOS: [&str; 6] = [
    "astronaut.png",
    "ihc.png",
    "chelsea.png",
    "coffee.png",
    "retina.jpg",
    "rocket.jpg",
];

#[derive(Parser)]
#[command(about = "Cut photographs into normal and defective colour patches")]
struct Cli {
    /// Folder of the photographs (scikit-image's sample data).
    #[arg(long, default_value = SKIMAGE_DATA)]
    photos: PathBuf,
    /// Photographs to use (file names in --photos); default: scikit-image's six public-domain
    /// samples where the folder holds them, else every PNG, JPEG and BMP file in it.
    #[arg(long, value_delimiter = ',')]
    names: Vec<String>,
    /// Output folder (one sub-folder per class); an earlier set of patches there is replaced.
    #[arg(long, default_value = "runs/patches")]
    out: PathBuf,
    /// Patch side in pixels.
    #[arg(long, value_parser = ranges::count::<8, 1024>, default_value_t = 64)]
    size: usize,
    /// Distance between patches (less than --size: they overlap).
    #[arg(long, value_parser = ranges::count::<1, 1024>, default_value_t = 32)]
    stride: usize,
    /// Longer side of each photograph before cutting (at most 8192).
    #[arg(long, value_parser = ranges::count::<8, 8192>, default_value_t = 512)]
    long_side: usize,
    /// Seed of the defects.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// The PNG, JPEG and BMP files of `folder`, in name order.
fn own_photos(folder: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let is_photo = |path: &Path| {
        path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            ["png", "jpg", "jpeg", "bmp"].contains(&e.to_ascii_lowercase().as_str())
        })
    };
    let mut photos: Vec<PathBuf> = ae_io::read_dir(folder, None)
        .map_err(ae_data::DataError::from)?
        .into_iter()
        .filter(|p| is_photo(p) && p.is_file())
        .collect();
    photos.sort();
    if photos.is_empty() {
        return Err(TrainError::InvalidArgument {
            what: "--photos",
            message: format!(
                "{} holds no PNG, JPEG or BMP photographs (without --names, every one there is \
                 cut)",
                folder.display()
            ),
        });
    }
    Ok(photos)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    exit_on_error(|| -> Result<(), TrainError> {
        if !cli.photos.is_dir() {
            return Err(TrainError::InvalidArgument {
                what: "--photos",
                message: format!(
                    "{} is not a folder. Debian ships the photographs in python3-skimage: \
                     `apt-get install python3-skimage`, or without its Python dependencies \
                     `apt-get download python3-skimage && dpkg -x python3-skimage_*.deb DIR`, \
                     then --photos DIR/usr/lib/python3/dist-packages/skimage/data",
                    cli.photos.display()
                ),
            });
        }
        let photos = if !cli.names.is_empty() {
            cli.names.iter().map(|n| cli.photos.join(n)).collect()
        } else if PHOTOS.iter().all(|n| cli.photos.join(n).is_file()) {
            PHOTOS.iter().map(|n| cli.photos.join(n)).collect()
        } else {
            // A folder of the user's own photographs: all of them.
            own_photos(&cli.photos)?
        };
        // The ranges above fit u32.
        let options = PatchOptions {
            size: cli.size as u32,
            stride: cli.stride as u32,
            long_side: cli.long_side as u32,
        };
        let counts = write_defect_patches(&photos, &cli.out, options, cli.seed)?;
        println!(
            "{} patches of {}x{} from {} photographs in {}:",
            counts.iter().sum::<usize>(),
            cli.size,
            cli.size,
            photos.len(),
            cli.out.display()
        );
        for (class, count) in PATCH_CLASSES.iter().zip(counts) {
            println!("  {class:<8} {count}");
        }
        println!(
            "class numbers for --classes: {}",
            PATCH_CLASSES
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{i} = {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(())
    })
}
