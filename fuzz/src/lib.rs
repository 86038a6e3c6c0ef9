//! aigw-fuzz: the in-tree fuzzer's targets and their properties, shared by the `aigw-fuzz`
//! binary (which mutates inputs and looks for findings) and the regression tests (which replay
//! the corpus and every kept finding). It runs on stable Rust: no libFuzzer, no sanitizers.
//!
//! A target turns one input into an [`Outcome`] (features of what the code did: a cheap
//! stand-in for coverage, since inputs showing a new feature join the corpus) or a [`Finding`]
//! (a panic or a broken property).

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};

pub mod mutate;
pub mod rng;
pub mod targets;

use rng::Rng;

/// Text planted where a config or secret reference expects a key; no message may echo it.
pub const SECRET_MARKER: &str = "sk-FUZZSECRET";

/// What the code under test did with one input, as feature hashes (an error kind, an event
/// count, a client shape…). An input showing a feature never seen before joins the corpus.
pub type Outcome = Vec<u64>;

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
}

impl Target {
    /// Every target, in the order `--target all` runs them.
    pub const ALL: [Target; 4] = [
        Target::Sse,
        Target::Config,
        Target::SecretRef,
        Target::Envelope,
    ];

    /// The name used on the command line and as the corpus directory.
    pub fn name(self) -> &'static str {
        match self {
            Target::Sse => "sse",
            Target::Config => "config",
            Target::SecretRef => "secret_ref",
            Target::Envelope => "envelope",
        }
    }

    /// The target called `name`.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Tokens the mutator inserts for this target.
    pub fn dictionary(self) -> Vec<Vec<u8>> {
        match self {
            Target::Sse => targets::sse::dictionary(),
            Target::Config => targets::config::dictionary(),
            Target::SecretRef => targets::secret_ref::dictionary(),
            Target::Envelope => targets::envelope::dictionary(),
        }
    }

    /// A structured input (a template with mutations kept away from the part that matters),
    /// for targets that have one; `mutate` mutates a fragment in place.
    pub fn generate(
        self,
        rng: &mut Rng,
        mutate: &mut dyn FnMut(&mut Rng, &mut Vec<u8>),
    ) -> Option<Vec<u8>> {
        match self {
            Target::Config => Some(targets::config::generate(rng, mutate)),
            Target::Envelope => Some(targets::envelope::generate(rng)),
            Target::SecretRef => Some(targets::secret_ref::generate(rng)),
            Target::Sse => None,
        }
    }

    /// Runs the target's properties on `input` (no panic catching: see [`run_one`]).
    pub fn check(self, input: &[u8]) -> Result<Outcome, Violation> {
        match self {
            Target::Sse => targets::sse::check(input),
            Target::Config => targets::config::check(input),
            Target::SecretRef => targets::secret_ref::check(input),
            Target::Envelope => targets::envelope::check(input),
        }
    }
}

/// A broken property: which one, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Short stable name of the property (findings with the same name are one bug).
    pub property: &'static str,
    /// What was seen, for the report.
    pub detail: String,
}

impl Violation {
    /// A violation of `property`.
    pub fn new(property: &'static str, detail: impl Into<String>) -> Violation {
        Violation {
            property,
            detail: detail.into(),
        }
    }
}

thread_local! {
    static IGNORED_PROPERTIES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Makes this thread's checks pass over `properties` (known open findings), so the rest of
/// each check still runs. Replaces any earlier list.
pub fn ignore_properties(properties: &[String]) {
    IGNORED_PROPERTIES.with(|ignored| *ignored.borrow_mut() = properties.to_vec());
}

/// Fails with `property` unless `holds` (or the property is ignored on this thread).
pub fn ensure(
    holds: bool,
    property: &'static str,
    detail: impl FnOnce() -> String,
) -> Result<(), Violation> {
    if holds || IGNORED_PROPERTIES.with(|ignored| ignored.borrow().iter().any(|p| p == property)) {
        Ok(())
    } else {
        Err(Violation::new(property, detail()))
    }
}

/// Something worth keeping: the code under test panicked or broke a property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A panic, with its message and (when the hook saw it) its location.
    Panic {
        /// The panic payload.
        message: String,
        /// `file:line:col` of the panic.
        location: Option<String>,
    },
    /// A property check failed.
    Property(Violation),
}

impl Finding {
    /// Findings with equal signatures are taken to be the same bug (kept once per run).
    pub fn signature(&self) -> String {
        match self {
            Finding::Panic {
                location: Some(location),
                ..
            } => format!("panic at {location}"),
            Finding::Panic { message, .. } => format!("panic: {}", message_kind(message)),
            Finding::Property(v) => format!("property {}", v.property),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Panic { message, location } => write!(
                f,
                "panic: {message} (at {})",
                location.as_deref().unwrap_or("unknown location")
            ),
            Finding::Property(v) => write!(f, "property `{}` violated: {}", v.property, v.detail),
        }
    }
}

thread_local! {
    static LAST_PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the panic hook with one that records the location for [`run_one`] instead of
/// printing a backtrace for every caught panic.
pub fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
        LAST_PANIC_LOCATION.with(|slot| *slot.borrow_mut() = location);
    }));
}

/// Runs `target` on `input`, turning a panic into a [`Finding`].
pub fn run_one(target: Target, input: &[u8]) -> Result<Outcome, Finding> {
    LAST_PANIC_LOCATION.with(|slot| slot.borrow_mut().take());
    match panic::catch_unwind(AssertUnwindSafe(|| target.check(input))) {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(violation)) => Err(Finding::Property(violation)),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_string());
            let location = LAST_PANIC_LOCATION.with(|slot| slot.borrow_mut().take());
            Err(Finding::Panic { message, location })
        }
    }
}

/// An error message reduced to its fixed wording, so that messages of one kind fingerprint
/// alike: the last plain lowercase words after the last quote (where messages say what is
/// wrong), or when there are none, the last ones before the first quote. Quoted text, numbers,
/// paths and ids never count; user text (a key with spaces, say) may open a message, so the
/// start is never trusted.
pub fn message_kind(message: &str) -> String {
    let is_quote = |c: char| c == '`' || c == '"';
    let prose = |w: &&str| {
        w.len() <= 16
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || ",;:()/-".contains(c))
            && w.chars().any(|c| c.is_ascii_lowercase())
    };
    let last_words = |text: &str, n: usize| {
        let mut words: Vec<&str> = text
            .split_whitespace()
            .rev()
            .filter(prose)
            .take(n)
            .collect();
        words.reverse();
        words.join(" ")
    };
    let tail = message
        .rfind(is_quote)
        .map_or(message, |at| &message[at + 1..]);
    let kind = last_words(tail, 4);
    if kind.contains(' ') {
        kind
    } else {
        last_words(message.split(is_quote).next().unwrap_or(""), 6)
    }
}

/// Accumulates the features of one execution into an [`Outcome`].
#[derive(Debug, Clone, Default)]
pub struct Fingerprint(Vec<u64>);

impl Fingerprint {
    /// Records one feature.
    pub fn add(&mut self, feature: impl std::hash::Hash) {
        use std::hash::{DefaultHasher, Hasher};
        let mut h = DefaultHasher::new();
        feature.hash(&mut h);
        self.0.push(h.finish());
    }

    /// The outcome.
    pub fn finish(self) -> Outcome {
        self.0
    }
}

/// `bytes` as a readable Rust-style byte string, cut after `limit` bytes.
pub fn escape(bytes: &[u8], limit: usize) -> String {
    let shown: String = bytes
        .iter()
        .take(limit)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > limit {
        format!("b\"{shown}\"… ({} bytes)", bytes.len())
    } else {
        format!("b\"{shown}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_kind_blanks_variable_parts() {
        assert_eq!(
            message_kind("unknown field `config.x`; at line 3 column 7"),
            message_kind("unknown field `providers.abc.y`; at line 10 column 1")
        );
        assert_ne!(
            message_kind("a must be a string"),
            message_kind("a must be a table")
        );
    }
}
