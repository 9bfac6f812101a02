//! `cargo xtask`: the project's experiment runner. `cargo xtask reproduce` runs the paper's
//! experiments (Tables 1 and 2 of Corrective NMF) end to end, the sweeps and a regularised
//! block beyond the paper, and writes `reproduce.json`, `REPRODUCTION.md` and SVG plots.
//!
//! Modules: [`cli`] (flags), [`config`] (checked configuration), [`data`] (which data set),
//! [`calibrate`] (the settings the paper does not state), [`protocol`] (one repetition),
//! [`sweeps`], [`timing`] (time to accuracy), [`extra`] (other methods), [`records`] and
//! [`summary`] (figures and tables), [`report`], [`figures`] and [`plots`], [`json`], [`run`].
//! `cargo xtask bench-scale` is [`bench_scale`] (load time, time per iteration and peak memory
//! against the number of ratings).

pub mod bench_scale;
pub mod budgets;
pub mod calibrate;
pub mod cli;
pub mod config;
pub mod data;
pub mod extra;
pub mod figures;
pub mod json;
pub mod more_attacks;
pub mod plots;
pub mod progress;
pub mod protocol;
pub mod recipe;
pub mod records;
pub mod report;
pub mod robustness;
pub mod run;
pub mod scorecard;
pub mod seeds;
pub mod summary;
pub mod sweeps;
pub mod timing;
pub mod verdicts;
