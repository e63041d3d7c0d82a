//! Server-sent events: turns arbitrary byte chunks into complete `data` payloads.

/// Accumulates bytes and yields each event's `data` (multi-line data joined with `\n`).
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    pending: Vec<u8>,
    data_lines: Vec<String>,
}

impl SseDecoder {
    /// Feeds bytes; returns the data of every event completed by them.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(newline) = self.pending.iter().position(|&byte| byte == b'\n') {
            let raw: Vec<u8> = self.pending.drain(..=newline).collect();
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data_lines.is_empty() {
                    events.push(self.data_lines.join("\n"));
                    self.data_lines.clear();
                }
            } else if let Some(data) = line.strip_prefix("data:") {
                self.data_lines.push(data.strip_prefix(' ').unwrap_or(data).to_string());
            }
            // Comments (`:`), `event:`, `id:` and `retry:` lines carry nothing the chat API uses.
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_are_reassembled() {
        let mut decoder = SseDecoder::default();
        assert!(decoder.push(b"data: {\"a\":").is_empty());
        assert_eq!(decoder.push(b"1}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n"), vec!["{\"a\":1}", "[DONE]"]);
    }

    #[test]
    fn multi_line_data_is_joined() {
        let mut decoder = SseDecoder::default();
        assert_eq!(decoder.push(b"event: x\ndata: one\ndata:two\n\n"), vec!["one\ntwo"]);
    }
}
