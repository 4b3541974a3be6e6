//! Input files that are not UTF-8, reported where they go wrong: every command reads
//! scenario and history files through [`decode`], so each says the same thing (exit 65,
//! `FILE:LINE:COLUMN: not valid UTF-8 ...`).

/// Where a file stops being UTF-8: the 1-based line and column (in characters) of the
/// first byte that is not, and what to say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotUtf8 {
    /// The 1-based line.
    pub line: usize,
    /// The 1-based column, in characters.
    pub column: usize,
    /// The message, naming the byte.
    pub message: String,
}

/// The text of `bytes`, or where it is not UTF-8.
pub fn decode(bytes: Vec<u8>) -> Result<String, NotUtf8> {
    String::from_utf8(bytes).map_err(|error| {
        let bytes = error.as_bytes();
        let valid_up_to = error.utf8_error().valid_up_to();
        let prefix = std::str::from_utf8(&bytes[..valid_up_to]).expect("valid up to here");
        let line = prefix.matches('\n').count() + 1;
        let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let message = format!("not valid UTF-8 (byte 0x{:02x}); expected UTF-8 text", bytes[valid_up_to]);
        NotUtf8 { line, column, message }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bad_byte_is_located_by_line_and_character_column() {
        assert_eq!(decode(b"ok\n".to_vec()), Ok("ok\n".to_string()));
        let bad = decode(b"seeds = [1]\n# caf\xc3\xa9 \xff\n".to_vec()).unwrap_err();
        // "# café " is 7 characters (é is two bytes), so the bad byte is the 8th.
        assert_eq!((bad.line, bad.column), (2, 8));
        assert_eq!(bad.message, "not valid UTF-8 (byte 0xff); expected UTF-8 text");
    }
}
