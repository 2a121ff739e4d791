//! The real `moltsearch serve` on an ephemeral port, with the real model and
//! a temp data folder, and a small HTTP client for it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_moltsearch");

/// A running server.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its data folder.
    pub dir: PathBuf,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `moltsearch serve` on `dir` with `args`, waiting until it listens.
    pub fn start(dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--data-dir")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info,tantivy=warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("moltsearch serve starts");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("stderr piped");
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("moltsearch listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start:\n{}", log.lock().unwrap());
            }
        };
        // stdout and stderr are read by two threads: wait until stderr has
        // the server's own "listening" line too, so every line it logged
        // while starting is in `log()` when this returns.
        let start = Instant::now();
        while !log.lock().unwrap().contains("listening")
            && start.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        Server {
            child: Some(child),
            url,
            dir: dir.to_path_buf(),
            log,
        }
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends `signal` (`TERM`, `INT`, `KILL`) to the server.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{signal} failed");
    }

    /// Waits for the process to exit, at most `within`.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(
                start.elapsed() < within,
                "server still running after {within:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal("TERM");
        self.wait(Duration::from_secs(60))
    }

    /// SIGKILL, then wait.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A client with `key`.
    pub fn api(&self, key: &str) -> Api {
        Api::new(&self.url, Some(key))
    }

    /// A client with no key.
    pub fn anonymous(&self) -> Api {
        Api::new(&self.url, None)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `moltsearch keys create --team team [--read-only] --json` on `dir`: the key.
pub fn create_key(dir: &Path, team: &str, read_only: bool) -> String {
    keys_create(team, read_only, &["--data-dir".as_ref(), dir.as_os_str()])
}

/// `moltsearch keys create --team team [--read-only] --json` on the
/// database at `url`: the key.
pub fn create_key_db(url: &str, team: &str, read_only: bool) -> String {
    keys_create(team, read_only, &["--database-url".as_ref(), url.as_ref()])
}

/// `keys create` with `target` (where the keys live): the key printed.
fn keys_create(team: &str, read_only: bool, target: &[&std::ffi::OsStr]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(["keys", "create", "--team", team, "--json"])
        .args(target);
    if read_only {
        cmd.arg("--read-only");
    }
    let out = cmd.output().expect("keys create runs");
    assert!(
        out.status.success(),
        "keys create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("keys create --json prints JSON");
    v["key"].as_str().expect("a key").to_string()
}

/// An answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Requires `status`, showing the body otherwise.
    #[track_caller]
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(self.status, status, "body: {}", self.text);
        self
    }

    /// Requires a problem+json body with `status`, returning it.
    #[track_caller]
    pub fn problem(self, status: u16) -> Value {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(
            self.content_type, "application/problem+json",
            "{}",
            self.text
        );
        for field in ["type", "title", "status", "detail", "instance", "requestId"] {
            assert!(
                !self.body[field].is_null(),
                "problem lacks {field}: {}",
                self.text
            );
        }
        assert_eq!(self.body["status"], status);
        self.body
    }
}

/// A blocking HTTP client.
pub struct Api {
    agent: ureq::Agent,
    base: String,
    key: Option<String>,
}

impl Api {
    pub fn new(base: &str, key: Option<&str>) -> Api {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Api {
            agent,
            base: base.to_string(),
            key: key.map(str::to_string),
        }
    }

    fn reply(res: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut res = res.expect("HTTP request");
        let status = res.status().as_u16();
        let headers: Vec<(String, String)> = res
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = res
            .body_mut()
            .with_config()
            .limit(512 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            text,
            content_type,
            headers,
        }
    }

    fn auth<B>(&self, r: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.key {
            Some(k) => r.header("Authorization", format!("Bearer {k}")),
            None => r,
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        Self::reply(
            self.auth(self.agent.get(format!("{}{path}", self.base)))
                .call(),
        )
    }

    pub fn delete(&self, path: &str) -> Reply {
        Self::reply(
            self.auth(self.agent.delete(format!("{}{path}", self.base)))
                .call(),
        )
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        Self::reply(
            self.auth(self.agent.post(format!("{}{path}", self.base)))
                .send_json(body),
        )
    }

    pub fn patch(&self, path: &str, body: &Value) -> Reply {
        Self::reply(
            self.auth(self.agent.patch(format!("{}{path}", self.base)))
                .send_json(body),
        )
    }

    /// A request with a raw body and content type, and extra headers.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", content_type);
        if let Some(k) = &self.key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body.to_vec()).expect("request");
        Self::reply(self.agent.run(req))
    }

    /// Creates a diary; its id.
    pub fn diary(&self, name: &str, visibility: &str) -> String {
        let r = self
            .post(
                "/diaries",
                &serde_json::json!({"name": name, "visibility": visibility}),
            )
            .expect(201);
        r.body["id"].as_str().expect("diary id").to_string()
    }

    /// Creates an entry; the entry.
    pub fn entry(&self, diary: &str, body: Value) -> Value {
        self.post(&format!("/diaries/{diary}/entries"), &body)
            .expect(201)
            .body
    }

    /// Searches; the reply body.
    pub fn search(&self, body: Value) -> Value {
        self.post("/diaries/search", &body).expect(200).body
    }
}

/// The ids of a search answer's results.
pub fn ids(search: &Value) -> Vec<String> {
    search["results"]
        .as_array()
        .or_else(|| search["items"].as_array())
        .expect("results")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}
