//! Raw deflate (RFC 1951) for answers of a few KiB up to 1 MiB: greedy LZ77 over a small hash
//! table, coded with the fixed Huffman codes, the method of zlib-ng's fastest level ("quick").
//! zlib-rs's state clears a 128 KiB hash table per stream, which for a 10 KB nearby list cost
//! as much as the compressing; this table is 32 KiB, stays in the core's cache and is never
//! cleared (entries from earlier streams are told apart by position).

/// Positions hashed into the table, by their first four bytes.
const HASH_BITS: u32 = 13;
const MIN_MATCH: usize = 4;
const MAX_MATCH: usize = 258;
const WINDOW: usize = 32 * 1024;
/// A stored block holds at most this much.
const STORED_MAX: usize = 65_535;

/// A (code, bit count) pair, written least significant bit first.
#[derive(Clone, Copy)]
struct Bits(u32, u8);

/// `code` of `len` bits, reversed: Huffman codes are sent most significant bit first.
const fn huffman(code: u32, len: u8) -> u32 {
    code.reverse_bits() >> (32 - len as u32)
}

/// The fixed literal/length code (RFC 1951 3.2.6) of a symbol 0..=287.
const fn fixed_literal(symbol: u32) -> Bits {
    match symbol {
        0..=143 => Bits(huffman(0x30 + symbol, 8), 8),
        144..=255 => Bits(huffman(0x190 + symbol - 144, 9), 9),
        256..=279 => Bits(huffman(symbol - 256, 7), 7),
        _ => Bits(huffman(0xC0 + symbol - 280, 8), 8),
    }
}

const LITERALS: [Bits; 256] = {
    let mut t = [Bits(0, 0); 256];
    let mut i = 0;
    while i < 256 {
        t[i] = fixed_literal(i as u32);
        i += 1;
    }
    t
};

const END_OF_BLOCK: Bits = fixed_literal(256);

/// Length codes 257..=285: the shortest length of each, and its extra bits.
const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Distance codes 0..=29, likewise.
const DISTANCE_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// Every match length 3..=258 (index) as its code and extra bits, in one write.
const LENGTHS: [Bits; MAX_MATCH + 1] = {
    let mut t = [Bits(0, 0); MAX_MATCH + 1];
    let mut code = 0;
    let mut len = 3;
    while len <= MAX_MATCH {
        // 258 has a code of its own although 227 + 31 would also reach it.
        while code + 1 < 29 && LENGTH_BASE[code + 1] as usize <= len {
            code += 1;
        }
        let symbol = fixed_literal(257 + code as u32);
        let extra = (len - LENGTH_BASE[code] as usize) as u32;
        t[len] = Bits(symbol.0 | extra << symbol.1, symbol.1 + LENGTH_EXTRA[code]);
        len += 1;
    }
    t
};

/// The distance code of `distance` (1..=32768) and its extra bits, in one write.
fn distance_bits(distance: usize) -> Bits {
    // Codes come in pairs per power of two from distance 5 on.
    let d = distance as u32 - 1;
    let code = if d < 4 {
        d
    } else {
        let top = 31 - d.leading_zeros();
        2 * top + ((d >> (top - 1)) & 1)
    };
    let c = code as usize;
    let extra = distance as u32 - u32::from(DISTANCE_BASE[c]);
    Bits(huffman(code, 5) | extra << 5, 5 + DISTANCE_EXTRA[c])
}

/// Bits gathered into a word and appended to `out` four bytes at a time.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    word: u64,
    filled: u32,
}

impl<'a> BitWriter<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter {
            out,
            word: 0,
            filled: 0,
        }
    }

    /// At most 32 bits per call (a length and its extras: 13; a distance and its extras: 18).
    #[inline(always)]
    fn put(&mut self, b: Bits) {
        self.word |= u64::from(b.0) << self.filled;
        self.filled += u32::from(b.1);
        if self.filled >= 32 {
            self.out
                .extend_from_slice(&(self.word as u32).to_le_bytes());
            self.word >>= 32;
            self.filled -= 32;
        }
    }

    /// Pads to a byte with zeros and writes what is left.
    fn finish(self) {
        let bytes = self.filled.div_ceil(8) as usize;
        self.out
            .extend_from_slice(&self.word.to_le_bytes()[..bytes]);
    }
}

#[inline(always)]
fn read4(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// How many bytes from `a` and `b` (`a < b`) agree, at most `max`.
#[inline(always)]
fn common_prefix(data: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut n = 0;
    while n + 8 <= max {
        let x = u64::from_le_bytes(data[a + n..a + n + 8].try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(data[b + n..b + n + 8].try_into().unwrap_or([0; 8]));
        let diff = x ^ y;
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && data[a + n] == data[b + n] {
        n += 1;
    }
    n
}

/// A deflate encoder to reuse: one per thread.
pub struct Encoder {
    /// Per hash, where the last position with it was: `start` of its stream plus the offset.
    table: Box<[u32; 1 << HASH_BITS]>,
    /// The first table value of the next stream; every value below it is an older stream's.
    next: u32,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            table: Box::new([0; 1 << HASH_BITS]),
            next: 1,
        }
    }
}

impl Encoder {
    /// Appends `data` to `out` as a complete raw deflate stream.
    pub fn deflate(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let begin = out.len();
        if data.len() < (u32::MAX / 2) as usize && self.fixed_huffman(data, out) {
            return;
        }
        // Incompressible (fixed codes spend 9 bits on bytes from 144): stored blocks. Empty
        // input never gets here (its fixed block is 2 bytes).
        out.truncate(begin);
        let mut chunks = data.chunks(STORED_MAX).peekable();
        while let Some(chunk) = chunks.next() {
            let len = chunk.len() as u16;
            out.push(u8::from(chunks.peek().is_none()));
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(chunk);
        }
    }

    /// One final block with the fixed codes; false (and `out` unfinished) as soon as it
    /// grows past stored blocks' size.
    fn fixed_huffman(&mut self, data: &[u8], out: &mut Vec<u8>) -> bool {
        let n = data.len();
        let start = match u32::try_from(n + 1)
            .ok()
            .and_then(|len| self.next.checked_add(len))
        {
            Some(_) => self.next,
            None => {
                self.table.fill(0);
                1
            }
        };
        self.next = start + n as u32 + 1;
        let give_up = out.len() + n + 5 * n.div_ceil(STORED_MAX).max(1);
        out.reserve(n / 4 + 64);
        let mut bits = BitWriter::new(out);
        // BFINAL, then BTYPE 01: fixed codes.
        bits.put(Bits(0b011, 3));
        let mut i = 0;
        while i + MIN_MATCH <= n {
            let v = read4(data, i);
            let h = (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize;
            let seen = self.table[h];
            self.table[h] = start + i as u32;
            if seen >= start {
                let from = (seen - start) as usize;
                let distance = i - from;
                if distance <= WINDOW && read4(data, from) == v {
                    let len =
                        MIN_MATCH + common_prefix(data, from + 4, i + 4, MAX_MATCH.min(n - i) - 4);
                    bits.put(LENGTHS[len]);
                    bits.put(distance_bits(distance));
                    i += len;
                    continue;
                }
            }
            bits.put(LITERALS[data[i] as usize]);
            i += 1;
            if bits.out.len() > give_up {
                return false;
            }
        }
        for &b in &data[i..] {
            bits.put(LITERALS[b as usize]);
        }
        bits.put(END_OF_BLOCK);
        bits.finish();
        out.len() <= give_up
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use rand::Rng;

    use super::*;

    fn inflate(packed: &[u8]) -> Vec<u8> {
        let mut back = Vec::new();
        flate2::read::DeflateDecoder::new(packed)
            .read_to_end(&mut back)
            .expect("a valid deflate stream");
        back
    }

    fn round_trip(e: &mut Encoder, data: &[u8]) -> usize {
        let mut out = vec![0xAA];
        e.deflate(data, &mut out);
        assert_eq!(out[0], 0xAA, "appends");
        assert_eq!(inflate(&out[1..]), data, "{} bytes", data.len());
        out.len() - 1
    }

    #[test]
    fn length_and_distance_codes_follow_the_rfc_tables() {
        for (len, &got) in LENGTHS.iter().enumerate().skip(3) {
            let code = (0..29)
                .rev()
                .find(|&c| usize::from(LENGTH_BASE[c]) <= len)
                .unwrap();
            let code = if len == 258 { 28 } else { code };
            let want = fixed_literal(257 + code as u32);
            assert_eq!(got.1, want.1 + LENGTH_EXTRA[code], "length {len}");
            assert_eq!(got.0 & ((1 << want.1) - 1), want.0, "length {len}");
            assert_eq!(
                got.0 >> want.1,
                (len - usize::from(LENGTH_BASE[code])) as u32,
                "length {len}"
            );
        }
        for distance in 1..=WINDOW {
            let code = (0..30)
                .rev()
                .find(|&c| usize::from(DISTANCE_BASE[c]) <= distance)
                .unwrap();
            let got = distance_bits(distance);
            assert_eq!(got.1, 5 + DISTANCE_EXTRA[code], "distance {distance}");
            assert_eq!(got.0 & 31, huffman(code as u32, 5), "distance {distance}");
            assert_eq!(
                got.0 >> 5,
                (distance - usize::from(DISTANCE_BASE[code])) as u32
            );
        }
    }

    #[test]
    fn streams_decode_to_their_input() {
        let mut e = Encoder::default();
        let mut rng = rand::rng();
        // Short inputs of every length, from few symbols (long matches) to random bytes.
        for len in 0..300 {
            for alphabet in [1u8, 3, 255] {
                let data: Vec<u8> = (0..len).map(|_| rng.random_range(0..=alphabet)).collect();
                round_trip(&mut e, &data);
            }
        }
        // Repeats right at the window's edge and just beyond it.
        for gap in [WINDOW - 8, WINDOW - 4, WINDOW - 3, WINDOW, WINDOW + 1] {
            let block: Vec<u8> = (0..40).map(|_| rng.random()).collect();
            let mut data = block.clone();
            data.extend((0..gap - block.len()).map(|_| rng.random::<u8>()));
            data.extend_from_slice(&block);
            round_trip(&mut e, &data);
        }
        // Text-like data up to 1 MiB, and runs longer than a match.
        let words = [
            "驿站",
            "\"amenities\":",
            "charging",
            "{\"lat\":",
            "29.1",
            ",",
            "\n",
        ];
        for len in [1_000, 40_000, 1 << 20] {
            let mut data = Vec::new();
            while data.len() < len {
                data.extend_from_slice(words[rng.random_range(0..words.len())].as_bytes());
                if rng.random_bool(0.01) {
                    data.extend(std::iter::repeat_n(b'x', rng.random_range(200..2_000)));
                }
            }
            round_trip(&mut e, &data);
        }
    }

    #[test]
    fn incompressible_input_is_stored() {
        let mut e = Encoder::default();
        let mut rng = rand::rng();
        for len in [0, 1, 100, STORED_MAX, STORED_MAX + 1, 200_000] {
            let data: Vec<u8> = (0..len).map(|_| rng.random_range(128..=255)).collect();
            let packed = round_trip(&mut e, &data);
            assert!(packed <= len + 5 * len.div_ceil(STORED_MAX).max(1), "{len}");
        }
    }

    #[test]
    fn positions_wrapping_around_clear_the_table() {
        let mut e = Encoder::default();
        let data = b"{\"station\":{\"id\":1},\"station\":{\"id\":2}}".repeat(50);
        round_trip(&mut e, &data);
        e.next = u32::MAX - 100;
        round_trip(&mut e, &data);
        assert!(e.next < 10_000, "started over at {}", e.next);
        round_trip(&mut e, &data);
    }

    #[test]
    fn compresses_nearly_as_well_as_a_fastest_level_with_its_own_codes() {
        let item = r#"{"station":{"address":"金华市金东区多湖街道 12 号","amenities":["charging","water","microwave"],"id":NN,"location":{"lat":29.1NN,"lng":119.7NN},"name":"金东区快递小哥驿站 NN","opening_hours":"24/7","phone":"138****NN21"},"distance_m":NN.5,"open_now":true}"#;
        let data: String = (10..30)
            .map(|i| item.replace("NN", &(i * 37).to_string()))
            .collect::<Vec<_>>()
            .join(",");
        let ours = round_trip(&mut Encoder::default(), data.as_bytes());
        // miniz's level 1 builds Huffman codes for the input; the fixed codes cost a fifth or
        // so more (zlib-rs's level 1, fixed codes too, packed the nearby answer to our size).
        let mut miniz = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut miniz, data.as_bytes()).unwrap();
        let theirs = miniz.finish().unwrap().len();
        assert!(
            ours * 4 <= theirs * 5 && ours * 5 <= data.len(),
            "{ours} bytes against miniz's {theirs}, from {}",
            data.len()
        );
    }
}
