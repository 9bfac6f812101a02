//! Noise and shilling-attack generators (random noise, review bombs, average, bandwagon) with ground truth.
