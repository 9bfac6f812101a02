//! Item titles from MovieLens item files, so that tools can print "Star Wars (1977)" next to
//! item id 50.
//!
//! Three layouts are read, recognised from the first line:
//!
//! - MovieLens 100K `u.item`: `id|title|release date|...`, `|`-separated, Latin-1;
//! - MovieLens 1M (and 10M) `movies.dat`: `id::title::genres`, Latin-1 (the title is everything
//!   between the first and the last `::`);
//! - MovieLens 20M/25M/latest `movies.csv`: UTF-8 CSV with the header `movieId,title,genres`,
//!   titles that hold commas quoted (`"Godfather, The (1972)"`, `""` for a quote).
//!
//! Latin-1 is decoded byte for byte (each byte is the code point of the same value), so
//! `u.item`'s `Ã©` artefacts never appear. Ids and titles are trimmed of surrounding
//! whitespace (a few `u.item` titles end in a space). Lines are bounded (`max_line_bytes`); a line that
//! cannot be used, an id given twice or a CSV file that is not UTF-8 is a
//! [`RatingsError::Parse`] naming the file and the line. An empty file gives no titles.
//!
//! [`item_file_next_to`] finds the item file that belongs with a MovieLens ratings file
//! (`u.data` → `u.item`, `ratings.dat` → `movies.dat`, `ratings.csv` → `movies.csv`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::{Location, RatingsError};

/// The item files that go with each MovieLens ratings file name.
const PAIRS: [(&str, &str); 3] = [
    ("u.data", "u.item"),
    ("ratings.dat", "movies.dat"),
    ("ratings.csv", "movies.csv"),
];

/// Which item-file layout a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TitleFormat {
    /// MovieLens 100K `u.item` (`|`, Latin-1).
    Ml100k,
    /// MovieLens 1M/10M `movies.dat` (`::`, Latin-1).
    MovieLens,
    /// MovieLens 20M/25M `movies.csv` (CSV with a header, UTF-8).
    Csv,
}

/// External item id → title.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Titles {
    map: HashMap<String, String>,
}

impl Titles {
    /// The title of item `id` (external id text), if the file listed it.
    pub fn get(&self, id: &str) -> Option<&str> {
        self.map.get(id).map(String::as_str)
    }

    /// Number of items with a title.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no item has a title.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The MovieLens item file in the same directory as the ratings file `ratings`, when the
/// ratings file has a MovieLens name and the item file exists.
pub fn item_file_next_to(ratings: &Path) -> Option<PathBuf> {
    let name = ratings.file_name()?.to_str()?;
    let (_, items) = PAIRS.iter().find(|(r, _)| *r == name)?;
    let candidate = ratings.with_file_name(items);
    candidate.is_file().then_some(candidate)
}

/// Reads the titles of the item file at `path` (layout recognised from its first line).
pub fn load_titles(path: &Path, max_line_bytes: usize) -> Result<Titles, RatingsError> {
    let file = std::fs::File::open(path).map_err(|source| RatingsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_titles(file, path, max_line_bytes)
}

/// Reads titles from `reader`; `name` is the file named in errors.
pub fn read_titles<R: Read>(
    reader: R,
    name: &Path,
    max_line_bytes: usize,
) -> Result<Titles, RatingsError> {
    let mut reader = BufReader::new(reader);
    let mut titles = Titles::default();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    let mut format = None;
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(max_line_bytes as u64 + 2)
            .read_until(b'\n', &mut buf)
            .map_err(|source| RatingsError::Io {
                path: name.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let at = || Location {
            path: name.to_path_buf(),
            line: line_no,
        };
        let fail = |problem: String| RatingsError::Parse { at: at(), problem };
        let mut line = buf.as_slice();
        if let Some(rest) = line.strip_suffix(b"\n") {
            line = rest;
        } else if n > max_line_bytes {
            return Err(fail(format!("line longer than {max_line_bytes} bytes")));
        }
        line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > max_line_bytes {
            return Err(fail(format!("line longer than {max_line_bytes} bytes")));
        }
        if line.is_empty() {
            continue;
        }
        let layout = match format {
            Some(f) => f,
            None => {
                let f = detect(line);
                format = Some(f);
                if f == TitleFormat::Csv {
                    check_csv_header(line).map_err(fail)?;
                    continue;
                }
                f
            }
        };
        let (id, title) = parse_line(layout, line).map_err(fail)?;
        if let Some(first) = first_line.get(&id) {
            return Err(fail(format!(
                "item id {id:?} listed twice (first on line {first})"
            )));
        }
        first_line.insert(id.clone(), line_no);
        titles.map.insert(id, title);
    }
    Ok(titles)
}

/// The layout of a file from its first non-empty line.
fn detect(first: &[u8]) -> TitleFormat {
    if first.starts_with(b"movieId,") || first.starts_with(b"\xEF\xBB\xBFmovieId,") {
        TitleFormat::Csv
    } else if memchr::memmem::find(first, b"::").is_some() {
        TitleFormat::MovieLens
    } else {
        TitleFormat::Ml100k
    }
}

/// A `movies.csv` header must name `movieId` then `title`.
fn check_csv_header(line: &[u8]) -> Result<(), String> {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let fields = csv_fields(&utf8(line)?)?;
    if fields.len() < 2 || fields[0] != "movieId" || fields[1] != "title" {
        return Err("header must start with movieId,title".into());
    }
    Ok(())
}

/// One data line: (id, title).
fn parse_line(format: TitleFormat, line: &[u8]) -> Result<(String, String), String> {
    let (id, title) = match format {
        TitleFormat::Ml100k => {
            let text = latin1(line);
            let mut parts = text.splitn(3, '|');
            let id = parts.next().unwrap_or_default().to_string();
            let Some(title) = parts.next() else {
                return Err("expected id|title|... (no `|` found)".into());
            };
            (id, title.to_string())
        }
        TitleFormat::MovieLens => {
            let text = latin1(line);
            let (Some(first), Some(last)) = (text.find("::"), text.rfind("::")) else {
                return Err("expected id::title::genres (no `::` found)".into());
            };
            if first == last {
                return Err("expected id::title::genres (one `::` found)".into());
            }
            (text[..first].to_string(), text[first + 2..last].to_string())
        }
        TitleFormat::Csv => {
            let mut fields = csv_fields(&utf8(line)?)?;
            if fields.len() < 2 {
                return Err(format!(
                    "expected movieId,title,... ({} field found)",
                    fields.len()
                ));
            }
            fields.truncate(2);
            let title = fields.pop().unwrap_or_default();
            let id = fields.pop().unwrap_or_default();
            (id, title)
        }
    };
    let id = id.trim().to_string();
    if id.is_empty() {
        return Err("empty item id".into());
    }
    Ok((id, title.trim().to_string()))
}

/// Latin-1 (ISO 8859-1): every byte is the code point of the same value.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        format!(
            "not valid UTF-8 at byte {} (movies.csv files are UTF-8)",
            e.utf8_error().valid_up_to() + 1
        )
    })
}

/// The fields of one CSV line: `,`-separated, a field in double quotes may hold commas and
/// `""` for a quote. A line break inside quotes is not supported (MovieLens has none).
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".into()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {}
                Some(c) => return Err(format!("unexpected {c:?} after a quoted field")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err("quote inside an unquoted field".into()),
                    Some(c) => field.push(c),
                }
            }
        }
        fields.push(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> Result<Titles, RatingsError> {
        read_titles(text, Path::new("items"), 1000)
    }

    #[test]
    fn u_item_is_latin1() {
        // 0xE9 is é in Latin-1; in UTF-8 it would be an invalid byte.
        let t =
            read(b"1|Toy Story (1995)|01-Jan-1995||http://x|0|0\n2|Cr\xE9pe (1996)|x\n").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.get("1"), Some("Toy Story (1995)"));
        assert_eq!(t.get("2"), Some("Crépe (1996)"));
        assert_eq!(t.get("3"), None);
    }

    #[test]
    fn movies_dat_title_may_hold_colons() {
        let t = read(b"1::Toy Story (1995)::Animation|Comedy\r\n7::Se\xF1or: X (1990)::Drama\n")
            .unwrap();
        assert_eq!(t.get("1"), Some("Toy Story (1995)"));
        assert_eq!(t.get("7"), Some("Señor: X (1990)"));
    }

    #[test]
    fn movies_csv_quotes_and_utf8() {
        let text = "movieId,title,genres\n\
                    1,Toy Story (1995),Animation\n\
                    2,\"Godfather, The (1972)\",Crime\n\
                    3,\"Say \"\"Hi\"\" (2001)\",Comedy\n\
                    4,Amélie (2001),Romance\n";
        let t = read(text.as_bytes()).unwrap();
        assert_eq!(t.get("2"), Some("Godfather, The (1972)"));
        assert_eq!(t.get("3"), Some("Say \"Hi\" (2001)"));
        assert_eq!(t.get("4"), Some("Amélie (2001)"));
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn bad_lines_name_the_line() {
        let cases: [(&[u8], &str); 6] = [
            (b"1|A\nno bar here\n", "items:2: expected id|title"),
            (
                b"1::A::B\n2::only one\n",
                "items:2: expected id::title::genres (one",
            ),
            (
                b"1|A\n1|B\n",
                "items:2: item id \"1\" listed twice (first on line 1)",
            ),
            (b"|A\n", "items:1: empty item id"),
            (
                b"movieId,title\n1,\"A\n",
                "items:2: unterminated quoted field",
            ),
            (
                b"movieId,title\n1,\xFF\n",
                "items:2: not valid UTF-8 at byte 3",
            ),
        ];
        for (text, want) in cases {
            let e = read(text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e:?} should start with {want:?}");
        }
        let e = read(b"movieId,name\n").unwrap_err().to_string();
        assert_eq!(e, "items:1: header must start with movieId,title");
        let long = format!("1|{}\n", "x".repeat(2000));
        let e = read(long.as_bytes()).unwrap_err().to_string();
        assert_eq!(e, "items:1: line longer than 1000 bytes");
        assert!(read(b"").unwrap().is_empty());
    }

    #[test]
    fn item_file_found_next_to_ratings() {
        let dir = tempfile::tempdir().unwrap();
        let ratings = dir.path().join("u.data");
        assert_eq!(item_file_next_to(&ratings), None);
        std::fs::write(dir.path().join("u.item"), "1|A|x\n").unwrap();
        assert_eq!(item_file_next_to(&ratings), Some(dir.path().join("u.item")));
        assert_eq!(item_file_next_to(&dir.path().join("other.csv")), None);
    }

    #[test]
    #[ignore = "needs MovieLens 100K (CNMF_DATA or ./data)"]
    fn real_u_item() {
        let path =
            item_file_next_to(&crate::discover::require_ml100k()).expect("u.item next to u.data");
        let t = load_titles(&path, crate::DEFAULT_MAX_LINE_BYTES).unwrap();
        assert_eq!(t.len(), 1682);
        assert_eq!(t.get("1"), Some("Toy Story (1995)"));
        assert_eq!(t.get("50"), Some("Star Wars (1977)"));
        // Latin-1 decoded: 0xE9 is é, and no UTF-8 mojibake anywhere.
        assert_eq!(t.get("543"), Some("Misérables, Les (1995)"));
        assert!((1..=1682).all(|i| !t.get(&i.to_string()).unwrap().contains('Ã')));
    }
}
