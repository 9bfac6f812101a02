//! The Corrective NMF factorization engine: five masked multiplicative-update NMF variants, sparse, parallel, deterministic.
