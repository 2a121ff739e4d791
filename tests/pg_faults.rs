//! Faults with Postgres as the source of truth: a server SIGKILLed during
//! batch ingest, and Postgres stopped and restarted under traffic.

#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/server.rs"]
mod server;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use server::{create_key_db, Api, Server};

const BATCH: usize = 25;

fn start(dir: &std::path::Path, url: &str) -> Server {
    Server::start(
        dir,
        &[
            "--database-url",
            url,
            "--write-rate",
            "0",
            "--search-rate",
            "0",
        ],
    )
}

fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn sigkill_during_batch_ingest_loses_no_acknowledged_entry_and_leaves_no_half_batch() {
    let pg = postgres::shared();
    let url = pg.database();
    let db = postgres::db_name(&url).to_string();
    let key = create_key_db(&url, "acme", false);
    let tmp = tempfile::tempdir().unwrap();
    let mut s = start(tmp.path(), &url);
    let diary = s.api(&key).diary("ingest", "private");
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let (acked, stop) = (acked.clone(), stop.clone());
            let (url, key, diary) = (s.url.clone(), key.clone(), diary.clone());
            std::thread::spawn(move || {
                let api = Api::new(&url, Some(&key));
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let entries: Vec<_> = (0..BATCH)
                        .map(|j| json!({"content": format!("batch {t}-{i} item {j}: ingest under a kill")}))
                        .collect();
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        api.post(&format!("/diaries/{diary}/entries:batch"), &json!({"entries": entries}))
                    }));
                    match r {
                        Ok(r) if r.status == 201 => {
                            let items = r.body["items"].as_array().unwrap();
                            acked.lock().unwrap().extend(items.iter().map(|e| e["id"].as_str().unwrap().to_string()));
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    assert!(eventually(Duration::from_secs(60), || acked
        .lock()
        .unwrap()
        .len()
        >= 6 * BATCH));
    s.kill();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.join();
    }
    let acked = acked.lock().unwrap().clone();

    // Postgres holds every acknowledged entry, and whole batches only.
    let rows = pg.psql(&db, "SELECT id, content FROM diary_entries");
    let mut by_batch: HashMap<String, usize> = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    for line in rows.lines() {
        let (id, content) = line.split_once('|').unwrap();
        ids.insert(id.to_string());
        let batch = content.split(" item ").next().unwrap().to_string();
        *by_batch.entry(batch).or_default() += 1;
    }
    for id in &acked {
        assert!(
            ids.contains(id),
            "acknowledged entry {id} missing from Postgres"
        );
    }
    for (batch, n) in &by_batch {
        assert_eq!(*n, BATCH, "{batch} is half-present");
    }

    // After a restart on the same cache, the server holds exactly the rows.
    let s = start(tmp.path(), &url);
    let api = s.api(&key);
    let total = api
        .get(&format!("/diaries/{diary}/entries?limit=1"))
        .expect(200)
        .body["total"]
        .as_u64()
        .unwrap();
    assert_eq!(total as usize, ids.len());
    for id in &acked {
        api.get(&format!("/entries/{id}")).expect(200);
    }
    let found = api.search(json!({"query": "ingest under a kill", "diaryId": diary, "limit": 50}));
    assert_eq!(server::ids(&found).len(), 50);
}

#[test]
fn postgres_stopped_and_restarted_under_traffic() {
    // Its own cluster: stopping the shared one would break other tests.
    let pg = postgres::Cluster::start();
    let url = pg.database();
    let key = create_key_db(&url, "acme", false);
    let (ta, tb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Server::start(
        ta.path(),
        &[
            "--database-url",
            &url,
            "--write-rate",
            "0",
            "--db-acquire-timeout",
            "1",
        ],
    );
    let b = start(tb.path(), &url);
    let (api_a, api_b) = (a.api(&key), b.api(&key));
    let diary = api_a.diary("outage", "private");
    for i in 0..5 {
        api_a.entry(
            &diary,
            json!({"content": format!("before the outage {i}: swifts sleep on the wing")}),
        );
    }

    pg.stop();
    // Searches keep answering from the local index and say how old it is.
    let r = api_a.post(
        "/diaries/search",
        &json!({"query": "swifts", "diaryId": diary}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(server::ids(&r.body).len(), 5);
    assert!(r.header("x-moltsearch-applied-seq").is_some());
    // Writes answer 503 problem+json with Retry-After, nothing half-written.
    let w = api_a.post(
        &format!("/diaries/{diary}/entries"),
        &json!({"content": "during the outage"}),
    );
    assert_eq!(w.status, 503, "{}", w.text);
    assert!(w.header("retry-after").is_some());
    assert_eq!(w.content_type, "application/problem+json");
    let ready = Api::new(&a.url, None).get("/health/ready");
    assert_eq!(ready.status, 503);
    assert_eq!(
        ready.body["components"]["database"]["status"], "down",
        "{}",
        ready.text
    );
    std::thread::sleep(Duration::from_secs(1));
    let older: u64 = api_a
        .post(
            "/diaries/search",
            &json!({"query": "swifts", "diaryId": diary}),
        )
        .header("x-moltsearch-index-age-ms")
        .expect("age header")
        .parse()
        .unwrap();
    assert!(
        older >= 1000,
        "the index age grows while the database is away: {older}"
    );

    pg.restart();
    pg.wait_ready(Duration::from_secs(30));
    // Without a restart of either server: writes go through again, and
    // the other server's feed resumes.
    let mut id = String::new();
    assert!(eventually(Duration::from_secs(20), || {
        let r = api_b.post(
            &format!("/diaries/{diary}/entries"),
            &json!({"content": "after the outage: swifts return"}),
        );
        if r.status == 201 {
            id = r.body["id"].as_str().unwrap().to_string();
        }
        r.status == 201
    }));
    assert!(eventually(Duration::from_secs(10), || api_a
        .get(&format!("/entries/{id}"))
        .status
        == 200));
    assert_eq!(Api::new(&a.url, None).get("/health/ready").status, 200);
    let total = api_a
        .get(&format!("/diaries/{diary}/entries?limit=1"))
        .expect(200)
        .body["total"]
        .as_u64()
        .unwrap();
    assert_eq!(total, 6, "the refused write left nothing behind");
}

#[test]
fn a_damaged_cache_is_rebuilt_and_a_slow_database_answers_503() {
    let pg = postgres::shared();
    let url = pg.database();
    let db = postgres::db_name(&url).to_string();
    let key = create_key_db(&url, "acme", false);
    let tmp = tempfile::tempdir().unwrap();
    let mut s = start(tmp.path(), &url);
    let diary = s.api(&key).diary("d", "private");
    for i in 0..10 {
        s.api(&key).entry(
            &diary,
            json!({"content": format!("kept through damage {i}")}),
        );
    }
    assert_eq!(s.stop().code(), Some(0));
    // Garbage over the start of every log segment: not a torn tail, a
    // damaged cache. It is discarded and rebuilt from the tables.
    let mut damaged = 0;
    for f in std::fs::read_dir(tmp.path()).unwrap() {
        let p = f.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("wal-") || name.starts_with("snapshot-") {
            let mut bytes = std::fs::read(&p).unwrap();
            for b in bytes.iter_mut().take(64) {
                *b = 0xA5;
            }
            std::fs::write(&p, bytes).unwrap();
            damaged += 1;
        }
    }
    assert!(damaged > 0, "the cache has log or snapshot files");
    let s = Server::start(
        tmp.path(),
        &["--database-url", &url, "--db-statement-timeout", "0.5"],
    );
    assert!(s.log().contains("cache=Rebuilt"), "{}", s.log());
    let api = s.api(&key);
    assert_eq!(
        api.get(&format!("/diaries/{diary}/entries?limit=1"))
            .expect(200)
            .body["total"],
        10
    );

    // A table locked by another session: the write's statement times out
    // (503 with Retry-After), the server keeps answering searches.
    let mut lock = pg
        .psql_command(&db)
        .args(["-q", "-c"])
        .arg(
            "BEGIN; LOCK TABLE diary_entries IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;",
        )
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let w = api.post(
        &format!("/diaries/{diary}/entries"),
        &json!({"content": "while the table is locked"}),
    );
    assert_eq!(w.status, 503, "{}", w.text);
    assert!(w.header("retry-after").is_some());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered within the statement timeout, not hung"
    );
    let r = api.post(
        "/diaries/search",
        &json!({"query": "damage", "diaryId": diary}),
    );
    assert_eq!(r.status, 200);
    assert!(lock.wait().unwrap().success());
    api.post(
        &format!("/diaries/{diary}/entries"),
        &json!({"content": "after the lock"}),
    )
    .expect(201);
    assert_eq!(
        api.get(&format!("/diaries/{diary}/entries?limit=1"))
            .expect(200)
            .body["total"],
        11
    );
}
