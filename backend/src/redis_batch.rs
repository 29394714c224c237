//! Many calls of one Lua script in one Redis round trip. In a rush thousands of requests each
//! ask Redis one small script (the flash-sale gate's first look, a rate-limit token), and a
//! round trip costs the node about as much CPU as the rest of such a request. A
//! [`ScriptBatcher`] queues the calls and sends what queued meanwhile as one call of a wrapper
//! that runs the script's body once per call, in arrival order, and gives each caller its own
//! answer: the same atomic steps in the same order, one round trip (group commit, for Redis).
//! When nothing else is waiting a call goes alone, so a quiet node pays one channel hop.
//!
//! A batch only holds calls of one group (the caller's Redis Cluster hash tag), since one
//! script may only touch keys of one slot.

use std::{collections::HashMap, sync::Arc};

use redis::{aio::ConnectionManager, FromRedisValue, RedisError, RedisResult, Script, Value};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Calls in one round trip, at most.
const MAX_BATCH: usize = 512;
/// Batches on their way at once; more calls wait in the queue and make the next batch bigger.
const IN_FLIGHT: usize = 4;

/// The body of a script as a function of its own `KEYS` and `ARGV`, run once per call:
/// ARGV[1] the number of calls, then per call its number of keys, number of args and args.
/// Each answer is `{1, result}`, or `{0, message}` for a call that failed: it answers its own
/// error and the batch goes on (as separate scripts would: Redis undoes nothing a failed
/// script wrote before failing).
fn wrapper(body: &str) -> String {
    format!(
        "local function one(KEYS, ARGV)\n{body}\nend
local out = {{}}
local ki, ai = 1, 2
for i = 1, tonumber(ARGV[1]) do
  local nk, na = tonumber(ARGV[ai]), tonumber(ARGV[ai + 1])
  ai = ai + 2
  local k, a = {{}}, {{}}
  for j = 1, nk do k[j] = KEYS[ki]; ki = ki + 1 end
  for j = 1, na do a[j] = ARGV[ai]; ai = ai + 1 end
  local ok, r = pcall(one, k, a)
  if ok then out[i] = {{1, r}} else out[i] = {{0, tostring(r)}} end
end
return out
"
    )
}

struct Call {
    group: String,
    keys: Vec<String>,
    args: Vec<String>,
    reply: oneshot::Sender<RedisResult<Value>>,
}

/// One script's batcher (cheap to share: `Arc`).
pub struct ScriptBatcher {
    tx: mpsc::UnboundedSender<Call>,
}

impl ScriptBatcher {
    /// `body` must return a value on every path (a Lua table may not hold nil).
    pub fn new(conn: ConnectionManager, body: &str) -> ScriptBatcher {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, conn, Arc::new(Script::new(&wrapper(body)))));
        ScriptBatcher { tx }
    }

    /// Runs the script's body with these keys and args, in the batch of whatever else is
    /// waiting in the same `group`.
    pub async fn call<T: FromRedisValue>(
        &self,
        group: String,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> RedisResult<T> {
        let (reply, answer) = oneshot::channel();
        let call = Call {
            group,
            keys,
            args,
            reply,
        };
        if self.tx.send(call).is_err() {
            return Err(stopped());
        }
        let value = answer.await.unwrap_or_else(|_| Err(stopped()))?;
        Ok(redis::from_redis_value(value)?)
    }
}

fn stopped() -> RedisError {
    RedisError::from(std::io::Error::other("the script batcher stopped"))
}

async fn run(mut rx: mpsc::UnboundedReceiver<Call>, conn: ConnectionManager, script: Arc<Script>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut calls = vec![first];
        while calls.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(call) => calls.push(call),
                Err(_) => break,
            }
        }
        let mut groups: HashMap<String, Vec<Call>> = HashMap::new();
        for call in calls {
            groups.entry(call.group.clone()).or_default().push(call);
        }
        let (script, mut conn) = (script.clone(), conn.clone());
        tokio::spawn(async move {
            for (_, calls) in groups {
                send(&script, &mut conn, calls).await;
            }
            drop(slot);
        });
    }
}

async fn send(script: &Script, conn: &mut ConnectionManager, calls: Vec<Call>) {
    let mut invocation = script.prepare_invoke();
    invocation.arg(calls.len());
    for call in &calls {
        for key in &call.keys {
            invocation.key(key);
        }
        invocation.arg(call.keys.len()).arg(call.args.len());
        for arg in &call.args {
            invocation.arg(arg);
        }
    }
    let started = std::time::Instant::now();
    let answered = invocation.invoke_async::<Value>(conn).await;
    tracing::debug!(
        calls = calls.len(),
        ms = started.elapsed().as_millis() as u64,
        "script batch answered"
    );
    match answered {
        Ok(Value::Array(answers)) if answers.len() == calls.len() => {
            for (call, answer) in calls.into_iter().zip(answers) {
                let _ = call.reply.send(unwrap_answer(answer));
            }
        }
        Ok(other) => {
            let e = RedisError::from(std::io::Error::other(format!(
                "a batch of {} calls got {other:?}",
                calls.len()
            )));
            for call in calls {
                let _ = call.reply.send(Err(e.clone()));
            }
        }
        Err(e) => {
            for call in calls {
                let _ = call.reply.send(Err(e.clone()));
            }
        }
    }
}

/// `{1, result}` or `{0, message}` (see [`wrapper`]).
fn unwrap_answer(answer: Value) -> RedisResult<Value> {
    let Value::Array(mut parts) = answer else {
        return Err(RedisError::from(std::io::Error::other(format!(
            "not a batched answer: {answer:?}"
        ))));
    };
    let result = if parts.len() == 2 { parts.pop() } else { None };
    match (parts.first(), result) {
        (Some(Value::Int(1)), Some(result)) => Ok(result),
        (_, result) => {
            let message = match result {
                Some(Value::BulkString(b)) => String::from_utf8_lossy(&b).into_owned(),
                other => format!("{other:?}"),
            };
            Err(RedisError::from(std::io::Error::other(message)))
        }
    }
}
