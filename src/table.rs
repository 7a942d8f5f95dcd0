//! Plain-text tables for results printed to the terminal.

use std::fmt;

/// A table of strings, printed with aligned columns and a rule under the header.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles (empty titles print no header).
    pub fn new<S: AsRef<str>>(header: impl IntoIterator<Item = S>) -> Self {
        Self {
            header: header.into_iter().map(|s| s.as_ref().to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Self {
        self.rows
            .push(cells.into_iter().map(|s| s.as_ref().to_string()).collect());
        self
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ncols = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0; ncols];
        for row in self.rows.iter().chain([&self.header]) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, row: &[String]| {
            let cells: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(i, w)| format!("{:<w$}", row.get(i).map_or("", String::as_str)))
                .collect();
            writeln!(f, "{}", cells.join("  ").trim_end())
        };
        if self.header.iter().any(|h| !h.is_empty()) {
            line(f, &self.header)?;
            let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
            writeln!(f, "{}", rule.join("  "))?;
        }
        for row in &self.rows {
            line(f, row)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(["model", "MSE"]);
        t.row(["vanilla", "0.0101"]).row(["pca", "0.02"]);
        assert_eq!(
            t.to_string(),
            "model    MSE\n-------  ------\nvanilla  0.0101\npca      0.02\n"
        );
    }
}
