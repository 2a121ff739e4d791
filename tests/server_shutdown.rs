//! Shutdown without loss: writers keep writing while the server gets
//! SIGTERM (clean exit 0) or SIGKILL; after a restart on the same folder
//! every write that was acknowledged (2xx) is there and searchable.

#[path = "common/server.rs"]
mod server;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use server::{create_key, Api, Server};

/// What the writers share: the acknowledged ids, their threads, the stop flag.
type Writers = (
    Arc<Mutex<Vec<String>>>,
    Vec<std::thread::JoinHandle<()>>,
    Arc<AtomicBool>,
);

/// Writers posting entries until the server stops answering; the ids it
/// acknowledged.
fn write_until_gone(s: &Server, key: &str, diary: &str, threads: usize) -> Writers {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let handles = (0..threads)
        .map(|t| {
            let (acked, stop) = (acked.clone(), stop.clone());
            let (url, key, diary) = (s.url.clone(), key.to_string(), diary.to_string());
            std::thread::spawn(move || {
                let api = Api::new(&url, Some(&key));
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let body = if i % 4 == 0 {
                        let entries: Vec<_> = (0..8)
                            .map(|j| json!({"content": format!("writer {t} batch {i} item {j} about shutdown")}))
                            .collect();
                        (format!("/diaries/{diary}/entries:batch"), json!({"entries": entries}))
                    } else {
                        (format!("/diaries/{diary}/entries"), json!({"content": format!("writer {t} entry {i} about shutdown")}))
                    };
                    let agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .timeout_global(Some(Duration::from_secs(30)))
                        .build();
                    let agent: ureq::Agent = agent.into();
                    let res = agent
                        .post(format!("{url}{}", body.0))
                        .header("Authorization", format!("Bearer {key}"))
                        .send_json(&body.1);
                    let Ok(mut res) = res else {
                        // Connection refused or reset: the server is gone.
                        break;
                    };
                    if res.status().as_u16() != 201 {
                        continue;
                    }
                    let v: serde_json::Value = res.body_mut().read_json().unwrap();
                    let mut a = acked.lock().unwrap();
                    match v["items"].as_array() {
                        Some(items) => a.extend(items.iter().map(|e| e["id"].as_str().unwrap().to_string())),
                        None => a.push(v["id"].as_str().unwrap().to_string()),
                    }
                }
                drop(api);
            })
        })
        .collect();
    (acked, handles, stop)
}

fn acknowledged_writes_survive(signal: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let key = create_key(tmp.path(), "theta", false);
    let mut s = Server::start(tmp.path(), &["--write-rate", "0"]);
    let d = s.api(&key).diary("durable", "private");
    let (acked, handles, stop) = write_until_gone(&s, &key, &d, 3);
    // Let writes flow, then signal mid-stream.
    let start = std::time::Instant::now();
    while acked.lock().unwrap().len() < 40 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    s.signal(signal);
    let status = s.wait(Duration::from_secs(60));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let log = s.log();
    if signal == "TERM" {
        assert!(status.success(), "SIGTERM exits 0: {status:?}\n{log}");
        assert!(log.contains("stopped cleanly"), "{log}");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 40, "{}", acked.len());

    let s = Server::start(tmp.path(), &[]);
    let api = s.api(&key);
    let total = api
        .get(&format!("/diaries/{d}/entries?limit=1"))
        .expect(200)
        .body["total"]
        .as_u64()
        .unwrap();
    assert!(total >= acked.len() as u64, "{total} < {}", acked.len());
    for id in &acked {
        api.get(&format!("/entries/{id}")).expect(200);
    }
    // And they are searchable (text and vector indexes caught up).
    let found = api.search(json!({"query": "shutdown", "diaryId": d, "limit": 100}));
    assert!(
        found["total"].as_u64().unwrap() >= 100.min(acked.len() as u64),
        "{found}"
    );
}

#[test]
fn sigterm_finishes_in_flight_writes_and_exits_zero() {
    acknowledged_writes_survive("TERM");
}

#[test]
fn sigkill_loses_no_acknowledged_write() {
    acknowledged_writes_survive("KILL");
}

#[test]
fn a_second_signal_exits_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let key = create_key(tmp.path(), "iota", false);
    let mut s = Server::start(tmp.path(), &["--shutdown-timeout", "120"]);
    let d = s.api(&key).diary("slow", "private");
    // A long batch in flight keeps the first shutdown waiting.
    let url = s.url.clone();
    let k = key.clone();
    let diary = d.clone();
    let slow = std::thread::spawn(move || {
        let entries: Vec<_> = (0..1000)
            .map(|i| json!({"content": format!("a passage long enough to take the model a while, number {i}, with more words to embed")}))
            .collect();
        Api::new(&url, Some(&k)).post(
            &format!("/diaries/{d}/entries:batch"),
            &json!({"entries": entries}),
        )
    });
    std::thread::sleep(Duration::from_millis(700));
    s.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    s.signal("TERM");
    let start = std::time::Instant::now();
    let status = s.wait(Duration::from_secs(10));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(status.code(), Some(130), "{status:?}\n{}", s.log());
    let _ = slow.join();
    // The folder opens again (the unacknowledged batch is all there or absent).
    let s = Server::start(tmp.path(), &[]);
    let total = s
        .api(&key)
        .get(&format!("/diaries/{diary}/entries?limit=1"))
        .expect(200)
        .body["total"]
        .as_u64()
        .unwrap();
    assert!(total == 0 || total == 1000, "all or nothing: {total}");
}
