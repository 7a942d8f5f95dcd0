//! Text files as text: UTF-8 without an editor's byte order mark, with what is not text (gzip,
//! UTF-16) named and the command that converts it.

use std::path::Path;

use crate::InputError;

/// The UTF-8 byte order mark some editors put at the start of a file.
const UTF8_BOM: &str = "\u{feff}";

/// How much of a file [`check_text_start`] looks at.
pub const TEXT_START_BYTES: usize = 4096;

/// Checks the first bytes of a text file (up to [`TEXT_START_BYTES`]) for what is not UTF-8
/// text at all and says what to do: gzip data, UTF-16 (with a byte order mark, or without one:
/// every other byte of ASCII text a NUL).
///
/// # Errors
/// [`InputError::Io`] (invalid data) naming the file and the command that converts it.
pub fn check_text_start(path: &Path, start: &[u8]) -> Result<(), InputError> {
    let invalid = |message: &str| InputError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string()),
    };
    if start.starts_with(&[0x1f, 0x8b]) {
        return Err(invalid(
            "gzip-compressed, not text: decompress it first (`gunzip FILE`)",
        ));
    }
    let nuls = start.iter().filter(|&&b| b == 0).count();
    if start.starts_with(&[0xff, 0xfe])
        || start.starts_with(&[0xfe, 0xff])
        || 4 * nuls > start.len()
    {
        return Err(invalid(
            "UTF-16 text, not UTF-8: convert it first (`iconv -f UTF-16 -t UTF-8 IN > OUT`)",
        ));
    }
    Ok(())
}

/// `bytes` of the file `path` as UTF-8 text, without a leading byte order mark (an editor's,
/// which would otherwise glue itself to the first field or word). Lines may end in `\n`,
/// `\r\n`, or `\r` alone (old Mac files: turned into `\n`).
///
/// # Errors
/// [`InputError::Io`] (invalid data) naming the line and byte where the text stops being UTF-8,
/// or saying the file is UTF-16 (with or without a byte order mark) or gzip and what to do.
pub fn text_from_bytes(path: &Path, bytes: Vec<u8>) -> Result<String, InputError> {
    let invalid = |message: String| InputError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, message),
    };
    check_text_start(path, &bytes[..bytes.len().min(TEXT_START_BYTES)])?;
    let mut text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        // Old Mac files end lines in `\r` alone.
        let end = if valid.contains(&b'\n') { b'\n' } else { b'\r' };
        let line = 1 + valid.iter().filter(|&&b| b == end).count();
        invalid(format!(
            "not UTF-8 text (line {line}, byte {}): convert it first (e.g. `iconv -f LATIN1 \
             -t UTF-8 IN > OUT`)",
            valid.len()
        ))
    })?;
    if text.starts_with(UTF8_BOM) {
        text.drain(..UTF8_BOM.len());
    }
    if text.contains('\r') && !text.contains('\n') {
        text = text.replace('\r', "\n");
    }
    Ok(text)
}
