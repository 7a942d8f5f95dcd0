use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
/// The rows of a CSV file as strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvTable {
    /// Column names (from the header, or `c0`, `c1`, ...).
    pub columns: Vec<String>,
    /// The rows, each with `columns.len()` fields.
    pub rows: Vec<Vec<String>>,
    /// The 1-based line of each row in the file.
    pub lines: Vec<u64>,
    /// The file.
    pub path: PathBuf,
}

/// Reads a CSV file; every row must have as many fields as the first.
pub fn read_csv(path: &Path, has_header: bool) -> Result<CsvTable> {
    let file = ae_io::open(path, ae_io::Limit::data())?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(has_header)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(file);
    let csv_error = |e: csv::Error| DataError::Csv {
        path: path.to_path_buf(),
        line: e.position().map_or(0, |p| p.line()),
        column: None,
        message: e.to_string(),
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
    let (mut rows, mut lines) = (Vec::new(), Vec::new());
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        // Checked on the first row, before the table grows: every row has as many fields.
        if record.len() > super::encoder::MAX_FEATURES + 1 {
            return Err(DataError::Csv {
                path: path.to_path_buf(),
                line: record.position().map_or(0, |p| p.line()),
                column: None,
                message: format!(
                    "{} columns, more than the {} a feature table takes: select the columns to \
                     use before training",
                    record.len(),
                    super::encoder::MAX_FEATURES + 1
                ),
            });
        }
        lines.push(record.position().map_or(0, |p| p.line()));
        rows.push(record.iter().map(str::to_string).collect::<Vec<_>>());
    }
    if columns.is_empty() {
        let width = rows.first().map_or(0, Vec::len);
        columns = (0..width).map(|i| format!("c{i}")).collect();
    }
    if rows.is_empty() {
        return Err(DataError::Csv {
            path: path.to_path_buf(),
            line: 1,
            column: None,
            message: "no data rows".into(),
        });
    }
    Ok(CsvTable {
        columns,
        rows,
        lines,
        path: path.to_path_buf(),
    })
}
