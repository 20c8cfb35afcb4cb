//! An incremental parser for server-sent events (`text/event-stream`), the format LLM APIs
//! stream their answers in.
//!
//! Feed it the body's bytes as they arrive, in pieces of any size (a line, or a UTF-8
//! character, may be split across pieces); it hands back each event once its closing blank
//! line has arrived.
//!
//! ```
//! use abstractgateway_sdk::sse::SseParser;
//!
//! let mut parser = SseParser::new();
//! assert!(parser.push(b"event: delta\ndata: {\"text\":").is_empty());
//! let events = parser.push(b"\"Hi\"}\n\n");
//! assert_eq!(events[0].event.as_deref(), Some("delta"));
//! assert_eq!(events[0].data, "{\"text\":\"Hi\"}");
//! ```

/// One event: its `event:` name (when the server named it) and its `data:` lines joined with
/// `\n`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, when present.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The `id:` field, when present.
    pub id: Option<String>,
}

/// The parser's state between pieces of the body.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of a line not yet ended.
    line: Vec<u8>,
    /// A `\r` ended the last line; a `\n` right after it belongs to the same line end.
    after_cr: bool,
    /// The first line has not been seen yet (a leading BOM is dropped).
    started: bool,
    event: Option<String>,
    data: Option<String>,
    id: Option<String>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next piece of the body; answers the events it completed, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &byte in bytes {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&line) {
                        events.push(event);
                    }
                }
                _ => self.line.push(byte),
            }
        }
        events
    }

    /// The body ended: answers the last event if the server did not close it with a blank
    /// line (a lenient reading; a strict one would drop it).
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            if let Some(event) = self.line_done(&line) {
                events.push(event);
            }
        }
        if let Some(event) = self.dispatch() {
            events.push(event);
        }
        events
    }

    fn line_done(&mut self, line: &[u8]) -> Option<SseEvent> {
        let mut line = String::from_utf8_lossy(line).into_owned();
        if !self.started {
            self.started = true;
            if let Some(rest) = line.strip_prefix('\u{feff}') {
                line = rest.to_owned();
            }
        }
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None; // a comment, e.g. `: keep-alive` or OpenRouter's `: OPENROUTER PROCESSING`
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "id" => self.id = Some(value.to_owned()),
            _ => {} // `retry` and unknown fields
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let id = self.id.take();
        // An event without data is not dispatched (the SSE rules).
        let data = self.data.take()?;
        Some(SseEvent { event, data, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn parses_events_split_anywhere() {
        let body = "event: a\ndata: one\n\ndata: two\ndata: lines\n\n: comment\n\ndata:three\n\n";
        let whole = SseParser::new().push(body.as_bytes());
        assert_eq!(data(&whole), ["one", "two\nlines", "three"]);
        assert_eq!(whole[0].event.as_deref(), Some("a"));
        assert_eq!(whole[1].event, None);
        // One byte at a time gives the same events.
        let mut parser = SseParser::new();
        let bytewise: Vec<SseEvent> = body.as_bytes().iter().flat_map(|b| parser.push(&[*b])).collect();
        assert_eq!(bytewise, whole);
    }

    #[test]
    fn handles_crlf_cr_bom_and_split_utf8() {
        let mut parser = SseParser::new();
        let body = "\u{feff}data: h\u{e9}llo\r\n\r\ndata: x\r\rdata: y\n\n".as_bytes();
        let (a, b) = body.split_at(9); // inside the two bytes of `é`
        let mut events = parser.push(a);
        events.extend(parser.push(b));
        assert_eq!(data(&events), ["h\u{e9}llo", "x", "y"]);
    }

    #[test]
    fn finish_flushes_an_unterminated_event() {
        let mut parser = SseParser::new();
        assert!(parser.push(b"data: [DONE]").is_empty());
        assert_eq!(data(&parser.finish()), ["[DONE]"]);
        let mut parser = SseParser::new();
        assert!(parser.push(b"event: ping\n\n").is_empty(), "no data, no event");
        assert!(parser.finish().is_empty());
    }
}
