//! The integration tests of cnmf-ratings, linked as one test binary (one link instead of one per
//! file); each file is a module.

mod discover;
mod load;
mod movielens;
