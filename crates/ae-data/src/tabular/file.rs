use std::cell::RefCell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::error::{DataError, Result};
/// The rows of a CSV file as strings, held compactly: the fields' text one after another and
/// where each ends (a `Vec<Vec<String>>` took about 26 bytes of memory per byte of a tall
/// numeric file; this takes about 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvTable {
    /// Column names (from the header, or `c0`, `c1`, ...).
    pub columns: Vec<String>,
    /// The 1-based line of each row in the file.
    pub lines: Vec<u64>,
    /// The file.
    pub path: PathBuf,
    /// Every field's text, row after row.
    text: String,
    /// Where each row's text starts in `text`.
    row_starts: Vec<usize>,
    /// Where each field ends, from its row's start (a row is at most [`MAX_LINE_BYTES`]),
    /// `columns.len()` a row.
    field_ends: Vec<u32>,
}

impl CsvTable {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.row_starts.len()
    }

    /// Whether the table has no rows (never, as [`read_csv`] returns it).
    pub fn is_empty(&self) -> bool {
        self.row_starts.is_empty()
    }

    /// The field of `row` in `column`.
    ///
    /// # Panics
    /// When `row` or `column` is out of range.
    pub fn field(&self, row: usize, column: usize) -> &str {
        let width = self.columns.len();
        let start = self.row_starts[row];
        let ends = &self.field_ends[row * width..(row + 1) * width];
        let from = if column == 0 { 0 } else { ends[column - 1] };
        &self.text[start + from as usize..start + ends[column] as usize]
    }

    /// The fields of `row`.
    pub fn row(&self, row: usize) -> impl Iterator<Item = &str> {
        (0..self.columns.len()).map(move |column| self.field(row, column))
    }

    /// Adds a row of `columns.len()` fields.
    fn push(&mut self, fields: &csv::StringRecord, line: u64) {
        let start = self.text.len();
        self.row_starts.push(start);
        for field in fields {
            self.text.push_str(field);
            // Within u32: the row's line is at most `MAX_LINE_BYTES`.
            self.field_ends.push((self.text.len() - start) as u32);
        }
        self.lines.push(line);
    }
}

/// The longest line read (8 MiB): a row of the widest table [`read_csv`] takes, at 120
/// characters a field. A longer one is not a table's row (a file of commas held 40 times its
/// size in memory before its width was checked).
pub const MAX_LINE_BYTES: usize = 8 << 20;

/// What [`Lines`] saw of the file: where each line's text starts, and the line that was too
/// long.
#[derive(Default)]
struct LineStarts {
    /// The byte offset and 1-based number of each line that is not blank, at its first byte
    /// other than `\r`.
    starts: Vec<(u64, u64)>,
    too_long: Option<u64>,
}

impl LineStarts {
    /// The line of a record the csv crate says starts at `offset`: its position is where it
    /// began reading the record, before the blank lines it skips (and its own line count skips
    /// them too: a record after a blank line was named a line too early).
    fn line_of(&self, offset: u64) -> u64 {
        let next = self.starts.partition_point(|&(start, _)| start < offset);
        self.starts
            .get(next)
            .or(self.starts.last())
            .map_or(1, |&(_, line)| line)
    }
}

/// A reader that notes where lines start, and fails at a line longer than [`MAX_LINE_BYTES`].
struct Lines<R> {
    inner: R,
    offset: u64,
    line: u64,
    length: usize,
    after_cr: bool,
    seen: Rc<RefCell<LineStarts>>,
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut seen = self.seen.borrow_mut();
        for &byte in &buf[..n] {
            match byte {
                // A line ends in `\n`, `\r\n` or `\r` alone (old Mac files), as the csv
                // crate reads them.
                b'\n' => {
                    if !self.after_cr {
                        self.line += 1;
                    }
                    self.after_cr = false;
                    self.length = 0;
                }
                b'\r' => {
                    self.line += 1;
                    self.after_cr = true;
                    self.length = 0;
                }
                _ => {
                    self.after_cr = false;
                    if seen.starts.last().is_none_or(|&(_, line)| line < self.line) {
                        seen.starts.push((self.offset, self.line));
                    }
                    self.length += 1;
                }
            }
            if self.length > MAX_LINE_BYTES {
                seen.too_long = Some(self.line);
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "line too long",
                ));
            }
            self.offset += 1;
        }
        Ok(n)
    }
}

/// How many rows [`looks_like_data`] compares a header with.
const HEADER_CHECK_ROWS: usize = 1_000;

/// Whether a header is a row of data: each of its fields is what its column holds — a number
/// over a column of numbers, a value the column's first rows hold over a column of words.
/// Column names that are numbers (years, pandas' `0,1,2`) over a label column named in words
/// are a header.
fn looks_like_data(header: &[String], table: &CsvTable) -> bool {
    let is_number = |text: &str| text.parse::<f64>().is_ok();
    let rows = table.len().min(HEADER_CHECK_ROWS);
    !header.is_empty()
        && header.iter().enumerate().all(|(column, name)| {
            if is_number(table.field(0, column)) {
                is_number(name)
            } else {
                (0..rows).any(|row| table.field(row, column) == name)
            }
        })
}

/// Reads a CSV file; every row must have as many fields as the first.
///
/// # Errors
/// [`DataError::Csv`] naming the line of a malformed row, a line over [`MAX_LINE_BYTES`], or a
/// header (`has_header`) that holds what its columns hold: the first row of a file without one.
pub fn read_csv(path: &Path, has_header: bool) -> Result<CsvTable> {
    let seen = Rc::new(RefCell::new(LineStarts::default()));
    // A gzip or UTF-16 file is named as such (the csv crate would call it "not UTF-8").
    let mut file = ae_io::open(path, ae_io::Limit::data())?;
    let mut start = Vec::with_capacity(ae_io::TEXT_START_BYTES);
    (&mut file)
        .take(ae_io::TEXT_START_BYTES as u64)
        .read_to_end(&mut start)
        .map_err(|e| DataError::io(path, e))?;
    ae_io::check_text_start(path, &start)?;
    let file = Lines {
        inner: std::io::Cursor::new(start).chain(file),
        offset: 0,
        line: 1,
        length: 0,
        after_cr: false,
        seen: seen.clone(),
    };
    let line_of =
        |position: Option<&csv::Position>| position.map_or(0, |p| seen.borrow().line_of(p.byte()));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(has_header)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(file);
    let too_long = || seen.borrow().too_long;
    let csv_error = |e: csv::Error| match too_long() {
        Some(line) => DataError::Csv {
            path: path.to_path_buf(),
            line,
            column: None,
            message: format!(
                "longer than {} MiB: not a row of a table (is this a CSV file?)",
                MAX_LINE_BYTES >> 20
            ),
        },
        None => DataError::Csv {
            path: path.to_path_buf(),
            line: line_of(e.position()),
            column: None,
            // The csv crate's own text repeats its position (with its own line count).
            message: match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("{len} fields, but the rows before have {expected_len}"),
                csv::ErrorKind::Utf8 { err, .. } => format!(
                    "field {} is not UTF-8 text: convert the file first (e.g. `iconv -f \
                     LATIN1 -t UTF-8 IN > OUT`)",
                    err.field() + 1
                ),
                _ => e.to_string(),
            },
        },
    };
    let mut columns: Vec<String> = if has_header {
        reader
            .headers()
            .map_err(csv_error)?
            .iter()
            .map(str::to_string)
            .collect()
    } else {
        Vec::new()
    };
    let mut table = CsvTable {
        columns: Vec::new(),
        lines: Vec::new(),
        path: path.to_path_buf(),
        text: String::new(),
        row_starts: Vec::new(),
        field_ends: Vec::new(),
    };
    let mut record = csv::StringRecord::new();
    let mut width = 0;
    while reader.read_record(&mut record).map_err(csv_error)? {
        // Checked on the first row, before the table grows: every row has as many fields.
        if record.len() > super::encoder::MAX_FEATURES + 1 {
            return Err(DataError::Csv {
                path: path.to_path_buf(),
                line: line_of(record.position()),
                column: None,
                message: format!(
                    "{} columns, more than the {} a feature table takes: select the columns to \
                     use before training",
                    record.len(),
                    super::encoder::MAX_FEATURES + 1
                ),
            });
        }
        if table.is_empty() {
            width = record.len();
        }
        table.push(&record, line_of(record.position()));
    }
    if table.is_empty() {
        return Err(DataError::Csv {
            path: path.to_path_buf(),
            line: 1,
            column: None,
            message: "no data rows".into(),
        });
    }
    if columns.is_empty() {
        columns = (0..width).map(|i| format!("c{i}")).collect();
    }
    table.columns = columns;
    if has_header && looks_like_data(&table.columns, &table) {
        return Err(DataError::Csv {
            path: path.to_path_buf(),
            line: 1,
            column: None,
            message: "the header holds what its columns hold (numbers over numbers, values of \
                      its other columns), as a row of data would: the file has no header (its \
                      first row would be left out as one); leave out --header"
                .into(),
        });
    }
    Ok(table)
}
