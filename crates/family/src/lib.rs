//! The rest of the NMF family: Lee-Seung (Frobenius, KL), biased gradient NMF, item neighbours, adversarially trained MF.
