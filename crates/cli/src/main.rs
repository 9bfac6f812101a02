//! cnmf command-line tool (under construction).

fn main() {}
