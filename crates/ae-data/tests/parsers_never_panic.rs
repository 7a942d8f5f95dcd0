//! Every parser and loader of this crate, fed arbitrary bytes and mutations of valid files,
//! returns `Ok` or a typed error: never a panic, and never more memory than a bound.

use std::io::Write;
use std::path::Path;

use ae_data::idx::{parse_idx, read_idx, write_idx};
use ae_data::image_folder::{ColorMode, ImageFolderOptions, load_image_folder};
use ae_data::ratings::read_ratings;
use ae_data::tabular::{TabularEncoder, read_csv};
use ae_data::text::{TokenizerKind, Vocabulary, read_corpus};
use proptest::prelude::*;

/// The process's peak resident memory may not pass this (every case of every test of this
/// binary included).
const MEMORY_BOUND_BYTES: u64 = 2 << 30;

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

fn assert_memory_bound() {
    if let Some(peak) = peak_rss_bytes() {
        assert!(peak < MEMORY_BOUND_BYTES, "peak memory {peak} bytes");
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A valid file's bytes with some bytes overwritten and possibly cut short.
fn mutated(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = valid.len().max(1);
    (prop::collection::vec((0..len, any::<u8>()), 0..8), 0..=len).prop_map(move |(edits, cut)| {
        let mut bytes = valid.clone();
        for (i, b) in edits {
            if i < bytes.len() {
                bytes[i] = b;
            }
        }
        bytes.truncate(cut.max(1));
        bytes
    })
}

fn valid_idx() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x");
    write_idx(&path, &[3, 2, 2], &[1; 12]).unwrap();
    std::fs::read(path).unwrap()
}

fn valid_vocabulary() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vocab.json");
    let sentences = ["the cat sat", "a dog ran"];
    Vocabulary::build(TokenizerKind::Word, &sentences, 20)
        .unwrap()
        .save(&path)
        .unwrap();
    std::fs::read(path).unwrap()
}

const VALID_RATINGS: &[u8] = b"1\t1\t4\t0\n1\t2\t3\t0\n2\t1\t5\t0\n2\t2\t2\t0\n";
const VALID_CSV: &[u8] = b"1,tcp,normal.\n2,udp,smurf.\n3,tcp,normal.\n";

fn text_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        "[ -~\t\n%,:]{0,400}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn idx_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_idx(&bytes, Path::new("fuzz"));
        assert_memory_bound();
    }

    #[test]
    fn idx_mutations_raw_and_gzip(bytes in mutated(valid_idx()), gz in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let (name, data) = if gz { ("f.gz", gzip(&bytes)) } else { ("f", bytes) };
        let _ = read_idx(&write(dir.path(), name, &data));
        // A header announcing billions of elements is refused before anything is allocated.
        let mut huge = vec![0, 0, 8, 3];
        huge.extend(u32::MAX.to_be_bytes());
        huge.extend(u32::MAX.to_be_bytes());
        huge.extend(7u32.to_be_bytes());
        prop_assert!(parse_idx(&huge, Path::new("huge")).is_err());
        assert_memory_bound();
    }

    #[test]
    fn gzip_that_is_not(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let dir = tempfile::tempdir().unwrap();
        let mut data = vec![0x1f, 0x8b];
        data.extend(bytes);
        let _ = read_idx(&write(dir.path(), "f.gz", &data));
        assert_memory_bound();
    }

    #[test]
    fn image_files(bytes in prop::collection::vec(any::<u8>(), 0..512), ext in "(png|jpg|bmp)") {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("class")).unwrap();
        write(&dir.path().join("class"), &format!("a.{ext}"), &bytes);
        let options = ImageFolderOptions::new(8, 8, ColorMode::Grayscale);
        let _ = load_image_folder(dir.path(), &options);
        assert_memory_bound();
    }

    #[test]
    fn csv_tables(bytes in text_bytes(), header in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        if let Ok(table) = read_csv(&write(dir.path(), "t.csv", &bytes), header)
            && !table.columns.is_empty()
        {
            let rows: Vec<usize> = (0..table.len()).collect();
            if let Ok(encoder) = TabularEncoder::fit(&table, &rows, table.columns.len() - 1) {
                let _ = encoder.transform(&table, &rows);
            }
        }
        assert_memory_bound();
    }

    #[test]
    fn ratings_files(bytes in text_bytes()) {
        let dir = tempfile::tempdir().unwrap();
        if let Ok(ratings) = read_ratings(&write(dir.path(), "u.data", &bytes)) {
            let _ = ratings.split(0.2, 1);
        }
        assert_memory_bound();
    }

    #[test]
    fn text_corpora(bytes in text_bytes()) {
        let dir = tempfile::tempdir().unwrap();
        if let Ok(entries) = read_corpus(&write(dir.path(), "quotes", &bytes)) {
            let _ = Vocabulary::build(TokenizerKind::Word, &entries, 50);
        }
        assert_memory_bound();
    }

    #[test]
    fn mutated_ratings_and_tables(ratings in mutated(VALID_RATINGS.to_vec()), csv in mutated(VALID_CSV.to_vec())) {
        let dir = tempfile::tempdir().unwrap();
        if let Ok(ratings) = read_ratings(&write(dir.path(), "u.data", &ratings)) {
            let _ = ratings.split(0.5, 1);
        }
        if let Ok(table) = read_csv(&write(dir.path(), "t.csv", &csv), false) {
            let rows: Vec<usize> = (0..table.len()).collect();
            if let Ok(encoder) = TabularEncoder::fit(&table, &rows, table.columns.len().saturating_sub(1)) {
                let _ = encoder.transform(&table, &rows);
            }
        }
        assert_memory_bound();
    }

    #[test]
    fn mutated_vocabulary_files(bytes in mutated(valid_vocabulary())) {
        let dir = tempfile::tempdir().unwrap();
        if let Ok(vocabulary) = Vocabulary::load(&write(dir.path(), "vocab.json", &bytes)) {
            let _ = vocabulary.decode(&[0, 1, 2, 3, 4, 5, 1000]);
            let _ = vocabulary.encode("the cat ran away");
        }
        assert_memory_bound();
    }

    #[test]
    fn vocabulary_files(bytes in text_bytes()) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "vocab.json", &bytes);
        if let Ok(vocabulary) = Vocabulary::load(&path) {
            let _ = vocabulary.decode(&[0, 1, 2, 3, 4, 1000]);
        }
        assert_memory_bound();
    }
}
