//! Postgres as the source of truth, on a real PostgreSQL cluster with the
//! real binary over HTTP: migrations, two servers on one database, the
//! change feed under slow concurrent transactions, restart catch-up
//! without embedding, rebuilds of a deleted or foreign cache.

#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/server.rs"]
mod server;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use server::{create_key_db, Api, Server, BIN};

fn start(dir: &std::path::Path, url: &str) -> Server {
    Server::start(
        dir,
        &[
            "--database-url",
            url,
            "--search-rate",
            "0",
            "--write-rate",
            "0",
        ],
    )
}

/// `moltsearch serve` on `url` and `dir` with `extra`, which must refuse to
/// start; its error output. Bounded by timeout(1): a server that wrongly
/// started would serve for ever.
fn serve_refused(url: &str, dir: &std::path::Path, extra: &[&str]) -> String {
    let out = Command::new("timeout")
        .args([
            "30",
            BIN,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            url,
        ])
        .args(extra)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "serve started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Polls `f` until it is true or `within` passes; how long it took.
fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn entry_present(api: &Api, id: &str) -> bool {
    api.get(&format!("/entries/{id}")).status == 200
}

fn total(api: &Api, diary: &str) -> u64 {
    api.get(&format!("/diaries/{diary}/entries?limit=1"))
        .expect(200)
        .body["total"]
        .as_u64()
        .expect("total")
}

fn metric(s: &Server, name: &str) -> f64 {
    let text = Api::new(&s.url, None).get("/metrics").expect(200).text;
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn migrations_apply_once_and_a_newer_schema_is_refused() {
    let pg = postgres::shared();
    let url = pg.database();
    let db = postgres::db_name(&url).to_string();
    let migrate = || {
        Command::new(BIN)
            .args(["migrate", "--database-url", &url])
            .output()
            .expect("migrate runs")
    };
    let first = migrate();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "sql")
        })
        .count();
    let said = String::from_utf8_lossy(&first.stdout).to_string();
    assert!(
        said.contains(&format!("applied {files} migration")),
        "{said}"
    );
    let again = migrate();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("schema is current"));
    for table in [
        "diaries",
        "diary_entries",
        "entry_relations",
        "changes",
        "api_keys",
        "teams",
    ] {
        assert_eq!(
            pg.psql(&db, &format!("SELECT to_regclass('{table}') IS NOT NULL")),
            "t"
        );
    }
    // The schema's own checks refuse what the API refuses.
    let bad = pg
        .psql_command(&db)
        .arg("-c")
        .arg("INSERT INTO diaries (id, team_id, name, visibility) VALUES (gen_random_uuid(), gen_random_uuid(), 'x', 'secret')")
        .output()
        .unwrap();
    assert!(
        !bad.status.success(),
        "an unknown visibility is refused by the schema"
    );

    pg.psql(
        &db,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (29991231000000, 'from the future', true, '\\x00', 0)",
    );
    let newer = migrate();
    assert!(!newer.status.success());
    let err = String::from_utf8_lossy(&newer.stderr);
    assert!(err.contains("newer moltsearch"), "{err}");
    let tmp = tempfile::tempdir().unwrap();
    assert!(serve_refused(&url, tmp.path(), &[]).contains("newer moltsearch"));
}

#[test]
fn two_servers_on_one_database_see_each_others_writes_within_a_second() {
    let pg = postgres::shared();
    let url = pg.database();
    let key = create_key_db(&url, "acme", false);
    let (ta, tb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(ta.path(), &url);
    let b = start(tb.path(), &url);
    let (api_a, api_b) = (a.api(&key), b.api(&key));

    let diary = api_a.diary("shared", "private");
    assert!(eventually(Duration::from_secs(1), || api_b
        .get(&format!("/diaries/{diary}"))
        .status
        == 200)
    .is_some());

    // A write through one is searchable through the other within 1 s.
    let mut worst = Duration::ZERO;
    for (i, (writer, reader)) in [(&api_a, &api_b), (&api_b, &api_a)]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let e = writer.entry(
            &diary,
            json!({"content": format!("replicated note {i}: the kestrel hovers over the field")}),
        );
        let id = e["id"].as_str().unwrap().to_string();
        // Read-your-writes on the writer: at once.
        assert!(entry_present(writer, &id));
        let took = eventually(Duration::from_secs(1), || {
            let r = reader.search(json!({"query": format!("replicated note {i} kestrel"), "diaryId": diary, "limit": 20}));
            server::ids(&r).contains(&id)
        })
        .unwrap_or_else(|| panic!("write {i} not searchable on the other server within 1 s"));
        worst = worst.max(took);
    }
    eprintln!("worst replication lag seen: {worst:?}");

    // Concurrent writers on both servers: every acknowledged entry on both.
    let written: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let api = if t % 2 == 0 { &api_a } else { &api_b };
                let diary = diary.clone();
                s.spawn(move || {
                    (0..8)
                        .map(|i| {
                            api.entry(&diary, json!({"content": format!("writer {t} entry {i}"), "tags": [format!("w{t}")]}))["id"]
                                .as_str()
                                .unwrap()
                                .to_string()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(written.len(), 32);
    for api in [&api_a, &api_b] {
        assert!(
            eventually(Duration::from_secs(2), || total(api, &diary) == 38).is_some(),
            "both servers hold all 38 entries"
        );
        for id in &written {
            assert!(entry_present(api, id));
        }
    }

    // Edits, relations and deletes travel too.
    let (first, second) = (&written[0], &written[1]);
    api_a
        .patch(&format!("/entries/{first}"), &json!({"tags": ["edited"]}))
        .expect(200);
    let rel = api_a
        .post(
            &format!("/entries/{first}/relations"),
            &json!({"targetId": second, "relation": "supports"}),
        )
        .expect(201)
        .body;
    api_a
        .delete(&format!("/entries/{}", written[2]))
        .expect(204);
    assert!(eventually(Duration::from_secs(1), || {
        api_b.get(&format!("/entries/{first}")).body["tags"] == json!(["edited"])
            && api_b.get(&format!("/entries/{}", written[2])).status == 404
            && api_b.get(&format!("/entries/{first}/relations")).body["items"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x["id"] == rel["id"]))
    })
    .is_some());
    // The same relation again through the other server: 200 with the one held.
    let again = api_b
        .post(
            &format!("/entries/{first}/relations"),
            &json!({"targetId": second, "relation": "supports"}),
        )
        .expect(200)
        .body;
    assert_eq!(again["id"], rel["id"]);

    // Searches say how current the answering index is.
    let r = api_b.post(
        "/diaries/search",
        &json!({"query": "kestrel", "diaryId": diary}),
    );
    let seq: u64 = r
        .header("x-moltsearch-applied-seq")
        .expect("applied seq header")
        .parse()
        .unwrap();
    assert!(seq > 0);
    assert!(r.header("x-moltsearch-index-age-ms").is_some());
    let ready = Api::new(&b.url, None).get("/health/ready").expect(200).body;
    assert_eq!(ready["components"]["database"]["status"], "ok");
}

/// A transaction that appends to the change log the way a server does,
/// but slowly: it takes the append lock and a sequence, then sleeps before
/// committing. Without the lock a faster writer's later sequence would
/// commit first, a replica would apply it, and then skip this one.
fn slow_append(
    pg: &postgres::Cluster,
    db: &str,
    team: &str,
    diary: &str,
    secs: u32,
) -> std::process::Child {
    let sql = format!(
        "BEGIN; \
         INSERT INTO diaries (id, team_id, name) VALUES ('{diary}', '{team}', 'slow'); \
         SELECT pg_advisory_xact_lock(1836018804); \
         INSERT INTO changes (seq, kind, object_id) VALUES (nextval('change_seq'), 'diary', '{diary}'); \
         SELECT pg_notify('moltsearch_changes', 'slow'); \
         SELECT pg_sleep({secs}); \
         COMMIT;"
    );
    pg.psql_command(db)
        .args(["-q", "-c", &sql])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("psql runs")
}

#[test]
fn a_slow_transaction_is_never_skipped_by_the_feed() {
    let pg = postgres::shared();
    let url = pg.database();
    let db = postgres::db_name(&url).to_string();
    let key = create_key_db(&url, "acme", false);
    let team = pg.psql(&db, "SELECT team_id FROM api_keys LIMIT 1");
    let (ta, tb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(ta.path(), &url);
    let b = start(tb.path(), &url);
    let (api_a, api_b) = (a.api(&key), b.api(&key));
    let diary = api_a.diary("fast", "private");

    let slow_ids: Vec<String> = (0..3).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let slow: Vec<_> = slow_ids
        .iter()
        .map(|id| slow_append(pg, &db, &team, id, 2))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // Fast writes on both servers while the slow ones hold sequences.
    let fast: Vec<String> = (0..6)
        .map(|i| {
            let api = if i % 2 == 0 { &api_a } else { &api_b };
            api.entry(&diary, json!({"content": format!("fast write {i}")}))["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for mut c in slow {
        assert!(c.wait().unwrap().success());
    }
    for api in [&api_a, &api_b] {
        for id in &slow_ids {
            assert!(
                eventually(Duration::from_secs(2), || api
                    .get(&format!("/diaries/{id}"))
                    .status
                    == 200)
                .is_some(),
                "the slow transaction's diary {id} reached every server"
            );
        }
        for id in &fast {
            assert!(entry_present(api, id));
        }
    }
    // Sequences are dense in commit order: the log holds 1 + 3 + 6 of them.
    assert_eq!(
        pg.psql(&db, "SELECT count(DISTINCT seq) FROM changes"),
        "10"
    );
}

#[test]
fn restart_catches_up_without_embedding_and_a_lost_cache_is_rebuilt() {
    let pg = postgres::shared();
    let url = pg.database();
    let key = create_key_db(&url, "acme", false);
    let (ta, tb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(ta.path(), &url);
    let mut b = start(tb.path(), &url);
    let api_a = a.api(&key);
    let diary = api_a.diary("d", "private");
    let batch: Vec<Value> = (0..40)
        .map(|i| json!({"content": format!("before the restart {i}: owls hunt at night")}))
        .collect();
    api_a
        .post(
            &format!("/diaries/{diary}/entries:batch"),
            &json!({"entries": batch}),
        )
        .expect(201);
    assert!(eventually(Duration::from_secs(2), || total(&b.api(&key), &diary) == 40).is_some());
    assert_eq!(b.stop().code(), Some(0));

    // Written while B is down.
    let batch: Vec<Value> = (0..25)
        .map(|i| json!({"content": format!("while B was down {i}: herons fish at dawn")}))
        .collect();
    let items = api_a
        .post(
            &format!("/diaries/{diary}/entries:batch"),
            &json!({"entries": batch}),
        )
        .expect(201)
        .body;
    let late = items["items"][24]["id"].as_str().unwrap().to_string();

    let b = start(tb.path(), &url);
    assert!(b.log().contains("cache=Reused"), "{}", b.log());
    let api_b = b.api(&key);
    assert_eq!(total(&api_b, &diary), 65);
    assert!(entry_present(&api_b, &late));
    // Catching up read vectors from Postgres: B embedded no passage.
    assert_eq!(
        metric(&b, "moltsearch_embedded_texts_total{kind=\"passage\"}"),
        0.0
    );
    let r = api_b.search(json!({"query": "herons fish at dawn", "diaryId": diary, "limit": 5}));
    assert!(server::ids(&r).len() == 5);
    drop(b);

    // A deleted cache is rebuilt from the tables, again without embedding.
    std::fs::remove_dir_all(tb.path()).unwrap();
    let b = start(tb.path(), &url);
    assert!(b.log().contains("cache=Rebuilt"), "{}", b.log());
    let api_b = b.api(&key);
    assert_eq!(total(&api_b, &diary), 65);
    assert_eq!(
        metric(&b, "moltsearch_embedded_texts_total{kind=\"passage\"}"),
        0.0
    );
    assert_eq!(metric(&b, "moltsearch_cache_rebuilds_total"), 1.0);
    drop(b);

    // A cache of another database is foreign: rebuilt for this one.
    let other = pg.database();
    let key2 = create_key_db(&other, "acme", false);
    let b = start(tb.path(), &other);
    assert!(b.log().contains("caches another database"), "{}", b.log());
    assert_eq!(
        b.api(&key2).get("/diaries").expect(200).body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    drop(b);

    // An embedded-storage folder is data, not a cache: refused, untouched.
    let own = tempfile::tempdir().unwrap();
    server::create_key(own.path(), "local", false);
    let embedded = Server::start(own.path(), &[]);
    embedded
        .api(&server::create_key(own.path(), "local", false))
        .diary("mine", "private");
    drop(embedded);
    assert!(serve_refused(&url, own.path(), &[]).contains("embedded-storage data"));
    assert!(own.path().join("meta.json").exists());
}

#[test]
fn import_and_reindex_go_through_the_database_and_pruning_forces_a_rebuild() {
    let pg = postgres::shared();
    let url = pg.database();
    let db = postgres::db_name(&url).to_string();
    let tmp = tempfile::tempdir().unwrap();
    // The same team as `import` writes to (the nil UUID).
    let key = {
        let out = Command::new(BIN)
            .args([
                "keys",
                "create",
                "--team",
                "local",
                "--json",
                "--database-url",
                &url,
            ])
            .args(["--team-id", "00000000-0000-0000-0000-000000000000"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["key"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let a = Server::start(
        &tmp.path().join("a"),
        &[
            "--database-url",
            &url,
            "--change-retention",
            "2",
            "--write-rate",
            "0",
        ],
    );
    let file = tmp.path().join("notes.jsonl");
    let lines: String = (0..60)
        .map(|i| format!("{}\n", json!({"title": format!("note {i}"), "content": format!("imported note {i} about lighthouses")})))
        .collect();
    std::fs::write(&file, lines).unwrap();
    let import = || {
        Command::new(BIN)
            .args([
                "import",
                "--diary",
                "imported",
                "--database-url",
                &url,
                "--data-dir",
            ])
            .arg(tmp.path().join("import-cache"))
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = import();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("stored 60, already present 0"));
    let again = import();
    assert!(String::from_utf8_lossy(&again.stdout).contains("stored 0, already present 60"));
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM diary_entries"), "60");
    // The running server got them through its feed.
    let api = a.api(&key);
    assert!(eventually(Duration::from_secs(2), || {
        server::ids(&api.search(json!({"query": "lighthouses", "limit": 100}))).len() == 60
    })
    .is_some());

    // reindex rebuilds a cache from the tables without the model; a cache
    // in use is refused.
    let reindex = |dir: &std::path::Path| {
        Command::new(BIN)
            .args(["reindex", "--database-url", &url, "--data-dir"])
            .arg(dir)
            .output()
            .unwrap()
    };
    let out = reindex(&tmp.path().join("import-cache"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("60 entries"));
    let busy = reindex(&tmp.path().join("a"));
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("locked"));

    // A cache stopped at sequence S; the log pruned past S; the cache is
    // rebuilt at the next start.
    let mut b = start(&tmp.path().join("b"), &url);
    let held: u64 = pg
        .psql(&db, "SELECT max(seq) FROM changes")
        .parse()
        .unwrap();
    assert_eq!(b.stop().code(), Some(0));
    let diary = api.diary("later", "private");
    for i in 0..3 {
        api.entry(&diary, json!({"content": format!("after b stopped {i}")}));
    }
    assert!(
        eventually(Duration::from_secs(10), || {
            pg.psql(&db, "SELECT pruned_through FROM moltsearch_meta")
                .parse::<u64>()
                .unwrap()
                > held
        })
        .is_some(),
        "server a prunes the log past b's sequence"
    );
    let b = start(&tmp.path().join("b"), &url);
    assert!(b.log().contains("retention"), "{}", b.log());
    assert!(b.log().contains("cache=Rebuilt"));
    assert_eq!(
        b.api(&key)
            .get(&format!("/diaries/{diary}/entries"))
            .expect(200)
            .body["total"],
        3
    );

    // A running server whose log was pruned past it keeps answering, and
    // readiness says it needs a restart.
    pg.psql(
        &db,
        "UPDATE moltsearch_meta SET pruned_through = 1000000000",
    );
    let anon = Api::new(&b.url, None);
    assert!(
        eventually(Duration::from_secs(5), || anon.get("/health/ready").status
            == 503)
        .is_some()
    );
    let ready = anon.get("/health/ready").body;
    assert_eq!(ready["components"]["index"]["status"], "down", "{ready}");
    assert!(ready["components"]["index"]["error"]
        .as_str()
        .unwrap()
        .contains("restart"));
    b.api(&key)
        .get(&format!("/diaries/{diary}/entries"))
        .expect(200);
}

#[test]
fn keys_in_the_database_work_on_every_server_and_revocation_reaches_them() {
    let pg = postgres::shared();
    let url = pg.database();
    let key = create_key_db(&url, "acme", false);
    let ro = create_key_db(&url, "acme", true);
    let other = create_key_db(&url, "globex", false);
    let (ta, tb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(ta.path(), &url);
    let b = start(tb.path(), &url);
    let diary = a.api(&key).diary("private one", "private");
    assert!(eventually(Duration::from_secs(1), || b
        .api(&key)
        .get(&format!("/diaries/{diary}"))
        .status
        == 200)
    .is_some());
    // Another team: 404 on both servers; read-only: reads yes, writes 403.
    for s in [&a, &b] {
        s.api(&other).get(&format!("/diaries/{diary}")).problem(404);
        s.api(&ro).get(&format!("/diaries/{diary}")).expect(200);
        s.api(&ro)
            .post(
                &format!("/diaries/{diary}/entries"),
                &json!({"content": "no"}),
            )
            .problem(403);
    }
    // A key made while both run works on both at once.
    let late = create_key_db(&url, "acme", false);
    for s in [&a, &b] {
        assert!(eventually(Duration::from_secs(2), || s
            .api(&late)
            .get("/diaries")
            .status
            == 200)
        .is_some());
    }
    // Revoked: refused on both within the reload poll.
    let list = Command::new(BIN)
        .args(["keys", "list", "--json", "--database-url", &url])
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    let prefix = late.split('_').nth(1).unwrap();
    assert!(listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["prefix"] == prefix));
    let out = Command::new(BIN)
        .args(["keys", "revoke", prefix, "--database-url", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for s in [&a, &b] {
        assert!(eventually(Duration::from_secs(3), || s
            .api(&late)
            .get("/diaries")
            .status
            == 401)
        .is_some());
    }
    s_ok(&a, &key);
}

fn s_ok(s: &Server, key: &str) {
    s.api(key).get("/diaries").expect(200);
}

#[test]
fn reembed_switches_the_database_model_in_one_step() {
    let pg = postgres::shared();
    let url = pg.database();
    let db = postgres::db_name(&url).to_string();
    let key = create_key_db(&url, "acme", false);
    let tmp = tempfile::tempdir().unwrap();
    let mut a = start(&tmp.path().join("a"), &url);
    let diary = a.api(&key).diary("d", "private");
    let batch: Vec<Value> = (0..30)
        .map(|i| json!({"content": format!("re-embedded note {i} about tides")}))
        .collect();
    a.api(&key)
        .post(
            &format!("/diaries/{diary}/entries:batch"),
            &json!({"entries": batch}),
        )
        .expect(201);
    assert_eq!(a.stop().code(), Some(0));
    assert_eq!(
        pg.psql(&db, "SELECT model_id FROM moltsearch_meta"),
        "all-minilm-l6-v2-int8"
    );

    let reembed = || {
        Command::new(BIN)
            .args([
                "reindex",
                "--reembed",
                "--model",
                "all-minilm-l6-v2",
                "--database-url",
                &url,
                "--data-dir",
            ])
            .arg(tmp.path().join("r"))
            .output()
            .unwrap()
    };
    let out = reembed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("re-embedded 30 entries"), "{said}");
    assert_eq!(
        pg.psql(&db, "SELECT model_id FROM moltsearch_meta"),
        "all-minilm-l6-v2"
    );
    assert_eq!(
        pg.psql(
            &db,
            "SELECT count(DISTINCT model_id) || ' ' || min(model_id) FROM diary_entries"
        ),
        "1 all-minilm-l6-v2"
    );
    assert_eq!(
        pg.psql(&db, "SELECT count(*) FROM entry_embeddings_next"),
        "0"
    );
    // Again: nothing to do.
    assert!(String::from_utf8_lossy(&reembed().stdout).contains("already come from"));
    // A vector of the old model is refused by the database itself.
    let bad = pg
        .psql_command(&db)
        .arg("-c")
        .arg("UPDATE diary_entries SET model_id = 'all-minilm-l6-v2-int8'")
        .output()
        .unwrap();
    assert!(!bad.status.success());

    // A server asking for the old model is refused; one following the
    // database's model rebuilds its old cache and answers.
    let old = serve_refused(
        &url,
        &tmp.path().join("a"),
        &["--model", "all-minilm-l6-v2-int8"],
    );
    assert!(
        old.contains("vectors come from model `all-minilm-l6-v2`"),
        "{old}"
    );
    let a = start(&tmp.path().join("a"), &url);
    assert!(a.log().contains("cache=Rebuilt"), "{}", a.log());
    let r = a
        .api(&key)
        .search(json!({"query": "tides", "diaryId": diary, "limit": 30}));
    assert_eq!(server::ids(&r).len(), 30);
}

#[test]
fn a_second_server_on_a_cache_in_use_is_refused_and_the_cache_kept() {
    let pg = postgres::shared();
    let url = pg.database();
    let key = create_key_db(&url, "acme", false);
    let tmp = tempfile::tempdir().unwrap();
    let a = start(tmp.path(), &url);
    let diary = a.api(&key).diary("kept", "private");
    let err = serve_refused(&url, tmp.path(), &[]);
    assert!(err.contains("in use"), "{err}");
    // The first server's cache is intact and it keeps answering and writing.
    assert!(tmp.path().join("meta.json").exists());
    a.api(&key).entry(&diary, json!({"content": "still here"}));
    assert_eq!(
        a.api(&key)
            .get(&format!("/diaries/{diary}/entries"))
            .expect(200)
            .body["total"],
        1
    );
}
