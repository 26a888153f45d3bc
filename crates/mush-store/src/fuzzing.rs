//! Entry points for the coverage-guided fuzz targets in `fuzz/` (feature `fuzzing`, off in
//! every build that ships).

/// A `READ_BUCKET` reply as Redis might return it: whatever the bytes, an error or records,
/// never a panic or an allocation the bytes do not pay for.
pub fn packed_reply(bytes: &[u8]) {
    let _ = crate::conn::unpack_records(0, bytes);
}
