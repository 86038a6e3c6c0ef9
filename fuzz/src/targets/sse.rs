//! SSE target: `SseDecoder` must give the same events (or the same first error) however the
//! input is split, scan each byte at most once, and refuse the events and lines its limit
//! forbids, whether they arrive in one read or many.

use std::collections::VecDeque;

use aigw_core::sse::{SseDecoder, SseEvent};
use aigw_core::ErrorCode;

use crate::{ensure, Violation};

/// The limit a real stream runs with (the default `max_response_bytes` is larger still).
const LARGE_LIMIT: usize = 16 << 20;

/// SSE field names, values and framing seen in OpenAI, Anthropic, Workers AI and gateway
/// streams.
pub fn dictionary() -> Vec<Vec<u8>> {
    [
        &b"data: [DONE]\n\n"[..],
        b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n",
        b"data: {\"choices\":[{\"finish_reason\":\"stop\"}]}\n\n",
        b"data: {\"response\":\"x\"}\n\n",
        b"event: message_start\n",
        b"event: error\n",
        b"event: ping\n",
        b"event:",
        b"event",
        b"data",
        b"id",
        b"id: 7\n",
        b"id:\0\n",
        b"retry: 1000\n",
        b": ok\n",
        b":\r\n",
        b"error: {\"message\":\"boom\"}\n\n",
        b"\n",
        b"\r",
        b"\r\n\r\n",
        b"\xEF\xBB\xBFdata: x\n\n",
        b"\xC3",
        b"\xE2\x82",
        b"\xF0\x9F\x98\x80",
    ]
    .iter()
    .map(|t| t.to_vec())
    .collect()
}

struct Decoded {
    events: Vec<SseEvent>,
    error: Option<ErrorCode>,
    scanned: usize,
    dispatched: usize,
}

fn decode<'a>(pieces: impl Iterator<Item = &'a [u8]>, limit: usize) -> Decoded {
    let mut decoder = SseDecoder::new(limit);
    let mut out = VecDeque::new();
    let mut error = None;
    for piece in pieces {
        if let Err(e) = decoder.feed(piece, &mut out) {
            error = Some(e.code);
            break;
        }
    }
    Decoded {
        events: out.into(),
        error,
        scanned: decoder.bytes_scanned(),
        dispatched: decoder.dispatched(),
    }
}

/// One splitmix64 step.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 1 to 16 cut points drawn from an FNV-1a hash of the input itself, so a replay splits the
/// same way and every mutation of the input tries other cuts.
fn random_pieces(input: &[u8]) -> Vec<&[u8]> {
    let mut state = input.iter().fold(0xCBF2_9CE4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01B3)
    });
    let mut below = |n: usize| (splitmix64(&mut state) % n as u64) as usize;
    let count = 1 + below(16);
    let mut cuts: Vec<usize> = (0..count).map(|_| below(input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts {
        pieces.push(&input[start..cut]);
        start = cut;
    }
    pieces.push(&input[start..]);
    pieces
}

fn check_run(run: &Decoded, input_len: usize, how: &str) -> Result<(), Violation> {
    ensure(
        run.scanned <= input_len,
        "bytes_scanned_within_input",
        || {
            format!(
                "{how}: bytes_scanned() = {} for {input_len} input bytes",
                run.scanned
            )
        },
    )?;
    ensure(
        run.dispatched == run.events.len(),
        "dispatched_counts_events",
        || {
            format!(
                "{how}: dispatched() = {} but {} events came out",
                run.dispatched,
                run.events.len()
            )
        },
    )
}

fn same_as_whole(
    whole: &Decoded,
    other: &Decoded,
    limit: usize,
    how: &str,
) -> Result<(), Violation> {
    let property = if limit == LARGE_LIMIT {
        "split_equals_whole"
    } else {
        "split_equals_whole_at_limit"
    };
    ensure(
        whole.events == other.events && whole.error == other.error,
        property,
        || {
            format!(
                "limit {limit}: whole input gave {} events and error {:?}; {how} gave {} events and error {:?} (first difference: {:?} vs {:?})",
                whole.events.len(),
                whole.error,
                other.events.len(),
                other.error,
                first_difference(&whole.events, &other.events).0,
                first_difference(&whole.events, &other.events).1,
            )
        },
    )
}

fn first_difference<'a>(
    a: &'a [SseEvent],
    b: &'a [SseEvent],
) -> (Option<&'a SseEvent>, Option<&'a SseEvent>) {
    let i = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    (a.get(i), b.get(i))
}

/// The lines the decoder will have processed: those ended by CR, LF or CRLF, after a BOM.
fn terminated_lines(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let ends_open = !body.ends_with(b"\n") && !body.ends_with(b"\r");
    let mut lines: Vec<&[u8]> = body.split(|b| *b == b'\n' || *b == b'\r').collect();
    if ends_open || lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.into_iter()
}

/// The documented contract of `SseDecoder::new`: events (or lines) larger than the limit are
/// refused.
fn within_limit(whole: &Decoded, input: &[u8], limit: usize) -> Result<(), Violation> {
    let biggest_event = whole.events.iter().map(|e| e.data.len()).max().unwrap_or(0);
    ensure(biggest_event <= limit, "oversized_event_refused", || {
        format!("limit {limit}: fed in one piece, an event with {biggest_event} data bytes was dispatched")
    })?;
    if whole.error.is_none() {
        let longest_line = terminated_lines(input).map(<[u8]>::len).max().unwrap_or(0);
        ensure(longest_line <= limit, "oversized_line_refused", || {
            format!("limit {limit}: fed in one piece, a {longest_line}-byte line was accepted")
        })?;
    }
    Ok(())
}

/// Limits small enough that realistic events and lines cross them.
const SMALL_LIMITS: [usize; 2] = [8, 64];

/// Feeds `input` whole, in 1-byte pieces and in random pieces, under the realistic limit and
/// under small ones.
pub fn check(input: &[u8]) -> Result<(), Violation> {
    for limit in [LARGE_LIMIT, SMALL_LIMITS[0], SMALL_LIMITS[1]] {
        let whole = decode(std::iter::once(input), limit);
        check_run(&whole, input.len(), "whole input")?;
        if limit != LARGE_LIMIT {
            within_limit(&whole, input, limit)?;
        }
        let ones = decode(input.chunks(1), limit);
        check_run(&ones, input.len(), "1-byte pieces")?;
        same_as_whole(&whole, &ones, limit, "1-byte pieces")?;
        let pieces = random_pieces(input);
        let split = decode(pieces.iter().copied(), limit);
        check_run(&split, input.len(), "random pieces")?;
        let sizes: Vec<usize> = pieces.iter().map(|p| p.len()).collect();
        same_as_whole(&whole, &split, limit, &format!("pieces of {sizes:?} bytes"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminated_lines_skip_the_open_tail() {
        let lines: Vec<&[u8]> = terminated_lines(b"a\r\nbb\rccc").collect();
        assert_eq!(lines, [&b"a"[..], b"", b"bb"]);
        let lines: Vec<&[u8]> = terminated_lines(b"\xEF\xBB\xBFx\n").collect();
        assert_eq!(lines, [&b"x"[..]]);
    }

    #[test]
    fn random_pieces_cover_the_input() {
        let input = b"data: hello\n\n";
        let joined: Vec<u8> = random_pieces(input).concat();
        assert_eq!(joined, input);
    }
}
