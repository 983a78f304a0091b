//! MCP `tools/list` results, narrowed to the tools the token may call: a token with
//! `mcp tool in ...` caveats refuses calls to other tools ([`caveat::mcp`]), and the agent
//! should not plan with tools it cannot use, so they are removed from the list it sees.
//!
//! Only a response to a request that held a `tools/list` is touched, and in it only a
//! JSON-RPC result for one of those requests' ids with a `result.tools` array: in a JSON body
//! (read whole, at most [`MAX`] bytes) or in each event of a server-sent event stream (the
//! Streamable HTTP transport), whose other events flow on as they come. A rewritten message
//! is serialized anew (what the client reads is exactly what was filtered), so the body's
//! length changes: `Content-Length` is removed and the body is re-framed. The secret
//! scrubber runs on the output, after this filter. A result that cannot be read as JSON
//! breaks the body off rather than show tools unfiltered.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::HeaderMap;
use hyper::body::Frame;
use serde_json::Value;

use crate::http::{Body, BodyError};

/// The most the filter holds of a JSON body, or of one event of a stream.
pub const MAX: usize = 16 * 1024 * 1024;

/// What a `tools/list` response may show, and which request ids asked for one.
#[derive(Debug)]
pub struct ToolsFilter {
    allowed: Vec<String>,
    ids: Vec<Value>,
}

impl ToolsFilter {
    /// The filter for a request whose (checked) JSON-RPC `body` holds `tools/list` requests;
    /// `None` when it holds none (nothing to narrow).
    pub fn for_request(allowed: Vec<String>, body: &[u8]) -> Option<ToolsFilter> {
        let parsed: Value = serde_json::from_slice(body).ok()?;
        let messages = match &parsed {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        let ids: Vec<Value> = messages
            .into_iter()
            .filter(|m| m.get("method").and_then(Value::as_str) == Some(caveat::mcp::TOOLS_LIST))
            .filter_map(|m| m.get("id").cloned())
            .collect();
        (!ids.is_empty()).then_some(ToolsFilter { allowed, ids })
    }

    /// Wraps a response body when it is one to narrow (a 2xx JSON or event-stream response),
    /// dropping its `Content-Length`; any other body is returned as it was.
    pub fn wrap(self: Box<Self>, status: http::StatusCode, headers: &mut HeaderMap, body: Body) -> Body {
        let ct = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mode = if ct.starts_with("text/event-stream") {
            Mode::Events
        } else if ct.contains("json") {
            Mode::Json
        } else {
            return body;
        };
        if !status.is_success() {
            return body;
        }
        headers.remove(CONTENT_LENGTH);
        use http_body_util::BodyExt;
        ToolsBody {
            inner: body,
            filter: self,
            mode,
            buf: Vec::new(),
            scan: Scan::default(),
            done: false,
        }
        .boxed()
    }

    /// The JSON-RPC message or batch `text` with disallowed tools removed from results for our
    /// ids; `None` when nothing in it is such a result (then it goes on as it came).
    pub fn rewrite(&self, text: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let mut v: Value = serde_json::from_slice(text)
            .map_err(|e| format!("a tools/list response is not JSON the proxy can read ({e})"))?;
        let mut matched = false;
        match &mut v {
            Value::Array(items) => {
                for m in items {
                    matched |= self.narrow(m);
                }
            }
            m => matched = self.narrow(m),
        }
        if !matched {
            return Ok(None);
        }
        serde_json::to_vec(&v)
            .map(Some)
            .map_err(|e| format!("the narrowed tools/list could not be written ({e})"))
    }

    /// Narrows one message if it is a result for a `tools/list` id; true if it was one.
    fn narrow(&self, m: &mut Value) -> bool {
        let ours = m.get("id").is_some_and(|id| self.ids.contains(id));
        let Some(tools) = m
            .get_mut("result")
            .and_then(|r| r.get_mut("tools"))
            .and_then(Value::as_array_mut)
            .filter(|_| ours)
        else {
            return false;
        };
        tools.retain(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| self.allowed.iter().any(|a| a == n))
        });
        true
    }
}

/// The id of a JSON-RPC body that is one request (an object with a `method` and an `id`).
pub fn request_id(body: &[u8]) -> Option<Value> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("method")?;
    v.get("id").cloned()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A JSON body, read whole.
    Json,
    /// Server-sent events, one event at a time.
    Events,
}

/// Where the search for the end of the event being held stands.
#[derive(Default)]
struct Scan {
    /// Bytes of the held buffer already looked at.
    at: usize,
    /// Where the current line starts.
    line: usize,
}

/// A response body with `tools/list` results narrowed.
struct ToolsBody {
    inner: Body,
    filter: Box<ToolsFilter>,
    mode: Mode,
    buf: Vec<u8>,
    scan: Scan,
    done: bool,
}

impl ToolsBody {
    /// The complete events held, rewritten where they are tools/list results.
    fn events(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        while let Some(end) = event_end(&self.buf, &mut self.scan) {
            let event: Vec<u8> = self.buf.drain(..end).collect();
            self.scan = Scan::default();
            out.extend(self.event(&event)?);
        }
        if self.buf.len() > MAX {
            return Err(format!("an event of the stream is over {MAX} bytes"));
        }
        Ok(out)
    }

    /// One event (with its blank line), rewritten if its data is a tools/list result.
    fn event(&self, event: &[u8]) -> Result<Vec<u8>, String> {
        let text = String::from_utf8_lossy(event);
        let lines: Vec<&str> = text.split(['\n', '\r']).filter(|l| !l.is_empty()).collect();
        let data: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        let joined = data.join("\n");
        if joined.trim().is_empty() {
            return Ok(event.to_vec());
        }
        let Some(json) = self.filter.rewrite(joined.as_bytes())? else {
            return Ok(event.to_vec());
        };
        let mut out = Vec::new();
        let mut wrote = false;
        for l in lines {
            if l.starts_with("data:") {
                if !wrote {
                    out.extend_from_slice(b"data: ");
                    out.extend_from_slice(&json);
                    out.push(b'\n');
                    wrote = true;
                }
            } else {
                out.extend_from_slice(l.as_bytes());
                out.push(b'\n');
            }
        }
        out.push(b'\n');
        Ok(out)
    }

    /// What is left at the end of the body.
    fn finish(&mut self) -> Result<Vec<u8>, String> {
        let rest = std::mem::take(&mut self.buf);
        match self.mode {
            Mode::Events => Ok(rest),
            Mode::Json => Ok(self.filter.rewrite(&rest)?.unwrap_or(rest)),
        }
    }
}

/// The end (just past the blank line) of the first complete event in `b`, resuming the scan
/// where it stopped. Lines end with CRLF, LF or CR; a CR at the very end waits for more.
fn event_end(b: &[u8], scan: &mut Scan) -> Option<usize> {
    while scan.at < b.len() {
        let c = b[scan.at];
        if c != b'\n' && c != b'\r' {
            scan.at += 1;
            continue;
        }
        let eol = match (c, b.get(scan.at + 1)) {
            (b'\r', None) => return None,
            (b'\r', Some(b'\n')) => 2,
            _ => 1,
        };
        let empty = scan.at == scan.line;
        scan.at += eol;
        scan.line = scan.at;
        if empty {
            return Some(scan.at);
        }
    }
    None
}

impl hyper::body::Body for ToolsBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    // Trailers are dropped: the body is re-framed.
                    let Ok(data) = frame.into_data() else { continue };
                    self.buf.extend_from_slice(&data);
                    match self.mode {
                        Mode::Json if self.buf.len() > MAX => {
                            self.done = true;
                            return Poll::Ready(Some(Err(format!(
                                "a tools/list response is over {MAX} bytes, too large to narrow"
                            )
                            .into())));
                        }
                        Mode::Json => {}
                        Mode::Events => match self.events() {
                            Ok(out) if out.is_empty() => {}
                            Ok(out) => return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out))))),
                            Err(e) => {
                                self.done = true;
                                return Poll::Ready(Some(Err(e.into())));
                            }
                        },
                    }
                }
                Poll::Ready(None) => {
                    self.done = true;
                    return match self.finish() {
                        Ok(out) if out.is_empty() => Poll::Ready(None),
                        Ok(out) => Poll::Ready(Some(Ok(Frame::data(Bytes::from(out))))),
                        Err(e) => Poll::Ready(Some(Err(e.into()))),
                    };
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn filter() -> Box<ToolsFilter> {
        let req = br#"[{"jsonrpc":"2.0","id":7,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/initialized"}]"#;
        Box::new(
            ToolsFilter::for_request(vec!["get_issue".into(), "list_issues".into()], req)
                .expect("a tools/list"),
        )
    }

    const RESULT: &str = r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"get_issue","inputSchema":{}},{"name":"delete_repository","inputSchema":{}},{"name":"list_issues"},{"title":"no name"}]}}"#;

    fn names(json: &[u8]) -> Vec<String> {
        let v: Value = serde_json::from_slice(json).expect("json");
        v["result"]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .map(|t| t["name"].as_str().unwrap_or("").to_string())
            .collect()
    }

    async fn through(ct: &str, chunks: Vec<&'static [u8]>) -> (HeaderMap, Result<Bytes, BodyError>) {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, ct.parse().expect("ct"));
        headers.insert(CONTENT_LENGTH, "999".parse().expect("cl"));
        let frames: Vec<Result<Frame<Bytes>, BodyError>> = chunks
            .into_iter()
            .map(|c| Ok(Frame::data(Bytes::from_static(c))))
            .collect();
        let inner = http_body_util::StreamBody::new(Stream(frames.into())).boxed();
        let body = filter().wrap(http::StatusCode::OK, &mut headers, inner);
        let out = body.collect().await.map(|c| c.to_bytes());
        (headers, out)
    }

    struct Stream(std::collections::VecDeque<Result<Frame<Bytes>, BodyError>>);
    impl futures_core::Stream for Stream {
        type Item = Result<Frame<Bytes>, BodyError>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.pop_front())
        }
    }

    #[test]
    fn only_requests_with_a_tools_list_are_filtered() {
        assert!(
            ToolsFilter::for_request(vec![], br#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#).is_none()
        );
        assert!(ToolsFilter::for_request(vec![], br#"{"jsonrpc":"2.0","method":"tools/list"}"#).is_none());
        let f = filter();
        // Another id's result, or a result without tools, goes on as it came.
        assert_eq!(
            f.rewrite(br#"{"jsonrpc":"2.0","id":8,"result":{"tools":[]}}"#),
            Ok(None)
        );
        assert_eq!(
            f.rewrite(br#"{"jsonrpc":"2.0","id":7,"error":{"code":1}}"#),
            Ok(None)
        );
    }

    #[tokio::test]
    async fn a_json_result_loses_the_tools_the_token_cannot_call() {
        let (headers, out) = through(
            "application/json",
            vec![&RESULT.as_bytes()[..40], &RESULT.as_bytes()[40..]],
        )
        .await;
        assert!(headers.get(CONTENT_LENGTH).is_none(), "the length changed");
        assert_eq!(names(&out.expect("body")), ["get_issue", "list_issues"]);
    }

    #[tokio::test]
    async fn a_batch_result_is_narrowed_too() {
        let batch: &'static str = Box::leak(
            format!("[{RESULT},{{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{{}}}}]").into_boxed_str(),
        );
        let (_, out) = through("application/json", vec![batch.as_bytes()]).await;
        let v: Value = serde_json::from_slice(&out.expect("body")).expect("json");
        assert_eq!(v[0]["result"]["tools"].as_array().map(Vec::len), Some(2));
        assert_eq!(v[1]["id"], 9);
    }

    #[tokio::test]
    async fn events_are_narrowed_one_by_one_however_the_stream_is_cut() {
        let stream: &'static str = Box::leak(
            format!(": ping\r\n\r\nid: 1\r\nevent: message\r\ndata: {RESULT}\r\n\r\nevent: message\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}}\n\n")
                .into_boxed_str(),
        );
        let bytes = stream.as_bytes();
        for cut in [1, 13, 40, 200, bytes.len() - 3] {
            let (headers, out) = through("text/event-stream", vec![&bytes[..cut], &bytes[cut..]]).await;
            assert!(headers.get(CONTENT_LENGTH).is_none());
            let out = String::from_utf8(out.expect("body").to_vec()).expect("utf8");
            assert!(
                out.starts_with(": ping\r\n\r\nid: 1\nevent: message\ndata: {"),
                "{cut}: {out}"
            );
            let data = out
                .lines()
                .find(|l| l.contains("tools"))
                .and_then(|l| l.strip_prefix("data: "))
                .expect("data");
            assert_eq!(names(data.as_bytes()), ["get_issue", "list_issues"], "{cut}");
            assert!(!out.contains("delete_repository"));
            assert!(
                out.ends_with(
                    "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n"
                ),
                "{out}"
            );
        }
    }

    #[tokio::test]
    async fn an_unreadable_result_breaks_the_body_off() {
        let (_, out) = through("application/json", vec![b"{\"result\":{\"tools\":[NaN]}"]).await;
        assert!(out.is_err());
        let (_, out) = through("text/event-stream", vec![b"data: {\"tools\": nope\n\n"]).await;
        assert!(out.is_err());
    }

    #[tokio::test]
    async fn other_bodies_are_left_alone() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, "text/plain".parse().expect("ct"));
        headers.insert(CONTENT_LENGTH, "3".parse().expect("cl"));
        let body = filter().wrap(http::StatusCode::OK, &mut headers, crate::http::full("abc"));
        assert_eq!(headers[CONTENT_LENGTH], "3");
        assert_eq!(body.collect().await.expect("body").to_bytes(), "abc");
    }
}
