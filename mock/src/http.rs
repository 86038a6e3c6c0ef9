//! HTTP/1.1 wire handling: read one request at a time from a keep-alive connection and write
//! fixed-length or chunked responses. Deliberately small — it only has to understand what the
//! aigw clients and the test scripts send, and must never panic on what arrives instead.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Request bodies above this are refused with 413 (docs/contract.md §11 keeps the mock bounded).
pub(crate) const MAX_BODY: usize = 8 * 1024 * 1024;
/// Bound on the request line plus headers, so a client that never sends a blank line cannot
/// make the mock buffer without limit.
const MAX_HEAD: u64 = 64 * 1024;
/// Bound on one chunk-size line of a chunked request body.
const MAX_CHUNK_LINE: u64 = 4096;

/// One connection: a buffered reader (it may hold the start of a pipelined next request, so it
/// lives as long as the connection) and an unbuffered writer so every write reaches the socket.
pub(crate) struct Conn {
    pub reader: BufReader<Wire>,
    pub writer: Wire,
}

/// A connection's socket, shared by its reader, its writer and the registry that shuts it down
/// at stop: one descriptor per connection (clones would take three, and load tests hold
/// thousands of connections against a fixed open-files limit).
#[derive(Clone)]
pub(crate) struct Wire(pub Arc<TcpStream>);

impl std::ops::Deref for Wire {
    type Target = TcpStream;
    fn deref(&self) -> &TcpStream {
        &self.0
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (&*self.0).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        (&*self.0).flush()
    }
}

pub(crate) struct Request {
    pub method: String,
    /// The request target as sent, query string included.
    pub target: String,
    /// Names lowercased, values trimmed, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The target without its query string, which is what routing looks at.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub(crate) enum ReadOutcome {
    Request(Request),
    /// The peer closed or the socket failed, between or in the middle of a request.
    Closed,
    /// The bytes are not a request we can serve: answer with this status and message, then close.
    Reject(u16, String),
}

enum Line {
    Text(Vec<u8>),
    Eof,
    TooLong,
}

/// Reads one line (without its CR LF), consuming at most `budget` bytes.
fn read_line(reader: &mut impl BufRead, budget: &mut u64) -> io::Result<Line> {
    let mut line = Vec::new();
    let n = reader.by_ref().take(*budget).read_until(b'\n', &mut line)?;
    *budget -= n as u64;
    if line.last() != Some(&b'\n') {
        // Either the peer went away mid-line or the line did not fit the budget.
        return Ok(if *budget == 0 {
            Line::TooLong
        } else {
            Line::Eof
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Line::Text(line))
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

pub(crate) fn read_request(conn: &mut Conn) -> ReadOutcome {
    match read_request_inner(conn) {
        Ok(outcome) => outcome,
        Err(_) => ReadOutcome::Closed,
    }
}

fn read_request_inner(conn: &mut Conn) -> io::Result<ReadOutcome> {
    let reader = &mut conn.reader;
    let mut budget = MAX_HEAD;
    let too_large = || ReadOutcome::Reject(431, "request head too large".to_string());

    // RFC 9112 §2.2: ignore at least one empty line before the request line. Bounded by budget.
    let request_line = loop {
        match read_line(reader, &mut budget)? {
            Line::Text(l) if l.is_empty() => continue,
            Line::Text(l) => break l,
            Line::Eof => return Ok(ReadOutcome::Closed),
            Line::TooLong => return Ok(too_large()),
        }
    };
    let bad = |what: &str| ReadOutcome::Reject(400, format!("malformed request: {what}"));
    let Ok(request_line) = String::from_utf8(request_line) else {
        return Ok(bad("request line is not UTF-8"));
    };
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts.as_slice() else {
        return Ok(bad("request line"));
    };
    if !is_token(method) || target.is_empty() || !version.starts_with("HTTP/1.") {
        return Ok(bad("request line"));
    }

    let mut headers = Vec::new();
    loop {
        let line = match read_line(reader, &mut budget)? {
            Line::Text(l) => l,
            Line::Eof => return Ok(ReadOutcome::Closed),
            Line::TooLong => return Ok(too_large()),
        };
        if line.is_empty() {
            break;
        }
        let line = String::from_utf8_lossy(&line);
        let Some((name, value)) = line.split_once(':') else {
            return Ok(bad("header line without ':'"));
        };
        if !is_token(name) {
            return Ok(bad("header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }

    let connection = find_header(&headers, "connection")
        .unwrap_or("")
        .to_ascii_lowercase();
    let has_token = |t: &str| connection.split(',').any(|c| c.trim() == t);
    let keep_alive = if *version == "HTTP/1.0" {
        has_token("keep-alive")
    } else {
        !has_token("close")
    };

    let chunked = match find_header(&headers, "transfer-encoding") {
        None => false,
        Some(te) if te.to_ascii_lowercase().trim_end().ends_with("chunked") => true,
        Some(_) => return Ok(bad("unsupported transfer-encoding")),
    };
    let content_length = if chunked {
        None
    } else {
        let mut lengths = headers
            .iter()
            .filter(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse::<u64>());
        match lengths.next() {
            None => None,
            Some(Ok(first)) if lengths.all(|l| l.as_ref().ok() == Some(&first)) => Some(first),
            Some(_) => return Ok(bad("content-length")),
        }
    };
    if content_length.is_some_and(|l| l > MAX_BODY as u64) {
        return Ok(body_too_large());
    }

    let expects_body = chunked || content_length.is_some_and(|l| l > 0);
    let expect = find_header(&headers, "expect").unwrap_or("");
    if expects_body && expect.eq_ignore_ascii_case("100-continue") {
        conn.writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }

    let reader = &mut conn.reader;
    let body = if chunked {
        match read_chunked_body(reader)? {
            Ok(body) => body,
            Err(outcome) => return Ok(outcome),
        }
    } else {
        let len = content_length.unwrap_or(0);
        let mut body = Vec::with_capacity(len as usize);
        reader.by_ref().take(len).read_to_end(&mut body)?;
        if body.len() as u64 != len {
            return Ok(ReadOutcome::Closed);
        }
        body
    };

    Ok(ReadOutcome::Request(Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body,
        keep_alive,
    }))
}

fn body_too_large() -> ReadOutcome {
    ReadOutcome::Reject(413, format!("request body exceeds {MAX_BODY} bytes"))
}

/// Decodes a chunked request body; the inner `Err` is the answer to give when it is malformed.
fn read_chunked_body(reader: &mut impl BufRead) -> io::Result<Result<Vec<u8>, ReadOutcome>> {
    let bad = || {
        Err(ReadOutcome::Reject(
            400,
            "malformed chunked body".to_string(),
        ))
    };
    let mut body = Vec::new();
    // Each pass consumes a chunk of at least one byte or ends, and the total is capped.
    loop {
        let mut budget = MAX_CHUNK_LINE;
        let line = match read_line(reader, &mut budget)? {
            Line::Text(l) => l,
            Line::Eof => return Ok(Err(ReadOutcome::Closed)),
            Line::TooLong => return Ok(bad()),
        };
        let line = String::from_utf8_lossy(&line);
        let size_text = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = u64::from_str_radix(size_text, 16) else {
            return Ok(bad());
        };
        if size == 0 {
            break;
        }
        if body.len() as u64 + size > MAX_BODY as u64 {
            return Ok(Err(body_too_large()));
        }
        let before = body.len();
        reader.by_ref().take(size).read_to_end(&mut body)?;
        if (body.len() - before) as u64 != size {
            return Ok(Err(ReadOutcome::Closed));
        }
        let mut budget = 2;
        match read_line(reader, &mut budget)? {
            Line::Text(l) if l.is_empty() => {}
            Line::Eof => return Ok(Err(ReadOutcome::Closed)),
            _ => return Ok(bad()),
        }
    }
    // Trailer fields are read and ignored.
    let mut budget = MAX_HEAD;
    loop {
        match read_line(reader, &mut budget)? {
            Line::Text(l) if l.is_empty() => return Ok(Ok(body)),
            Line::Text(_) => continue,
            Line::Eof => return Ok(Err(ReadOutcome::Closed)),
            Line::TooLong => return Ok(bad()),
        }
    }
}

pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        425 => "Too Early",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Writes the status line and headers in one write, so a client sees them together.
pub(crate) fn write_head(
    w: &mut impl Write,
    status: u16,
    headers: &[(String, String)],
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    w.flush()
}

/// Writes one HTTP chunk with a single write. An empty slice is skipped: it would end the body.
pub(crate) fn write_chunk(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(b"\r\n");
    w.write_all(&chunk)?;
    w.flush()
}

pub(crate) fn write_last_chunk(w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"0\r\n\r\n")?;
    w.flush()
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, for `Retry-After` dates.
pub(crate) fn http_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31); Howard Hinnant's algorithm.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date_matches_rfc_example() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
