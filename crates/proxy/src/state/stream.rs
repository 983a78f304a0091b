//! The team's audit stream (`--state`): every replica appends the audit lines it writes
//! to one capped Redis stream, so any replica's console (`/api/events`) shows the whole
//! team's traffic, not only its own.

use std::time::Duration;

use bytes::Bytes;

use super::store::{RedisState, Unavailable};

/// The stream's key.
pub const STREAM: &str = "macaroon:audit";
/// About this many events are kept (Redis trims whole nodes: `MAXLEN ~`).
pub const STREAM_MAX: usize = 10_000;

/// One event read back: its stream id and the audit line.
pub type Event = (String, Bytes);

impl RedisState {
    /// Appends `lines` (this replica's, in order) in one round trip.
    pub async fn audit_append(&self, lines: &[Bytes]) -> Result<(), Unavailable> {
        let mut pipe = redis::pipe();
        for l in lines {
            pipe.cmd("XADD")
                .arg(STREAM)
                .arg("MAXLEN")
                .arg("~")
                .arg(STREAM_MAX)
                .arg("*")
                .arg("line")
                .arg(l.as_ref())
                .ignore();
        }
        // As every command: a connection a store restart broke is replaced once, rather
        // than reported as the store being down (which would refuse counted requests).
        let mut con = self.connection()?;
        match self.timed(pipe.query_async::<()>(&mut con)).await {
            Err(super::store::Attempt::Stale(_)) => {
                let mut con = self.fresh()?;
                self.bounded(pipe.query_async::<()>(&mut con)).await
            }
            first => self.observe(first.map_err(super::store::Attempt::detail)),
        }
    }

    /// The last `n` events, oldest first.
    pub async fn audit_recent(&self, n: usize) -> Result<Vec<Event>, Unavailable> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let reply: redis::Value = self
            .query(
                redis::cmd("XREVRANGE")
                    .arg(STREAM)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(n),
            )
            .await?;
        let mut events = entries(reply);
        events.reverse();
        Ok(events)
    }

    /// A connection of its own for a reader that waits on the stream (a blocking read
    /// would hold up every other command on the shared connection).
    pub async fn audit_reader(&self) -> Result<redis::aio::MultiplexedConnection, Unavailable> {
        self.client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| Unavailable {
                store: self.shown.clone(),
                detail: e.to_string(),
            })
    }
}

/// The events after `last` (`$` for only new ones), waiting at most `block`.
pub async fn read_after(
    con: &mut redis::aio::MultiplexedConnection,
    last: &str,
    block: Duration,
) -> redis::RedisResult<Vec<Event>> {
    let reply: redis::Value = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(500)
        .arg("BLOCK")
        .arg(block.as_millis() as u64)
        .arg("STREAMS")
        .arg(STREAM)
        .arg(last)
        .query_async(con)
        .await?;
    // [[stream, [entries...]]] or nil on timeout.
    let redis::Value::Array(streams) = reply else {
        return Ok(Vec::new());
    };
    Ok(streams
        .into_iter()
        .filter_map(|s| match s {
            redis::Value::Array(mut kv) if kv.len() == 2 => kv.pop(),
            _ => None,
        })
        .flat_map(entries)
        .collect())
}

/// `[[id, [field, value, ...]], ...]` as (id, the `line` field).
fn entries(v: redis::Value) -> Vec<Event> {
    let redis::Value::Array(items) = v else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let redis::Value::Array(mut pair) = item else {
                return None;
            };
            if pair.len() != 2 {
                return None;
            }
            let fields = pair.pop()?;
            let id = match pair.pop()? {
                redis::Value::BulkString(b) => String::from_utf8(b).ok()?,
                redis::Value::SimpleString(s) => s,
                _ => return None,
            };
            let redis::Value::Array(fields) = fields else {
                return None;
            };
            let mut it = fields.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                if matches!(&k, redis::Value::BulkString(b) if b == b"line") {
                    if let redis::Value::BulkString(line) = v {
                        return Some((id, Bytes::from(line)));
                    }
                }
            }
            None
        })
        .collect()
}
