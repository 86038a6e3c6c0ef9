//! The secret scrubber: upstreams echo what they were sent (OpenAI's 401 quotes the key,
//! proxies reflect headers, gateways quote tokens), so every text aigw builds from upstream bytes
//! passes through [`Scrubber`] before a caller, a log or a binding sees it.
//!
//! A client's scrubber knows every secret it may send: each key of the pool, the gateway token,
//! the values of secret-looking headers and proxy credentials. Values shorter than
//! [`MIN_SECRET_LEN`] are placeholders (`ollama`, `none`), not secrets: replacing them would
//! mangle ordinary words, so they are left alone.

use std::borrow::Cow;

use crate::error::Error;

/// Shorter values are not scrubbed (see the module docs).
pub const MIN_SECRET_LEN: usize = 8;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Replaces every known secret in a text with [`REDACTED`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Scrubber {
    /// Longest first, so a secret that contains another is replaced whole.
    secrets: Vec<String>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} secrets)", self.secrets.len())
    }
}

impl Scrubber {
    /// A scrubber for `secrets`; short and repeated values are dropped.
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Scrubber {
        let mut s = Scrubber::default();
        s.extend(secrets);
        s
    }

    /// Adds secrets. A header value such as `Bearer sk-…` also adds the part after the scheme,
    /// since upstreams tend to quote the token alone.
    pub fn extend<S: AsRef<str>>(&mut self, secrets: impl IntoIterator<Item = S>) {
        for secret in secrets {
            let value = secret.as_ref().trim();
            self.add(value);
            if let Some((scheme, token)) = value.split_once(' ') {
                if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic()) {
                    self.add(token.trim());
                }
            }
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    fn add(&mut self, value: &str) {
        if value.chars().count() >= MIN_SECRET_LEN && !self.secrets.iter().any(|s| s == value) {
            self.secrets.push(value.to_string());
        }
    }

    /// This scrubber, plus those of `values` it does not hold yet (borrowed when none is new).
    pub fn with_values<'a, S: AsRef<str>>(
        &'a self,
        values: impl IntoIterator<Item = S>,
    ) -> Cow<'a, Scrubber> {
        let mut extended: Option<Scrubber> = None;
        for value in values {
            let value = value.as_ref();
            let known = self.secrets.iter().any(|s| s == value.trim());
            if !known && value.trim().chars().count() >= MIN_SECRET_LEN {
                extended.get_or_insert_with(|| self.clone()).extend([value]);
            }
        }
        match extended {
            Some(s) => Cow::Owned(s),
            None => Cow::Borrowed(self),
        }
    }

    /// Whether it holds no secret.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The longest secret, in bytes (a streaming scrubber keeps this much back minus one).
    pub fn longest(&self) -> usize {
        self.secrets.first().map_or(0, String::len)
    }

    /// `text` with every secret replaced; borrowed when there was none.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        out
    }

    /// Whether `text` holds a secret.
    pub fn finds_secret_in(&self, text: &str) -> bool {
        self.secrets.iter().any(|s| text.contains(s.as_str()))
    }

    /// Scrubs a string in place.
    pub fn scrub_string(&self, text: &mut String) {
        if let Cow::Owned(clean) = self.scrub(text) {
            *text = clean;
        }
    }

    /// Scrubs every upstream-derived text of an error: message, provider code, request id.
    pub fn scrub_error(&self, mut err: Error) -> Error {
        if self.secrets.is_empty() {
            return err;
        }
        self.scrub_string(&mut err.message);
        for text in [&mut err.provider_code, &mut err.request_id]
            .into_iter()
            .flatten()
        {
            self.scrub_string(text);
        }
        err
    }

    /// Scrubs a byte prefix of upstream text that may have been cut inside a secret: the
    /// whole text is scrubbed first, then cut at `max` bytes (on a character boundary).
    pub fn scrub_prefix(&self, bytes: &[u8], max: usize) -> String {
        let text = String::from_utf8_lossy(bytes);
        let clean = self.scrub(&text);
        let mut end = clean.len().min(max);
        while !clean.is_char_boundary(end) {
            end -= 1;
        }
        clean[..end].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_every_secret_longest_first() {
        let s = Scrubber::new(["sk-abcdefgh", "sk-abcdefgh-longer", "short"]);
        assert_eq!(
            s.scrub("Incorrect API key provided: sk-abcdefgh-longer and sk-abcdefgh, short"),
            "Incorrect API key provided: [redacted] and [redacted], short"
        );
    }

    #[test]
    fn header_values_add_their_token() {
        let s = Scrubber::new(["Bearer tok-12345678"]);
        assert_eq!(s.scrub("got tok-12345678"), "got [redacted]");
        assert_eq!(s.scrub("Bearer tok-12345678"), "[redacted]");
    }

    #[test]
    fn placeholders_are_not_secrets() {
        let s = Scrubber::new(["ollama", "1234567"]);
        assert!(s.is_empty());
        assert_eq!(s.scrub("ollama says 1234567"), "ollama says 1234567");
    }

    #[test]
    fn a_prefix_cut_inside_a_secret_leaks_nothing() {
        let s = Scrubber::new(["sk-0123456789abcdef"]);
        let body = b"key sk-0123456789abcdef refused";
        let cut = s.scrub_prefix(body, 12);
        assert_eq!(cut, "key [redacte");
        assert!(!cut.contains("sk-0123"));
    }
}
