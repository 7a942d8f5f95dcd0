//! Value parsers that check a flag's range as it is parsed, so that a bad value is refused by
//! clap with the flag's name and the allowed range (`error: invalid value '0' for '--epochs
//! <EPOCHS>': must be at least 1`), before anything runs.
//!
//! Use them as `#[arg(long, value_parser = ranges::count::<1, 100_000>)]`.

/// The largest batch, code or layer width a flag may ask for: beyond it a model or a batch no
/// longer fits in memory anyway, and the allocation would abort the process instead of failing.
pub const MAX_WIDTH: usize = 1 << 20;

/// The most epochs a flag may ask for.
pub const MAX_EPOCHS: usize = 1_000_000;

/// An integer in `MIN..=MAX`.
///
/// # Errors
/// When the text is not an integer in range.
pub fn count<const MIN: usize, const MAX: usize>(text: &str) -> Result<usize, String> {
    let value: usize = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number in {MIN}..={MAX}"))?;
    if !(MIN..=MAX).contains(&value) {
        return Err(format!("must be in {MIN}..={MAX}"));
    }
    Ok(value)
}

/// An image size, `H` (square) or `HxW`, each side from 1 to 4096.
///
/// # Errors
/// When the text is not such a size.
pub fn image_size(text: &str) -> Result<(usize, usize), String> {
    let side = |part: &str| -> Result<usize, String> {
        let value: usize = part
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a size: H or HxW, e.g. 64 or 64x96"))?;
        if !(1..=4096).contains(&value) {
            return Err(format!("`{text}`: each side must be in 1..=4096"));
        }
        Ok(value)
    };
    match text.to_ascii_lowercase().split_once('x') {
        Some((h, w)) => Ok((side(h)?, side(w)?)),
        None => side(text).map(|s| (s, s)),
    }
}

/// A size in bytes: a whole number, optionally followed by K, M, G or T (powers of 1024), at
/// least 1 byte and at most 1 TiB.
///
/// # Errors
/// When the text is not such a size.
pub fn byte_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => {
            let shift = match unit.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("`{text}`: the unit is one of K, M, G, T")),
            };
            (&text[..at], shift)
        }
        _ => (text, 0),
    };
    let value: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 512M, 8G, 1000000)"))?;
    let bytes = value
        .checked_shl(shift)
        .filter(|&b| b >> shift == value)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    if !(1..=1 << 40).contains(&bytes) {
        return Err("must be from 1 byte to 1T".into());
    }
    Ok(bytes)
}

fn finite(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if !value.is_finite() {
        return Err("must be a finite number".into());
    }
    Ok(value)
}

/// A finite number above 0.
///
/// # Errors
/// When the text is not such a number.
pub fn positive(text: &str) -> Result<f64, String> {
    finite_where(text, |v| v > 0.0, "must be greater than 0")
}

/// A finite number at least 0.
///
/// # Errors
/// When the text is not such a number.
pub fn non_negative(text: &str) -> Result<f64, String> {
    finite_where(text, |v| v >= 0.0, "must be at least 0")
}

/// [`positive`] as `f32` (Adam's epsilon), also refusing values that round to 0 in `f32`.
///
/// # Errors
/// When the text is not such a number.
pub fn positive_f32(text: &str) -> Result<f32, String> {
    let value = positive(text)? as f32;
    if value <= 0.0 || !value.is_finite() {
        return Err("must be a positive number representable in f32".into());
    }
    Ok(value)
}

/// A finite number for which `inside` holds, else `message`.
fn finite_where(text: &str, inside: impl Fn(f64) -> bool, message: &str) -> Result<f64, String> {
    let value = finite(text)?;
    if !inside(value) {
        return Err(message.into());
    }
    Ok(value)
}

/// A fraction strictly between 0 and 1.
///
/// # Errors
/// When the text is not such a number.
pub fn open_fraction(text: &str) -> Result<f64, String> {
    let inside = |v| v > 0.0 && v < 1.0;
    finite_where(text, inside, "must be strictly between 0 and 1")
}

/// A fraction in `(0, 1]`.
///
/// # Errors
/// When the text is not such a number.
pub fn fraction(text: &str) -> Result<f64, String> {
    let inside = |v| v > 0.0 && v <= 1.0;
    finite_where(text, inside, "must be greater than 0 and at most 1")
}

/// A fraction in `[0, 1)`.
///
/// # Errors
/// When the text is not such a number.
pub fn fraction_below_one(text: &str) -> Result<f64, String> {
    let inside = |v| (0.0..1.0).contains(&v);
    finite_where(text, inside, "must be at least 0 and less than 1")
}

/// A percentile strictly between 0 and 100.
///
/// # Errors
/// When the text is not such a number.
pub fn percentile(text: &str) -> Result<f64, String> {
    let inside = |v| v > 0.0 && v < 100.0;
    finite_where(text, inside, "must be strictly between 0 and 100")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked() {
        assert_eq!(count::<1, 10>("3"), Ok(3));
        assert!(count::<1, 10>("0").unwrap_err().contains("1..=10"));
        assert!(count::<1, 10>("11").is_err());
        assert!(count::<1, 10>("-1").is_err());
        assert!(count::<1, 10>("1000000000000000000000").is_err());
        assert_eq!(positive("1e-3"), Ok(1e-3));
        for bad in ["0", "-1", "NaN", "inf", "x"] {
            assert!(positive(bad).is_err(), "{bad}");
        }
        assert!(positive_f32("1e-60").is_err(), "rounds to 0 in f32");
        assert!(open_fraction("0").is_err() && open_fraction("1").is_err());
        assert_eq!(fraction("1"), Ok(1.0));
        assert!(fraction("0").is_err() && fraction("2").is_err());
        assert_eq!(fraction_below_one("0"), Ok(0.0));
        assert!(fraction_below_one("1").is_err());
        assert!(percentile("100").is_err() && percentile("95").is_ok());
        assert_eq!(non_negative("0"), Ok(0.0));
        assert!(non_negative("-0.1").is_err());
    }
}
