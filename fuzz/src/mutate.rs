//! The byte-level mutator: bit flips, byte insert/delete/duplicate, interesting bytes and
//! numbers, dictionary tokens and splices between corpus entries, stacked a few at a time.

use crate::rng::Rng;

/// Bytes that change how line-, key- and string-based parsers see their input.
pub const INTERESTING_BYTES: &[u8] = b"\r\n:{}[]\"'=,.\\$# \t\0\x7f\xff\xfe\xc3\xa9";

/// Short sequences shared by every target: line ends, a BOM and a cut UTF-8 sequence, SSE
/// fields, JSON/TOML syntax and literals.
pub const COMMON_TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r\r",
    b"\n\n",
    b"\xEF\xBB\xBF",
    b"\xEF\xBB",
    b"\xF0\x9F\xA6",
    b"[DONE]",
    b"data:",
    b"data: ",
    b"event: ",
    b"id: ",
    b"error: ",
    b"retry: ",
    b": keep-alive",
    b"{}",
    b"[]",
    b"null",
    b"true",
    b"false",
    b"\"\"",
    b"\\u0000",
    b"\\uD83D",
    b"\"\"\"",
    b"'''",
    b"nan",
    b"inf",
];

/// Numbers at the edges of the integer types and of the profile clamps.
pub const NUMBERS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"59",
    b"60",
    b"255",
    b"5001",
    b"65536",
    b"4294967296",
    b"9223372036854775808",
    b"18446744073709551615",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"1e400",
    b"0.5",
];

/// How large an input may grow.
pub const DEFAULT_MAX_LEN: usize = 4096;

/// Applies 1 to 8 stacked mutations to `data` (power-law: one is most likely).
/// `others` are corpus entries to splice from; `dict` holds the target's tokens.
pub fn mutate(
    rng: &mut Rng,
    data: &mut Vec<u8>,
    others: &[Vec<u8>],
    dict: &[Vec<u8>],
    max_len: usize,
) {
    let rounds = 1 << rng.below(4);
    for _ in 0..rng.range(1, rounds) {
        mutate_once(rng, data, others, dict);
    }
    data.truncate(max_len);
}

fn mutate_once(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>], dict: &[Vec<u8>]) {
    let len = data.len();
    match rng.below(13) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = rng.byte();
        }
        2 => {
            let at = rng.below(len + 1);
            data.insert(at, rng.byte());
        }
        3 => {
            let at = rng.below(len + 1);
            let b = *rng.pick(INTERESTING_BYTES);
            if rng.one_in(3) && len > 0 {
                data[at.min(len - 1)] = b;
            } else {
                data.insert(at, b);
            }
        }
        4 | 5 => {
            let token: &[u8] = match rng.below(6) {
                0 => pick_token(rng, NUMBERS),
                1 | 2 => pick_token(rng, COMMON_TOKENS),
                _ if dict.is_empty() => pick_token(rng, COMMON_TOKENS),
                _ => rng.pick(dict).as_slice(),
            };
            let at = rng.below(len + 1);
            if rng.one_in(4) && len > 0 {
                let end = (at + token.len()).min(len);
                data.splice(at..end, token.iter().copied());
            } else {
                data.splice(at..at, token.iter().copied());
            }
        }
        6 | 7 if len > 0 => {
            let (start, end) = span(rng, len);
            data.drain(start..end);
        }
        8 if len > 0 => {
            let (start, end) = span(rng, len);
            let chunk = data[start..end].to_vec();
            let at = rng.below(len + 1);
            let times = if rng.one_in(8) { rng.range(2, 64) } else { 1 };
            for _ in 0..times {
                data.splice(at..at, chunk.iter().copied());
            }
        }
        9 | 10 if !others.is_empty() => {
            let other = rng.pick(others);
            if other.is_empty() {
                return;
            }
            let (start, end) = span(rng, other.len());
            if rng.one_in(2) {
                // Crossover: keep a prefix of `data`, append a suffix of `other`.
                let cut = rng.below(len + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[start..]);
            } else {
                let at = rng.below(len + 1);
                data.splice(at..at, other[start..end].iter().copied());
            }
        }
        11 if len > 1 => {
            let (a, b) = (rng.below(len), rng.below(len));
            data.swap(a, b);
        }
        12 if len > 0 => {
            // Replace a run of digits (or any byte) with an edge-case number.
            let at = rng.below(len);
            let end = data[at..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map_or(len, |n| at + n.max(1));
            let number = pick_token(rng, NUMBERS);
            data.splice(at..end, number.iter().copied());
        }
        _ => {
            let at = rng.below(len + 1);
            data.insert(at, rng.byte());
        }
    }
}

fn pick_token(rng: &mut Rng, tokens: &[&'static [u8]]) -> &'static [u8] {
    tokens[rng.below(tokens.len())]
}

/// A random non-empty range, usually short.
fn span(rng: &mut Rng, len: usize) -> (usize, usize) {
    let start = rng.below(len);
    let max = (len - start).min(if rng.one_in(4) { len } else { 16 });
    (start, start + rng.range(1, max.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_respect_max_len_and_change_inputs() {
        let mut rng = Rng::new(7);
        let others = vec![b"data: other\n\n".to_vec()];
        let dict = vec![b"token".to_vec()];
        let mut changed = 0;
        for _ in 0..2000 {
            let mut data = b"data: x\n\n".to_vec();
            mutate(&mut rng, &mut data, &others, &dict, 64);
            assert!(data.len() <= 64);
            changed += usize::from(data != b"data: x\n\n");
        }
        assert!(
            changed > 1800,
            "only {changed} of 2000 mutations changed the input"
        );
    }
}
