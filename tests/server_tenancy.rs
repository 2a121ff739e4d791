//! Keys and tenancy over real HTTP: another team's objects are 404 on every
//! route (and never change), revoked keys stop at once, read-only keys
//! cannot write, and per-key rate limits answer 429 with `Retry-After`.

#[path = "common/server.rs"]
mod server;

use std::process::Command;

use serde_json::{json, Value};
use server::{create_key, ids, Server, BIN};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

#[test]
fn another_teams_objects_are_not_found_on_every_route() {
    let tmp = tempfile::tempdir().unwrap();
    let ka = create_key(tmp.path(), "alpha", false);
    let kb = create_key(tmp.path(), "beta", false);
    let s = Server::start(tmp.path(), &[]);
    let (a, b) = (s.api(&ka), s.api(&kb));

    let da = a.diary("alpha-secrets", "private");
    let e1 = a.entry(
        &da,
        json!({"content": "alpha's launch plan: ship the orbital module friday", "tags": ["plan"]}),
    );
    let e2 = a.entry(
        &da,
        json!({"content": "alpha's launch plan changed: ship monday"}),
    );
    let rel = a
        .post(
            &format!("/entries/{}/relations", id(&e2)),
            &json!({"targetId": id(&e1), "relation": "supersedes"}),
        )
        .expect(201)
        .body;
    let db = b.diary("beta-notes", "private");
    let eb = b.entry(
        &db,
        json!({"content": "beta's own note about launch plans"}),
    );

    let (d, e, r) = (da.as_str(), id(&e1), id(&rel));
    let entry = json!({"content": "planted by beta"});
    let checks: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/diaries/{d}"), None),
        (
            "PATCH",
            format!("/diaries/{d}"),
            Some(json!({"name": "owned"})),
        ),
        ("DELETE", format!("/diaries/{d}"), None),
        ("GET", format!("/diaries/{d}/entries"), None),
        ("POST", format!("/diaries/{d}/entries"), Some(entry.clone())),
        (
            "POST",
            format!("/diaries/{d}/entries:batch"),
            Some(json!({"entries": [entry]})),
        ),
        ("GET", format!("/diaries/{d}/tags"), None),
        ("GET", format!("/entries/{e}"), None),
        (
            "PATCH",
            format!("/entries/{e}"),
            Some(json!({"content": "defaced"})),
        ),
        ("DELETE", format!("/entries/{e}"), None),
        ("GET", format!("/entries/{e}/verify"), None),
        ("GET", format!("/entries/{e}/relations"), None),
        (
            "POST",
            format!("/entries/{e}/relations"),
            Some(json!({"targetId": id(&e2), "relation": "supports"})),
        ),
        (
            "POST",
            format!("/entries/{}/relations", id(&eb)),
            Some(json!({"targetId": e, "relation": "supports"})),
        ),
        (
            "PATCH",
            format!("/relations/{r}"),
            Some(json!({"status": "rejected"})),
        ),
        ("DELETE", format!("/relations/{r}"), None),
        (
            "POST",
            "/diaries/search".into(),
            Some(json!({"query": "launch plan", "diaryId": d})),
        ),
    ];
    for (method, path, body) in &checks {
        let reply = match (*method, body) {
            ("GET", _) => b.get(path),
            ("DELETE", _) => b.delete(path),
            ("PATCH", Some(v)) => b.patch(path, v),
            (_, Some(v)) => b.post(path, v),
            _ => unreachable!(),
        };
        let p = reply.problem(404);
        assert!(
            !p.to_string().contains("alpha's"),
            "{method} {path} leaked data: {p}"
        );
    }

    // Search without diaryId, the diary list: only beta's own.
    let found = ids(&b.search(json!({"query": "launch plan"})));
    assert_eq!(found, vec![id(&eb)]);
    let list = b.get("/diaries").expect(200).body;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Nothing of alpha's changed.
    let a1 = a.get(&format!("/entries/{e}")).expect(200).body;
    assert_eq!(a1["content"], e1["content"]);
    assert_eq!(
        a.get(&format!("/diaries/{d}")).expect(200).body["name"],
        "alpha-secrets"
    );
    assert_eq!(
        a.get(&format!("/diaries/{d}/entries")).expect(200).body["total"],
        2
    );
    let rels = a.get(&format!("/entries/{e}/relations")).expect(200).body;
    assert_eq!(rels["items"][0]["status"], "proposed");
    let found = ids(&a.search(json!({"query": "launch plan"})));
    assert!(
        !found.contains(&id(&eb)),
        "alpha does not see beta's either"
    );
}

#[test]
fn keys_work_from_the_next_request_and_stop_when_revoked() {
    let tmp = tempfile::tempdir().unwrap();
    let k1 = create_key(tmp.path(), "gamma", false);
    let ro = create_key(tmp.path(), "gamma", true);
    let mut s = Server::start(tmp.path(), &[]);
    let api = s.api(&k1);
    let d = api.diary("g", "private");
    api.entry(&d, json!({"content": "gamma writes"}));

    // Read-only: reads and searches yes, writes 403.
    let r = s.api(&ro);
    assert_eq!(
        r.get(&format!("/diaries/{d}/entries")).expect(200).body["total"],
        1
    );
    r.search(json!({"query": "gamma"}));
    let p = r
        .post(&format!("/diaries/{d}/entries"), &json!({"content": "no"}))
        .problem(403);
    assert!(p["detail"].as_str().unwrap().contains("read-only"));
    r.post("/diaries", &json!({"name": "no"})).problem(403);
    r.delete(&format!("/diaries/{d}")).problem(403);

    // X-API-Key works as well as Bearer; anything else is a 401.
    let anon = s.anonymous();
    let reply = anon.raw(
        "GET",
        "/diaries",
        "application/json",
        b"",
        &[("x-api-key", k1.as_str())],
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    for auth in ["Bearer", "Bearer msk_nope_nope", "Basic abc", "bearer  "] {
        let reply = anon.raw(
            "GET",
            "/diaries",
            "application/json",
            b"",
            &[("authorization", auth)],
        );
        let p = reply.problem(401);
        assert!(p["detail"].is_string());
    }
    let tampered = format!("{}x", &k1);
    s.api(&tampered).get("/diaries").problem(401);
    let reply = anon.get("/diaries");
    assert!(reply.header("www-authenticate").is_some());
    reply.problem(401);

    // Made while the server runs: works at once, for the same team.
    let k2 = create_key(tmp.path(), "gamma", false);
    assert_eq!(
        s.api(&k2).get("/diaries").expect(200).body["items"][0]["id"],
        d.as_str()
    );

    // Revoked while it runs: the next request is a 401.
    let list = Command::new(BIN)
        .args(["keys", "list", "--json", "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    let prefix = k1.split('_').nth(1).unwrap();
    let entry = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["prefix"] == prefix)
        .expect("key listed")
        .clone();
    assert!(
        !list.stdout.windows(k1.len()).any(|w| w == k1.as_bytes()),
        "list never shows keys"
    );
    let out = Command::new(BIN)
        .args(["keys", "revoke"])
        .arg(entry["id"].as_str().unwrap())
        .arg("--data-dir")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    api.get("/diaries").problem(401);
    s.api(&k2).get("/diaries").expect(200);
    let out = Command::new(BIN)
        .args(["keys", "revoke", "nosuchkey", "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!out.status.success());

    // lastUsedAt is saved (at the latest on shutdown), revokedAt kept.
    assert!(s.stop().success());
    let list = Command::new(BIN)
        .args(["keys", "list", "--json", "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    let k = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["prefix"] == prefix)
        .unwrap()
        .clone();
    assert!(k["lastUsedAt"].is_string(), "{k}");
    assert!(k["revokedAt"].is_string(), "{k}");
    assert_eq!(
        listed["teams"].as_array().unwrap().len(),
        1,
        "one team, gamma"
    );
}

#[test]
fn rate_limits_answer_429_with_retry_after_per_key() {
    let tmp = tempfile::tempdir().unwrap();
    let k1 = create_key(tmp.path(), "delta", false);
    let k2 = create_key(tmp.path(), "delta", false);
    let s = Server::start(
        tmp.path(),
        &[
            "--search-rate",
            "1",
            "--search-burst",
            "2",
            "--write-rate",
            "1",
            "--write-burst",
            "2",
        ],
    );
    let (a, b) = (s.api(&k1), s.api(&k2));
    let q = json!({"query": "anything"});
    a.post("/diaries/search", &q).expect(200);
    a.post("/diaries/search", &q).expect(200);
    let reply = a.post("/diaries/search", &q);
    let retry: u64 = reply
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let p = reply.problem(429);
    assert!(p["detail"].as_str().unwrap().contains("search"));
    // Another key has its own bucket; writes have theirs.
    b.post("/diaries/search", &q).expect(200);
    a.diary("w1", "private");
    a.diary("w2", "private");
    a.post("/diaries", &json!({"name": "w3"})).problem(429);
    std::thread::sleep(std::time::Duration::from_millis(1100 * retry));
    a.post("/diaries/search", &q).expect(200);
    let m = s.anonymous().get("/metrics").expect(200).text;
    assert!(m.contains("moltsearch_rate_limited_total"), "{m}");
}
