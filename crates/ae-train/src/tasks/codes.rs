//! Latent codes as a compact file: 8-bit quantisation per code dimension, a JSON header, and the
//! bytes — what an autoencoder used as a learned compressor stores.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

const MAGIC: &[u8; 8] = b"AECODES1";

/// The header of a codes file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodesHeader {
    /// The model kind that made the codes (`"vanilla"`, ...), to decode with the same model.
    pub model: String,
    /// Number of codes.
    pub count: usize,
    /// Values per code.
    pub latent_dim: usize,
    /// Smallest value of each dimension (the quantisation offset).
    pub min: Vec<f32>,
    /// Largest value of each dimension.
    pub max: Vec<f32>,
}

/// Codes quantised to one byte per value.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedCodes {
    /// The header.
    pub header: CodesHeader,
    /// `count * latent_dim` bytes, code after code.
    pub bytes: Vec<u8>,
}

impl QuantizedCodes {
    /// Quantises `codes` (`count` rows of `latent_dim` values) to 8 bits per value, with each
    /// dimension's own range: `q = round((x - min) / (max - min) * 255)`.
    pub fn quantize(model: &str, codes: &[f32], latent_dim: usize) -> Result<Self> {
        if latent_dim == 0 || !codes.len().is_multiple_of(latent_dim) {
            return Err(TrainError::InvalidArgument {
                what: "codes",
                message: format!("{} values are not whole codes of {latent_dim}", codes.len()),
            });
        }
        let count = codes.len() / latent_dim;
        let mut min = vec![f32::INFINITY; latent_dim];
        let mut max = vec![f32::NEG_INFINITY; latent_dim];
        for code in codes.chunks_exact(latent_dim) {
            for (j, &v) in code.iter().enumerate() {
                min[j] = min[j].min(v);
                max[j] = max[j].max(v);
            }
        }
        let bytes = codes
            .chunks_exact(latent_dim)
            .flat_map(|code| {
                code.iter().enumerate().map(|(j, &v)| {
                    let span = max[j] - min[j];
                    if span > 0.0 {
                        ((v - min[j]) / span * 255.0).round().clamp(0.0, 255.0) as u8
                    } else {
                        0
                    }
                })
            })
            .collect::<Vec<u8>>();
        Ok(Self {
            header: CodesHeader {
                model: model.to_string(),
                count,
                latent_dim,
                min,
                max,
            },
            bytes,
        })
    }

    /// The codes back as floats (each value within half a quantisation step of the original).
    pub fn dequantize(&self) -> Vec<f32> {
        let d = self.header.latent_dim;
        self.bytes
            .iter()
            .enumerate()
            .map(|(i, &q)| {
                let j = i % d;
                self.header.min[j]
                    + f32::from(q) / 255.0 * (self.header.max[j] - self.header.min[j])
            })
            .collect()
    }

    /// The file image: magic, header length (u32 little-endian), JSON header, bytes.
    pub fn to_file_bytes(&self) -> Result<Vec<u8>> {
        let header = serde_json::to_vec(&self.header).map_err(|e| TrainError::InvalidArgument {
            what: "codes header",
            message: e.to_string(),
        })?;
        let mut out = Vec::with_capacity(12 + header.len() + self.bytes.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.bytes);
        Ok(out)
    }

    /// Writes the file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        ae_models::persist::write_atomic(path, &self.to_file_bytes()?)?;
        Ok(())
    }

    /// Reads a file written by [`save`](Self::save); a malformed file is an error naming it.
    pub fn load(path: &Path) -> Result<Self> {
        let data = ae_io::read(path, ae_io::Limit::data())?;
        let bad = |message: String| TrainError::InvalidArgument {
            what: "codes file",
            message: format!("{}: {message}", path.display()),
        };
        if data.len() < 12 || &data[..8] != MAGIC {
            return Err(bad("not a codes file (no AECODES1 magic)".into()));
        }
        let header_len = u32::from_le_bytes([data[8], data[9], data[10], data[11]]) as usize;
        let body = 12usize.checked_add(header_len).filter(|&e| e <= data.len());
        let body = body.ok_or_else(|| bad(format!("header of {header_len} bytes is cut short")))?;
        let header: CodesHeader =
            serde_json::from_slice(&data[12..body]).map_err(|e| bad(format!("header: {e}")))?;
        let expected = header.count.checked_mul(header.latent_dim);
        if expected != Some(data.len() - body)
            || header.min.len() != header.latent_dim
            || header.max.len() != header.latent_dim
        {
            return Err(bad(format!(
                "{} code bytes and {} / {} ranges, the header announces {} codes of {}",
                data.len() - body,
                header.min.len(),
                header.max.len(),
                header.count,
                header.latent_dim
            )));
        }
        // A range that is not finite, or upside down, would decode to NaN or garbage.
        if let Some(j) = (0..header.latent_dim).find(|&j| {
            let (min, max) = (header.min[j], header.max[j]);
            !(min.is_finite() && max.is_finite() && min <= max)
        }) {
            return Err(bad(format!(
                "dimension {j}'s range [{}, {}] is not a finite range",
                header.min[j], header.max[j]
            )));
        }
        Ok(Self {
            header,
            bytes: data[body..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantization_by_hand_and_file_round_trip() {
        // Two codes of two values; dimension 0 spans [0, 1], dimension 1 is constant.
        let codes = [0.0f32, 5.0, 1.0, 5.0];
        let q = QuantizedCodes::quantize("vanilla", &codes, 2).unwrap();
        assert_eq!(q.bytes, vec![0, 0, 255, 0]);
        assert_eq!(q.dequantize(), vec![0.0, 5.0, 1.0, 5.0]);
        let values: Vec<f32> = (0..300).map(|i| (i as f32 * 0.37).sin()).collect();
        let q = QuantizedCodes::quantize("vae", &values, 3).unwrap();
        let back = q.dequantize();
        let step = 2.0 / 255.0;
        assert!(
            values
                .iter()
                .zip(&back)
                .all(|(a, b)| (a - b).abs() <= step / 2.0 + 1e-6)
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.aeq");
        q.save(&path).unwrap();
        assert_eq!(QuantizedCodes::load(&path).unwrap(), q);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.pop();
        std::fs::write(&path, &bytes).unwrap();
        let err = QuantizedCodes::load(&path).unwrap_err();
        assert!(err.to_string().contains("c.aeq"), "{err}");
        assert!(QuantizedCodes::quantize("x", &[1.0, 2.0, 3.0], 2).is_err());
    }

    proptest::proptest! {
        /// Arbitrary bytes behind the magic, and mutations of a good file, load as codes or as
        /// an error, never a panic; what loads dequantizes to finite values.
        #[test]
        fn any_bytes_load_or_fail_cleanly(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            flips in proptest::collection::vec((0usize..512, proptest::prelude::any::<u8>()), 0..8),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("c.aeq");
            let mut raw = MAGIC.to_vec();
            raw.extend(&tail);
            std::fs::write(&path, &raw).unwrap();
            let _ = QuantizedCodes::load(&path);
            let good = QuantizedCodes::quantize("vae", &[0.5, -1.0, 2.0, 3.0, 0.0, 1.0], 3)
                .unwrap()
                .to_file_bytes()
                .unwrap();
            let mut mutated = good.clone();
            for (at, byte) in flips {
                let at = at % mutated.len();
                mutated[at] = byte;
            }
            std::fs::write(&path, &mutated).unwrap();
            if let Ok(codes) = QuantizedCodes::load(&path) {
                proptest::prop_assert!(codes.dequantize().iter().all(|v| v.is_finite()));
            }
        }
    }

    #[test]
    fn overflowing_counts_and_bad_ranges_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.aeq");
        let write = |header: &str, body: &[u8]| {
            let mut raw = MAGIC.to_vec();
            raw.extend((header.len() as u32).to_le_bytes());
            raw.extend(header.as_bytes());
            raw.extend(body);
            std::fs::write(&path, raw).unwrap();
        };
        write(
            r#"{"model":"x","count":18446744073709551615,"latent_dim":2,"min":[0,0],"max":[1,1]}"#,
            &[1, 2],
        );
        assert!(QuantizedCodes::load(&path).is_err());
        write(
            r#"{"model":"x","count":1,"latent_dim":2,"min":[0,1],"max":[1,0]}"#,
            &[1, 2],
        );
        let err = QuantizedCodes::load(&path).unwrap_err().to_string();
        assert!(err.contains("dimension 1's range"), "{err}");
    }
}
