//! Scripted faults: parses the `x-mock-fault` header (or a `mock/<spec>` model) into the set of
//! misbehaviours one response should show. Faults are chosen per request so that tests sharing a
//! mock stay independent; a typo in a directive is an error, not a silently healthy answer.

/// Which route a directive applies to: unprefixed directives target chat (and embeddings),
/// `models:` the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Chat,
    Models,
    Embeddings,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum LineEnding {
    #[default]
    Lf,
    CrLf,
    Cr,
}

impl LineEnding {
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnding::Lf => b"\n",
            LineEnding::CrLf => b"\r\n",
            LineEnding::Cr => b"\r",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Faults {
    /// True when at least one directive (other than tag/times) targets this route; only then does
    /// a request count against its tag.
    pub any: bool,
    pub tag: Option<String>,
    pub times: Option<u64>,

    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub envelope: Option<i64>,
    pub v4_errors: bool,
    pub retry_after: Option<u64>,
    pub retry_after_ms: Option<u64>,
    pub retry_after_date: Option<u64>,
    pub delay_ms: Option<u64>,

    pub reset_before_headers: bool,
    pub headers_no_body: bool,
    pub truncated_chunked: bool,
    pub malformed_json: bool,
    pub invalid_utf8_json: bool,
    pub not_openai_shape: bool,
    pub json_for_stream: bool,
    pub huge_body_mib: Option<u64>,

    pub chunks: Option<usize>,
    pub stall_after: Option<usize>,
    pub stall_ms: u64,
    pub reset_after: Option<usize>,
    pub truncate_after: Option<usize>,
    pub malformed_sse: bool,
    pub invalid_utf8_sse: bool,
    pub sse_error_frame: bool,
    pub sse_event_error: bool,
    pub split_bytes: bool,
    pub utf8_split: bool,
    pub line_ending: LineEnding,
    pub bom: bool,
    pub comments: bool,

    pub content: Option<String>,
    /// Answer with one tool call `(name, arguments)` instead of text.
    pub tool_call: Option<(String, String)>,
    /// The `usage` object of the answer (and of a stream's usage chunk), as given.
    pub usage: Option<serde_json::Value>,
    /// Refuse a request carrying `stream_options` with 400, as some OpenAI-compatible upstreams do.
    pub reject_stream_options: bool,
    /// An Anthropic error type (`overloaded_error`…): with `status`, the Anthropic error body;
    /// in a stream, an `event: error` after the first text delta.
    pub error_type: Option<String>,
    pub content_len: Option<usize>,

    /// Quote the credentials the request carried in error bodies and error frames, as OpenAI's
    /// 401 and reflecting proxies do; `echo_plain` sends the error as text/plain with the quote
    /// straddling the first 200 bytes.
    pub echo_secrets: bool,
    pub echo_plain: bool,
    /// A response whose status line is not HTTP.
    pub malformed_http: bool,
    /// A 200 chat body with an array nested this deep inside it.
    pub deep_json: Option<usize>,
    /// A 307 pointing elsewhere.
    pub redirect: bool,
    /// Cloudflare's own refusals, bodies as its Policies page documents them (object envelope).
    pub spending_limit: bool,
    pub policy_denied: bool,
    /// Extra response headers (`header=name:value`, repeatable); `no_request_id` drops
    /// `x-request-id` so the other request-id headers can be seen.
    pub headers: Vec<(String, String)>,
    pub no_request_id: bool,
    /// The quoted credentials, filled in by the route from the request.
    pub echo: Option<String>,
}

/// Upper bounds keep a mistyped number from turning the mock into a resource hog.
const MAX_CHUNKS: usize = 10_000;
const MAX_CONTENT_LEN: usize = 16 * 1024 * 1024;
const MAX_HUGE_MIB: u64 = 1024;
const MAX_SLEEP_MS: u64 = 10 * 60 * 1000;

impl Faults {
    /// Parses `spec` for `route`. Directives for the other route are still checked for typos.
    pub fn parse(spec: &str, route: Route) -> Result<Faults, String> {
        let mut faults = Faults::default();
        let mut other_route = Faults::default();
        for directive in spec.split(';').map(str::trim).filter(|d| !d.is_empty()) {
            let (scope, directive) = match directive.strip_prefix("models:") {
                Some(rest) => (Route::Models, rest.trim()),
                None => (Route::Chat, directive),
            };
            let (name, value) = match directive.split_once('=') {
                // Values stay untrimmed so `content=` can carry edge spaces; numbers trim below.
                Some((n, v)) => (n.trim(), Some(v)),
                None => (directive, None),
            };
            // tag/times gate a request whichever route it hits; unprefixed directives apply to
            // embeddings as to chat.
            let applies = scope == route || (scope == Route::Chat && route == Route::Embeddings);
            let target = if applies || name == "tag" || name == "times" {
                &mut faults
            } else {
                &mut other_route
            };
            target.set(name, value)?;
        }
        Ok(faults)
    }

    fn set(&mut self, name: &str, value: Option<&str>) -> Result<(), String> {
        let no_value = || match value {
            None => Ok(()),
            Some(_) => Err(format!("mock fault `{name}` takes no value")),
        };
        let flag = |field: &mut bool| {
            no_value()?;
            *field = true;
            Ok::<(), String>(())
        };
        let text = || value.ok_or_else(|| format!("mock fault `{name}` needs a value"));
        let number = || -> Result<u64, String> {
            text()?
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("mock fault `{name}` needs a non-negative integer"))
        };
        let count = |max: usize| -> Result<usize, String> {
            Ok(usize::try_from(number()?).unwrap_or(usize::MAX).min(max))
        };

        match name {
            "tag" => self.tag = Some(text()?.trim().to_string()),
            "times" => self.times = Some(number()?),
            _ => {
                self.any = true;
                match name {
                    "status" => {
                        let code = number()?;
                        self.status = Some(
                            u16::try_from(code)
                                .ok()
                                .filter(|c| (100..=999).contains(c))
                                .ok_or_else(|| {
                                    format!("mock fault status `{code}` out of range")
                                })?,
                        );
                    }
                    "error_code" => self.error_code = Some(text()?.trim().to_string()),
                    "envelope" => {
                        self.envelope =
                            Some(text()?.trim().parse().map_err(|_| {
                                "mock fault `envelope` needs an integer".to_string()
                            })?)
                    }
                    "v4_errors" => flag(&mut self.v4_errors)?,
                    "retry_after" => self.retry_after = Some(number()?),
                    "retry_after_ms" => self.retry_after_ms = Some(number()?),
                    "retry_after_date" => self.retry_after_date = Some(number()?),
                    "delay_ms" => self.delay_ms = Some(number()?.min(MAX_SLEEP_MS)),
                    "reset_before_headers" => flag(&mut self.reset_before_headers)?,
                    "headers_no_body" => flag(&mut self.headers_no_body)?,
                    "truncated_chunked" => flag(&mut self.truncated_chunked)?,
                    "malformed_json" => flag(&mut self.malformed_json)?,
                    "invalid_utf8_json" => flag(&mut self.invalid_utf8_json)?,
                    "not_openai_shape" => flag(&mut self.not_openai_shape)?,
                    "json_for_stream" => flag(&mut self.json_for_stream)?,
                    "huge_body_mib" => self.huge_body_mib = Some(number()?.min(MAX_HUGE_MIB)),
                    "chunks" => self.chunks = Some(count(MAX_CHUNKS)?.max(1)),
                    "stall_after" => self.stall_after = Some(count(usize::MAX)?),
                    "stall_ms" => self.stall_ms = number()?.min(MAX_SLEEP_MS),
                    "reset_after" => self.reset_after = Some(count(usize::MAX)?),
                    "truncate_after" => self.truncate_after = Some(count(usize::MAX)?),
                    "malformed_sse" => flag(&mut self.malformed_sse)?,
                    "invalid_utf8_sse" => flag(&mut self.invalid_utf8_sse)?,
                    "sse_error_frame" => flag(&mut self.sse_error_frame)?,
                    "sse_event_error" => flag(&mut self.sse_event_error)?,
                    "split_bytes" => flag(&mut self.split_bytes)?,
                    "utf8_split" => flag(&mut self.utf8_split)?,
                    "crlf" => {
                        no_value()?;
                        self.line_ending = LineEnding::CrLf;
                    }
                    "cr" => {
                        no_value()?;
                        self.line_ending = LineEnding::Cr;
                    }
                    "bom" => flag(&mut self.bom)?,
                    "comments" => flag(&mut self.comments)?,
                    "content" => self.content = Some(percent_decode(text()?)),
                    "content_len" => self.content_len = Some(count(MAX_CONTENT_LEN)?),
                    "echo_secrets" => flag(&mut self.echo_secrets)?,
                    "echo_plain" => flag(&mut self.echo_plain)?,
                    "malformed_http" => flag(&mut self.malformed_http)?,
                    "deep_json" => self.deep_json = Some(count(1_000_000)?),
                    "redirect" => flag(&mut self.redirect)?,
                    "spending_limit" => flag(&mut self.spending_limit)?,
                    "policy_denied" => flag(&mut self.policy_denied)?,
                    "no_request_id" => flag(&mut self.no_request_id)?,
                    "usage" => {
                        let text = percent_decode(text()?);
                        let value: serde_json::Value = serde_json::from_str(&text)
                            .map_err(|e| format!("mock fault `usage` is not JSON: {e}"))?;
                        self.usage = Some(value);
                    }
                    "reject_stream_options" => flag(&mut self.reject_stream_options)?,
                    "error_type" => self.error_type = Some(text()?.trim().to_string()),
                    "tool_call" => {
                        let text = percent_decode(text()?);
                        let (name, args) = text.split_once(':').unwrap_or((text.as_str(), "{}"));
                        self.tool_call = Some((name.trim().to_string(), args.to_string()));
                    }
                    "header" => {
                        let text = percent_decode(text()?);
                        let (name, value) = text
                            .split_once(':')
                            .ok_or_else(|| "mock fault `header` needs name:value".to_string())?;
                        self.headers
                            .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                    }
                    _ => return Err(format!("unknown mock fault directive `{name}`")),
                }
            }
        }
        Ok(())
    }

    /// Whether any directive changes the status or body shape into an error answer.
    pub fn wants_error(&self) -> bool {
        self.status.is_some()
            || self.envelope.is_some()
            || self.v4_errors
            || self.error_code.is_some()
    }
}

/// Decodes `%XX` escapes (so `content=a%3Bb` can carry the `;` that separates directives);
/// anything that is not a valid escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(&[hi, lo])) => hex_value(hi).zip(hex_value(lo)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_between_routes() {
        let spec = "status=503;models:status=500;tag=t;times=2";
        let chat = Faults::parse(spec, Route::Chat).unwrap();
        assert_eq!(chat.status, Some(503));
        assert_eq!(chat.tag.as_deref(), Some("t"));
        assert_eq!(chat.times, Some(2));
        let models = Faults::parse(spec, Route::Models).unwrap();
        assert_eq!(models.status, Some(500));
        assert!(models.any);
        let models_only = Faults::parse("models:delay_ms=5", Route::Chat).unwrap();
        assert!(!models_only.any);
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        assert!(Faults::parse("stauts=500", Route::Chat).is_err());
        assert!(Faults::parse("models:stauts=500", Route::Chat).is_err());
        assert!(Faults::parse("status=abc", Route::Chat).is_err());
        assert!(Faults::parse("status=70000", Route::Chat).is_err());
        assert!(Faults::parse("bom=1", Route::Chat).is_err());
        assert!(Faults::parse("delay_ms", Route::Chat).is_err());
    }

    #[test]
    fn content_is_percent_decoded() {
        let f = Faults::parse("content=a%3Bb%2 %zz%+1", Route::Chat).unwrap();
        assert_eq!(f.content.as_deref(), Some("a;b%2 %zz%+1"));
        let f = Faults::parse("crlf;comments;bom", Route::Chat).unwrap();
        assert_eq!(f.line_ending, LineEnding::CrLf);
        assert!(f.comments && f.bom);
    }
}
