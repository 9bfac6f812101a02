//! NumPy `.npy` files (format version 1.0) of `f64` arrays, for `cnmf export --npy`.
//!
//! Layout: the magic `\x93NUMPY`, the version bytes `1 0`, the header length (`u16`,
//! little-endian), then the header, a Python dict literal such as
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (943, 20), }` padded with spaces and
//! ended by `\n` so that the data starts at a multiple of 64 bytes, then the values:
//! little-endian `f64`, C order (row-major). `numpy.load` reads it as is.

/// The first bytes of every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// The data of a file starts at a multiple of this (what NumPy itself writes).
pub const ALIGN: usize = 64;

/// The bytes of a `.npy` file holding `values`, an array of `shape` in C order, as
/// little-endian `f64` (`<f8`). Errors when the values do not fill the shape.
pub fn f64_array(values: &[f64], shape: &[usize]) -> Result<Vec<u8>, String> {
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if count != Some(values.len()) {
        return Err(format!(
            "{} values do not fill an array of shape {shape:?}",
            values.len()
        ));
    }
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let tuple = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header =
        format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {tuple}, }}").into_bytes();
    // magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of ALIGN.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.resize(
        header.len() + unpadded.next_multiple_of(ALIGN) - unpadded,
        b' ',
    );
    header.push(b'\n');
    let len = u16::try_from(header.len())
        .map_err(|_| format!("the .npy header of shape {shape:?} is too long"))?;
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len() + 8 * values.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&header);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a file written by [`f64_array`] back the way NumPy's reader does: magic,
    /// version, header length, the dict, then the values. Returns (header text, values).
    fn parse(b: &[u8]) -> (String, Vec<f64>) {
        assert_eq!(&b[..6], MAGIC);
        assert_eq!(&b[6..8], &[1, 0], "format version 1.0");
        let len = u16::from_le_bytes([b[8], b[9]]) as usize;
        let start = 10 + len;
        assert_eq!(start % ALIGN, 0, "data aligned to {ALIGN} bytes");
        let header = std::str::from_utf8(&b[10..start]).unwrap().to_string();
        assert!(header.ends_with('\n') && header.is_ascii());
        let values = b[start..]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!((b.len() - start) % 8, 0);
        (header, values)
    }

    #[test]
    fn header_is_numpys_and_values_round_trip() {
        let v: Vec<f64> = (0..6).map(|i| i as f64 * 0.5 + 1e-300).collect();
        let (header, back) = parse(&f64_array(&v, &[2, 3]).unwrap());
        assert_eq!(
            header.trim_end(),
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"
        );
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&v));
        let (header, _) = parse(&f64_array(&v, &[6]).unwrap());
        assert!(header.contains("'shape': (6,)"), "{header}");
    }

    #[test]
    fn every_header_length_pads_to_the_alignment() {
        for rows in [0, 1, 9, 10, 99, 12345, 1_000_000_000] {
            let shape = [rows, 0];
            let b = f64_array(&[], &shape).unwrap();
            let (header, values) = parse(&b);
            assert!(values.is_empty());
            assert!(header.contains(&format!("({rows}, 0)")), "{header}");
        }
    }

    #[test]
    fn values_must_fill_the_shape() {
        assert!(f64_array(&[1.0, 2.0], &[3]).is_err());
        assert!(f64_array(&[], &[usize::MAX, 2]).is_err());
    }
}
