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

/// The most characters a cell shows; a longer one (a 70,000-character label) is cut with `…`.
pub const MAX_CELL_CHARS: usize = 120;

/// `cell` as shown: at most [`MAX_CELL_CHARS`] characters.
fn shown(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.chars().count() <= MAX_CELL_CHARS {
        cell.into()
    } else {
        let kept: String = cell.chars().take(MAX_CELL_CHARS - 1).collect();
        format!("{kept}…").into()
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
                *w = (*w).max(shown(cell).chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, row: &[String]| {
            let cells: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(i, &w)| {
                    // Padded by hand: `format!`'s width stops at 65,535.
                    let cell = shown(row.get(i).map_or("", String::as_str));
                    let pad = w.saturating_sub(cell.chars().count());
                    format!("{cell}{}", " ".repeat(pad))
                })
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

    #[test]
    fn long_cells_are_cut() {
        let mut t = Table::new(["label", "n"]);
        t.row(["Z".repeat(70_000).as_str(), "1"]);
        let text = t.to_string();
        let row = text.lines().nth(2).unwrap();
        assert_eq!(row, format!("{}…  1", "Z".repeat(MAX_CELL_CHARS - 1)));
    }
}
