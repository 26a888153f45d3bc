//! A reader for the MessagePack that `READ_BUCKET` returns (Redis' bundled `cmsgpack`).
//!
//! Reconciliation reads every record of a bucket in one script call packed as one string:
//! parsing a few hundred kilobytes here costs far less than parsing the millions of RESP
//! values a per-record pipeline returns. Only what `cmsgpack` emits for arrays of strings
//! is accepted; anything else is an error, never a guess.

/// Why a packed reply could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed packed reply at byte {offset}: {reason}")]
pub struct PackedError {
    offset: usize,
    reason: &'static str,
}

/// A cursor over a packed reply.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn fail<T>(&self, reason: &'static str) -> Result<T, PackedError> {
        Err(PackedError {
            offset: self.pos,
            reason,
        })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PackedError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len());
        match end {
            Some(end) => {
                let bytes = &self.buf[self.pos..end];
                self.pos = end;
                Ok(bytes)
            }
            None => self.fail("truncated"),
        }
    }

    fn be(&mut self, width: usize) -> Result<usize, PackedError> {
        let bytes = self.take(width)?;
        Ok(bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b)))
    }

    /// Reads an array header and returns its length.
    pub fn array(&mut self) -> Result<usize, PackedError> {
        match self.take(1)?[0] {
            tag @ 0x90..=0x9f => Ok(usize::from(tag & 0x0f)),
            0xdc => self.be(2),
            0xdd => self.be(4),
            _ => self.fail("expected an array"),
        }
    }

    /// Reads a string (UTF-8 required: the store writes only Rust strings).
    pub fn str(&mut self) -> Result<&'a str, PackedError> {
        let len = match self.take(1)?[0] {
            tag @ 0xa0..=0xbf => usize::from(tag & 0x1f),
            0xd9 | 0xc4 => self.be(1)?,
            0xda | 0xc5 => self.be(2)?,
            0xdb | 0xc6 => self.be(4)?,
            _ => return self.fail("expected a string"),
        };
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).or_else(|_| self.fail("string is not UTF-8"))
    }

    /// Reads a flat `[field, value, ...]` array, as `HGETALL` returns it.
    pub fn pairs(&mut self) -> Result<Vec<(&'a str, &'a str)>, PackedError> {
        let len = self.array()?;
        if len % 2 != 0 {
            return self.fail("odd field/value array");
        }
        (0..len / 2)
            .map(|_| Ok((self.str()?, self.str()?)))
            .collect()
    }

    /// True when every byte was read.
    pub fn is_done(&self) -> bool {
        self.pos == self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_cmsgpack_emits_for_small_and_large_values() {
        // cmsgpack.pack({'12', {'a','b'}, {}}) as Redis 7 returns it.
        let small = [0x93, 0xa2, b'1', b'2', 0x92, 0xa1, b'a', 0xa1, b'b', 0x90];
        let mut r = Reader::new(&small);
        assert_eq!(r.array(), Ok(3));
        assert_eq!(r.str(), Ok("12"));
        assert_eq!(r.pairs(), Ok(vec![("a", "b")]));
        assert_eq!(r.pairs(), Ok(vec![]));
        assert!(r.is_done());

        let long = "x".repeat(300);
        let mut big = vec![0xdc, 0x00, 0x01, 0xda, 0x01, 0x2c];
        big.extend_from_slice(long.as_bytes());
        let mut r = Reader::new(&big);
        assert_eq!(r.array(), Ok(1));
        assert_eq!(r.str(), Ok(long.as_str()));
    }

    #[test]
    fn rejects_truncated_and_foreign_input() {
        assert!(Reader::new(&[0xa5, b'a']).str().is_err());
        assert!(Reader::new(&[0x01]).array().is_err());
        assert!(Reader::new(&[0x91, 0xa1, b'a']).pairs().is_err());
        assert!(Reader::new(&[0xa1, 0xff]).str().is_err());
        assert!(Reader::new(&[0xdd, 0xff, 0xff]).array().is_err());
    }
}
