//! The per-event loop of `logstream.documents.build_documents`, compiled.
//!
//! The Python loop stays the reference: this module formats byte-for-byte the
//! same bulk lines (`tests/unit/test_hotpath.py` compares the two on mixed and
//! hostile input). It handles the common event only: a dict with a string
//! `id`, an integer `timestamp` in range, a UTF-8 string `message` within the
//! size limit, and optional `logStream` / `ingestionTime` of the usual types.
//! Every other event goes back to Python (`slow`), which parks it or builds it
//! exactly as the pure loop would. The message's own fields are encoded here
//! for the common shapes only (a JSON object that orjson would read and write
//! back unchanged in meaning, the standard START / END / REPORT lines); any
//! other message is handed to the Python functions (`json_fields`,
//! `lambda_fields`). The index name of a day and the envelope tail of a
//! stream always come from Python, once per batch.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyList, PyString, PyTuple};

/// 9999-12-31T23:59:59.999Z, as `documents.MAX_TIMESTAMP_MS`.
const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;
/// CloudWatch's limit for one event, as `documents.MAX_MESSAGE_BYTES`.
const MAX_MESSAGE_BYTES: usize = 256 * 1024;
const DAY_MS: i64 = 86_400_000;
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Append `text` as a JSON string, escaped exactly as orjson escapes it.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    push_json_string_body(out, text);
    out.push(b'"');
}

/// The inside of a JSON string: `"`, `\` and control characters escaped
/// (short forms where JSON has them, else `\u00XX`), everything else as is.
fn push_json_string_body(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut clean_from = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let short: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&bytes[clean_from..at]);
        if short.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0x0f)],
            ]);
        } else {
            out.extend_from_slice(short);
        }
        clean_from = at + 1;
    }
    out.extend_from_slice(&bytes[clean_from..]);
}

fn push_int(out: &mut Vec<u8>, value: i64) {
    // Decimal digits, as Python's `%d` and orjson write an int.
    if value < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut rest = value.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// `text` up to `end`, and the rest after it; None when `end` is absent.
fn split_once_at<'a>(text: &'a [u8], end: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let at = text.windows(end.len()).position(|window| window == end)?;
    Some((&text[..at], &text[at + end.len()..]))
}

/// A request id or version token: printable ASCII without spaces, as `\S+`
/// matches it (anything else is left to Python's own regex).
fn token(text: &[u8]) -> Option<&str> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_graphic) {
        return None;
    }
    std::str::from_utf8(text).ok()
}

/// An integer as Python's `int()` then orjson write it: no leading zeros.
fn push_integer(out: &mut Vec<u8>, digits: &[u8]) -> Option<()> {
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let first_significant = digits
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(digits.len() - 1);
    out.extend_from_slice(&digits[first_significant..]);
    Some(())
}

/// A decimal as Python's `float()` then orjson write it, for the plain
/// decimals where that is the digits themselves: 0, or 0.1 <= value < 1e15
/// with at most 15 significant digits (exact in a double, no exponent).
fn push_float(out: &mut Vec<u8>, text: &[u8]) -> Option<()> {
    let (whole, fraction) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &b""[..]),
    };
    if whole.is_empty()
        || !whole.iter().all(u8::is_ascii_digit)
        || (text.len() > whole.len() && fraction.is_empty())
        || !fraction.iter().all(u8::is_ascii_digit)
        || (whole.len() > 1 && whole[0] == b'0')
    {
        return None;
    }
    let kept = fraction.len() - fraction.iter().rev().take_while(|&&d| d == b'0').count();
    let fraction = &fraction[..kept];
    let significant = if whole == b"0" {
        fraction.len()
    } else {
        whole.len() + fraction.len()
    };
    let below_a_tenth = whole == b"0" && fraction.first().is_some_and(|&d| d == b'0');
    if whole.len() > 15 || significant > 15 || below_a_tenth {
        return None;
    }
    out.extend_from_slice(whole);
    out.push(b'.');
    out.extend_from_slice(if fraction.is_empty() { b"0" } else { fraction });
    Some(())
}

fn only_blanks(rest: &[u8]) -> bool {
    rest.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// `{"type":"report",...}` for the REPORT line Lambda writes today, exactly as
/// `orjson.dumps(parse_lambda_platform_line(line))`; None for any other shape.
fn report_fields(out: &mut Vec<u8>, line: &[u8]) -> Option<()> {
    let rest = line.strip_prefix(b"REPORT RequestId: ")?;
    let (request_id, rest) = split_once_at(rest, b"\tDuration: ")?;
    let (duration, rest) = split_once_at(rest, b" ms\tBilled Duration: ")?;
    let (billed, rest) = split_once_at(rest, b" ms\tMemory Size: ")?;
    let (memory, rest) = split_once_at(rest, b" MB\tMax Memory Used: ")?;
    let (used, rest) = split_once_at(rest, b" MB")?;
    let (init, rest) = match rest.strip_prefix(b"\tInit Duration: ") {
        Some(after) => {
            let (init, rest) = split_once_at(after, b" ms")?;
            (Some(init), rest)
        }
        None => (None, rest),
    };
    if !only_blanks(rest) {
        return None;
    }
    out.extend_from_slice(b"{\"type\":\"report\",\"request_id\":");
    push_json_string(out, token(request_id)?);
    out.extend_from_slice(b",\"duration_ms\":");
    push_float(out, duration)?;
    out.extend_from_slice(b",\"billed_duration_ms\":");
    push_integer(out, billed)?;
    out.extend_from_slice(b",\"memory_size_mb\":");
    push_integer(out, memory)?;
    out.extend_from_slice(b",\"max_memory_used_mb\":");
    push_integer(out, used)?;
    if let Some(init) = init {
        out.extend_from_slice(b",\"init_duration_ms\":");
        push_float(out, init)?;
    }
    out.push(b'}');
    Some(())
}

/// `START RequestId: <id> Version: <version>`.
fn start_fields(out: &mut Vec<u8>, line: &[u8]) -> Option<()> {
    let rest = line.strip_prefix(b"START RequestId: ")?;
    let (request_id, rest) = split_once_at(rest, b" Version: ")?;
    let version_end = rest
        .iter()
        .position(|b| !b.is_ascii_graphic())
        .unwrap_or(rest.len());
    let (version, rest) = rest.split_at(version_end);
    if !only_blanks(rest) {
        return None;
    }
    out.extend_from_slice(b"{\"type\":\"start\",\"request_id\":");
    push_json_string(out, token(request_id)?);
    out.extend_from_slice(b",\"version\":");
    push_json_string(out, token(version)?);
    out.push(b'}');
    Some(())
}

/// `END RequestId: <id>` without further fields; printable ASCII only, so
/// Python's `strip()` and this trim of spaces agree.
fn end_fields(out: &mut Vec<u8>, line: &[u8]) -> Option<()> {
    let rest = line.strip_prefix(b"END ")?;
    if !rest.iter().all(|&b| (0x20..=0x7e).contains(&b)) {
        return None;
    }
    let request_id = split_once_at(rest, b": ").map_or(&b""[..], |(_, after)| after);
    let request_id = std::str::from_utf8(request_id).ok()?.trim_matches(' ');
    out.extend_from_slice(b"{\"type\":\"end\",\"request_id\":");
    push_json_string(out, request_id);
    out.push(b'}');
    Some(())
}

/// The `lambda` field for the shapes above, or None to ask Python.
fn lambda_fields_of(out: &mut Vec<u8>, line: &str) -> Option<()> {
    let mark = out.len();
    let bytes = line.as_bytes();
    let parsed = match bytes.first() {
        Some(b'R') => report_fields(out, bytes),
        Some(b'S') => start_fields(out, bytes),
        Some(b'E') => end_fields(out, bytes),
        _ => None,
    };
    if parsed.is_none() {
        out.truncate(mark);
    }
    parsed
}

/// Deepest nesting compacted here; deeper objects are left to orjson.
const MAX_JSON_DEPTH: usize = 64;

/// Re-encodes a JSON object message the way `orjson.dumps(orjson.loads(m))`
/// would: compact, with orjson's string escapes and number forms. It only
/// answers when it is sure; anything unusual (duplicate or escaped keys,
/// surrogate escapes, exponents, numbers a double or 64-bit int would change,
/// deep nesting, invalid JSON) returns None and Python decides.
struct JsonCompactor<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> JsonCompactor<'a> {
    fn skip_blanks(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.text.get(self.at) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_blanks();
        (self.text.get(self.at) == Some(&byte)).then(|| self.at += 1)
    }

    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        if depth > MAX_JSON_DEPTH {
            return None;
        }
        self.skip_blanks();
        match self.text.get(self.at)? {
            b'{' => self.object(out, depth),
            b'[' => self.array(out, depth),
            b'"' => self.string(out).map(|_| ()),
            b't' => self.literal(out, b"true"),
            b'f' => self.literal(out, b"false"),
            b'n' => self.literal(out, b"null"),
            _ => self.number(out),
        }
    }

    fn literal(&mut self, out: &mut Vec<u8>, word: &[u8]) -> Option<()> {
        self.text[self.at..].starts_with(word).then(|| {
            out.extend_from_slice(word);
            self.at += word.len();
        })
    }

    fn object(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        self.at += 1;
        out.push(b'{');
        self.skip_blanks();
        if self.text.get(self.at) == Some(&b'}') {
            self.at += 1;
            out.push(b'}');
            return Some(());
        }
        let mut keys: Vec<&'a [u8]> = Vec::new();
        loop {
            self.skip_blanks();
            if self.text.get(self.at) != Some(&b'"') {
                return None;
            }
            let key = self.string(out)?;
            // A duplicate key keeps its first place but its last value in
            // Python; escaped keys could hide duplicates: both go to orjson.
            if key.contains(&b'\\') || keys.contains(&key) || keys.len() >= 256 {
                return None;
            }
            keys.push(key);
            self.expect(b':')?;
            out.push(b':');
            self.value(out, depth + 1)?;
            self.skip_blanks();
            match self.text.get(self.at)? {
                b',' => out.push(b','),
                b'}' => {
                    self.at += 1;
                    out.push(b'}');
                    return Some(());
                }
                _ => return None,
            }
            self.at += 1;
        }
    }

    fn array(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        self.at += 1;
        out.push(b'[');
        self.skip_blanks();
        if self.text.get(self.at) == Some(&b']') {
            self.at += 1;
            out.push(b']');
            return Some(());
        }
        loop {
            self.value(out, depth + 1)?;
            self.skip_blanks();
            match self.text.get(self.at)? {
                b',' => out.push(b','),
                b']' => {
                    self.at += 1;
                    out.push(b']');
                    return Some(());
                }
                _ => return None,
            }
            self.at += 1;
        }
    }

    /// Copies a string with orjson's escapes; returns its raw body (for keys).
    fn string(&mut self, out: &mut Vec<u8>) -> Option<&'a [u8]> {
        let text = self.text;
        let start = self.at + 1;
        let mut at = start;
        out.push(b'"');
        loop {
            let byte = *text.get(at)?;
            match byte {
                b'"' => break,
                0x00..=0x1f => return None,
                b'\\' => {
                    let escaped = *text.get(at + 1)?;
                    match escaped {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => {
                            out.extend_from_slice(&[b'\\', escaped]);
                            at += 2;
                        }
                        b'/' => {
                            out.push(b'/');
                            at += 2;
                        }
                        b'u' => {
                            let hex = text.get(at + 2..at + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            let hex = std::str::from_utf8(hex).ok()?;
                            let code = u32::from_str_radix(hex, 16).ok()?;
                            push_json_char(out, char::from_u32(code)?);
                            at += 6;
                        }
                        _ => return None,
                    }
                }
                _ => {
                    out.push(byte);
                    at += 1;
                }
            }
        }
        out.push(b'"');
        self.at = at + 1;
        Some(&text[start..at])
    }

    fn number(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let text = self.text;
        let start = self.at;
        let mut end = start;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = text.get(end) {
            end += 1;
        }
        self.at = end;
        let (negative, digits) = match text[start..end].strip_prefix(b"-") {
            Some(rest) => (true, rest),
            None => (false, &text[start..end]),
        };
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0' && digits[1] != b'.') {
            return None;
        }
        let mark = out.len();
        if negative {
            out.push(b'-');
        }
        if digits.contains(&b'.') {
            push_float(out, digits)
        } else {
            push_integer(out, digits)?;
            // orjson reads `-0` as the integer 0.
            if negative && digits.iter().all(|&d| d == b'0') {
                out.remove(mark);
            }
            Some(())
        }
    }
}

/// One decoded `\uXXXX` character, written as orjson writes it.
fn push_json_char(out: &mut Vec<u8>, character: char) {
    let mut buffer = [0u8; 4];
    push_json_string_body(out, character.encode_utf8(&mut buffer));
}

/// The `json` field of a message that is a JSON object, or None to ask Python.
fn json_fields_of(out: &mut Vec<u8>, message: &str) -> Option<()> {
    let mark = out.len();
    let mut compactor = JsonCompactor {
        text: message.as_bytes(),
        at: 0,
    };
    let compacted = compactor.value(out, 0).and_then(|()| {
        compactor.skip_blanks();
        (compactor.at == compactor.text.len()).then_some(())
    });
    if compacted.is_none() {
        out.truncate(mark);
    }
    compacted
}

/// The fields of one event the fast path can take, or None for the slow path.
struct Event<'py> {
    id: Bound<'py, PyString>,
    timestamp: Bound<'py, PyAny>,
    timestamp_ms: i64,
    message: Bound<'py, PyString>,
    stream: Option<Bound<'py, PyString>>,
    ingestion_time: Option<i64>,
}

fn exact_str<'py>(value: &Bound<'py, PyAny>) -> Option<Bound<'py, PyString>> {
    value.cast_exact::<PyString>().ok().cloned()
}

fn exact_i64(value: &Bound<'_, PyAny>) -> Option<i64> {
    // Exact int only: a bool is an int subclass and never a timestamp.
    value.cast_exact::<PyInt>().ok()?.extract::<i64>().ok()
}

fn take_event<'py>(py: Python<'py>, event: &Bound<'py, PyAny>) -> PyResult<Option<Event<'py>>> {
    let Ok(dict) = event.cast_exact::<PyDict>() else {
        return Ok(None);
    };
    let Some(id) = dict
        .get_item(intern!(py, "id"))?
        .as_ref()
        .and_then(exact_str)
    else {
        return Ok(None);
    };
    let Some(timestamp) = dict.get_item(intern!(py, "timestamp"))? else {
        return Ok(None);
    };
    let Some(timestamp_ms) = exact_i64(&timestamp) else {
        return Ok(None);
    };
    if !(0..=MAX_TIMESTAMP_MS).contains(&timestamp_ms) {
        return Ok(None);
    }
    let Some(message) = dict
        .get_item(intern!(py, "message"))?
        .as_ref()
        .and_then(exact_str)
    else {
        return Ok(None);
    };
    let stream = match dict.get_item(intern!(py, "logStream"))? {
        None => None,
        Some(value) if value.is_none() => None,
        Some(value) => match exact_str(&value) {
            // `event.get("logStream") or default`: an empty name means the batch's.
            Some(name) if name.to_str().map(str::is_empty).unwrap_or(false) => None,
            Some(name) => Some(name),
            None => return Ok(None),
        },
    };
    // Informational: kept when it is a plausible epoch-ms integer, else left out.
    let ingestion_time = dict
        .get_item(intern!(py, "ingestionTime"))?
        .as_ref()
        .and_then(exact_i64)
        .filter(|ms| (0..=MAX_TIMESTAMP_MS).contains(ms));
    Ok(Some(Event {
        id,
        timestamp,
        timestamp_ms,
        message,
        stream,
        ingestion_time,
    }))
}

/// Build documents for `events`, appending them to `documents` in order.
///
/// Returns how many of the events handled here had an empty message.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn encode_events<'py>(
    py: Python<'py>,
    events: &Bound<'py, PyList>,
    log_group: &Bound<'py, PyString>,
    default_stream: &Bound<'py, PyString>,
    target_of_day: &Bound<'py, PyAny>,
    tail_of_stream: &Bound<'py, PyAny>,
    json_fields: &Bound<'py, PyAny>,
    lambda_fields: &Bound<'py, PyAny>,
    document: &Bound<'py, PyAny>,
    slow: &Bound<'py, PyAny>,
    documents: &Bound<'py, PyList>,
) -> PyResult<usize> {
    let mut targets: HashMap<i64, (Bound<'py, PyString>, Vec<u8>)> = HashMap::new();
    let mut tails: HashMap<String, Vec<u8>> = HashMap::new();
    let mut line: Vec<u8> = Vec::with_capacity(4096);
    let mut fields: Vec<u8> = Vec::with_capacity(1024);
    let mut empty_messages = 0usize;

    for (position, event) in events.iter().enumerate() {
        let taken = take_event(py, &event)?;
        let Some(found) = taken else {
            slow.call1((position, &event))?;
            continue;
        };
        // Strings Python could not encode (lone surrogates) and messages over
        // the limit (cut, with the original parked) are the slow path's.
        let (Ok(id), Ok(message)) = (found.id.to_str(), found.message.to_str()) else {
            slow.call1((position, &event))?;
            continue;
        };
        // An empty id is a bad event; leading blanks may hide JSON (Python's lstrip decides).
        if id.is_empty() || message.len() > MAX_MESSAGE_BYTES || message.starts_with([' ', '\t']) {
            slow.call1((position, &event))?;
            continue;
        }
        let stream = found.stream.as_ref().unwrap_or(default_stream);

        let day = found.timestamp_ms.div_euclid(DAY_MS);
        let (index, action) = &*match targets.entry(day) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => {
                let target = target_of_day.call1((found.timestamp_ms,))?;
                let target = target.cast::<PyTuple>()?;
                let index = target.get_item(0)?.cast_into::<PyString>()?;
                let action = target
                    .get_item(1)?
                    .cast_into::<PyBytes>()?
                    .as_bytes()
                    .to_vec();
                slot.insert((index, action))
            }
        };
        // Looked up by &str: entry() would need an owned key for every event.
        let stream_name = stream.to_str()?;
        #[allow(clippy::map_entry)]
        if !tails.contains_key(stream_name) {
            let tail = tail_of_stream.call1((stream,))?;
            let tail = tail.cast::<PyBytes>()?.as_bytes().to_vec();
            tails.insert(stream_name.to_owned(), tail);
        }
        let tail = &tails[stream_name];

        // The message's own fields (JSON object, Lambda platform line), encoded
        // into `fields` after their key; empty when it has none.
        fields.clear();
        match message.as_bytes().first() {
            None => empty_messages += 1,
            Some(b'{') => {
                fields.extend_from_slice(b",\"json\":");
                if json_fields_of(&mut fields, message).is_none() {
                    let parsed = json_fields.call1((&found.message,))?;
                    if parsed.is_none() {
                        fields.clear();
                    } else {
                        fields.extend_from_slice(parsed.cast::<PyBytes>()?.as_bytes());
                    }
                }
            }
            Some(b'S' | b'E' | b'R')
                if message.starts_with("REPORT ")
                    || message.starts_with("START ")
                    || message.starts_with("END ") =>
            {
                fields.extend_from_slice(b",\"lambda\":");
                if lambda_fields_of(&mut fields, message).is_none() {
                    let parsed = lambda_fields.call1((&found.message,))?;
                    fields.extend_from_slice(parsed.cast::<PyBytes>()?.as_bytes());
                }
            }
            Some(_) => {}
        }

        line.clear();
        line.extend_from_slice(action);
        let id_start = line.len();
        push_json_string(&mut line, id);
        let id_end = line.len();
        line.extend_from_slice(b"}}\n{\"@timestamp\":");
        push_int(&mut line, found.timestamp_ms);
        line.extend_from_slice(b",\"event_id\":");
        line.extend_from_within(id_start..id_end);
        if let Some(ms) = found.ingestion_time {
            line.extend_from_slice(b",\"ingestion_time\":");
            push_int(&mut line, ms);
        }
        line.extend_from_slice(b",\"message\":");
        push_json_string(&mut line, message);
        line.extend_from_slice(&fields);
        line.extend_from_slice(tail);

        let built = document.call1((
            index,
            &found.id,
            &found.timestamp,
            log_group,
            stream,
            PyBytes::new(py, &line),
        ))?;
        documents.append(built)?;
    }
    Ok(empty_messages)
}

#[pymodule]
fn _hotpath(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(encode_events, module)?)?;
    module.add("MAX_TIMESTAMP_MS", MAX_TIMESTAMP_MS)?;
    module.add("MAX_MESSAGE_BYTES", MAX_MESSAGE_BYTES)?;
    Ok(())
}
