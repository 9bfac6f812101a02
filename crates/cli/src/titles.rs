//! `--items FILE`: item titles next to item ids in `recommend`, `flagged`, `fold-in` and
//! `similar`.
//!
//! The file is a MovieLens item file (`u.item`, `movies.dat` or `movies.csv`, read by
//! `cnmf_ratings::titles`). Without `--items`, when the model was fitted on a MovieLens ratings
//! file (`u.data`, `ratings.dat`, `ratings.csv`, as found by `--data DIR`) and that directory
//! still holds the matching item file, it is used (said on stderr unless `--quiet`; a broken
//! file found that way is a warning, a broken `--items` file an error). Text output gains a
//! `title` column, last, when titles were read; JSON always has `"title"`, a string, or `null`
//! when the title is unknown.

use std::path::{Path, PathBuf};

use clap::Args;
use cnmf_ratings::titles::{item_file_next_to, load_titles, Titles};
use cnmf_ratings::DEFAULT_MAX_LINE_BYTES;

use crate::error::{CliError, CliResult};
use crate::model_file::ModelFile;
use crate::output::{csv_field, Output, Table};

/// The `--items` option.
#[derive(Debug, Clone, Args)]
pub struct ItemsArg {
    /// MovieLens item file for titles: u.item (ML-100K), movies.dat (ML-1M) or movies.csv
    /// (ML-20M/25M). Without it, the item file next to the model's MovieLens training file is
    /// used when there is one.
    #[arg(long = "items", value_name = "FILE")]
    items: Option<PathBuf>,
}

/// The titles to show, if any were read.
#[derive(Debug, Clone, Default)]
pub struct ItemTitles(Option<Titles>);

impl ItemsArg {
    /// Reads `--items`, or the item file next to the model's training file.
    pub fn load(&self, mf: &ModelFile, out: &Output) -> CliResult<ItemTitles> {
        if let Some(path) = &self.items {
            let titles =
                load_titles(path, DEFAULT_MAX_LINE_BYTES).map_err(CliError::from_ratings)?;
            return Ok(ItemTitles(Some(titles)));
        }
        let Some(path) = item_file_next_to(Path::new(&mf.training().source)) else {
            return Ok(ItemTitles::default());
        };
        match load_titles(&path, DEFAULT_MAX_LINE_BYTES) {
            Ok(titles) => {
                out.info(&format!("titles from {}", path.display()));
                Ok(ItemTitles(Some(titles)))
            }
            Err(e) => {
                out.warn(&format!("no titles: {e}"));
                Ok(ItemTitles::default())
            }
        }
    }
}

impl ItemTitles {
    /// The title of the item with external id `id`, when known.
    pub fn get(&self, id: &str) -> Option<String> {
        self.0.as_ref()?.get(id).map(str::to_string)
    }

    /// A table of `columns` and `rows` (cells and the row's title), with a `title` column
    /// last when titles were read (empty for an unknown title).
    pub fn table<'t>(
        &self,
        columns: &[(&str, bool)],
        rows: impl IntoIterator<Item = (Vec<String>, Option<&'t str>)>,
    ) -> Table {
        let mut columns = columns.to_vec();
        let titled = self.0.is_some();
        if titled {
            columns.push(("title", false));
        }
        let mut table = Table::new(&columns);
        for (mut cells, title) in rows {
            if titled {
                cells.push(title.unwrap_or_default().to_string());
            }
            table.row(cells);
        }
        table
    }

    /// `,title` for a CSV header when titles were read, else nothing.
    pub fn csv_header(&self) -> &'static str {
        if self.0.is_some() {
            ",title"
        } else {
            ""
        }
    }

    /// `,<title>` (quoted as needed, empty when unknown) for a CSV row when titles were read.
    pub fn csv_cell(&self, title: Option<&str>) -> String {
        match self.0 {
            Some(_) => format!(",{}", csv_field(title.unwrap_or_default())),
            None => String::new(),
        }
    }
}
