//! `cnmf export`: a model's factors as NumPy files, for analysis outside the tool.
//!
//! `cnmf export --model MODEL --npy DIR` writes into `DIR` (created when it does not exist):
//! `W.npy` (users x k), `H.npy` (k x items, so `W @ H` is the users x items matrix of raw
//! scores), both `.npy` format 1.0 of little-endian `f64` in C order, and `users.txt` /
//! `items.txt`, the external ids one per line in row (column) order. Each file is written
//! atomically, under the output path rule of `cnmf fit -o`.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::input::Input;
use crate::model_file::{npy, ModelFile, Need};
use crate::output::{check_output_path, Output, OutputFile};

/// Arguments of `cnmf export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The model file written by `cnmf fit` (`-`: standard input; either format version).
    #[arg(long, value_name = "MODEL")]
    model: PathBuf,
    /// Directory to write `W.npy`, `H.npy`, `users.txt` and `items.txt` into; created when it
    /// does not exist (its parent must), files of those names in it are replaced.
    #[arg(long, value_name = "DIR")]
    npy: PathBuf,
}

/// One file written.
#[derive(Serialize)]
struct Written {
    path: String,
    shape: Vec<usize>,
    bytes: u64,
}

#[derive(Serialize)]
struct Report<'a> {
    command: &'static str,
    files: &'a [Written],
}

/// The files `export --npy` writes, in order.
const FILES: [&str; 4] = ["W.npy", "H.npy", "users.txt", "items.txt"];

/// Runs `cnmf export`.
pub fn run(args: &ExportArgs, out: &Output) -> CliResult<()> {
    let input = Input::new(&args.model);
    let inputs: Vec<&Path> = match &input {
        Input::Path(p) => vec![p.as_path()],
        Input::Stdin => vec![],
    };
    let dir = &args.npy;
    let exists = check_dir(dir)?;
    if exists {
        for f in FILES {
            check_output_path(&dir.join(f), &inputs)?;
        }
    }
    let mf = ModelFile::read_for_process(&input, Need::Scoring)?;
    let model = mf.model();
    let f = model.factors();
    let (n, m, k) = (f.n_users(), f.n_items(), f.rank());
    let h_rows = mf.h_k_by_items();
    let contents: [(Vec<u8>, Vec<usize>); 4] = [
        (
            npy::f64_array(f.w(), &[n, k]).map_err(CliError::runtime)?,
            vec![n, k],
        ),
        (
            npy::f64_array(&h_rows, &[k, m]).map_err(CliError::runtime)?,
            vec![k, m],
        ),
        (id_lines(mf.users().iter(), "user", &input)?, vec![n]),
        (id_lines(mf.items().iter(), "item", &input)?, vec![m]),
    ];
    if !exists {
        std::fs::create_dir(dir).map_err(|e| {
            CliError::runtime(format!(
                "cannot create the directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    // Every temporary file is created before any is renamed into place.
    let outputs = FILES
        .iter()
        .map(|f| OutputFile::create(&dir.join(f), &inputs))
        .collect::<CliResult<Vec<_>>>()?;
    let mut written = Vec::with_capacity(FILES.len());
    for (output, (bytes, shape)) in outputs.into_iter().zip(contents) {
        let path = output.target().display().to_string();
        output
            .commit(&bytes)
            .map_err(|e| CliError::runtime(format!("{path}: cannot write: {e}")))?;
        written.push(Written {
            path,
            shape,
            bytes: bytes.len() as u64,
        });
    }
    if out.json {
        return out.json_doc(&Report {
            command: "export",
            files: &written,
        });
    }
    let mut text = String::new();
    for w in &written {
        let what = match w.shape[..] {
            [n] => format!("{n} ids"),
            _ => {
                let dims: Vec<String> = w.shape.iter().map(usize::to_string).collect();
                dims.join(" x ")
            }
        };
        text.push_str(&format!("wrote {} ({what})\n", w.path));
    }
    out.text(&text)
}

/// Checks the output directory: whether it exists (and is a directory), or else whether it
/// can be created (its parent is an existing directory). Usage errors otherwise.
fn check_dir(dir: &Path) -> CliResult<bool> {
    let usage = |why: &str| {
        Err(CliError::Usage(format!(
            "cannot export into {}: {why}",
            dir.display()
        )))
    };
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(true),
        Ok(m) if m.file_type().is_symlink() && dir.is_dir() => Ok(true),
        Ok(_) => usage("it exists and is not a directory"),
        Err(_) => {
            let parent = match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if parent.is_dir() {
                Ok(false)
            } else {
                usage(&format!("directory {} does not exist", parent.display()))
            }
        }
    }
}

/// The ids one per line; an id holding a line break (which no ratings file can give, but a
/// crafted model file can) is refused rather than written as two lines.
fn id_lines<'a>(
    ids: impl Iterator<Item = &'a str>,
    what: &str,
    input: &Input,
) -> CliResult<Vec<u8>> {
    let mut out = Vec::new();
    for (i, id) in ids.enumerate() {
        if id.contains(['\n', '\r']) {
            return Err(CliError::Model(format!(
                "{}: {what} {i}'s id {id:?} holds a line break, which {what}s.txt cannot hold",
                input.name().display()
            )));
        }
        out.extend_from_slice(id.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}
