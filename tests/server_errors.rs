//! Bad input over real HTTP: every error a problem+json with the right
//! status, never a 5xx, never a change to stored data, never a dead server.

#[path = "common/server.rs"]
mod server;

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use server::{create_key, Server};

#[test]
fn bad_values_shapes_and_bodies_get_precise_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let key = create_key(tmp.path(), "epsilon", false);
    let s = Server::start(
        tmp.path(),
        &["--body-limit", "300000", "--batch-body-limit", "400000"],
    );
    let api = s.api(&key);
    let d = api.diary("limits", "private");
    let path = format!("/diaries/{d}/entries");
    api.entry(&d, json!({"content": "the one stored entry"}));

    // MoltNet's limits: 400 naming the field.
    let long_tag = "t".repeat(129);
    let tags: Vec<String> = (0..21).map(|i| format!("tag{i}")).collect();
    for (body, field) in [
        (json!({"content": ""}), "content"),
        (json!({"content": "x".repeat(100_001)}), "content"),
        (json!({"content": "ok", "title": "t".repeat(256)}), "title"),
        (json!({"content": "ok", "tags": tags}), "tags"),
        (json!({"content": "ok", "tags": [long_tag]}), "tags"),
        (json!({"content": "ok", "importance": 0}), "importance"),
        (json!({"content": "ok", "importance": 11}), "importance"),
        (json!({"content": "ok", "entryType": "dream"}), "entryType"),
    ] {
        let p = api.post(&path, &body).problem(400);
        let got = p["errors"][0]["field"].as_str().unwrap_or("");
        assert!(got.starts_with(field), "{field}: {p}");
    }
    api.post(&path, &json!({"content": "x".repeat(100_000)}))
        .expect(201);

    // Wrong shape: 422 naming the field.
    for (body, field) in [
        (json!({"content": "ok", "importance": "high"}), "importance"),
        (json!({"content": "ok", "colour": "red"}), "colour"),
        (json!({"title": "no content"}), ""),
        (json!({"content": 42}), "content"),
        (json!(["content"]), ""),
        (
            json!({"content": "ok", "signature": {"publicKey": "k"}}),
            "signature",
        ),
    ] {
        let p = api.post(&path, &body).problem(422);
        let got = p["errors"][0]["field"].as_str().unwrap_or("");
        assert!(got.starts_with(field), "{body} → {p}");
    }
    // Malformed JSON 400; not JSON 415; too large 413; unknown route 404;
    // wrong method 405.
    api.raw("POST", &path, "application/json", b"{\"content\": ", &[])
        .problem(400);
    api.raw("POST", &path, "application/json", b"\xff\xfe", &[])
        .problem(400);
    api.raw("POST", &path, "text/plain", b"{\"content\": \"x\"}", &[])
        .problem(415);
    api.raw(
        "POST",
        &path,
        "application/x-www-form-urlencoded",
        b"content=x",
        &[],
    )
    .problem(415);
    let big = json!({"content": "y".repeat(310_000)});
    let p = api.post(&path, &big).problem(413);
    assert!(p["detail"].as_str().unwrap().contains("300000"), "{p}");
    // The batch route has its own, larger limit.
    let batch = json!({"entries": [{"content": "z".repeat(90_000)}, {"content": "z".repeat(90_000)},
                                    {"content": "z".repeat(90_000)}]});
    api.post(&format!("{path}:batch"), &batch).expect(201);
    let five: Vec<Value> = (0..5)
        .map(|_| json!({"content": "z".repeat(90_000)}))
        .collect();
    let batch = json!({ "entries": five });
    api.post(&format!("{path}:batch"), &batch).problem(413);
    api.get("/no/such/route").problem(404);
    api.raw("PUT", "/diaries", "application/json", b"{}", &[])
        .problem(405);
    api.get("/diaries/not-a-uuid").problem(400);

    // None of it stored anything.
    let page = api.get(&format!("{path}?limit=1")).expect(200).body;
    assert_eq!(
        page["total"], 5,
        "1 + the 100,000-char entry + a batch of 3"
    );
}

#[test]
fn garbage_never_causes_a_5xx_or_a_change() {
    let tmp = tempfile::tempdir().unwrap();
    let key = create_key(tmp.path(), "zeta", false);
    let s = Server::start(tmp.path(), &["--search-rate", "0", "--write-rate", "0"]);
    let api = s.api(&key);
    let d = api.diary("fuzz", "private");
    let kept = api.entry(&d, json!({"content": "the fixed point of the fuzz test"}));
    let paths = [
        "/diaries".to_string(),
        format!("/diaries/{d}"),
        format!("/diaries/{d}/entries"),
        format!("/diaries/{d}/entries:batch"),
        "/diaries/search".to_string(),
        format!("/entries/{}", kept["id"].as_str().unwrap()),
        format!("/entries/{}/relations", kept["id"].as_str().unwrap()),
    ];
    let fragments: Vec<Value> = vec![
        json!(null),
        json!(1e308),
        json!(-1),
        json!(""),
        json!("\u{0}"),
        json!([]),
        json!({}),
        json!(true),
        json!("💥".repeat(50)),
        json!(u64::MAX),
        json!({"$ref": "#"}),
    ];
    let fields = [
        "content",
        "title",
        "tags",
        "importance",
        "entryType",
        "query",
        "limit",
        "offset",
        "diaryId",
        "entries",
        "name",
        "visibility",
        "targetId",
        "relation",
        "status",
        "wRecency",
        "createdBefore",
        "signature",
        "excludeTags",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for i in 0..400 {
        let path = &paths[i % paths.len()];
        let mut body = serde_json::Map::new();
        for _ in 0..rng.random_range(0..4) {
            let f = fields[rng.random_range(0..fields.len())];
            body.insert(
                f.into(),
                fragments[rng.random_range(0..fragments.len())].clone(),
            );
        }
        let body = Value::Object(body);
        let method = ["POST", "PATCH", "GET", "DELETE"][rng.random_range(0..4)];
        if method == "DELETE" && path.starts_with("/entries/") && !path.ends_with("relations") {
            continue; // deleting the fixed point is a legitimate request
        }
        if method == "DELETE" && path == &format!("/diaries/{d}") {
            continue;
        }
        let bytes = if i % 5 == 0 {
            (0..rng.random_range(0..64))
                .map(|_| rng.random::<u8>())
                .collect()
        } else {
            serde_json::to_vec(&body).unwrap()
        };
        let r = api.raw(method, path, "application/json", &bytes, &[]);
        assert!(
            r.status < 500,
            "{method} {path} {body} → {} {}",
            r.status,
            r.text
        );
        if r.status >= 400 {
            assert_eq!(r.content_type, "application/problem+json", "{}", r.text);
        }
    }
    let back = api
        .get(&format!("/entries/{}", kept["id"].as_str().unwrap()))
        .expect(200)
        .body;
    assert_eq!(back["content"], kept["content"]);
    assert_eq!(
        s.anonymous().get("/health/ready").status,
        200,
        "still serving"
    );
}

#[test]
fn a_request_over_the_timeout_is_a_503_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let key = create_key(tmp.path(), "eta", false);
    let mut s = Server::start(tmp.path(), &[]);
    let d = s.api(&key).diary("slow", "private");
    assert!(s.stop().success());
    // Embedding 200 passages takes longer than 5 ms.
    let s = Server::start(tmp.path(), &["--request-timeout", "0.005"]);
    let api = s.api(&key);
    let entries: Vec<Value> = (0..200)
        .map(|i| json!({"content": format!("a long enough passage number {i} to embed, with some words")}))
        .collect();
    let reply = api.post(
        &format!("/diaries/{d}/entries:batch"),
        &json!({"entries": entries}),
    );
    assert!(reply.header("retry-after").is_some());
    let p = reply.problem(503);
    assert!(p["detail"].as_str().unwrap().contains("longer than"), "{p}");
    assert_eq!(s.anonymous().get("/health").status, 200);
}
