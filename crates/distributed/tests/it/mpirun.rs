//! The `cnmf-mpi` binary under `mpirun` (filled in below).
