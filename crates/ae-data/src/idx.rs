//! The IDX file format of MNIST and Fashion-MNIST (LeCun et al.), raw or gzip-compressed.
//!
//! An IDX file is a 4-byte magic number (`0x00 0x00`, element type, rank), one big-endian `u32`
//! per dimension, then the elements in row-major order. This workspace reads and writes the
//! unsigned-byte type (`0x08`) that every MNIST-format dataset uses. Every malformed file gives a
//! [`DataError`] naming the file; nothing here panics on bad input.

use std::io::{Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::error::{DataError, Result};

/// The element type byte of unsigned 8-bit data.
pub const IDX_TYPE_U8: u8 = 0x08;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The largest element count accepted (4 GiB): guards allocations against a hostile header.
const MAX_ELEMENTS: u64 = 1 << 32;

/// The most bytes a gzip file may decompress to (2 GiB: 2,700,000 MNIST-sized images).
pub const MAX_DECOMPRESSED: u64 = 1 << 31;

/// An IDX array of unsigned bytes: its dimensions and its row-major data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first (for images: count, rows, columns).
    pub dims: Vec<usize>,
    /// The elements, `dims.iter().product()` of them.
    pub data: Vec<u8>,
}

/// IDX images (rank 3: count, rows, columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows of each image.
    pub rows: usize,
    /// Columns of each image.
    pub cols: usize,
    /// `count * rows * cols` pixels, image after image, row-major.
    pub pixels: Vec<u8>,
}

/// Reads the bytes of a file, decompressing gzip when the data starts with the gzip magic.
///
/// A file named `*.gz` that is not gzip data is an error ([`DataError::NotGzip`]), so that a
/// mislabelled download is caught rather than misparsed.
pub fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let raw = ae_io::read(path, ae_io::Limit::data())?;
    let named_gz = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("gz"));
    if raw.starts_with(&GZIP_MAGIC) {
        // What a data file may hold (`--max-input-size`) holds for what it decompresses to.
        let limit = MAX_DECOMPRESSED.min(ae_io::max_data_bytes());
        let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(1 << 28));
        // Read one byte past the limit to tell "at the limit" from "beyond it": a file that
        // decompresses to gigabytes is refused before it fills memory.
        MultiGzDecoder::new(raw.as_slice())
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|source| DataError::Gzip {
                path: path.to_path_buf(),
                source,
            })?;
        if out.len() as u64 > limit {
            return Err(DataError::TooLarge {
                path: path.to_path_buf(),
                limit,
            });
        }
        Ok(out)
    } else if named_gz {
        Err(DataError::NotGzip {
            path: path.to_path_buf(),
            found: raw.iter().take(4).copied().collect(),
        })
    } else {
        Ok(raw)
    }
}

/// Parses IDX bytes (already decompressed). `path` is only used in error messages.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray> {
    let truncated = |expected: u64| DataError::Truncated {
        path: path.to_path_buf(),
        expected,
        found: bytes.len() as u64,
    };
    if bytes.len() < 4 {
        return Err(truncated(4));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: magic,
        });
    }
    if bytes[2] != IDX_TYPE_U8 {
        return Err(DataError::UnsupportedElementType {
            path: path.to_path_buf(),
            found: bytes[2],
        });
    }
    let rank = bytes[3] as usize;
    if rank == 0 {
        return Err(DataError::InvalidDimensions {
            path: path.to_path_buf(),
            dims: Vec::new(),
            reason: "rank 0",
        });
    }
    let header_len = 4 + 4 * rank;
    if bytes.len() < header_len {
        return Err(truncated(header_len as u64));
    }
    let dims: Vec<u64> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    let mut count: u64 = 1;
    for &d in &dims {
        count = count.saturating_mul(d);
    }
    if count > MAX_ELEMENTS {
        return Err(DataError::InvalidDimensions {
            path: path.to_path_buf(),
            dims,
            reason: "more than 2^32 elements",
        });
    }
    let body = (bytes.len() - header_len) as u64;
    if body < count {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: count,
            found: body,
        });
    }
    if body > count {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            extra: body - count,
        });
    }
    Ok(IdxArray {
        dims: dims.iter().map(|&d| d as usize).collect(),
        data: bytes[header_len..].to_vec(),
    })
}

/// Reads an IDX file of any rank (raw or gzip).
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let bytes = read_maybe_gzip(path)?;
    parse_idx(&bytes, path)
}

fn expect_rank(array: &IdxArray, path: &Path, expected: usize, what: &'static str) -> Result<()> {
    if array.dims.len() == expected {
        Ok(())
    } else {
        Err(DataError::WrongRank {
            path: path.to_path_buf(),
            expected,
            found: array.dims.len(),
            what,
        })
    }
}

/// Reads an IDX images file (rank 3). Images of zero rows or columns are rejected.
pub fn read_idx_images(path: &Path) -> Result<IdxImages> {
    let array = read_idx(path)?;
    images_from_array(array, path)
}

/// Interprets a parsed array as images (rank 3).
pub fn images_from_array(array: IdxArray, path: &Path) -> Result<IdxImages> {
    expect_rank(&array, path, 3, "images: count, rows, columns")?;
    let (count, rows, cols) = (array.dims[0], array.dims[1], array.dims[2]);
    if rows == 0 || cols == 0 {
        return Err(DataError::InvalidDimensions {
            path: path.to_path_buf(),
            dims: array.dims.iter().map(|&d| d as u64).collect(),
            reason: "images must have at least one row and one column",
        });
    }
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: array.data,
    })
}

/// Reads an IDX labels file (rank 1).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    let array = read_idx(path)?;
    labels_from_array(array, path)
}

/// Interprets a parsed array as labels (rank 1).
pub fn labels_from_array(array: IdxArray, path: &Path) -> Result<Vec<u8>> {
    expect_rank(&array, path, 1, "labels")?;
    Ok(array.data)
}

/// Encodes unsigned bytes as an IDX file image (no compression).
///
/// # Errors
/// When `data.len()` is not the product of `dims`, or a dimension does not fit in a `u32`.
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Result<Vec<u8>> {
    let expected: usize = dims.iter().product();
    if expected != data.len() || dims.is_empty() || dims.len() > 255 {
        return Err(DataError::InvalidArgument {
            what: "IDX data",
            message: format!(
                "{} bytes do not match dimensions {dims:?} (product {expected})",
                data.len()
            ),
        });
    }
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, IDX_TYPE_U8, dims.len() as u8]);
    for &d in dims {
        let d = u32::try_from(d).map_err(|_| DataError::InvalidArgument {
            what: "IDX dimension",
            message: format!("{d} does not fit in 32 bits"),
        })?;
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    Ok(out)
}

/// Writes an IDX file, gzip-compressed when `path` ends in `.gz`, atomically (temporary file,
/// then rename), so that an interrupted write never leaves a half file under the final name.
pub fn write_idx(path: &Path, dims: &[usize], data: &[u8]) -> Result<()> {
    let encoded = encode_idx(dims, data)?;
    let gz = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("gz"));
    let bytes = if gz {
        // mtime 0 and no file name in the header: the same input always gives the same bytes.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder
            .write_all(&encoded)
            .and_then(|_| encoder.finish())
            .map_err(|e| DataError::io(path, e))?
    } else {
        encoded
    };
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, creating
/// the folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    ae_io::write_atomic(path, bytes).map_err(|source| DataError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn images_bytes() -> Vec<u8> {
        encode_idx(
            &[2, 2, 3],
            &[0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255],
        )
        .unwrap()
    }

    #[test]
    fn encodes_the_header_by_hand() {
        let bytes = encode_idx(&[3], &[7, 8, 9]).unwrap();
        assert_eq!(bytes, vec![0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]);
    }

    #[test]
    fn round_trips_raw_and_gzip_files() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..=255).cycle().take(5 * 4 * 3).collect();
        for name in ["imgs-idx3-ubyte", "imgs-idx3-ubyte.gz"] {
            let path = dir.path().join(name);
            write_idx(&path, &[5, 4, 3], &data).unwrap();
            let images = read_idx_images(&path).unwrap();
            assert_eq!((images.count, images.rows, images.cols), (5, 4, 3));
            assert_eq!(images.pixels, data);
        }
        let gz = fs::read(dir.path().join("imgs-idx3-ubyte.gz")).unwrap();
        assert_eq!(&gz[..2], &GZIP_MAGIC);
        let labels = dir.path().join("labels-idx1-ubyte.gz");
        write_idx(&labels, &[4], &[3, 1, 4, 1]).unwrap();
        assert_eq!(read_idx_labels(&labels).unwrap(), vec![3, 1, 4, 1]);
    }

    #[test]
    fn rejects_a_wrong_magic_number() {
        let mut bytes = images_bytes();
        bytes[0] = 0x12;
        let err = parse_idx(&bytes, Path::new("x.idx")).unwrap_err();
        assert!(matches!(err, DataError::BadMagic { found, .. } if found >> 24 == 0x12));
        assert!(err.to_string().contains("x.idx"));
    }

    #[test]
    fn rejects_a_non_byte_element_type() {
        let mut bytes = images_bytes();
        bytes[2] = 0x0d; // float32
        let err = parse_idx(&bytes, Path::new("f.idx")).unwrap_err();
        assert!(matches!(
            err,
            DataError::UnsupportedElementType { found: 0x0d, .. }
        ));
    }

    #[test]
    fn rejects_truncated_header_and_body() {
        let bytes = images_bytes();
        for cut in [0, 3, 7, 15] {
            let err = parse_idx(&bytes[..cut], Path::new("t")).unwrap_err();
            assert!(
                matches!(err, DataError::Truncated { .. }),
                "cut {cut}: {err}"
            );
        }
        let err = parse_idx(&bytes[..bytes.len() - 1], Path::new("t")).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 12,
                    found: 11,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut bytes = images_bytes();
        bytes.extend_from_slice(&[1, 2]);
        let err = parse_idx(&bytes, Path::new("t")).unwrap_err();
        assert!(matches!(err, DataError::TrailingBytes { extra: 2, .. }));
    }

    #[test]
    fn rejects_the_wrong_rank() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels");
        write_idx(&path, &[4], &[0, 1, 2, 3]).unwrap();
        let err = read_idx_images(&path).unwrap_err();
        assert!(matches!(
            err,
            DataError::WrongRank {
                expected: 3,
                found: 1,
                ..
            }
        ));
        let path = dir.path().join("images");
        write_idx(&path, &[1, 2, 2], &[0; 4]).unwrap();
        assert!(matches!(
            read_idx_labels(&path).unwrap_err(),
            DataError::WrongRank {
                expected: 1,
                found: 3,
                ..
            }
        ));
    }

    #[test]
    fn rejects_empty_images_and_absurd_sizes() {
        let bytes = encode_idx(&[0, 0, 5], &[]).unwrap();
        let array = parse_idx(&bytes, Path::new("e")).unwrap();
        assert!(matches!(
            images_from_array(array, Path::new("e")).unwrap_err(),
            DataError::InvalidDimensions { .. }
        ));
        let mut huge = vec![0, 0, 8, 3];
        for _ in 0..3 {
            huge.extend_from_slice(&u32::MAX.to_be_bytes());
        }
        assert!(matches!(
            parse_idx(&huge, Path::new("h")).unwrap_err(),
            DataError::InvalidDimensions { .. }
        ));
    }

    #[test]
    fn a_gz_name_without_gzip_data_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train-images-idx3-ubyte.gz");
        fs::write(&path, images_bytes()).unwrap();
        let err = read_idx_images(&path).unwrap_err();
        assert!(matches!(err, DataError::NotGzip { .. }), "{err}");
        assert!(err.to_string().contains("train-images-idx3-ubyte.gz"));
    }

    #[test]
    fn a_cut_gzip_stream_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.gz");
        let data: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8).collect();
        write_idx(&path, &[10, 20, 20], &data).unwrap();
        let gz = fs::read(&path).unwrap();
        fs::write(&path, &gz[..gz.len() / 2]).unwrap();
        let err = read_idx_images(&path).unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let err = read_idx(Path::new("/nonexistent/t10k-labels-idx1-ubyte")).unwrap_err();
        assert!(matches!(
            err,
            DataError::Input(ae_io::InputError::Io { .. })
        ));
        assert!(
            err.to_string()
                .contains("/nonexistent/t10k-labels-idx1-ubyte")
        );
    }
}
