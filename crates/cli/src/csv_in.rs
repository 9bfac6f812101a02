//! A small reader for the tool's own CSV inputs (`predict --pairs`, `fold-in --ratings`):
//! a header line naming the columns, then one record per line.
//!
//! Commas or tabs separate fields (decided from the header); fields are trimmed; a field may
//! be quoted (`"a,b"`, `""` for a quote). Columns are found by name (`user`/`userid`/`user_id`,
//! `item`/`itemid`/`item_id`/`movie`/`movieid`/`movie_id`, `rating`/`value`/`score`), in any
//! order; other columns are allowed and not used. Trailing blank lines are ignored, a blank line
//! followed by more data is an error. Every error names the file and the line.

use std::io::Read;
use std::path::Path;

use crate::error::{CliError, CliResult};
use crate::input::{clip, BoundedLines, Input, LineError};

/// A column the caller needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// The user id.
    User,
    /// The item id.
    Item,
    /// The rating.
    Rating,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::User => "user",
            Column::Item => "item",
            Column::Rating => "rating",
        }
    }

    fn matches(self, header: &str) -> bool {
        let h = header.to_ascii_lowercase();
        let names: &[&str] = match self {
            Column::User => &["user", "userid", "user_id"],
            Column::Item => &["item", "itemid", "item_id", "movie", "movieid", "movie_id"],
            Column::Rating => &["rating", "value", "score"],
        };
        names.contains(&h.as_str())
    }
}

/// One record: its 1-based line number, the wanted fields and the optional ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Line number in the file.
    pub line: usize,
    /// The wanted fields.
    pub fields: Vec<String>,
    /// The optional fields, in the order asked for: `None` when the header has no such column
    /// (or the field is empty).
    pub optional: Vec<Option<String>>,
}

/// Reads `input` once and returns, for each record, the fields of `wanted` (in that order) and
/// of the `optional` columns the header names. No line may be longer than `max_line` bytes.
///
/// Errors (bad data, exit 3): unreadable input, missing or repeated column, a record with the
/// wrong number of fields, an empty wanted field, bad quoting, a line over the limit, no record
/// at all.
pub fn read_records(
    input: &Input,
    wanted: &[Column],
    optional: &[Column],
    max_line: usize,
) -> CliResult<Vec<Record>> {
    let name = input.name();
    let reader = input
        .open()
        .map_err(|e| CliError::Data(format!("{}: cannot read: {e}", name.display())))?;
    read_records_from(reader, &name, wanted, optional, max_line)
}

/// [`read_records`] over any reader; `name` stands for it in messages.
pub fn read_records_from(
    reader: impl Read,
    name: &Path,
    wanted: &[Column],
    optional: &[Column],
    max_line: usize,
) -> CliResult<Vec<Record>> {
    let at = |line: usize, problem: String| {
        CliError::Data(format!(
            "{}:{line}: {}",
            name.display(),
            clip(&problem, 300)
        ))
    };
    let mut lines = BoundedLines::new(reader, max_line);
    let mut next = || -> CliResult<Option<(usize, String)>> {
        match lines.next_line() {
            Ok(None) => Ok(None),
            Ok(Some((n, raw))) => match std::str::from_utf8(raw) {
                Ok(t) => Ok(Some((n, t.to_string()))),
                Err(_) => Err(at(n, "line is not valid UTF-8".into())),
            },
            Err(LineError::Io(e)) => Err(CliError::Data(format!(
                "{}: cannot read: {e}",
                name.display()
            ))),
            Err(LineError::TooLong(n)) => Err(at(
                n,
                format!(
                    "line is longer than {max_line} bytes, the limit (--max-line-bytes to raise it)"
                ),
            )),
        }
    };
    let (hline, header) = loop {
        match next()? {
            None => {
                return Err(CliError::Data(format!(
                    "{}: empty file (expected a header line naming the columns: {})",
                    name.display(),
                    column_names(wanted, ",")
                )))
            }
            Some((n, l)) if !l.trim().is_empty() => break (n, l),
            Some(_) => {}
        }
    };
    let delim = if header.contains('\t') { '\t' } else { ',' };
    let cols = split(&header, delim).map_err(|p| at(hline, p))?;
    let index = find_columns(&header, &cols, wanted).map_err(|p| at(hline, p))?;
    let opt_index = find_optional(&cols, optional).map_err(|p| at(hline, p))?;
    let mut records = Vec::new();
    let mut blank: Option<usize> = None;
    while let Some((line, raw)) = next()? {
        if raw.trim().is_empty() {
            blank.get_or_insert(line);
            continue;
        }
        if let Some(b) = blank {
            return Err(at(
                b,
                format!("blank line inside the data (line {line} follows it)"),
            ));
        }
        let fields = split(&raw, delim).map_err(|p| at(line, p))?;
        if fields.len() != cols.len() {
            return Err(at(
                line,
                format!(
                    "expected {} fields ({}), found {}",
                    cols.len(),
                    cols.join(","),
                    fields.len()
                ),
            ));
        }
        let mut picked = Vec::with_capacity(index.len());
        for (&j, &w) in index.iter().zip(wanted) {
            if fields[j].is_empty() {
                return Err(at(line, format!("empty {}", w.name())));
            }
            picked.push(fields[j].clone());
        }
        let optional = opt_index
            .iter()
            .map(|j| j.map(|j| fields[j].clone()).filter(|f| !f.is_empty()))
            .collect();
        records.push(Record {
            line,
            fields: picked,
            optional,
        });
    }
    if records.is_empty() {
        return Err(at(hline, "no records after the header".into()));
    }
    Ok(records)
}

/// The position in `cols` of each optional column, `None` when the header lacks it.
fn find_optional(cols: &[String], optional: &[Column]) -> Result<Vec<Option<usize>>, String> {
    let mut index = Vec::with_capacity(optional.len());
    for &w in optional {
        let found: Vec<usize> = (0..cols.len()).filter(|&j| w.matches(&cols[j])).collect();
        match found.as_slice() {
            [] => index.push(None),
            [j] => index.push(Some(*j)),
            _ => return Err(format!("the header names the {} column twice", w.name())),
        }
    }
    Ok(index)
}

/// The position in `cols` (the header's fields) of each wanted column; the error says which
/// one is missing or named twice.
fn find_columns(header: &str, cols: &[String], wanted: &[Column]) -> Result<Vec<usize>, String> {
    let mut index = Vec::with_capacity(wanted.len());
    for &w in wanted {
        let found: Vec<usize> = (0..cols.len()).filter(|&j| w.matches(&cols[j])).collect();
        match found.as_slice() {
            [j] => index.push(*j),
            [] => {
                return Err(format!(
                    "the header {header:?} has no {} column (expected a header naming {})",
                    w.name(),
                    column_names(wanted, ", ")
                ))
            }
            _ => return Err(format!("the header names the {} column twice", w.name())),
        }
    }
    Ok(index)
}

/// The wanted columns' names joined by `sep`, for messages.
fn column_names(wanted: &[Column], sep: &str) -> String {
    wanted
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(sep)
}

/// Splits one line; fields are trimmed; quoted fields may hold the delimiter and `""`.
pub fn split(line: &str, delim: char) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars
            .peek()
            .is_some_and(|&c| c == ' ' || (c == '\t' && delim != '\t'))
        {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("unterminated quoted field".into()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            out.push(field);
            match chars.next() {
                None => return Ok(out),
                Some(c) if c == delim => continue,
                Some(_) => return Err("unexpected text after a closing quote".into()),
            }
        } else {
            let mut ended = true;
            for c in chars.by_ref() {
                if c == delim {
                    ended = false;
                    break;
                }
                if c == '"' {
                    return Err("stray quote in an unquoted field".into());
                }
                field.push(c);
            }
            out.push(field.trim_end().to_string());
            if ended {
                return Ok(out);
            }
        }
    }
}

/// Parses a rating field; the error names the file and line.
pub fn parse_rating(path: &Path, rec: &Record, text: &str) -> CliResult<f64> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(CliError::Data(format!(
            "{}:{}: rating {text:?} is not a finite number",
            path.display(),
            rec.line
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn split_handles_quotes_and_spaces() {
        assert_eq!(split(" a , b ,c", ',').unwrap(), ["a", "b", "c"]);
        assert_eq!(
            split("\"x,y\",\"say \"\"hi\"\"\"", ',').unwrap(),
            ["x,y", "say \"hi\""]
        );
        assert_eq!(split("a,,c", ',').unwrap(), ["a", "", "c"]);
        assert_eq!(split("a\tb", '\t').unwrap(), ["a", "b"]);
        assert!(split("\"open", ',').is_err());
        assert!(split("a\"b,c", ',').is_err());
    }

    #[test]
    fn records_pick_columns_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.csv");
        let read = |wanted: &[Column]| read_records(&Input::new(&p), wanted, &[], 1 << 20);
        fs::write(&p, "item,note,user\nx,hello,u1\n\"y,z\",,u2\n\n").unwrap();
        let r = read(&[Column::User, Column::Item]).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].fields, ["u2", "y,z"]);
        assert_eq!(r[1].line, 3);

        fs::write(&p, "user,item\nu1,x\n\nu2,y\n").unwrap();
        let e = read(&[Column::User, Column::Item]).unwrap_err().to_string();
        assert!(
            e.ends_with("p.csv:3: blank line inside the data (line 4 follows it)"),
            "{e}"
        );

        fs::write(&p, "user,item\nu1\n").unwrap();
        let e = read(&[Column::User, Column::Item]).unwrap_err().to_string();
        assert!(e.contains("p.csv:2: expected 2 fields"), "{e}");

        fs::write(&p, "user,rating\nu1,3\n").unwrap();
        let e = read(&[Column::User, Column::Item]).unwrap_err().to_string();
        assert!(
            e.contains("p.csv:1:") && e.contains("no item column"),
            "{e}"
        );
    }
}
