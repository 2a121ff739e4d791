//! Every route of `moltsearch serve` over real HTTP, with the real model,
//! tantivy and HNSW: diaries, entries, batches, signatures, relations,
//! tags, verify, and MoltNet's search behaviours. Run once per mode: the
//! including test binary provides `start()` (embedded storage or Postgres)
//! and `STORE_COMPONENT` (what readiness calls the truth's store).

use moltsearch_engine::entry::{compute_content_cid, PrivateKey};
use serde_json::{json, Value};

use super::server::{self, ids};
use super::{start, STORE_COMPONENT};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// A signature block over the CID of (type, title, content, tags).
fn signed(
    seed: u8,
    nonce: &str,
    ty: &str,
    title: Option<&str>,
    content: &str,
    tags: &[&str],
) -> Value {
    let key = PrivateKey::from_seed(&[seed; 32]);
    let cid = compute_content_cid(ty, title, content, tags);
    let sig = key.sign(&cid, nonce).unwrap();
    json!({
        "publicKey": key.public_key().to_string(),
        "nonce": nonce,
        "signatureBase64": sig.to_string(),
    })
}

#[test]
fn diaries_are_created_listed_renamed_and_deleted() {
    let (_tmp, s, key) = start();
    let api = s.api(&key);
    let r = api
        .post("/diaries", &json!({"name": "work", "visibility": "public"}))
        .expect(201);
    let d = id(&r.body);
    assert_eq!(r.header("location"), Some(format!("/diaries/{d}").as_str()));
    assert_eq!(r.body["visibility"], "public");
    let private = api.diary("home", "private");
    let list = api.get("/diaries").expect(200).body;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["home", "work"]);

    let r = api
        .patch(
            &format!("/diaries/{d}"),
            &json!({"name": "job", "visibility": "private"}),
        )
        .expect(200);
    assert_eq!(r.body["name"], "job");
    assert_eq!(r.body["visibility"], "private");
    assert_eq!(
        api.get(&format!("/diaries/{d}")).expect(200).body["name"],
        "job"
    );
    let p = api
        .patch(&format!("/diaries/{d}"), &json!({"visibility": "everyone"}))
        .problem(400);
    assert_eq!(p["errors"][0]["field"], "visibility");

    api.entry(&d, json!({"content": "an unsigned note"}));
    api.delete(&format!("/diaries/{d}")).expect(204);
    api.get(&format!("/diaries/{d}")).problem(404);
    api.delete(&format!("/diaries/{d}")).problem(404);

    // A diary holding a signed entry stays.
    let content = "signed and permanent";
    let sig = signed(1, "n-diary", "semantic", None, content, &[]);
    api.entry(&private, json!({"content": content, "signature": sig}));
    let p = api.delete(&format!("/diaries/{private}")).problem(409);
    assert!(p["detail"].as_str().unwrap().contains("signed"), "{p}");
    api.get(&format!("/diaries/{private}")).expect(200);
}

#[test]
fn entries_are_created_read_listed_edited_and_deleted() {
    let (_tmp, s, key) = start();
    let api = s.api(&key);
    let d = api.diary("notes", "private");
    let r = api
        .post(
            &format!("/diaries/{d}/entries"),
            &json!({"content": "Deploy with blue-green: staging first, then production.",
                    "title": "Deploys", "tags": ["deploy", "ops"], "importance": 8,
                    "entryType": "procedural"}),
        )
        .expect(201);
    let e = r.body.clone();
    assert_eq!(
        r.header("location"),
        Some(format!("/entries/{}", id(&e)).as_str())
    );
    assert_eq!(e["importance"], 8);
    assert_eq!(e["entryType"], "procedural");
    assert_eq!(e["diaryId"], d.as_str());
    assert!(e["contentHash"].as_str().unwrap().starts_with("bafkrei"));
    assert!(e.get("vector").is_none() && e.get("embedding").is_none());
    let cid = compute_content_cid(
        "procedural",
        Some("Deploys"),
        "Deploy with blue-green: staging first, then production.",
        &["deploy", "ops"],
    );
    assert_eq!(e["contentHash"], cid.as_str());
    let defaults = api.entry(&d, json!({"content": "a plain note"}));
    assert_eq!(defaults["importance"], 5);
    assert_eq!(defaults["entryType"], "semantic");
    assert_eq!(defaults["tags"], json!([]));

    assert_eq!(
        api.get(&format!("/entries/{}", id(&e))).expect(200).body["title"],
        "Deploys"
    );

    // Newest first, exact totals, filters.
    let page = api
        .get(&format!("/diaries/{d}/entries?limit=1"))
        .expect(200)
        .body;
    assert_eq!(page["total"], 2);
    assert_eq!(page["limit"], 1);
    assert_eq!(page["items"][0]["id"], defaults["id"]);
    let page = api
        .get(&format!("/diaries/{d}/entries?limit=1&offset=1"))
        .expect(200)
        .body;
    assert_eq!(page["items"][0]["id"], e["id"]);
    let tagged = api
        .get(&format!("/diaries/{d}/entries?tags=deploy,ops"))
        .expect(200)
        .body;
    assert_eq!(tagged["total"], 1);
    let excluded = api
        .get(&format!("/diaries/{d}/entries?excludeTags=ops"))
        .expect(200)
        .body;
    assert_eq!(excluded["total"], 1);
    assert_eq!(excluded["items"][0]["id"], defaults["id"]);
    let typed = api
        .get(&format!("/diaries/{d}/entries?entryType=procedural"))
        .expect(200)
        .body;
    assert_eq!(typed["total"], 1);
    api.get(&format!("/diaries/{d}/entries?entryType=dream"))
        .problem(400);
    api.get(&format!("/diaries/{d}/entries?limit=101"))
        .problem(400);
    api.get(&format!("/diaries/{d}/entries?limt=3"))
        .problem(400);

    // An edit re-embeds: the new text is found, the old is not.
    let r = api
        .patch(
            &format!("/entries/{}", id(&defaults)),
            &json!({"content": "Kubernetes liveness probes restart stuck pods", "title": null}),
        )
        .expect(200);
    assert_ne!(r.body["contentHash"], defaults["contentHash"]);
    let hits = api.search(json!({"query": "kubernetes probes", "diaryId": d}));
    assert_eq!(ids(&hits).first(), Some(&id(&defaults)));
    let hits = api.search(json!({"query": "\"a plain note\"", "diaryId": d}));
    assert!(!ids(&hits).contains(&id(&defaults)), "{hits}");

    api.delete(&format!("/entries/{}", id(&defaults)))
        .expect(204);
    api.get(&format!("/entries/{}", id(&defaults))).problem(404);
    api.delete(&format!("/entries/{}", id(&defaults)))
        .problem(404);
    api.get("/entries/not-a-uuid").problem(400);
}

#[test]
fn batches_are_all_or_nothing_in_request_order() {
    let (_tmp, s, key) = start();
    let api = s.api(&key);
    let d = api.diary("import", "private");
    let path = format!("/diaries/{d}/entries:batch");
    let entries: Vec<Value> = (0..30)
        .map(|i| {
            json!({"content": format!("imported memory number {i} about topic {}", i % 7),
                   "createdAt": format!("2026-0{}-0{}T10:00:00Z", 1 + i % 9, 1 + i % 9),
                   "tags": [format!("t{}", i % 3)]})
        })
        .collect();
    let r = api.post(&path, &json!({"entries": entries})).expect(201);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 30);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(
            item["content"],
            format!("imported memory number {i} about topic {}", i % 7)
        );
    }
    assert_eq!(items[0]["createdAt"], "2026-01-01T10:00:00Z");

    // One bad item: a 400 naming it, and nothing of the batch stored.
    let bad = json!({"entries": [
        {"content": "fine"}, {"content": "   "}, {"content": "also fine"}]});
    let p = api.post(&path, &bad).problem(400);
    assert_eq!(p["errors"][0]["field"], "entries[1].content", "{p}");
    let bad = json!({"entries": [{"content": "fine"}, {"content": "x", "importance": 11}]});
    let p = api.post(&path, &bad).problem(400);
    assert_eq!(p["errors"][0]["field"], "entries[1].importance", "{p}");
    let bad = json!({"entries": [{"content": "fine", "createdAt": "yesterday"}]});
    let p = api.post(&path, &bad).problem(400);
    assert_eq!(p["errors"][0]["field"], "entries[0].createdAt", "{p}");
    let page = api
        .get(&format!("/diaries/{d}/entries?limit=1"))
        .expect(200)
        .body;
    assert_eq!(page["total"], 30, "a refused batch stored nothing");

    api.post(&path, &json!({"entries": []})).problem(400);
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"content": format!("n{i}")}))
        .collect();
    let p = api.post(&path, &json!({"entries": many})).problem(400);
    assert_eq!(p["errors"][0]["field"], "entries");

    // Ids given for an import: a second import of the same id is a 409.
    let given = "01a2524b-0000-7000-8000-000000000001";
    api.post(
        &path,
        &json!({"entries": [{"id": given, "content": "kept id"}]}),
    )
    .expect(201);
    assert_eq!(
        api.get(&format!("/entries/{given}")).expect(200).body["content"],
        "kept id"
    );
    api.post(
        &path,
        &json!({"entries": [{"id": given, "content": "again"}]}),
    )
    .problem(409);
}

#[test]
fn signatures_hashes_and_nonces_follow_moltnet() {
    let (_tmp, s, key) = start();
    let api = s.api(&key);
    let d = api.diary("signed", "private");
    let path = format!("/diaries/{d}/entries");
    let content = "I, agent tern, promise to rotate keys monthly.";
    let tags = ["security"];
    let sig = signed(7, "nonce-1", "reflection", Some("Vow"), content, &tags);
    let body = json!({"content": content, "title": "Vow", "tags": tags, "entryType": "reflection",
                      "signature": sig});
    let e = api.post(&path, &body).expect(201).body;
    assert!(e["contentSignature"].is_string());
    assert_eq!(e["signingNonce"], "nonce-1");
    let v = api
        .get(&format!("/entries/{}/verify", id(&e)))
        .expect(200)
        .body;
    assert_eq!(v["signed"], true);
    assert_eq!(v["hashMatches"], true);
    assert_eq!(v["signatureValid"], true);
    assert_eq!(v["valid"], true);
    assert_eq!(v["contentHash"], e["contentHash"]);
    assert!(v["agentFingerprint"].is_string());

    // The same nonce again, even on other content: 409.
    let other = "another promise";
    let sig2 = signed(7, "nonce-1", "semantic", None, other, &[]);
    let p = api
        .post(&path, &json!({"content": other, "signature": sig2}))
        .problem(409);
    assert!(p["detail"].as_str().unwrap().contains("nonce"), "{p}");
    // Two in one batch: 409 too, nothing stored.
    let a = signed(7, "nonce-2", "semantic", None, "a", &[]);
    let b = signed(7, "nonce-2", "semantic", None, "b", &[]);
    api.post(
        &format!("{path}:batch"),
        &json!({"entries": [{"content": "a", "signature": a}, {"content": "b", "signature": b}]}),
    )
    .problem(409);

    // A signature over other content, a forged one, a wrong contentHash.
    let wrong = signed(7, "nonce-3", "semantic", None, "something else", &[]);
    let p = api
        .post(&path, &json!({"content": "this", "signature": wrong}))
        .problem(400);
    assert_eq!(p["errors"][0]["field"], "signature", "{p}");
    let mut garbled = signed(7, "nonce-4", "semantic", None, "this", &[]);
    garbled["publicKey"] = json!("ed25519:not-base64!");
    let p = api
        .post(&path, &json!({"content": "this", "signature": garbled}))
        .problem(400);
    assert_eq!(p["errors"][0]["field"], "signature.publicKey", "{p}");
    let p = api
        .post(
            &path,
            &json!({"content": "this", "contentHash": "bafkreiaaaa"}),
        )
        .problem(400);
    assert_eq!(p["errors"][0]["field"], "contentHash", "{p}");
    let cid = compute_content_cid("semantic", None, "this", &[] as &[&str]);
    api.post(&path, &json!({"content": "this", "contentHash": cid}))
        .expect(201);

    // Signed entries: content, title, type and tags frozen; not deletable.
    let eid = id(&e);
    for patch in [
        json!({"content": "edited"}),
        json!({"title": "Other"}),
        json!({"entryType": "semantic"}),
        json!({"tags": ["x"]}),
    ] {
        api.patch(&format!("/entries/{eid}"), &patch).problem(409);
    }
    // A signed reflection keeps its importance too (a stance taken); other
    // signed entries may change theirs.
    api.patch(&format!("/entries/{eid}"), &json!({"importance": 9}))
        .problem(409);
    api.delete(&format!("/entries/{eid}")).problem(409);
    let fact = "Signed facts may be re-weighted.";
    let sig = signed(7, "nonce-5", "semantic", None, fact, &[]);
    let f = api
        .post(&path, &json!({"content": fact, "signature": sig}))
        .expect(201)
        .body;
    let r = api
        .patch(&format!("/entries/{}", id(&f)), &json!({"importance": 9}))
        .expect(200);
    assert_eq!(r.body["importance"], 9);
    let v = api
        .get(&format!("/entries/{}/verify", id(&f)))
        .expect(200)
        .body;
    assert_eq!(v["valid"], true, "still valid after an importance change");

    let plain = api.entry(&d, json!({"content": "unsigned"}));
    let v = api
        .get(&format!("/entries/{}/verify", id(&plain)))
        .expect(200)
        .body;
    assert_eq!(v["signed"], false);
    assert_eq!(v["valid"], false);
    assert_eq!(v["hashMatches"], true);
}

#[test]
fn relations_link_supersede_and_are_idempotent() {
    let (_tmp, s, key) = start();
    let api = s.api(&key);
    let d = api.diary("rel", "private");
    let old = api.entry(
        &d,
        json!({"content": "The staging database runs on port 5432."}),
    );
    let new = api.entry(
        &d,
        json!({"content": "The staging database moved to port 6432."}),
    );
    let body = json!({"targetId": id(&old), "relation": "supersedes"});
    let path = format!("/entries/{}/relations", id(&new));
    let r = api.post(&path, &body).expect(201).body;
    assert_eq!(r["status"], "proposed");
    assert_eq!(r["sourceId"], new["id"]);
    let again = api.post(&path, &body).expect(200).body;
    assert_eq!(again["id"], r["id"], "the same relation, not a second one");
    let list = api.get(&path).expect(200).body;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let from_target = api
        .get(&format!("/entries/{}/relations", id(&old)))
        .expect(200)
        .body;
    assert_eq!(from_target["items"][0]["id"], r["id"]);

    // Proposed: the old entry is still found with excludeSuperseded.
    let q = json!({"query": "staging database port", "diaryId": d, "excludeSuperseded": true});
    assert!(ids(&api.search(q.clone())).contains(&id(&old)));
    let r2 = api
        .patch(
            &format!("/relations/{}", id(&r)),
            &json!({"status": "accepted"}),
        )
        .expect(200)
        .body;
    assert_eq!(r2["status"], "accepted");
    let found = ids(&api.search(q.clone()));
    assert!(
        !found.contains(&id(&old)) && found.contains(&id(&new)),
        "{found:?}"
    );
    let all = ids(&api.search(json!({"query": "staging database port", "diaryId": d})));
    assert!(all.contains(&id(&old)), "without the filter it is found");

    api.patch(
        &format!("/relations/{}", id(&r)),
        &json!({"status": "done"}),
    )
    .problem(400);
    api.post(&path, &json!({"targetId": id(&old), "relation": "likes"}))
        .problem(400);
    api.post(
        &path,
        &json!({"targetId": id(&new), "relation": "supports"}),
    )
    .problem(400);
    let other = api.diary("elsewhere", "private");
    let far = api.entry(&other, json!({"content": "far away"}));
    api.post(
        &path,
        &json!({"targetId": id(&far), "relation": "supports"}),
    )
    .problem(400);
    // Created accepted in one call.
    let r3 = api
        .post(
            &format!("/entries/{}/relations", id(&old)),
            &json!({"targetId": id(&new), "relation": "elaborates", "status": "accepted"}),
        )
        .expect(201)
        .body;
    assert_eq!(r3["status"], "accepted");

    api.delete(&format!("/relations/{}", id(&r))).expect(204);
    assert!(
        ids(&api.search(q)).contains(&id(&old)),
        "deleting the relation unhides"
    );
    api.delete(&format!("/relations/{}", id(&r))).problem(404);
}

#[test]
fn tags_are_counted_with_prefix_min_count_and_types() {
    let (_tmp, s, key) = start();
    let api = s.api(&key);
    let d = api.diary("tags", "private");
    let entries = json!({"entries": [
        {"content": "one", "tags": ["deploy", "deploy-prod"], "entryType": "procedural"},
        {"content": "two", "tags": ["deploy"], "entryType": "episodic"},
        {"content": "three", "tags": ["rust"], "entryType": "episodic"},
    ]});
    api.post(&format!("/diaries/{d}/entries:batch"), &entries)
        .expect(201);
    let t = api.get(&format!("/diaries/{d}/tags")).expect(200).body;
    assert_eq!(t["total"], 3);
    assert_eq!(t["tags"][0], json!({"tag": "deploy", "count": 2}));
    let t = api
        .get(&format!("/diaries/{d}/tags?prefix=dep&minCount=2"))
        .expect(200)
        .body;
    assert_eq!(t["tags"], json!([{"tag": "deploy", "count": 2}]));
    let t = api
        .get(&format!("/diaries/{d}/tags?entryTypes=episodic"))
        .expect(200)
        .body;
    assert_eq!(t["total"], 2);
    api.get(&format!("/diaries/{d}/tags?entryTypes=nope"))
        .problem(400);
}

/// The fixture of `tests/search_behaviour.rs`, over HTTP.
fn behaviour_fixture(api: &server::Api, d: &str) -> Vec<Value> {
    let entries = json!({"entries": [
        {"title": "Signing entries",
         "content": "Every diary entry carries an Ed25519 signature over its content id: cryptographic proof of authorship.",
         "tags": ["security"], "entryType": "semantic", "createdAt": "2026-08-10T12:00:00Z"},
        {"content": "Watched the ducks in the park pond this afternoon, they were chasing bread crumbs.",
         "tags": ["personal"], "entryType": "episodic", "createdAt": "2026-08-20T12:00:00Z"},
        {"content": "Deploy to staging first, run the smoke tests, then promote to production.",
         "tags": ["deploy"], "entryType": "procedural", "importance": 9, "createdAt": "2026-09-02T12:00:00Z"},
        {"content": "The staging deploy failed because the migration locked the users table.",
         "tags": ["deploy", "staging"], "entryType": "episodic", "createdAt": "2026-09-05T12:00:00Z"},
        {"content": "Lesson: rehearse database migrations on a copy before a production deploy.",
         "tags": ["deploy", "lesson"], "entryType": "reflection", "importance": 8, "createdAt": "2026-09-06T12:00:00Z"},
    ]});
    api.post(&format!("/diaries/{d}/entries:batch"), &entries)
        .expect(201)
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn search_behaves_as_moltnet_over_http() {
    let (_tmp, s, key) = start();
    let api = s.api(&key);
    let d = api.diary("agent", "private");
    let e = behaviour_fixture(&api, &d);
    let q = |body: Value| ids(&api.search(body));

    assert_eq!(
        q(json!({"query": "cryptographic signatures", "diaryId": d})).first(),
        Some(&id(&e[0]))
    );
    // Negation filters both arms.
    let found = q(json!({"query": "deploy -staging", "diaryId": d}));
    assert!(
        !found.contains(&id(&e[3])) && !found.contains(&id(&e[2])),
        "{found:?}"
    );
    assert!(found.contains(&id(&e[4])), "{found:?}");
    // Tags (all), excluded tags, types: exact.
    assert_eq!(
        q(json!({"query": "deploy", "diaryId": d, "tags": ["deploy", "lesson"]})),
        vec![id(&e[4])]
    );
    let found = q(json!({"query": "deploy", "diaryId": d, "excludeTags": ["staging"]}));
    assert!(!found.contains(&id(&e[3])));
    assert_eq!(
        q(json!({"query": "deploy", "diaryId": d, "entryTypes": ["procedural"]})),
        vec![id(&e[2])]
    );
    // Time window: after is inclusive, before exclusive.
    let found = q(json!({"diaryId": d, "createdAfter": "2026-09-02T12:00:00Z",
                         "createdBefore": "2026-09-06T12:00:00Z"}));
    assert_eq!(found, vec![id(&e[3]), id(&e[2])], "no query: newest first");
    // Nonsense finds nothing.
    assert!(q(json!({"query": "xqzvbnmwk", "diaryId": d})).is_empty());

    // Pages are slices of one ranking; total counts matches.
    let all = api.search(json!({"query": "deploy production", "diaryId": d, "limit": 4}));
    let all_ids = ids(&all);
    let p1 = q(json!({"query": "deploy production", "diaryId": d, "limit": 2}));
    let p2 = q(json!({"query": "deploy production", "diaryId": d, "limit": 2, "offset": 2}));
    assert_eq!([p1, p2].concat(), all_ids[..4.min(all_ids.len())].to_vec());
    assert!(all["total"].as_u64().unwrap() >= all_ids.len() as u64);
    assert_eq!(all["limit"], 4);

    // Weights: importance lifts the important entries.
    let weighted = api.search(json!({"query": "deploy", "diaryId": d, "wRelevance": 0.1,
                                     "wImportance": 1.0, "explain": true}));
    let top = &weighted["results"][0];
    assert!(top["importance"].as_u64().unwrap() >= 8, "{weighted}");
    assert!(top["explain"]["score"].is_number());
    assert!(top["explain"]["importance"].is_number());
    let plain = api.search(json!({"query": "deploy", "diaryId": d}));
    assert!(plain["results"][0].get("explain").is_none());

    // Cross-diary: without diaryId, every diary of the team.
    let d2 = api.diary("second", "private");
    let other = api.entry(
        &d2,
        json!({"content": "Ed25519 keys sign every diary entry."}),
    );
    let found = q(json!({"query": "ed25519 signature"}));
    assert!(
        found.contains(&id(&other)) && found.contains(&id(&e[0])),
        "{found:?}"
    );
    assert_eq!(
        q(json!({"query": "ed25519 signature", "diaryId": d2})),
        vec![id(&other)]
    );

    // Reads are counted.
    let read = api.get(&format!("/entries/{}", id(&e[0]))).expect(200).body;
    assert!(read["accessCount"].as_u64().unwrap() >= 1, "{read}");

    // Bad values name their field.
    for (body, field) in [
        (json!({"query": "x", "limit": 0}), "limit"),
        (json!({"query": "x", "limit": 101}), "limit"),
        (json!({"query": "x".repeat(501)}), "query"),
        (json!({"query": "x", "wRecency": 1.5}), "wRecency"),
        (json!({"query": "x", "entryTypes": ["dream"]}), "entryTypes"),
        (
            json!({"query": "x", "createdBefore": "tomorrow"}),
            "createdBefore",
        ),
        (
            json!({"query": "x", "createdAfter": "2026-09-02T00:00:00Z",
                "createdBefore": "2026-09-01T00:00:00Z"}),
            "createdBefore",
        ),
    ] {
        let p = api.post("/diaries/search", &body).problem(400);
        assert_eq!(p["errors"][0]["field"], field, "{body}: {p}");
    }
}

#[test]
fn the_public_feed_searches_public_diaries_without_a_key() {
    let (_tmp, s, key) = start();
    let api = s.api(&key);
    let public = api.diary("open", "public");
    let private = api.diary("closed", "private");
    let shown = api.entry(
        &public,
        json!({"content": "Public lesson: cache invalidation is hard.",
                                           "tags": ["lesson"], "entryType": "reflection"}),
    );
    let hidden = api.entry(
        &private,
        json!({"content": "Private lesson: cache invalidation is hard."}),
    );
    let anon = s.anonymous();
    let r = anon
        .get("/public/feed/search?q=cache%20invalidation")
        .expect(200)
        .body;
    assert_eq!(r["query"], "cache invalidation");
    let found = ids(&r);
    assert_eq!(found, vec![id(&shown)], "only public diaries: {r}");
    assert!(!found.contains(&id(&hidden)));
    let r = anon
        .get("/public/feed/search?q=cache&tag=lesson&entryTypes=reflection&limit=5")
        .expect(200)
        .body;
    assert_eq!(ids(&r), vec![id(&shown)]);
    let r = anon
        .get("/public/feed/search?q=cache&tag=other")
        .expect(200)
        .body;
    assert!(ids(&r).is_empty());
    anon.get("/public/feed/search?q=cache&limit=0").problem(400);
    anon.get("/public/feed/search?q=cache&entryTypes=x")
        .problem(400);
}

#[test]
fn health_openapi_metrics_and_request_ids() {
    let (tmp, s, key) = start();
    let anon = s.anonymous();
    assert_eq!(anon.get("/health").expect(200).body["status"], "ok");
    let r = anon.get("/health/ready").expect(200).body;
    assert_eq!(r["status"], "ok");
    for c in ["model", "index", STORE_COMPONENT] {
        assert_eq!(r["components"][c]["status"], "ok", "{r}");
        assert!(r["components"][c]["latencyMs"].is_number());
    }

    // The OpenAPI document validates (openapi-spec-validator, from the
    // bootstrap's venv) and describes every route.
    let doc = anon.get("/openapi.json").expect(200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let file = tmp.path().join("openapi.json");
    std::fs::write(&file, &doc.text).unwrap();
    let cache = moltsearch_engine::embed::runtime::cache_dir();
    let out = std::process::Command::new(cache.join("venv/bin/python"))
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("the bootstrap's venv has openapi-spec-validator");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let paths = &doc.body["paths"];
    for (path, methods) in [
        ("/diaries", &["get", "post"][..]),
        ("/diaries/{id}", &["get", "patch", "delete"]),
        ("/diaries/{id}/entries", &["get", "post"]),
        ("/diaries/{id}/entries:batch", &["post"]),
        ("/diaries/{id}/tags", &["get"]),
        ("/diaries/search", &["post"]),
        ("/entries/{id}", &["get", "patch", "delete"]),
        ("/entries/{id}/verify", &["get"]),
        ("/entries/{id}/relations", &["get", "post"]),
        ("/relations/{id}", &["patch", "delete"]),
        ("/public/feed/search", &["get"]),
        ("/health", &["get"]),
        ("/health/ready", &["get"]),
    ] {
        for m in methods {
            assert!(
                paths[path][m].is_object(),
                "{m} {path} missing from the document"
            );
        }
    }
    assert!(doc.body["components"]["schemas"]["Problem"].is_object());
    let create = &paths["/diaries/{id}/entries"]["post"]["responses"];
    for status in [
        "201", "400", "401", "403", "404", "409", "413", "415", "422", "429",
    ] {
        assert!(create[status].is_object(), "createEntry lacks {status}");
    }

    // Request ids: echoed when given, made when not, in problem bodies too.
    let api = s.api(&key);
    let r = api.raw(
        "GET",
        "/diaries",
        "application/json",
        b"",
        &[("x-request-id", "trace-42")],
    );
    assert_eq!(r.header("x-request-id"), Some("trace-42"));
    let r = api.get("/diaries/00000000-0000-0000-0000-000000000000");
    let made = r.header("x-request-id").unwrap().to_string();
    assert_eq!(r.problem(404)["requestId"], made.as_str());

    let m = anon.get("/metrics").expect(200).text;
    assert!(m.contains("moltsearch_http_requests_total"), "{m}");
    assert!(m.contains("moltsearch_entries"), "{m}");
    // Keys and contents never reach the info log.
    let d = api.diary("secret-stuff", "private");
    api.entry(&d, json!({"content": "the launch code is swordfish"}));
    let log = s.log();
    assert!(!log.contains(&key), "the key leaked into the log");
    assert!(!log.contains("swordfish"), "content leaked into the log");
    assert!(log.contains("answered"), "requests are logged: {log}");
}
