//! aigw-fuzz: the fuzz targets of aigw-core and their properties, shared by the coverage-guided
//! cargo-fuzz targets in `fuzz/fuzz_targets/` (nightly, libFuzzer) and the regression test in
//! `fuzz/tests/` (stable `cargo test`, replaying the seed corpus and every kept finding).
//!
//! A target's `check` runs the code under test on one input and returns the first broken
//! property as a [`Violation`]; a panic in the code under test is a finding too.

use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;

pub mod targets;

/// Text planted where a config or secret reference expects a key; no message may echo it.
pub const SECRET_MARKER: &str = "sk-FUZZSECRET";

/// Environment variable naming properties to pass over (comma-separated): known open findings,
/// so that fuzzing can go on past them.
pub const IGNORE_ENV: &str = "AIGW_FUZZ_IGNORE";

/// What the fuzzer exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `sse::SseDecoder`: whole vs split feeding.
    Sse,
    /// `ConfigFile::from_toml_str` / `from_json_str`, selection, client construction.
    Config,
    /// `SecretRef::parse` / `SecretRef::from_value` and their redaction.
    SecretRef,
    /// `gateway::parse_error_body`.
    Envelope,
    /// `eventstream::Decoder` (Bedrock's binary framing): split invariance, round trip.
    EventStream,
    /// `anthropic::StreamTranslator` over decoded SSE events.
    AnthropicStream,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 6] = [
        Target::Sse,
        Target::Config,
        Target::SecretRef,
        Target::Envelope,
        Target::EventStream,
        Target::AnthropicStream,
    ];

    /// The name of the cargo-fuzz target and of its corpus, regression and dictionary files.
    pub fn name(self) -> &'static str {
        match self {
            Target::Sse => "sse",
            Target::Config => "config",
            Target::SecretRef => "secret_ref",
            Target::Envelope => "envelope",
            Target::EventStream => "eventstream",
            Target::AnthropicStream => "anthropic_stream",
        }
    }

    /// Tokens for libFuzzer's dictionary (`fuzz/dict/<name>.dict`): the target's own and the
    /// shared ones, up to [`MAX_WORD_LEN`] bytes each.
    pub fn dictionary(self) -> Vec<Vec<u8>> {
        let own = match self {
            Target::Sse => targets::sse::dictionary(),
            Target::Config => targets::config::dictionary(),
            Target::SecretRef => targets::secret_ref::dictionary(),
            Target::Envelope => targets::envelope::dictionary(),
            Target::EventStream => targets::eventstream::dictionary(),
            Target::AnthropicStream => targets::anthropic_stream::dictionary(),
        };
        let mut words: Vec<Vec<u8>> = Vec::new();
        for word in own
            .into_iter()
            .chain(COMMON_TOKENS.iter().map(|t| t.to_vec()))
        {
            if !word.is_empty() && word.len() <= MAX_WORD_LEN && !words.contains(&word) {
                words.push(word);
            }
        }
        words
    }

    /// Runs the target's properties on `input` (a panic propagates: see [`run_one`]).
    pub fn check(self, input: &[u8]) -> Result<(), Violation> {
        match self {
            Target::Sse => targets::sse::check(input),
            Target::Config => targets::config::check(input),
            Target::SecretRef => targets::secret_ref::check(input),
            Target::Envelope => targets::envelope::check(input),
            Target::EventStream => targets::eventstream::check(input),
            Target::AnthropicStream => targets::anthropic_stream::check(input),
        }
    }

    /// What a `fuzz_target!` runs: a broken property panics, which libFuzzer reports as a crash
    /// and saves the input.
    pub fn fuzz(self, input: &[u8]) {
        if let Err(violation) = self.check(input) {
            panic!("{}: {violation}", self.name());
        }
    }
}

/// The longest dictionary word libFuzzer uses (it skips longer ones).
pub const MAX_WORD_LEN: usize = 64;

/// Short sequences every target's dictionary holds: line ends, a BOM and cut UTF-8 sequences,
/// SSE fields, JSON/TOML syntax and literals, and numbers at the edges of the integer types and
/// of the profile clamps.
const COMMON_TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r\r",
    b"\n\n",
    b"\xEF\xBB\xBF",
    b"\xEF\xBB",
    b"\xF0\x9F\xA6",
    b"[DONE]",
    b"data: ",
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

/// `words` in the dictionary format libFuzzer reads (`-dict=`): one quoted token a line,
/// with `\"`, `\\` and every byte outside printable ASCII written as `\xNN`.
pub fn render_dictionary(words: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for word in words {
        out.push('"');
        for &b in word {
            match b {
                b'"' | b'\\' => {
                    out.push('\\');
                    out.push(char::from(b));
                }
                0x20..=0x7e => out.push(char::from(b)),
                _ => out.push_str(&format!("\\x{b:02X}")),
            }
        }
        out.push_str("\"\n");
    }
    out
}

/// A broken property: which one, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Short stable name of the property.
    pub property: &'static str,
    /// What was seen, for the report.
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "property `{}` violated: {}", self.property, self.detail)
    }
}

fn ignored_properties() -> &'static [String] {
    static IGNORED: OnceLock<Vec<String>> = OnceLock::new();
    IGNORED.get_or_init(|| {
        std::env::var(IGNORE_ENV)
            .unwrap_or_default()
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()
    })
}

/// Fails with `property` unless `holds` (or the property is named in [`IGNORE_ENV`]).
pub fn ensure(
    holds: bool,
    property: &'static str,
    detail: impl FnOnce() -> String,
) -> Result<(), Violation> {
    if holds || ignored_properties().iter().any(|p| p == property) {
        Ok(())
    } else {
        Err(Violation {
            property,
            detail: detail(),
        })
    }
}

/// Runs `target` on `input`, turning a panic or a broken property into a message.
pub fn run_one(target: Target, input: &[u8]) -> Result<(), String> {
    match panic::catch_unwind(AssertUnwindSafe(|| target.check(input))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(violation)) => Err(violation.to_string()),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_string());
            Err(format!("panic: {message}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_escapes_quotes_and_bytes() {
        let words = [b"a\"b\\c".to_vec(), b"\r\n\xEF".to_vec()];
        assert_eq!(
            render_dictionary(&words),
            "\"a\\\"b\\\\c\"\n\"\\x0D\\x0A\\xEF\"\n"
        );
    }
}
