//! One module per subcommand: its clap arguments and its `run` function.

#[cfg(feature = "fetch")]
pub mod data;
pub mod evaluate;
pub mod export;
pub mod fit;
pub mod flagged;
pub mod fold_in;
pub mod html;
pub mod predict;
pub mod recommend;
#[cfg(feature = "serve")]
pub mod serve;
pub mod similar;
pub mod timeline;
pub mod tune;
