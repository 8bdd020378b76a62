//! A Lambda Runtime API of our own, on 127.0.0.1, so the real `tracker` and `exporter`
//! binaries run as they do in Lambda: they long-poll `GET /2018-06-01/runtime/invocation/next`,
//! answer on `POST .../invocation/{id}/response` or `.../error`, and report a failed cold start
//! on `POST /2018-06-01/runtime/init/error`. `cargo lambda watch` does the same but builds the
//! function itself and needs the cargo-lambda tool; this stub needs nothing.
//!
//! It also times the cold start the way Lambda reports `Init Duration`: from the process's
//! start to its first `next` request.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Value, u64)>,
    answers: HashMap<String, Result<Value, Value>>,
    init_error: Option<Value>,
    first_next: Option<Instant>,
    next_id: u64,
}

/// The running stub.
pub struct RuntimeApi {
    pub addr: String,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl RuntimeApi {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("addr").to_string();
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let s = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        RuntimeApi { addr, state }
    }

    /// Queue one invocation with `timeout` until its deadline and wait (at most `wait`) for the
    /// function's answer: `Ok(response)` or `Err(error document)`.
    pub fn invoke(&self, event: Value, timeout: Duration, wait: Duration) -> Result<Value, Value> {
        let (lock, cv) = &*self.state;
        let id = {
            let mut st = lock.lock().expect("state");
            st.next_id += 1;
            let id = format!("req-{}", st.next_id);
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64
                + timeout.as_millis() as u64;
            st.queue.push_back((id.clone(), event, deadline));
            cv.notify_all();
            id
        };
        let end = Instant::now() + wait;
        let mut st = lock.lock().expect("state");
        loop {
            if let Some(a) = st.answers.remove(&id) {
                return a;
            }
            if let Some(e) = &st.init_error {
                return Err(e.clone());
            }
            let left = end.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "invocation {id} not answered within {wait:?}");
            st = cv.wait_timeout(st, left.min(Duration::from_millis(200))).expect("state").0;
        }
    }

    /// When the function first asked for work (its cold start ended).
    pub fn first_next(&self) -> Option<Instant> {
        self.state.0.lock().expect("state").first_next
    }

    /// Wait (at most `wait`) for the function to be ready or to report a failed cold start.
    pub fn wait_ready(&self, wait: Duration) -> Result<Instant, Value> {
        let (lock, cv) = &*self.state;
        let end = Instant::now() + wait;
        let mut st = lock.lock().expect("state");
        loop {
            if let Some(t) = st.first_next {
                return Ok(t);
            }
            if let Some(e) = &st.init_error {
                return Err(e.clone());
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Value::String(format!("not ready within {wait:?}")));
            }
            st = cv.wait_timeout(st, left.min(Duration::from_millis(100))).expect("state").0;
        }
    }
}

fn serve(conn: TcpStream, state: &Arc<(Mutex<State>, Condvar)>) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let (lock, cv) = &**state;
        let reply = if method == "GET" && path == "/2018-06-01/runtime/invocation/next" {
            let mut st = lock.lock().expect("state");
            st.first_next.get_or_insert_with(Instant::now);
            cv.notify_all();
            let (id, event, deadline) = loop {
                if let Some(job) = st.queue.pop_front() {
                    break job;
                }
                st = cv.wait_timeout(st, Duration::from_millis(200)).expect("state").0;
            };
            let payload = event.to_string();
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:test\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n\
                 Content-Length: {}\r\n\r\n{payload}",
                payload.len()
            )
        } else if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") {
            let mut st = lock.lock().expect("state");
            if let Some(id) = rest.strip_suffix("/response") {
                st.answers.insert(id.to_string(), Ok(body));
            } else if let Some(id) = rest.strip_suffix("/error") {
                st.answers.insert(id.to_string(), Err(body));
            }
            cv.notify_all();
            "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}".to_string()
        } else if path == "/2018-06-01/runtime/init/error" {
            let mut st = lock.lock().expect("state");
            st.init_error = Some(body);
            cv.notify_all();
            "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}".to_string()
        } else {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string()
        };
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
