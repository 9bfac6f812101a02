//! `cnmf`: fit, predict, recommend, flag review bombs and cross-validate from the command line.
//! See `cnmf --help`.

fn main() -> std::process::ExitCode {
    cnmf_cli::run()
}
