//! A checksum that tells two datasets, or two vocabularies, apart.

/// A checksum of bytes (FNV-1a, 64 bits, as 16 hex digits): enough to tell two datasets, or two
/// vocabularies, apart; not a cryptographic hash.
pub fn checksum(bytes: impl IntoIterator<Item = u8>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}
