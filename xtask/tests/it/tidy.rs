//! Repository hygiene, checked by `cargo test` (so it runs in CI and in editors that run the
//! tests). Each rule names every offending file in its failure message.
//!
//! 1. **rustfmt**: `cargo fmt --all --check` passes (rustfmt must be installed).
//! 2. **Module docs**: every `.rs` file of the repository (sources, tests, examples, benches)
//!    begins with a `//!` doc comment: its first non-blank line starts with `//!`.
//! 3. **Code map**: every module file under `crates/*/src` and `xtask/src` (all `.rs` files but
//!    `lib.rs` and `main.rs`) is named in its crate's section of `docs/ARCHITECTURE.md` (the
//!    `###` heading naming the crate's directory in backticks, up to the next heading), in
//!    backticks, as one of: its file name (`` `kernels.rs` ``), its path below `src`
//!    (`` `commands/fit.rs` ``), or a directory it lives in, with a trailing slash
//!    (`` `commands/` `` covers `commands/mod.rs` and every file in `commands/`; for a file
//!    `foo.rs`, `` `foo/` `` also counts).
//! 4. **Portable, product-only docs**: Markdown files and `//!` / `///` comments contain no
//!    machine-local absolute path ([`LOCAL_PATHS`]) and none of [`PROCESS_WORDS`], words about
//!    how the project is run rather than about the product (whole words, any case), nor an
//!    issue number. Files owned elsewhere that still have hits are listed in [`KNOWN_HITS`];
//!    the test fails when one of them becomes clean, so that the list only shrinks.
//!
//! The walk starts at the workspace root and skips hidden directories, `target`, and the
//! local `data` and `results` directories (MovieLens and reports, never committed).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Beginnings of absolute paths that exist only on some machine.
const LOCAL_PATHS: &[&str] = &["/work/", "/root/", "/tmp/", "/home/", "/Users/", "/mnt/"];

/// Words about the project's process, not its product (matched as whole words, any case).
const PROCESS_WORDS: &[&str] = &[
    "session", "ceo", "helper", "todo", "fixme", "reviewer", "worktree", "brief",
];

/// Files (relative to the root, `/`-separated) with hits in rule 4 whose owners have not fixed
/// them yet. Remove an entry when its file is fixed (the test says when).
const KNOWN_HITS: &[&str] = &[];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// Every file under `dir` (recursively) except in skipped directories, sorted.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let skip = name.starts_with('.') || ["target", "data", "results"].contains(&&*name);
            if !skip {
                walk(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// The repository's files with extension `ext`, as (path relative to the root, text).
fn files(ext: &str) -> Vec<(String, String)> {
    let root = root();
    let mut all = Vec::new();
    walk(&root, &mut all);
    all.into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap();
            let rel = rel.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            (rel, text)
        })
        .collect()
}

fn fail_with(rule: &str, offenders: &[String]) {
    assert!(
        offenders.is_empty(),
        "{rule}:\n  {}\n(rules: xtask/tests/it/tidy.rs)",
        offenders.join("\n  ")
    );
}

#[test]
fn rustfmt_check_passes() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["fmt", "--all", "--check"])
        .current_dir(root())
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("no such command") && !stderr.contains("not installed"),
        "rustfmt is not installed, so formatting cannot be checked: \
         `rustup component add rustfmt`\n{stderr}"
    );
    assert!(
        out.status.success(),
        "`cargo fmt --all --check` found unformatted code; run `cargo fmt --all`:\n{}{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn every_rust_file_begins_with_a_module_doc() {
    let offenders: Vec<String> = files("rs")
        .into_iter()
        .filter(|(_, text)| {
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            !first.trim_start().starts_with("//!")
        })
        .map(|(rel, _)| rel)
        .collect();
    fail_with(
        "these files do not begin with a `//!` doc comment saying what they are for",
        &offenders,
    );
}

/// The section of ARCHITECTURE.md whose `###` heading names `dir` in backticks.
fn code_map_section<'a>(architecture: &'a str, dir: &str) -> Option<&'a str> {
    let heading = format!("`{dir}`");
    let start = architecture
        .match_indices("\n### ")
        .map(|(i, _)| i + 1)
        .find(|&i| architecture[i..].lines().next().unwrap().contains(&heading))?;
    let rest = &architecture[start + 4..];
    let end = rest.find("\n#").map_or(rest.len(), |i| i + 1);
    Some(&rest[..end])
}

/// The backticked names that cover module file `rel` (a path below `src`) in the code map.
fn covering_names(rel: &str) -> Vec<String> {
    let parts: Vec<&str> = rel.split('/').collect();
    let file = parts[parts.len() - 1];
    let mut names = vec![format!("`{file}`")];
    if parts.len() > 1 {
        names.push(format!("`{rel}`"));
    }
    for k in 1..parts.len() {
        names.push(format!("`{}/`", parts[..k].join("/")));
    }
    names.push(format!("`{}/`", rel.trim_end_matches(".rs")));
    names
}

#[test]
fn every_module_is_named_in_the_code_map() {
    let root = root();
    let architecture = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md"))
        .expect("docs/ARCHITECTURE.md is readable");
    let mut crate_dirs: Vec<String> = std::fs::read_dir(root.join("crates"))
        .expect("crates/ is readable")
        .map(|e| format!("crates/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    crate_dirs.sort();
    crate_dirs.push("xtask".into());
    let mut offenders = Vec::new();
    for dir in &crate_dirs {
        let src = root.join(dir).join("src");
        if !src.is_dir() {
            continue;
        }
        let Some(section) = code_map_section(&architecture, dir) else {
            offenders.push(format!(
                "{dir}: no `### ` heading naming `{dir}` in docs/ARCHITECTURE.md"
            ));
            continue;
        };
        let mut modules = Vec::new();
        walk(&src, &mut modules);
        for path in modules {
            let rel = path.strip_prefix(&src).unwrap().to_string_lossy();
            let rel = rel.replace('\\', "/");
            if !rel.ends_with(".rs") || rel == "lib.rs" || rel == "main.rs" {
                continue;
            }
            let names = covering_names(&rel);
            if !names.iter().any(|n| section.contains(n.as_str())) {
                offenders.push(format!(
                    "{dir}/src/{rel}: name one of {} in the `{dir}` section",
                    names.join(" ")
                ));
            }
        }
    }
    fail_with(
        "these modules are missing from the code map of docs/ARCHITECTURE.md",
        &offenders,
    );
}

/// Whether `word` (lowercase) occurs in `lower` as a whole word.
fn has_word(lower: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    lower.match_indices(word).any(|(i, _)| {
        let before = lower[..i].chars().next_back();
        let after = lower[i + word.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// What rule 4 objects to in one line of documentation, if anything.
fn doc_problem(line: &str) -> Option<String> {
    if let Some(p) = LOCAL_PATHS.iter().find(|p| line.contains(*p)) {
        return Some(format!("machine-local path {p}"));
    }
    let lower = line.to_lowercase();
    if let Some(w) = PROCESS_WORDS.iter().find(|w| has_word(&lower, w)) {
        return Some(format!("process word {w:?}"));
    }
    let numbered = lower.match_indices("issue").any(|(i, _)| {
        let rest = lower[i + "issue".len()..].trim_start_matches([' ', '#']);
        rest.starts_with(|c: char| c.is_ascii_digit())
    });
    numbered.then(|| "issue number".to_string())
}

#[test]
fn docs_have_no_machine_local_paths_or_process_words() {
    let mut offenders = Vec::new();
    let mut clean_known: Vec<&str> = KNOWN_HITS.to_vec();
    for ext in ["md", "rs"] {
        for (rel, text) in files(ext) {
            let hits: Vec<String> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| {
                    let t = l.trim_start();
                    ext == "md" || t.starts_with("//!") || t.starts_with("///")
                })
                .filter_map(|(n, l)| doc_problem(l).map(|p| format!("{rel}:{}: {p}", n + 1)))
                .collect();
            if KNOWN_HITS.contains(&rel.as_str()) {
                if !hits.is_empty() {
                    clean_known.retain(|k| *k != rel);
                }
            } else {
                offenders.extend(hits);
            }
        }
    }
    offenders.extend(clean_known.iter().map(|k| {
        format!("{k}: no hits any more; remove it from KNOWN_HITS in xtask/tests/it/tidy.rs")
    }));
    fail_with(
        "documentation must not name machine-local paths or the project's process",
        &offenders,
    );
}
