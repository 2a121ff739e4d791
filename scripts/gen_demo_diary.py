#!/usr/bin/env python3
"""Generate data/demo-diary.jsonl, the demo diary moltsearch ships.

The diary belongs to "tern", a fictional AI coding/ops agent working on a
fictional platform ("Harbor": harbor-api, recall (hybrid search), embedder,
keyring (Ed25519 signing keys), ingest-worker, notifier, Postgres) from
2026-07-01 to 2026-11-20.

Most entries are hand-written below, month by month, in narrative order.
A few families of routine entries (deploys, CI flakes, reviews, on-call
summaries, morning checks) are assembled from hand-written pools with a
fixed random seed, so the output is byte-for-byte reproducible.

Python 3 standard library only. Usage:

    python3 scripts/gen_demo_diary.py            # writes data/demo-diary.jsonl
    python3 scripts/gen_demo_diary.py --check    # only validates the file

The script validates its own output (see `validate`) and exits non-zero if
any constraint is violated.
"""
import argparse
import datetime as dt
import json
import os
import random
import re
import sys
from collections import Counter

SEED = 20260701
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "demo-diary.jsonl")

START = dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc)
# (year, month, number of days covered) -- the period ends on 2026-11-20.
MONTHS = [(2026, 7, 31), (2026, 8, 31), (2026, 9, 30), (2026, 10, 31), (2026, 11, 20)]

TYPES = {"ep": "episodic", "se": "semantic", "pr": "procedural", "re": "reflection"}

# The closed tag vocabulary; every tag used must be in here.
VOCAB = set("""
deploy staging production rollback incident postmortem on-call monitoring
alerting postgres migration replication ed25519 signing key-rotation security
embeddings onnx latency search hnsw tantivy bm25 eval performance memory cost
rust ci flaky-tests testing review dependencies config kubernetes networking
api docs onboarding team planning personal tooling fuzzing chunking
""".split())


def E(t, imp, tags, title, content, hour=None, after=0.0, before=5.0):
    """One hand-written entry. `hour` pins the UTC hour it was written;
    `after` and `before` (in months since 2026-07-01) bound the position of
    a LOOSE entry, for entries that refer to something mid-period."""
    return {
        "after": after,
        "before": before,
        "type": TYPES[t],
        "importance": imp,
        "tags": tags.split() if tags else [],
        "title": title,
        "content": content,
        "hour": hour,
    }


# ---------------------------------------------------------------------------
# Hand-written entries, month by month, in the order they happened.
# ---------------------------------------------------------------------------

JULY = [
    E("ep", 5, "onboarding team", "First day on the Harbor repo",
      "Priya gave me write access to harbor-platform and read-only kubectl on both clusters. "
      "The workspace has 14 crates; recall (search) and keyring are the two I will own first. "
      "CI runs cargo clippy with -D warnings, so nothing with a warning merges. "
      "I created a scratch branch tern/sandbox to try things without noise."),
    E("se", 4, "rust ci tooling", "Repo conventions in harbor-platform",
      "rustfmt with max_width 100, imports grouped std / external / crate, errors via thiserror in "
      "libraries and anyhow only in binaries. Commit messages use a scope prefix, e.g. "
      "'recall: batch tantivy commits'. PRs need one human approval, and Jonas reviews anything "
      "that touches SQL."),
    E("se", 6, "search tantivy hnsw bm25", "How recall answers a query",
      "recall runs a tantivy BM25 query and a vector query over an in-process HNSW index in "
      "parallel, then fuses the two ranked lists. Documents are diary entries: title, content and "
      "tags. Vectors are 384-dim all-MiniLM-L6-v2 embeddings produced by the embedder service. "
      "Fusion today is a weighted sum, 0.6 vector / 0.4 BM25, after min-max normalisation."),
    E("se", 7, "ed25519 signing security", "How entries are signed",
      "Every diary entry is signed by its author agent with an Ed25519 key; the signature covers "
      "the content CID, not the raw JSON, so whitespace changes cannot break it. Public keys live "
      "in the keyring service and are looked up by key id (kid). Private seeds never leave the "
      "agent's sealed secret store. harbor-api verifies on write, recall re-verifies lazily on read."),
    E("ep", 3, "onboarding testing tooling", None,
      "Ran the full test suite locally: 1,412 tests in 3m40s with cargo nextest, two of them "
      "ignored because they need a live Postgres. docker compose up pg starts one on port 55432 so "
      "it does not collide with anything else on the host."),
    E("se", 5, "postgres migration tooling", "Where migrations live",
      "Schema migrations are numbered sqlx files in migrations/; sqlx migrate run applies them and "
      "records a checksum per file in _sqlx_migrations. Editing an already-applied migration "
      "changes its checksum and the service refuses to start, so fixes always go in a new file. "
      "The latest one is 0006_entry_tags_gin.sql."),
    E("ep", 6, "embeddings latency performance staging", "Embedder latency baseline",
      "Measured embedder on a 4-vCPU staging pod: a single text takes p50 4.1 ms, p95 6.8 ms; a "
      "batch of 32 takes 38 ms, about 1.2 ms per text. Tokenization is roughly 15% of that. Fine "
      "for the write path; at query time embedding adds about 5 ms to a search."),
    E("ep", 7, "hnsw search performance eval", "HNSW parameters chosen",
      "Settled on HNSW with M=16, ef_construction=200 and ef_search=64 for the 384-dim vectors. On "
      "the 250k-entry eval snapshot that gives recall@10 of 0.962 against brute force at 1.9 ms "
      "per query. M=32 only reached 0.971 and doubled the graph's memory. Recorded as ADR-012."),
    E("pr", 6, "deploy staging", "How to deploy a service to staging",
      "1) Merge to main and wait for the image build (ghcr.io/harbor/<service>:<sha>). "
      "2) Run just deploy stg <service> <sha>, which bumps the tag in the stg overlay and lets "
      "Argo CD sync it. 3) Watch kubectl -n stg rollout status deploy/<service> until it "
      "completes. 4) Run just smoke stg and post the result in #harbor-deploys."),
    E("ep", 8, "incident staging postgres migration", "Migration 0007 locked the entries table on stg",
      "Migration 0007 added a foreign key from entry_relations to entries and held an ACCESS "
      "EXCLUSIVE lock on stg for 4 minutes while it validated 1.1M rows. harbor-api requests piled "
      "up behind it and the readiness probe failed on all three pods. I cancelled it with "
      "pg_cancel_backend and the lock cleared. Next attempt: ADD CONSTRAINT ... NOT VALID, then "
      "VALIDATE CONSTRAINT in a separate step.", hour=15),
    E("re", 7, "postgres migration", "I should have asked what lock it takes",
      "The 0007 mess was avoidable. I tested the migration on a 2k-row local database where it "
      "finished instantly and took that as proof it was cheap, but the staging table is 500 times "
      "larger. The question I skipped was 'what lock does this statement take, and for how long'. "
      "From now on I write that down in the PR description for every DDL statement."),
    E("pr", 8, "postgres migration", "Rule: lock_timeout in every migration",
      "Every migration file starts with SET lock_timeout = '3s'; and SET statement_timeout = "
      "'15min';. If the lock is not granted within 3 seconds the migration fails fast instead of "
      "queueing behind a long transaction and blocking every query that arrives after it. A retry "
      "later is cheaper than an outage."),
    E("ep", 5, "tantivy performance", "tantivy commits were eating ingest CPU",
      "Profiling ingest-worker showed IndexWriter::commit at 38% of CPU: we committed after every "
      "single entry. Each commit fsyncs and creates a new segment, so the merge policy was "
      "constantly merging tiny segments. Committing every 2 seconds or every 500 docs, whichever "
      "comes first, dropped ingest CPU from 1.8 cores to 0.4."),
    E("se", 5, "tantivy bm25 search", "tantivy BM25 knobs (or lack of them)",
      "tantivy scores with BM25 using k1=1.2 and b=0.75, fixed in the scorer, with no per-field "
      "setting. Title boosting has to be done at query time with a BoostQuery; we use 2.0. The "
      "default tokenizer lowercases and splits on non-alphanumerics but does not stem, so "
      "'deploying' does not match 'deploy' unless the en_stem filter is added."),
    E("ep", 4, "tantivy search staging", "Added English stemming to the BM25 fields",
      "Jonas approved the PR that adds the en_stem token filter to the title and content fields. "
      "It needed a full reindex: 1.1M docs on staging in 11 minutes. The query 'rotating keys' now "
      "finds entries that say 'key rotation'."),
    E("ep", 2, "personal", "Ducks on the park webcam",
      "During a long cargo build I left the Stadtpark webcam that Marco shares in #random open in "
      "a tab. A mother duck led nine ducklings in a line across the pond, and one kept drifting "
      "off toward the reeds before paddling hard to catch up. Nothing to do with work; it was a "
      "nice two minutes."),
    E("se", 6, "ed25519 signing security", "verify vs verify_strict in ed25519-dalek",
      "ed25519-dalek's verify accepts some malleable signatures and small-order public keys that "
      "verify_strict rejects. keyring used verify_strict but harbor-api called verify, so the two "
      "services could disagree about the same signature. Switched harbor-api to verify_strict; a "
      "backfill check over 1.1M stored signatures found none that fail the stricter rule."),
    E("ep", 6, "ed25519 signing testing", "Signature test vectors in keyring",
      "Added the RFC 8032 section 7.1 test vectors to keyring's tests, plus six malleability cases "
      "from the Zcash ed25519 consensus vectors. Everything passes with verify_strict. Two of the "
      "malleable cases would have passed plain verify, which confirms the switch was worth doing."),
    E("pr", 5, "ci rust testing", "Reproducing a CI-only test failure",
      "Run cargo nextest run --profile ci, which uses the same 4 test threads and 0 retries as CI. "
      "Export RUST_LOG=warn and TZ=UTC, because two tests format local timestamps. Use the "
      "toolchain pinned in rust-toolchain.toml rather than whatever rustup default is installed."),
    E("se", 4, "embeddings onnx", "How embedder runs MiniLM",
      "embedder loads all-MiniLM-L6-v2 as an ONNX graph (opset 17) through the ort crate. Mean "
      "pooling over the attention mask and L2 normalisation happen in Rust after the session "
      "runs. Our vectors match golden vectors from Python onnxruntime to within 1e-5 cosine."),
    E("ep", 5, "team planning", "Q3 priorities from Lena",
      "Lena's Q3 planning doc: 1) hybrid search quality, target nDCG@10 of 0.55 on the internal "
      "eval set (we are at 0.49); 2) signing key rotation without downtime; 3) Postgres 16 before "
      "our provider drops 13 in November. I am on 1 and 2; Marco and Dmitri own 3."),
    E("re", 5, "search", "The weighted fusion feels fragile",
      "The 0.6/0.4 weighted fusion relies on min-max normalisation, so one outlier BM25 score "
      "squashes every other lexical result toward zero. Queries with a rare exact term look "
      "great, broad queries look like pure vector search. I want to try reciprocal rank fusion, "
      "which ignores raw scores entirely."),
    E("ep", 3, "ci flaky-tests tantivy", "Flaky: recall::tests::concurrent_upsert",
      "concurrent_upsert failed 3 times in 40 CI runs with 'assertion failed: left: 999, right: "
      "1000'. The test read the doc count before the tantivy reader had reloaded. It now calls "
      "reader.reload() explicitly; 200 local runs in a row are green."),
    E("se", 4, "postgres performance", "The GIN index on tags",
      "The GIN index from migration 0006 turns tags @> ARRAY['deploy'] into a bitmap index scan: "
      "2.1 ms instead of a 340 ms sequential scan over 1.1M rows. It stops helping for tags && "
      "ARRAY[...] with more than about 20 elements, where the planner goes back to a seq scan."),
    E("ep", 6, "deploy production search", "First production deploy I drove",
      "Promoted recall 4f2c9e1 to production with Marco watching. Argo CD rolled prod-fra1 first, "
      "then prod-iad1 after 15 minutes of clean error rates. p95 search latency went from 118 ms "
      "to 96 ms thanks to the batched commits. No alerts fired.", hour=10),
    E("pr", 7, "deploy production rollback", "Production deploy checklist",
      "1) Check #harbor-deploys for a freeze or an ongoing incident. 2) shipit promote <service> "
      "<sha> --env prod opens the PR against the prod overlay; get a human approval. 3) After the "
      "sync, watch the 'recall / golden signals' board for 15 minutes per region. 4) If the 5xx "
      "rate passes 0.5% or p99 doubles, run shipit rollback <service> --env prod first and ask "
      "questions later."),
    E("se", 4, "memory hnsw performance", "HNSW memory math",
      "1.1M vectors x 384 dims x 4 bytes is 1.69 GB of raw vectors, and the layer-0 graph with "
      "M=16 (32 neighbours per node) adds about 140 MB. The recall pod's 4 GiB limit leaves room, "
      "but at the current growth of about 9k entries a day we reach it around February."),
    E("se", 5, "hnsw search", "Deletes in our HNSW index",
      "Our HNSW implementation marks deleted nodes as tombstones instead of unlinking them: they "
      "still route traversal but are filtered out of results. With many tombstones a query needs a "
      "larger ef_search to return k live hits. Tombstones are 0.4% of nodes right now, so it does "
      "not matter yet."),
    E("ep", 5, "security ed25519 key-rotation", "Key rotation requirements from Aiko",
      "Aiko wants agent signing keys rotated every 90 days and immediately on any suspected "
      "exposure. Old entries stay signed with old keys, so keyring must keep retired public keys "
      "forever, valid for verifying entries created before retirement. A new signature under a "
      "retired kid must be rejected."),
    E("re", 4, "team review", None,
      "Marco's review comments are blunt but every one comes with a reason. I started reading "
      "them as a checklist instead of as criticism, and the second round on the stemming PR went "
      "much faster."),
    E("ep", 3, "docs hnsw", "quill's draft of the HNSW handbook page",
      "Asked quill, the docs agent, to turn ADR-012 into a short handbook page. It got M and "
      "ef_construction right but described ef_search as a build-time setting; fixed that before "
      "merging. quill paraphrases confidently, so its drafts need a technical read."),
    E("pr", 5, "search eval testing", "Running the search eval",
      "cargo run -p recall-eval --release -- --queries eval/queries-v3.jsonl --qrels "
      "eval/qrels-v3.tsv prints nDCG@10, recall@10 and MRR. It needs an index snapshot in "
      "./snapshots; just eval-snapshot stg downloads the latest one. A full run over the 620 "
      "queries takes about 4 minutes."),
    E("ep", 6, "postgres performance", "Slow query: recent entries by agent",
      "pg_stat_statements showed SELECT ... WHERE agent_id = $1 ORDER BY created_at DESC LIMIT 50 "
      "averaging 85 ms. There is an index on agent_id and one on created_at, but no composite. "
      "Proposed migration 0008: CREATE INDEX CONCURRENTLY entries_agent_created_idx ON entries "
      "(agent_id, created_at DESC)."),
    E("pr", 7, "postgres migration", "CREATE INDEX CONCURRENTLY with sqlx",
      "CREATE INDEX CONCURRENTLY cannot run inside a transaction, and sqlx wraps each migration in "
      "one by default, so put '-- no-transaction' on the first line of the file. If it fails "
      "halfway it leaves an INVALID index behind. Drop that with DROP INDEX CONCURRENTLY before "
      "retrying."),
    E("ep", 4, "staging postgres migration", "Migration 0008 applied on stg",
      "0008 built the composite index on stg in 3m12s without blocking writes. The recent-entries "
      "query dropped from 85 ms to 0.9 ms. Leaving it on staging for two days before it goes any "
      "further."),
    E("re", 6, "team", "Saying 'I don't know yet'",
      "Lena asked whether the recall changes would fix the 'missing results' complaints from the "
      "support agents, and I started to say yes before noticing I had not looked at a single "
      "example query. I said I would check. Two of the three examples turned out to be a "
      "tokenizer problem with hyphenated words, not ranking at all."),
    E("ep", 5, "tantivy search bm25", "Hyphenated hostnames and BM25",
      "Support's query 'pg-main-1 failover' found nothing useful: the default tokenizer splits it "
      "into pg, main and 1, and no phrase is kept. Added a second field content_raw with a "
      "whitespace tokenizer and query both fields. Exact hostnames now rank first."),
    E("se", 3, "team onboarding", "Who to ask about what",
      "Jonas: SQL and harbor-api internals. Marco: clusters, Argo CD, on-call. Aiko: anything with "
      "keys or secrets. Dmitri: Postgres internals, a contractor, Tuesdays and Thursdays only. "
      "Lena: priorities. scout (the CI triage agent) posts failure summaries in #ci."),
    E("pr", 6, "ed25519 signing", "How to verify an entry signature by hand",
      "1) curl -s $API/entries/<id> | jq '{cid, kid, sig}' gets the CID, kid and signature. "
      "2) curl -s $KEYRING/keys/<kid> | jq -r .public_key gets the 32-byte public key (base64url). "
      "3) harbor-cli verify --cid <cid> --pubkey <key> --sig <sig> checks the Ed25519 signature "
      "over the CID bytes. 4) If it fails, recompute the CID with harbor-cli cid < entry.json to "
      "see whether the content itself changed."),
    E("ep", 3, "performance search staging", None,
      "Tried a cache for query embeddings on staging traffic: 31% hit rate over a day, mostly "
      "repeated dashboard queries. It saves about 5 ms on a hit. Not worth the memory and the "
      "invalidation story for now; dropped it."),
    E("re", 5, "review ci", "Small PRs merge faster",
      "The stemming PR was 40 lines and merged within an hour; the fusion experiment was 900 lines "
      "and sat for four days through two review rounds. Splitting it into 'add RRF behind a flag' "
      "and 'switch the default' would have been faster overall."),
    E("se", 5, "api", "Keyset pagination in harbor-api",
      "harbor-api paginates entries by (created_at, id) with an opaque base64 cursor. Offset "
      "pagination was removed in v0.3 because OFFSET 100000 still scans every skipped row. Cursors "
      "stay valid across inserts; new entries simply appear on the first page."),
]

AUGUST = [
    E("ep", 6, "search eval", "RRF experiment results",
      "Ran the eval with reciprocal rank fusion (k=60) against the weighted sum: nDCG@10 0.49 to "
      "0.531, MRR 0.58 to 0.61. Broad queries improved the most. Exact-identifier queries lost a "
      "little (0.71 to 0.69) because a single strong BM25 hit no longer dominates the list."),
    E("ep", 7, "search review", "Decision: fuse with RRF instead of a weighted sum",
      "Decided with Priya to make RRF with k=60 the default fusion in recall, behind the config "
      "key fusion.method so we can flip back. The weighted sum stays available for A/B "
      "comparisons. Written up as ADR-014."),
    E("se", 5, "search", "Reciprocal rank fusion in one paragraph",
      "RRF scores a document as the sum over result lists of 1/(k + rank), with rank starting at "
      "1. The k=60 from Cormack et al. damps the gap between rank 1 and rank 5. A document "
      "missing from one list just gets nothing from it, so no score normalisation is needed."),
    E("ep", 6, "deploy staging search", "RRF fusion on staging",
      "Deployed recall 9a1d3b7 with fusion.method=rrf to stg. Smoke suite green, p95 unchanged at "
      "41 ms. Asked scout to diff the top-10 results for the 200 most frequent staging queries: "
      "63% of top-1 results are unchanged."),
    E("ep", 9, "incident production hnsw performance config", "Production search p99 at 2.3 s",
      "Paged at 14:12: recall p99 in prod-fra1 jumped from 180 ms to 2.3 s. Cause: a change meant "
      "for the eval job set hnsw.ef_search=400 in the shared base overlay instead of the eval "
      "overlay. Rolled back with shipit rollback recall --env prod at 14:31, and p99 was back at "
      "170 ms by 14:36. Customer-visible for 24 minutes.", hour=15),
    E("re", 8, "postmortem config", "Postmortem: ef_search landed in the wrong overlay",
      "The change was mine. I edited kustomize/base/recall.yaml because the eval overlay had no "
      "recall block yet, meant to move it, and forgot. Review missed it because the diff looked "
      "like a one-line tuning change. Actions: a CI lint that fails if base overlays touch hnsw.* "
      "keys, and I render the manifests for every environment before asking for review."),
    E("pr", 7, "config deploy ci kubernetes", "Render manifests before review",
      "For any change under kustomize/, run just render-all, which writes kustomize build output "
      "for stg, prod-fra1 and prod-iad1 into target/rendered/. Then git diff --no-index against "
      "the render of main and paste the summary into the PR. If a change meant for one "
      "environment shows up in three, stop."),
    E("ep", 4, "ci config", None,
      "Added ci/check_overlays.py: it fails the build if kustomize/base contains any key on a "
      "deny-list (hnsw.*, fusion.*, embedder.batch_size). Marco extended it to replica counts and "
      "resource limits the same afternoon."),
    E("re", 4, "personal", None,
      "A quiet day with no pages and no deploys. I reread the HNSW paper's section on heuristic "
      "neighbour selection and finally understood why it matters for clustered data."),
    E("ep", 6, "embeddings onnx performance", "int8 quantized embedder",
      "Quantized all-MiniLM-L6-v2 to int8 with dynamic per-channel quantization. Batch-32 latency "
      "went from 38 ms to 17 ms on the same 4 vCPUs, and the model file from 90 MB to 23 MB. Eval "
      "recall@10 moved from 0.962 to 0.959, within the noise of the query set."),
    E("ep", 6, "embeddings", "Decision: int8 for documents and queries alike",
      "Going with the int8 model for both write-path and query-time embeddings. Mixing fp32 "
      "documents with int8 queries is a bad idea: the two versions of the same text only reach "
      "0.991 cosine. So the whole corpus gets re-embedded once, in the background, over about "
      "three hours per region."),
    E("pr", 6, "embeddings hnsw migration", "How to re-embed the corpus with a new model",
      "1) Start embedder with the new model under a new model_id, e.g. minilm-l6-int8. "
      "2) harbor-cli reembed --model minilm-l6-int8 --batch 256 writes vectors under that id and "
      "resumes from the last processed entry if interrupted. 3) Build a fresh HNSW index from "
      "those vectors offline. 4) Point recall's index.active at the new index and keep the old "
      "one for a day."),
    E("ep", 5, "staging embeddings", "Re-embedding run on stg",
      "harbor-cli reembed processed 1.14M entries on stg in 2h51m, about 111 entries/s, with "
      "embedder pods at 85% CPU. Two batches failed with 'input too long: 612 tokens > 512' on "
      "huge entries because truncation was off in the tokenizer config. Fixed it and resumed."),
    E("se", 6, "embeddings chunking", "MiniLM and long texts",
      "all-MiniLM-L6-v2 has 512 position embeddings but was trained on sequences of 128 tokens "
      "and fine-tuned up to 256, so text beyond that adds little. We truncate at 256 tokens, and "
      "entries longer than that will need chunking to be fully searchable by meaning."),
    E("se", 6, "hnsw", "Why the HNSW neighbour heuristic helps",
      "With simple selection a node's neighbours are its M nearest candidates, which in clustered "
      "data all sit in the same cluster. The heuristic keeps a candidate only if it is closer to "
      "the new node than to any neighbour already chosen, which preserves long-range links between "
      "clusters. Ours runs the heuristic with extendCandidates=false and keepPrunedConnections=true."),
    E("ep", 7, "security ed25519 key-rotation", "Key rotation design doc",
      "Wrote the design for rotating agent Ed25519 keys: keyring gets key states active, retiring "
      "and retired. Verification of an existing entry uses the key that was active at the entry's "
      "created_at. The first version does an instant cutover to the new kid. Aiko reviewed it and "
      "asked for signed rotation statements: the new public key signed by the old key."),
    E("se", 6, "ed25519 signing key-rotation", "Rotation statement format",
      "A rotation statement is the bytes 'harbor-key-rotation-v1' || old_kid || new_kid || "
      "new_public_key || not_before (u64 big-endian), signed with the old Ed25519 key. It proves "
      "continuity without a central authority. An agent whose old key may be compromised needs an "
      "admin-signed rotation instead."),
    E("ep", 8, "incident ed25519 key-rotation production", "Signature rejections after the first key rotation",
      "The first real rotation (agent ledger, kid k-ledger-2026-05 to k-ledger-2026-08) caused "
      "3,400 rejected writes in production within 40 minutes, all 'unknown kid'. harbor-api "
      "caches public keys for 24 hours, and it had also cached the miss for the new kid, so it "
      "never asked keyring again. Flushing the key cache on all pods stopped the rejections; "
      "ledger's queue retried everything, no data lost.", hour=9),
    E("re", 7, "ed25519 key-rotation", "Negative caching bit me",
      "I designed the rotation without looking at how harbor-api caches keys; I assumed a miss "
      "would go to keyring. Caching 'no such kid' is sensible against abuse but wrong right after "
      "a rotation. The lesson: trace the whole path of a key, from keyring through every cache, "
      "before calling a design done."),
    E("ep", 7, "ed25519 key-rotation", "Revised: key rotation no longer cuts over instantly",
      "Revised: the rotation design drops the instant cutover. New keys are published to keyring "
      "48 hours before they become active, harbor-api's negative-cache TTL goes down to 60 "
      "seconds, and keyring emits a key-added event that invalidates caches. This supersedes the "
      "cutover section of the design doc."),
    E("pr", 8, "ed25519 key-rotation signing", "How to rotate an agent's signing key",
      "1) harbor-cli keys generate --agent <name> creates a new Ed25519 keypair in the agent's "
      "secret store and prints the new kid. 2) harbor-cli keys publish --agent <name> --kid <new> "
      "--not-before now+48h publishes it with a rotation statement signed by the old key. 3) After "
      "not-before, check the keyring dashboard shows writes under the new kid only. 4) After 7 "
      "days, harbor-cli keys retire --kid <old>; retired keys stay for verification and are "
      "never deleted."),
    E("ep", 5, "postgres monitoring", "Autovacuum lagging on entries",
      "n_dead_tup on entries reached 4.2M, about 27% of the table, because the re-embed job "
      "updated every row. Autovacuum with the default scale factor of 0.2 started late and ran for "
      "three hours. Set autovacuum_vacuum_scale_factor = 0.02 on the entries table only, with "
      "ALTER TABLE ... SET."),
    E("se", 5, "postgres", "UPDATE leaves dead tuples behind",
      "Every UPDATE in Postgres writes a new row version, and the old one stays until vacuum "
      "removes it. Keeping the 1.5 KB vector inline in entries means every re-embed temporarily "
      "doubles the table. Jonas suggests a separate entry_vectors table keyed by (entry_id, "
      "model_id) so re-embedding never touches entries."),
    E("ep", 6, "postgres migration", "Migration 0009: entry_vectors",
      "Wrote 0009_entry_vectors.sql: table entry_vectors(entry_id, model_id, dims, vec bytea, "
      "created_at) with primary key (entry_id, model_id). The backfill is a separate batched job, "
      "10k rows per transaction with a 200 ms pause, so replica lag stays under a second."),
    E("ep", 7, "incident staging postgres replication", "Staging replica fell 14 minutes behind",
      "pg-stg-1 replication lag reached 14 minutes during the entry_vectors backfill because I ran "
      "two backfill workers instead of one. Readers on stg that hit the replica saw new entries "
      "'disappear' right after creating them. Stopped the second worker; lag recovered within 6 "
      "minutes."),
    E("re", 6, "postgres replication", "Parallelism was not free",
      "I doubled the backfill workers to finish before the end of the day, a deadline nobody had "
      "set. The single-worker rate was fine. When a job is slow, the first question is who is "
      "actually waiting for it; this time it was nobody."),
    E("ep", 5, "production deploy embeddings", "int8 embedder live in production",
      "Promoted embedder 2be80c4 (int8) to production after the background re-embed finished in "
      "both regions. Write-path p95 for POST /entries went from 61 ms to 44 ms. Switched recall's "
      "index.active to the minilm-l6-int8 index at 10:05; no change in click-through on the search "
      "dashboard over the following day.", hour=11),
    E("ep", 4, "team onboarding", "Sam starts in September",
      "Priya says a new backend engineer, Sam Ortiz, starts in the first week of September, and I "
      "am their onboarding buddy for the recall codebase. Started a list of the things I wish I "
      "had known on my first day."),
    E("ep", 3, "ci performance", None,
      "Enabled sccache with the GCS backend in CI. A clean workspace build went from 14 to 6 "
      "minutes with a warm cache, and incremental PR builds sit around 3 minutes. The bucket was "
      "38 GB after a week, so it now has a 30-day lifecycle rule."),
    E("ep", 4, "flaky-tests ci testing", "scout's flaky-test report",
      "scout's weekly report lists 7 flaky tests; 4 are in keyring and all sleep on real time with "
      "tokio::time::sleep. Converted them to paused time with tokio::time::advance. Each now takes "
      "20 ms instead of 3 s and cannot race."),
    E("se", 4, "rust testing", "tokio paused time",
      "With #[tokio::test(start_paused = true)] tokio's clock only moves when every task is idle "
      "or when advance() is called, so sleeps and timeouts become deterministic. It requires the "
      "current_thread runtime, and it affects tokio::time::Instant only, not std::time::Instant."),
    E("se", 5, "hnsw performance", "HNSW build time vs ef_construction",
      "Building the HNSW index over 1.16M vectors with ef_construction=200 takes 19 minutes on 8 "
      "threads. ef_construction=100 takes 11 minutes, but recall@10 drops from 0.962 to 0.955. "
      "Keeping 200, since builds happen offline anyway."),
    E("pr", 6, "hnsw search eval", "Choosing ef_search",
      "Measure, don't guess: recall-eval --sweep ef_search=32,48,64,96,128,200 prints recall@10 "
      "and p95 for each value. Pick the smallest ef_search whose recall is within 0.005 of the "
      "200 run. ef_search must be at least k; the code clamps it silently, which confused me once."),
    E("ep", 4, "security review ed25519", "Aiko's review of the keyring API",
      "Aiko asked for a rate limit on GET /keys/{kid} (enumerating public keys leaks nothing "
      "secret, but it is noisy) and for the admin rotation endpoint to require two approvers. "
      "Filed as KR-41 and KR-42."),
    E("ep", 2, "personal", "The ducklings have grown",
      "Back on the Stadtpark webcam while an index build ran: the ducklings are nearly grown and "
      "hard to tell apart from their mother, except that they still swim in a line behind her. "
      "Someone has put a small wooden sign by the pond that I cannot read at this resolution."),
    E("re", 5, "review team", "Nits are not blockers",
      "I left 11 comments on Jonas's query-builder refactor and later saw that 8 were style "
      "preferences. He took it well, but it cost him an afternoon. I now prefix those with 'nit:' "
      "and only block on correctness and safety."),
    E("ep", 3, "monitoring hnsw alerting", None,
      "Added a Grafana panel for the HNSW tombstone ratio per region and an alert at 10%. It reads "
      "0.6% in fra1 and 0.5% in iad1 today."),
    E("ep", 6, "production deploy ed25519 key-rotation", "Key rotation support shipped to production",
      "Rolled keyring 7c41e0a and harbor-api 51f0d92 to production with the 48-hour publish "
      "window and the cache-invalidation events. keyring went first, then harbor-api, because the "
      "new API consumes the new event type. Both regions clean after 30 minutes."),
    E("pr", 5, "deploy production", "Ordering deploys of dependent services",
      "When service B starts consuming something new from service A, deploy A first and make B "
      "tolerate A's old behaviour, so rolling back either one is safe. For keyring and harbor-api: "
      "old harbor-api ignores the key-added events, and new harbor-api works without them, just "
      "with slower cache refresh."),
    E("ep", 5, "latency search postgres", "Where a slow search spends its time",
      "Traced a slow search: 43 ms total, of which query embedding 7 ms, HNSW 3 ms, tantivy 9 ms, "
      "and 21 ms hydrating hits from Postgres with one query per hit. Embedding is not the problem. "
      "Switched hydration to a single SELECT ... WHERE id = ANY($1)."),
    E("ep", 3, "performance postgres", None,
      "With the ANY($1) hydration, fetching 20 hits takes 3 ms and search p50 is down to 22 ms. "
      "Should have looked at the trace before guessing at the embedder."),
]

SEPTEMBER = [
    E("ep", 5, "onboarding team", "Sam's first day",
      "Sam Ortiz started today. We paired for two hours: cloned the repo, ran the docker compose "
      "stack and followed one search request from the HTTP handler down to tantivy and the HNSW "
      "index. Sam asked why we don't just use pgvector, a fair question, so I wrote the answer up."),
    E("se", 6, "postgres hnsw search", "Why recall does not use pgvector",
      "pgvector's HNSW was evaluated in June (ADR-009, before my time): at 1M vectors it matched our "
      "recall, but index builds held back vacuum and query latency under concurrent writes was 3-4x "
      "worse. Postgres stays the source of truth for vectors while recall serves ANN from an "
      "in-process index it can rebuild offline. The price is a second copy of the data to keep in "
      "sync."),
    E("pr", 6, "onboarding docs", "Onboarding: the first week on recall",
      "1) docker compose up, then just seed loads 10k synthetic entries. 2) Read ADR-009, 012 and "
      "014 in that order. 3) Take one good-first-issue all the way to staging. 4) Shadow one "
      "on-call shift with Marco. 5) Ask anything in #recall-dev; nothing is too small in week one."),
    E("ep", 4, "onboarding staging deploy", "Sam's first staging deploy",
      "Sam shipped their first change to staging: a clearer error when a query exceeds 1,024 "
      "characters. Followed the staging runbook without help; the only miss was forgetting to post "
      "in #harbor-deploys."),
    E("ep", 6, "postgres migration staging", "Postgres 16 upgrade on staging",
      "Marco and Dmitri ran pg_upgrade --link from 13 to 16 on the stg cluster. Downtime was 6 "
      "minutes, mostly the vacuumdb --all --analyze-in-stages afterwards. pg_stat_kcache had to be "
      "dropped and recreated. recall's queries all ran within 5% of their PG 13 timings on staging."),
    E("se", 5, "postgres migration", "pg_upgrade --link has no way back",
      "With --link the new cluster hard-links the old data files, so once the new server has "
      "started, the old one cannot safely be used again. The fallback has to be a restore from "
      "backup or a standby that was not upgraded, never 'start the old version'."),
    E("ep", 6, "embeddings latency performance onnx", "Embedder got slower on bigger nodes",
      "After embedder moved to 8-vCPU nodes, batch-32 p95 got worse: 17 ms to 29 ms. ort sized "
      "its intra-op thread pool from the host's 16 logical cores while each pod runs 4 worker "
      "tasks, so 64 threads fought over 8 vCPUs. With intra_op_num_threads=2 per session, p95 is "
      "12 ms."),
    E("se", 6, "onnx embeddings performance kubernetes", "onnxruntime threads in containers",
      "onnxruntime sizes its intra-op pool from the machine, not the cgroup CPU quota, unless told "
      "otherwise. In containers, always set intra_op_num_threads and keep workers x threads at or "
      "below the CPU limit. Inter-op threads only help graphs with parallel branches; a BERT "
      "encoder is sequential, so 1 is right."),
    E("ep", 5, "search tantivy bm25", "Tags out of the stemmed text field",
      "Tags were indexed as a stemmed text field, so the tag 'deploys' matched 'deploy' but also "
      "'deployment'. Moved tags to a raw string field queried with exact terms and a boost of "
      "1.5. Eval nDCG@10 went from 0.531 to 0.538."),
    E("ep", 4, "search eval", "Title boost sweep",
      "Swept the title boost from 1.0 to 3.0 in steps of 0.5. The best nDCG@10 was at 2.5 "
      "(0.541), but the gain over 2.0 is 0.003, smaller than the run-to-run variation from HNSW "
      "build randomness. Left it at 2.0."),
    E("re", 6, "search eval", "Chasing noise in the eval",
      "I spent most of a day tuning the title and tag boosts for gains of 0.003. The eval set has "
      "620 queries, and the standard error on nDCG@10 is around 0.01. Before tuning anything, work "
      "out whether the effect being chased is even detectable."),
    E("pr", 5, "eval search testing", "Significance check for ranking changes",
      "recall-eval --compare a.json b.json runs a paired bootstrap with 10,000 resamples over "
      "per-query nDCG@10 and prints a 95% interval for the difference. If the interval contains "
      "zero, do not claim it as an improvement."),
    E("ep", 8, "production postgres migration", "Postgres 16 in production",
      "Production upgrade to PG 16 done in the 05:00 UTC window. pg-main-0 was upgraded with "
      "--link and the replicas rebuilt from it with pg_basebackup. Write downtime was 9 minutes; "
      "harbor-api held writes in its outbox and drained them in under a minute. One surprise: "
      "billing-sync relied on an implicit cast that errors now, and Jonas hotfixed it inside the "
      "window.", hour=7),
    E("re", 5, "postgres migration", "Why the Postgres upgrade was boring",
      "The PG 16 upgrade was boring, which is the point. Dmitri rehearsed it twice on a copy of the "
      "production data and wrote every command into the runbook with its expected output. The "
      "billing-sync failure was the only unrehearsed part, because billing-sync was not in the "
      "rehearsal environment. Rehearsals need every client of the database, not only ours."),
    E("ep", 7, "incident production postgres", "Outbox backlog in prod-iad1",
      "harbor-api's outbox grew to 310k rows in prod-iad1 because the relay lost its Postgres "
      "LISTEN connection after a network blip and never reconnected. Its fallback poll ran only "
      "every 10 minutes with a batch size of 100. Restarting the relay pod drained the backlog in "
      "4 minutes, but recall's indexing had been up to two hours stale.", hour=13),
    E("ep", 5, "postgres api", None,
      "The outbox relay now reconnects with backoff on any connection error and does a full poll "
      "right after reconnecting, since notifications sent while it was disconnected are lost. The "
      "fallback poll interval went from 10 minutes to 30 seconds."),
    E("se", 5, "postgres", "LISTEN/NOTIFY is only a hint",
      "Postgres delivers a NOTIFY only to sessions that are listening when the transaction "
      "commits; nothing is queued for a listener that is disconnected. Payloads are capped at "
      "8,000 bytes. Treat notifications as a hint to poll, never as the source of truth."),
    E("ep", 4, "fuzzing ci ed25519", "Nightly fuzzing",
      "Set up a nightly cargo fuzz job for the CID parser and the signature envelope decoder, 30 "
      "minutes each. The first night found one crash: an index out of bounds on a truncated "
      "multibase prefix. Fixed it and added the input to the corpus."),
    E("ep", 1, "", None,
      "Lena moved the weekly sync from the start of the week to midweek; more people have context "
      "by then and the meeting is shorter."),
    E("ep", 6, "security ed25519 testing", "A signing seed in a test fixture",
      "Aiko's secret scanner flagged tests/fixtures/agent_ledger.json: it contained a 32-byte "
      "Ed25519 seed. It was generated only for the fixture, never a real key, but it used the real "
      "kid format and the name of a real agent. Renamed it to test-agent, regenerated it with a "
      "'test-' kid prefix, and keyring now refuses to publish any kid starting with 'test-'."),
    E("re", 5, "security testing", "Fake secrets that look real",
      "Even a fake secret costs real work if it looks real: the scanner alert took Aiko an hour to "
      "triage. Test keys should be obviously test keys, in name and in format, so that nobody has "
      "to wonder."),
    E("ep", 6, "hnsw memory performance", "HNSW vectors in a memory-mapped file",
      "Changed recall to keep HNSW vectors in a memory-mapped file instead of a heap Vec<f32>. RSS "
      "dropped from 3.1 GiB to 1.2 GiB because pages come in on demand. Cold queries are slower "
      "(p95 60 ms over the first 1,000) until the page cache warms, so there is now a warm-up that "
      "reads the file sequentially at startup."),
    E("se", 5, "memory kubernetes", "mmap pages and the memory limit",
      "Memory-mapped file pages are charged to the pod's cgroup once touched, but they are page "
      "cache and reclaimable, so they do not get the pod OOM-killed the way anonymous memory does. "
      "container_memory_working_set_bytes counts active file pages, which is why the dashboard "
      "still shows about 2.9 GiB."),
    E("ep", 5, "staging deploy hnsw", "mmap index soaking on stg",
      "recall 3e9a7f2 with the mmap index has run on stg for three days: no errors, p95 39 ms "
      "after warm-up. Restarts take 40 s instead of 95 s since there is no deserialisation step."),
    E("ep", 6, "production deploy hnsw memory", "mmap index promoted to production",
      "Promoted recall 3e9a7f2 to production. After a day of watching, Marco suggested lowering the "
      "memory limit from 4 GiB to 3 GiB per pod, which we did. Pod restarts in prod-fra1 now take "
      "38 s."),
    E("ep", 4, "review team", "Review of Sam's rate-limit PR",
      "Sam's PR adds a per-agent rate limit to search, with good tests. I suggested reusing the "
      "existing governor-based limiter instead of a hand-rolled token bucket, and pointed out that "
      "keying by agent name instead of agent id breaks after a rename."),
    E("pr", 6, "on-call monitoring", "Taking over on-call",
      "Read the last 24 hours of #harbor-alerts and the previous handover note. Check open "
      "incidents and every Alertmanager silence with its expiry. Confirm kubectl works against "
      "both clusters and that the Postgres bastion lets you in before the previous person logs "
      "off. Write down anything odd you notice, even if it is not alerting."),
    E("ep", 5, "alerting on-call monitoring", "Trimming pages that nobody acts on",
      "Counted last month's pages: 23 in total, 14 of them DiskUsageHigh on build runners, which "
      "nobody ever acts on. Moved that alert to a ticket-only route and raised its threshold to "
      "90%."),
    E("ep", 7, "embeddings eval latency", "Evaluated e5-small-v2",
      "Tried e5-small-v2 (also 384 dims, but 12 layers to MiniLM's 6) on our eval: nDCG@10 0.538 "
      "to 0.566, a real gain per the bootstrap (interval 0.017 to 0.039). But batch-32 latency is "
      "31 ms int8 against 12 ms, and re-embedding costs about three more hours per region. It also "
      "needs 'query: ' and 'passage: ' prefixes, which our pipeline cannot add yet."),
    E("ep", 6, "embeddings planning", "Decision: stay on MiniLM this quarter",
      "Staying on all-MiniLM-L6-v2 int8 for this quarter. The e5 gain is real, but the embedding "
      "write path is shared by every agent's ingest, and Lena would rather spend the latency "
      "budget on chunking first. Revisit in November with e5 prefixes implemented behind a flag."),
    E("se", 4, "embeddings", "e5 prefixes",
      "e5 models expect 'query: ' in front of search queries and 'passage: ' in front of documents, "
      "and retrieval quality drops noticeably without them. Count the prefix inside the token "
      "budget when truncating, or long passages silently lose their last tokens."),
    E("ep", 5, "chunking embeddings hnsw", "Chunking long entries",
      "Entries over 256 tokens are now split into windows of 200 tokens with 50 tokens of overlap; "
      "each chunk becomes its own HNSW node carrying its entry_id. At query time hits are grouped "
      "by entry and the best chunk wins. 4.8% of entries get chunked and the index grew by 7%."),
    E("ep", 1, "", None,
      "Sam pointed out that the fern behind Marco on video calls has been dying for weeks. Marco "
      "says it is plastic and has always looked like that. The call needed a minute to recover."),
    E("re", 6, "onboarding docs", "What onboarding Sam taught me",
      "Explaining recall to Sam showed three places where my own understanding was shallow: why "
      "tombstones need a larger ef_search, what the outbox actually guarantees, and how CIDs treat "
      "tag order. Writing the answers down produced better docs than anything I wrote in July. "
      "Teaching is a decent test of whether I really know something."),
    E("se", 6, "signing ed25519", "CIDs and tag order",
      "The content CID hashes entryType, title, content and tags exactly as given, so "
      "['deploy','staging'] and ['staging','deploy'] produce different CIDs and different "
      "signatures. harbor-api deliberately does not sort tags: the signer decides the bytes. "
      "Clients that reorder tags before re-sending a signed entry will fail verification."),
    E("ep", 4, "dependencies ci tantivy", None,
      "cargo update bumped 31 crates this week. tantivy 0.22 to 0.24 needed a small change because "
      "Searcher::search now takes the collector by reference. cargo deny flagged nothing new; one "
      "duplicate version of syn remains."),
    E("ep", 6, "incident staging deploy", "stg out of sync for two hours",
      "Argo CD showed recall OutOfSync on stg for two hours before anyone noticed: the sync had "
      "failed because the image tag did not exist. I had pasted 3e9a7f instead of 3e9a7f2. just "
      "deploy now checks that the image exists in the registry before it commits the overlay bump."),
    E("pr", 5, "deploy staging tooling", "Check the image before bumping the stg overlay",
      "Before bumping the stg overlay by hand, run crane digest ghcr.io/harbor/<service>:<sha>; an "
      "error means the image was never built. Take the SHA from git log --format=%h -n1 "
      "origin/main rather than copying it from chat."),
    E("ep", 5, "postgres performance", "The planner picked the wrong index after the upgrade",
      "After PG 16 the tag filter query started scanning entries_created_at_idx and filtering, 120 "
      "ms instead of 3 ms for rare tags. The statistics on the tags array were too coarse: "
      "default_statistics_target 100 is small for 40k distinct tags. ALTER TABLE entries ALTER "
      "COLUMN tags SET STATISTICS 1000 plus ANALYZE brought back the bitmap scan on the GIN index."),
    E("re", 4, "postmortem", None,
      "I keep writing 'fixed' in this diary when I mean 'mitigated'. The outbox relay was "
      "mitigated by a restart and only fixed two days later. The difference matters to whoever "
      "searches this later to decide whether something can happen again."),
    E("ep", 4, "team planning cost", "Q4 planning",
      "Q4 themes from Lena: 1) search quality, meaning chunking and possibly e5; 2) make key "
      "rotation routine, every agent rotated at least once; 3) cost, since recall pods are 38% of "
      "the cluster bill. I am on 1 and 2 again, and Sam joins 3."),
]

OCTOBER = [
    E("ep", 9, "incident production postgres replication", "Disk full on pg-main-2",
      "At 03:40 pg-main-2, a replica in prod-fra1, hit 100% disk and crashed. A replication slot "
      "named recall_cdc_test, created during an experiment in August, had been inactive ever since "
      "and was holding 410 GB of WAL. Dropped the stale slot, grew the volume by 200 GB, and the "
      "replica recovered at 04:55. Reads were served by pg-main-1 throughout.", hour=5),
    E("re", 8, "postmortem postgres replication", "Postmortem: the forgotten replication slot",
      "I created that slot while testing logical decoding for recall's indexing and never dropped "
      "it. Nothing alerted on inactive slots, and WAL growth looked like ordinary disk growth on "
      "the dashboard. Actions: alert on pg_replication_slots with active = false for over an hour, "
      "set max_slot_wal_keep_size = 50GB so no slot can fill a disk again, and every experiment "
      "gets a cleanup ticket before it starts."),
    E("pr", 7, "postgres replication monitoring", "Checking replication slots",
      "SELECT slot_name, active, pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), "
      "restart_lsn)) AS retained FROM pg_replication_slots; Any inactive slot retaining more than a "
      "few GB needs an owner or pg_drop_replication_slot(name). Never drop a slot a live replica "
      "depends on; check pg_stat_replication first."),
    E("ep", 5, "ed25519 key-rotation", "Every agent rotated once",
      "All 17 agents have now rotated their signing keys at least once with the 48-hour publish "
      "window. Zero rejected writes across all rotations since the cache invalidation change. The "
      "slowest was quill, whose secret store needed a manual unseal."),
    E("se", 5, "ed25519 signing", "Ed25519 sizes and properties",
      "Ed25519 public keys are 32 bytes, signatures 64 bytes, and private seeds 32 bytes, expanded "
      "to 64 internally. Signing is deterministic: the same key and message always give the same "
      "signature, so a bad RNG cannot leak the key the way it can with ECDSA. On the wire we use "
      "unpadded base64url for keys and signatures."),
    E("ep", 6, "hnsw search production", "Tombstones after a bulk delete",
      "An agent's retention job deleted 140k old entries, which took tombstones in prod-iad1 to "
      "12.5% and fired the alert. recall@10 on the eval snapshot fell from 0.961 to 0.944. "
      "Scheduled an offline rebuild."),
    E("pr", 6, "hnsw", "Rebuilding an HNSW index",
      "1) just hnsw-build <region> builds a new index file from entry_vectors on the snapshot "
      "volume, about 20 minutes. 2) recall-eval against the new file must show recall@10 of at "
      "least 0.955. 3) harbor-cli recall swap-index --region <region> --file <path> loads it and "
      "switches atomically, replaying writes from the outbox since the build's start LSN. 4) Keep "
      "the old file until the next day."),
    E("ep", 5, "hnsw production performance", "prod-iad1 index rebuilt",
      "Rebuilt the HNSW index in prod-iad1: tombstones 12.5% to 0, recall@10 back to 0.962, and "
      "search p95 from 52 ms down to 44 ms now that queries stop wading through dead nodes. The "
      "replay caught up 3,100 writes in 8 seconds."),
    E("ep", 7, "hnsw search chunking", "Revised: HNSW ef_search raised from 64 to 96",
      "Revised: ef_search goes from 64 to 96. With chunking the index has 7% more nodes and many "
      "near-duplicate vectors from overlapping windows, and recall@10 at 64 slipped to 0.951. At "
      "96 it is 0.964 for 0.6 ms more p95. This supersedes the ef_search value in ADR-012; M and "
      "ef_construction are unchanged."),
    E("ep", 4, "staging hnsw config", "ef_search 96 on stg",
      "Set hnsw.ef_search to 96 in the stg overlay only, and the rendered diff showed exactly one "
      "file changing. Search p95 on stg went from 39 to 40 ms; nothing else moved."),
    E("ep", 5, "production deploy hnsw", "ef_search 96 in production",
      "ef_search=96 is now live in production in both regions. p95 rose by 0.7 ms in prod-fra1 and "
      "0.5 ms in prod-iad1, well inside the latency budget."),
    E("ep", 6, "cost kubernetes", "Looking at what recall costs",
      "Sam and I went through recall's cost: 12 pods per region at 2 vCPU and 3 GiB, averaging 22% "
      "CPU. The HPA minimum had been set to 12 during the August latency incident and never "
      "lowered. Dropped it to 6 with a 60% CPU target, which should save about 40% of recall's "
      "compute."),
    E("re", 5, "cost config", "Temporary settings are not",
      "The HPA minimum of 12 was a temporary fix I asked for in August 'until we understand the "
      "latency'. We understood it the same week and nobody, me included, went back. Temporary "
      "changes now get a dated TODO in the overlay and a ticket with a due date."),
    E("ep", 4, "tantivy performance production", "Too many tantivy segments",
      "The tantivy index in prod-fra1 had crept up to 84 segments, and every query touches each "
      "one. Tuned the LogMergePolicy (min_num_segments 4, max_docs_before_merge 5M) and it settled "
      "at about 12 segments. BM25 p95 went from 9 ms to 5 ms."),
    E("se", 4, "tantivy bm25", "How tantivy deletes documents",
      "A tantivy delete_term only marks documents in a per-segment bitset; they are purged when "
      "the segment is merged. Until then BM25 statistics (document count, average field length) "
      "still include the deleted documents, which skews scores a little after bulk deletes."),
    E("ep", 2, "personal", "A heron at the duck pond",
      "The Stadtpark webcam shows the pond half covered in yellow leaves. I counted 14 ducks, "
      "mostly mallards, and one grey heron standing perfectly still at the edge for the whole ten "
      "minutes my reindex took. Marco says the heron is there every morning."),
    E("ep", 6, "security api", "External pentest findings",
      "The external pentest of harbor-api found nothing critical. One medium: the /search endpoint "
      "echoed the raw query in its 400 error, a log-injection vector. One low: key lookups lacked "
      "Cache-Control headers. Both fixed in harbor-api 8d2e6b1."),
    E("pr", 5, "security", "Handling a security finding",
      "Security findings go into the private security tracker, never a public issue or "
      "#harbor-dev. Assign Aiko and the service owner, state the severity on the vendor's scale and "
      "link the fix commit. Keep the finding out of the commit message until the fix is deployed "
      "everywhere."),
    E("ep", 8, "incident production embeddings memory", "Embedder OOM loop in prod-fra1",
      "embedder pods in prod-fra1 went into an OOMKilled loop at 11:20 after an agent submitted a "
      "2 MB entry. The tokenizer produced about 600k tokens before truncating, and the buffers blew "
      "past the 1 GiB limit. harbor-api retried the write on the next pod, which died too. Added a "
      "64 KB character cap before tokenization; recovered by 11:48.", hour=12),
    E("re", 6, "embeddings incident", "Retries turned one bad input into an outage",
      "One oversized entry took down every embedder pod because each retry sent it to a fresh "
      "pod, and the retry policy treated OOMKilled as transient. I want the system to remember "
      "which inputs crashed a worker and quarantine them after two strikes."),
    E("ep", 5, "embeddings api", "Quarantine for poison inputs",
      "If the same payload hash is in flight when a worker dies twice, harbor-api now marks it "
      "poison and stores the entry without a vector, flagged for review. The entry is still "
      "searchable through BM25, just not by meaning."),
    E("se", 5, "api", "Entry limits enforced by harbor-api",
      "Title up to 255 characters, content up to 100,000, at most 20 tags of up to 128 characters "
      "each, importance from 1 to 10. Content over 64 KB is accepted, but only its first 64 KB is "
      "embedded; BM25 indexes the full text."),
    E("ep", 4, "team on-call", "Marco is on leave",
      "Marco is away for two weeks, so Sam is primary on-call for the first time and I am "
      "secondary. We went through the runbooks together and planned a Postgres failover drill on "
      "stg."),
    E("ep", 6, "staging postgres replication", "Failover drill on stg",
      "Ran a Patroni switchover drill on stg with Sam: patronictl switchover --candidate pg-stg-1. "
      "Writes failed for 11 seconds and harbor-api reconnected by itself. One cron job had the old "
      "primary's hostname hard-coded and failed; it now uses the pg-stg-rw service."),
    E("ep", 5, "ci fuzzing", None,
      "CI p50 had crept back to 14 minutes because the fuzz smoke tests ran on every PR. Moved the "
      "long runs to the nightly job and kept a 30-second run per target on PRs. p50 is now 8 "
      "minutes."),
    E("pr", 5, "review rust", "Review checklist for recall PRs",
      "Index format changed: it needs a version bump and a migration path. New config key: a safe "
      "default, plus an overlay lint entry if it can differ per environment. Hot path touched: "
      "attach a criterion benchmark before and after. New dependency: cargo deny must pass."),
    E("ep", 6, "search tantivy", "Quoted phrase search",
      "People wanted exact phrase search with double quotes. tantivy supports phrase queries when "
      "positions are indexed, which they are for content. Quoted segments are now parsed into a "
      "PhraseQuery, and the vector side ignores the quotes. 6% of real queries used quotes in the "
      "first week."),
    E("se", 4, "search hnsw", "Filters go inside the retrievers",
      "Tag, agent and date filters are applied inside both retrievers, not after fusion, since "
      "filtering after fusion can leave fewer than k results. The HNSW side filters during "
      "traversal, which degrades toward brute force for very selective filters, so recall switches "
      "to an exact scan below 5,000 candidate documents."),
    E("re", 7, "postmortem incident", "Looking back at my incidents since July",
      "The staging lock, the ef_search overlay, the negative key cache, the replication slot, the "
      "embedder OOM. Four of five came from a change I made or state I left behind, and none was "
      "exotic. I verify the thing I changed but not what it touches. Rendering manifests and "
      "tracing key paths helped; I need the same habit for data, such as which jobs read a table "
      "I am about to change."),
    E("ep", 4, "postgres migration staging", "Migration 0012 on stg",
      "0012_entry_relations_status.sql adds status (proposed, accepted, rejected) to "
      "entry_relations with default 'proposed'. Adding a column with a constant default is "
      "metadata-only since PG 11, so no rewrite: 40 ms on stg under lock_timeout 3s."),
    E("ep", 5, "search", "Superseded entries are hidden by default",
      "recall now hides entries that are the target of an accepted 'supersedes' relation unless "
      "include_superseded=true. Tested on my own diary: 'fusion weights' now returns the RRF "
      "decision first and the old weighted-sum entry only with the flag."),
    E("pr", 5, "memory docs", "Revising a decision in this diary",
      "When a decision changes, I write a new entry starting with 'Revised:' and link it to the "
      "old one with a supersedes relation instead of editing the old entry. The old entry stays "
      "signed and auditable, and searches show the current state by default. Editing would change "
      "its CID and break the signature anyway."),
    E("ep", 3, "ci fuzzing", None,
      "scout noticed the nightly fuzz job had been skipped for five nights because the runner "
      "label changed from fuzz-large to fuzz-xl. Fixed the label; the catch-up run found no new "
      "crashes."),
    E("ep", 6, "production networking kubernetes", "5-second stalls on Postgres connections",
      "recall saw intermittent 5-second stalls opening Postgres connections in prod-iad1: the "
      "conntrack race between parallel A and AAAA lookups over UDP. Setting dnsConfig options "
      "single-request-reopen and ndots:2 on the recall pods made the stalls disappear."),
    E("se", 4, "kubernetes networking", "ndots in Kubernetes",
      "Pods default to ndots:5, so a name with fewer than five dots is tried against every search "
      "domain before being resolved as given, several wasted lookups per connection. For pods that "
      "mostly resolve fully qualified names, ndots:2 or a trailing dot cuts that down."),
    E("ep", 4, "on-call team tantivy", "Sam's first solo page",
      "Sam handled a DiskUsageHigh page on the tantivy volume in prod-fra1 (85%) alone. They "
      "checked the segment count before growing the volume, found orphaned files from a failed "
      "merge and ran the garbage_collect_files helper. I only watched."),
]

NOVEMBER = [
    E("ep", 6, "embeddings staging", "e5-small-v2 behind a flag, re-embedding stg",
      "The 'query: ' / 'passage: ' prefixes are implemented and counted inside the 256-token "
      "truncation. e5-small-v2 int8 is selectable with embedder.model. Re-embedding stg with e5 "
      "is running: 1.2M entries, estimated five hours."),
    E("ep", 6, "embeddings latency staging eval", "e5 on staging: latency and quality",
      "e5-small-v2 int8 on stg: batch-32 p95 24 ms with intra_op_num_threads=2; query embedding p95 "
      "4.1 ms against 1.6 ms for MiniLM. End-to-end search p95 went from 40 to 43 ms. With chunking, "
      "nDCG@10 is 0.551 for MiniLM and 0.579 for e5."),
    E("ep", 7, "embeddings planning", "Revised: switching the embedding model to e5-small-v2",
      "Revised: we switch from all-MiniLM-L6-v2 to e5-small-v2 after all, superseding September's "
      "decision to stay. The +0.028 nDCG@10 holds up under the bootstrap, and the write-path cost "
      "is acceptable now that embedding is asynchronous behind the outbox. The rollout waits until "
      "the change freeze lifts in December."),
    E("ep", 5, "ed25519 key-rotation security", "Second rotation round under way",
      "The second rotation round has started: 9 of 17 agents rotated so far, all hands-off through "
      "the rotation cron. My own key went from k-tern-2026-08 to k-tern-2026-11, and keyring "
      "verified the rotation statement on the first try."),
    E("re", 6, "ed25519 key-rotation", "Key rotation became boring",
      "In August a key rotation caused 3,400 rejected writes; now it is a cron job nobody watches. "
      "What changed was not clever cryptography but a 48-hour publish window, cache invalidation, "
      "and a runbook exercised once on every agent. Boring is the goal for anything involving "
      "keys."),
    E("ep", 8, "production planning deploy", "Production change freeze announced",
      "Lena announced a production change freeze from November 21 to December 2 for the customer's "
      "peak season. Only security fixes go out during it, with Priya's approval. Moving the "
      "remaining recall changes to the December queue."),
    E("pr", 6, "deploy production rollback migration", "Rolling back a production deploy",
      "shipit rollback <service> --env prod reverts the prod overlay to the previous SHA and syncs "
      "both regions at once, skipping the regional stagger. Roll back first, investigate after. A "
      "rollback does not undo migrations, so confirm the old code tolerates the newer schema; with "
      "expand-only migrations it always should."),
    E("se", 5, "postgres migration", "Expand and contract",
      "Schema changes are split into expand (add a column or table; old and new code both work) "
      "and contract (drop the old column once no deployed code uses it, at least one release "
      "later). That keeps every deploy safe to roll back. A rename is expand, backfill, contract, "
      "never a one-step ALTER ... RENAME."),
    E("ep", 4, "postgres migration staging", "Contract migration for the old vector column",
      "Migration 0014 drops entries.embedding, the old inline vector column, now that everything "
      "reads entry_vectors. On stg it took 30 ms because DROP COLUMN is metadata-only, but the "
      "space only comes back after pg_repack, which gets its own window."),
    E("re", 5, "team planning", "Four months in",
      "Over four months recall's nDCG@10 went from 0.49 to 0.55 (0.58 with e5 on staging), key "
      "rotation became routine and Postgres is on 16. My worst habits were changing shared config "
      "without rendering it and leaving experiment state behind. My best habit is writing the lock "
      "level and blast radius into every PR."),
    E("ep", 2, "personal", "First snow at the duck pond",
      "First snow on the Stadtpark webcam this morning. The pond edges have frozen and the ducks "
      "crowd into the open water by the fountain, which someone keeps running. Watched them during "
      "a five-minute embedder rebuild."),
    E("ep", 4, "cost", "October cost numbers",
      "October's bill: recall compute down 37% after the HPA change and the lower mmap memory "
      "limits, total cluster cost down 14%. Sam presented it at the all-hands."),
    E("pr", 5, "memory docs", "How I write diary entries",
      "The title says what happened, not when. The content carries the numbers, service names and "
      "the exact command, so a later search can find it. Incidents get importance 8 or 9, routine "
      "deploys 3 or 4. Revisions start with 'Revised:' and link to what they supersede."),
    E("ep", 5, "search bm25 tantivy", "Typos and zero-result queries",
      "4% of queries get nothing from BM25, and a third of those are typos like 'postgers' or "
      "'tantvy'. The vector side usually still finds something because the tokenizer splits typos "
      "into subwords. Added fuzzy term queries with edit distance 1 for terms of five or more "
      "characters, BM25 only, behind a flag."),
    E("ep", 6, "security ed25519 signing", "Signature envelope v2",
      "Aiko proposed signature envelope v2: the kid and a domain separation string go inside the "
      "signed bytes, so a signature cannot be replayed under another kid or in another context. "
      "Agreed. v1 signatures stay valid for old entries, new entries use v2 from December."),
    E("se", 5, "signing ed25519 security", "Domain separation for signatures",
      "Signing bare CIDs means the same key could be tricked into signing a CID-shaped message in "
      "some other protocol. Prefixing a fixed context ('harbor-entry-sig-v2') and the kid binds "
      "each signature to its purpose and its key. Ed25519ctx from RFC 8032 does this natively, but "
      "we do it in the message so any Ed25519 library can verify."),
    E("ep", 3, "team review tantivy", None,
      "Sam wrote their first design doc: storing tantivy index snapshots in object storage so new "
      "recall pods do not rebuild from scratch. I commented on keeping the snapshot consistent with "
      "the outbox replay position; the rest is solid."),
    E("ep", 4, "staging search bm25", "Fuzzy BM25 terms on stg",
      "With fuzzy terms on stg the zero-result rate drops from 4.1% to 2.6%, while BM25 p95 rises "
      "from 5 ms to 7 ms. Exact-match queries are unaffected because fuzzy terms carry a 0.5 boost."),
    E("ep", 5, "production deploy search", "Last production deploy before the freeze",
      "Shipped recall 6b0f3a9 (phrase query fixes and the HPA changes) to production two days "
      "before the freeze. Clean rollout in both regions, error rate 0.02%.", hour=10),
    E("re", 4, "memory", None,
      "Sam asked how I decide what goes in this diary. Honest answer: anything I would want to "
      "find in three months when someone asks 'why is it like this'. The entries I have searched "
      "most are the incidents and the revisions, not the successes."),
]

# Hand-written entries that are not tied to a story beat; they are spread
# over the whole period at seeded random positions.
LOOSE = [
    E("se", 4, "postgres", "Reading EXPLAIN (ANALYZE, BUFFERS)",
      "'shared hit' counts pages found in Postgres's buffer cache, 'read' pages fetched from the OS "
      "(maybe its page cache, maybe disk). A query that is fast only on the second run usually "
      "shows high 'read' the first time. Always compare with BUFFERS, not timing alone."),
    E("se", 3, "rust performance", "Release builds in benchmarks",
      "criterion benches run with the bench profile, which inherits release plus debug = 1 in this "
      "workspace so perf can symbolize frames. Numbers from cargo test are meaningless for "
      "latency; never quote them."),
    E("pr", 4, "kubernetes on-call", "Getting a shell next to a pod",
      "kubectl debug -it <pod> --image=nicolaka/netshoot --target=<container> shares the process "
      "namespace, so you can run ss, dig and tcpdump beside the app without rebuilding its image. "
      "Remove the ephemeral container by restarting the pod afterwards if Aiko asks."),
    E("se", 4, "search eval", "nDCG@10 vs recall@10",
      "recall@10 in our ANN reports means overlap with the exact top-10 by vector distance, a "
      "property of the index. nDCG@10 on the eval set measures ranking quality against human "
      "judgments, a property of the whole search. A better index can leave nDCG unchanged."),
    E("pr", 4, "postgres on-call", "Finding what blocks a query",
      "SELECT pid, pg_blocking_pids(pid), wait_event_type, state, left(query, 80) FROM "
      "pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0; shows who waits on whom. "
      "Cancel the blocker with pg_cancel_backend before reaching for pg_terminate_backend."),
    E("se", 3, "rust", None,
      "Agent ids and kids are cloned into many tasks; switching them from String to Arc<str> in "
      "recall removed about 4% of allocations on the search path. Cheap clone, same Deref to str."),
    E("se", 4, "tantivy memory", "tantivy writer memory budget",
      "IndexWriter takes a memory budget (we give it 256 MB) split across its indexing threads; "
      "when a thread's share fills, it flushes a new segment. Too small a budget means many tiny "
      "segments and more merging, so ingest-worker sets it explicitly rather than using the "
      "example value of 50 MB."),
    E("re", 4, "team", "Asking Dmitri earlier",
      "Twice now I spent an afternoon on a Postgres question that Dmitri answered in five minutes "
      "on his next working day. For anything involving the planner or WAL I will write the "
      "question down for him first and keep working on something else meanwhile."),
    E("se", 3, "ci tooling", None,
      "CI splits the test suite into 3 shards with --partition count:1/3 and so on. The "
      "partitioning is by test name, so one slow test can make a shard the long pole; "
      "recall::eval_smoke is the usual one."),
    E("pr", 4, "security ed25519", "Never log key material",
      "Types holding seeds or secret keys implement Debug by hand and print only the kid. Public "
      "keys may be logged, but truncated to their first 8 base64url characters to keep logs "
      "readable. Clippy cannot enforce this, so it is on the review checklist."),
    E("se", 4, "embeddings", "Cosine on normalised vectors",
      "embedder L2-normalises every vector, so cosine similarity is just the dot product and the "
      "HNSW index can use inner product distance. A vector that was not normalised ranks by "
      "length as much as by direction, which is how an early bug made long entries win."),
    E("re", 3, "personal", None,
      "Some days the most useful thing I do is delete code. Today it was 600 lines of a home-grown "
      "LRU of tantivy searchers, which the IndexReader already pools for us."),
    E("pr", 3, "docs", "Keeping ADRs current",
      "An ADR is never edited after acceptance except to add a 'Superseded by ADR-0NN' line at the "
      "top. The new ADR explains what changed and why, and links back."),
    E("se", 4, "api testing", "Contract tests against the OpenAPI spec",
      "harbor-api's integration tests validate every response against the generated OpenAPI "
      "document with schemathesis in CI. It caught two endpoints returning importance as a "
      "string after a serde attribute was dropped."),
    # --- procedures -------------------------------------------------------
    E("pr", 6, "postgres migration", "Adding a Postgres migration, step by step",
      "1) sqlx migrate add <what> creates migrations/00NN_<what>.sql. 2) Start it with the "
      "lock_timeout and statement_timeout lines. 3) In the PR, list every statement's lock level "
      "and the row count of each table it touches on stg. 4) Run it against a restored stg "
      "snapshot before merging. 5) Keep it expand-only; the contract step ships a release later.",
      after=0.4),
    E("pr", 6, "postgres migration", "Adding a NOT NULL column without a long lock",
      "Add the column as nullable, backfill it in batches of 10k rows, then ADD CONSTRAINT ... "
      "CHECK (col IS NOT NULL) NOT VALID followed by VALIDATE CONSTRAINT, which only takes a SHARE "
      "UPDATE EXCLUSIVE lock. Since PG 12, SET NOT NULL reuses the validated check and skips the "
      "full table scan. Drop the helper CHECK constraint afterwards.", after=0.5),
    E("pr", 9, "ed25519 security key-rotation", "Emergency revocation of a signing key",
      "If an agent's seed may have leaked: 1) harbor-cli keys revoke --kid <kid> --reason "
      "compromise --since <earliest suspected exposure> marks it revoked, not merely retired. "
      "2) Writes under that kid are rejected at once, and caches receive the revocation event "
      "within 60 s. 3) Aiko signs an admin rotation to the agent's new key, because the old key can "
      "no longer vouch for anything. 4) Entries signed with the kid after --since are flagged for "
      "review.", after=1.6),
    E("pr", 5, "hnsw eval", "Checking HNSW recall against brute force",
      "recall-eval --exact computes the exact top-10 by dot product for 2,000 sampled queries and "
      "compares it with what the HNSW index returns. Run it after any change to M, "
      "ef_construction, ef_search or the embedding model. Below 0.95 recall@10, stop and look "
      "before shipping.", after=0.3),
    E("pr", 6, "deploy production search", "Canary for risky recall changes",
      "Set canary.weight=10 in the prod-fra1 overlay so one pod in ten serves the new build. "
      "Compare the canary's p95 and error rate with the other pods on the 'recall / canary' board "
      "for an hour of real traffic. Then promote everywhere or drop the canary; never leave one "
      "running over a weekend.", after=1.3),
    E("pr", 5, "postgres on-call", "Restoring a Postgres backup to a scratch host",
      "pgbackrest --stanza=main --type=time --target='<timestamp UTC>' restore, run on the "
      "scratch host and never on a cluster member. Start it with recovery_target_action=promote "
      "and point the investigation at it. Delete it the same day, since it holds real diary "
      "content."),
    E("pr", 4, "embeddings performance rust", "Benchmarking the embedder",
      "On main: cargo bench --bench embed -- --save-baseline main. On the branch: cargo bench "
      "--bench embed -- --baseline main, and criterion reports the change with a confidence "
      "interval. Pin the CPU governor to performance first; thermal throttling on a laptop alone "
      "moves results by 10%."),
    E("pr", 4, "performance rust tooling", "Flame graphs for recall",
      "Build with cargo build --profile bench -p recall, drive it with the load generator, then "
      "perf record -F 999 -g -p <pid> for 30 seconds. perf script | inferno-collapse-perf | "
      "inferno-flamegraph > flame.svg gives the graph. The bench profile keeps debug = 1, so "
      "frames have names without slowing the code."),
    E("pr", 5, "deploy kubernetes tooling", "When an Argo CD sync is stuck",
      "argocd app get <app> names the failing resource and its message. The usual causes are an "
      "image tag that does not exist, an immutable field changed on a Job, or an admission "
      "webhook timing out. For the Job case, delete the Job and let Argo CD recreate it; never "
      "force a replace-sync on a StatefulSet.", after=0.8),
    E("pr", 7, "incident postmortem", "Writing the first incident note",
      "Within an hour of mitigation post what users saw, start and end times in UTC, what "
      "mitigated it and what is still unknown. It goes in #harbor-incidents and in this diary at "
      "importance 8 or 9. The full postmortem follows within five working days, blameless but "
      "with named owners for every action item.", after=1.3),
    E("pr", 5, "tantivy bm25", "Rebuilding a region's tantivy index",
      "1) Scale ingest-worker's tantivy writer for the region to zero. 2) harbor-cli recall "
      "reindex --region <r> --out /snapshots/tantivy-<date> reads every entry from Postgres, about "
      "11 minutes per million. 3) harbor-cli recall swap-bm25 switches directories. 4) Scale "
      "ingest-worker back up; it replays the outbox from the reindex start."),
    E("pr", 4, "dependencies rust", "Bumping a pinned dependency",
      "cargo update -p <crate> --precise <version>, then cargo deny check and the full nextest "
      "run. Read the changelog for every version in between, not just the newest; tantivy and ort "
      "have both broken APIs in minor releases. Note anything surprising in the PR description."),
    E("pr", 6, "security ed25519 signing", "Signing keys in local development",
      "Never copy a seed out of the secret store onto a laptop or into a fixture. For local "
      "signing use harbor-cli keys dev-generate, which creates a 'test-' kid that keyring refuses "
      "to publish. If a test needs a real agent's public key, fetch it from keyring; public keys "
      "are fine to cache.", after=2.4),
    E("pr", 5, "search eval", "Investigating a relevance complaint",
      "1) Get the exact query, its filters and the entry the person expected. 2) recall-explain "
      "'<query>' --entry <id> prints its BM25 rank, vector rank and fused score. 3) Missing from "
      "both lists usually means tokenization or a filter; low in one means the other retriever "
      "is doing all the work. 4) Add the case to the eval set before changing anything."),
    E("pr", 4, "alerting on-call", "Silencing an alert for planned work",
      "amtool silence add alertname=OutboxAge region=prod-iad1 --duration=3h --comment='vectors "
      "backfill, tern'. Always name the work and yourself, and always set a duration; an "
      "open-ended silence is how real alerts get missed. Expire it early with amtool silence "
      "expire <id> when the work is done."),
    E("pr", 6, "postgres replication", "Before starting any backfill",
      "Estimate rows and rate, pick a batch size and a pause, and predict the replica lag. "
      "Silence only the alerts the backfill is known to trip. Run exactly one worker. Post start "
      "and end in #harbor-ops, and make the job resumable from the last processed id.",
      after=1.75),
    E("pr", 5, "ed25519 signing onboarding", "Registering a new agent's signing key",
      "harbor-cli agents register --name <n> generates the Ed25519 keypair inside the agent's "
      "secret store, publishes the public key as active and stores the kid in the agent profile. "
      "The agent's first entry is a signed self-description, which doubles as a smoke test of the "
      "whole signing path."),
    E("pr", 4, "postgres performance", "Removing table bloat online",
      "pg_repack -t entries -k --no-order -j 2 rebuilds the table online and takes an ACCESS "
      "EXCLUSIVE lock only briefly at the start and the end. It needs free disk of roughly the "
      "table plus its indexes. Run it off-peak and watch replica lag, because it writes a lot of "
      "WAL.", after=1.6),
    E("pr", 4, "config", "Rules for new config keys",
      "Every config key gets a safe default in code, a line in docs/config.md and, if it can "
      "differ per environment, an entry in the overlay lint. Names are dotted and lowercase, like "
      "hnsw.ef_search. Only the config module reads environment variables.", after=1.3),
    E("pr", 3, "eval search", "What makes a good eval query",
      "The query text, at least one judged-relevant entry with grade 2 or 3, and ideally one "
      "tempting but irrelevant entry judged 0. Real queries from the logs beat invented ones; "
      "strip agent ids before adding them.", after=0.4),
    E("pr", 5, "embeddings onnx", "Updating the embedding model files",
      "1) python3 scripts/build_models.py .cache builds the fp32 and int8 graphs plus golden "
      "vectors. 2) Upload under a new versioned path and never overwrite an old one. 3) Bump "
      "embedder.model_path in one overlay at a time. 4) If the golden test shows the vectors "
      "changed at all, re-embed before the model serves queries."),
    E("pr", 6, "ed25519 signing api", "Triage of a 'signature invalid' report",
      "Compare the CID the client computed with the one harbor-api computed; both are in the "
      "error body. Different CIDs mean the content changed, usually tag order or Unicode "
      "normalisation. The same CID means the wrong key: check which kid the client used and its "
      "state in keyring."),
    E("pr", 4, "docs team", "Checking quill's release notes",
      "Each week quill drafts release notes from merged PR titles. I check them against what "
      "actually reached production that week, because some merged PRs are still only on "
      "staging. Only deployed changes go into the notes.", after=0.5),
    E("pr", 6, "planning postgres", "Shutting down an experiment",
      "Every experiment gets a cleanup ticket before it starts, listing what it will create: "
      "replication slots, buckets, feature flags, cron jobs. Closing the experiment means closing "
      "that ticket, with query output proving each item is gone.", after=3.1),
    E("pr", 6, "postgres security", "Rotating the application's Postgres password",
      "We keep two login roles with identical grants, harbor_app_a and harbor_app_b. Point the "
      "secret at the idle role, roll harbor-api and recall, and wait until pg_stat_activity shows "
      "no sessions from the old role. Only then change the old role's password, so no pod ever "
      "holds a dead credential."),
    E("pr", 4, "memory rust", "Finding a heap leak in a Rust service",
      "Enable jemalloc profiling on a single pod with MALLOC_CONF=prof:true,lg_prof_sample:19, "
      "wait an hour, and dump twice via the /debug/heap admin endpoint. jeprof --base=first.heap "
      "shows what grew in between. In recall the culprit has so far always been the tantivy "
      "reader cache."),
    E("pr", 3, "team", "Pairing with a human",
      "Before the session, write the goal and what 'done' means in one line. In a shared "
      "terminal, say what I am about to run before running it. Afterwards post a summary with the "
      "commands used, so nobody has to reconstruct them from memory."),
    E("pr", 4, "staging migration", "Staging deploys that carry a migration",
      "Staging deploys are fine at any hour, but one that includes a migration waits until Jonas "
      "or Marco is online. A migration stuck on stg blocks everybody's testing, and they know "
      "which long-running jobs might be holding locks.", after=0.4),
    E("pr", 5, "staging key-rotation ed25519", "Rehearsing a key rotation on staging",
      "harbor-cli keys generate --agent test-rotator --env stg, then publish it with --not-before "
      "now+5m, since the publish window is configurable per environment on staging. Write 100 "
      "signed entries across the switch with scripts/rotator.sh and confirm zero rejections in "
      "the stg harbor-api logs.", after=1.7),
    E("pr", 4, "monitoring latency", "Quoting latency numbers",
      "Always give p50, p95 and p99 together with the request rate, because a p99 over 40 "
      "requests a minute is noise. Compare with the same hour of the previous week before "
      "blaming a deploy; traffic has a strong daily shape."),

    # --- knowledge --------------------------------------------------------
    E("se", 4, "deploy kubernetes migration", "Argo CD sync waves",
      "Resources annotated with argocd.argoproj.io/sync-wave are applied in order. Our migration "
      "Job sits in wave -1 and the Deployment in wave 0, so migrations run before new code. A "
      "failed wave stops the sync, which is what keeps new code off an old schema."),
    E("se", 5, "bm25 search", "BM25 length normalisation and short entries",
      "With b=0.75 a term in a short document counts for more than the same term in a long one. "
      "Diary entries range from 20 to 2,000 words, so short entries containing the query term "
      "often win on BM25. That is one reason the vector side matters for long procedural entries."),
    E("se", 5, "hnsw", "HNSW layers",
      "Each node gets a random top layer, with the probability of reaching each higher level "
      "shrinking by a factor of M. The upper layers are sparse express lanes, layer 0 holds every "
      "node, and only at layer 0 does the search use the full ef_search candidate list. With 1.2M "
      "nodes and M=16 our index has 5 layers."),
    E("se", 6, "postgres api", "The outbox pattern in harbor-api",
      "harbor-api writes the entry and an outbox row in the same transaction; a relay publishes "
      "outbox rows to consumers and deletes them. That gives at-least-once delivery without "
      "two-phase commit. Consumers must be idempotent: recall upserts by entry id, so a duplicate "
      "event is harmless."),
    E("se", 5, "signing", "Why entries have content ids",
      "A content id hashes the entry's canonical content fields with sha2-256 and wraps the digest "
      "as a CIDv1. The same content always yields the same CID, which allows deduplication and "
      "lets signatures survive changes to how we store rows."),
    E("se", 5, "signing ed25519", "Unicode normalisation and CIDs",
      "Content is hashed exactly as sent, with no NFC normalisation. 'café' typed with a "
      "combining accent gets a different CID than the precomposed character. We keep it that way: "
      "the signer controls the bytes, and normalising on the server would break their signatures."),
    E("se", 5, "postgres replication", "Patroni in one paragraph",
      "Patroni runs next to each Postgres, holds a leader lock in etcd with a 30 s TTL, and "
      "promotes a replica when the lock expires. The pg-main-rw service always points at the "
      "leader and pg-main-ro spreads reads over replicas. A failover costs 10 to 30 seconds of "
      "write unavailability."),
    E("se", 5, "postgres replication api", "Read-your-writes with replicas",
      "Reads from pg-main-ro can trail the primary by a few seconds. harbor-api sends an agent's "
      "reads to the primary for 5 seconds after that agent writes, tracked in a session cookie; "
      "everything else may hit a replica.", after=1.7),
    E("se", 4, "search eval", "RRF is not sensitive to k",
      "On our eval, RRF with any k between 20 and 100 lands within 0.004 nDCG@10 of k=60. Very "
      "small k (1 to 5) lets the top of each list dominate and hurts broad queries. Not worth "
      "tuning further.", after=1.1),
    E("se", 5, "embeddings onnx", "What dynamic int8 quantization does",
      "Weights are stored as int8 with per-channel scales and activations are quantized on the fly "
      "for each batch. The accuracy loss is small for BERT-style encoders, but the output vectors "
      "differ slightly from fp32, so int8 and fp32 vectors must never share an index.",
      after=1.2),
    E("se", 4, "embeddings performance", "Sort by length before batching",
      "Every text in a batch is padded to the longest one, so mixed lengths waste work. Sorting "
      "texts by token count before cutting batches reduced embedder CPU by 18% on the re-embed "
      "job.", after=1.3),
    E("se", 4, "postgres embeddings", "Vectors and TOAST",
      "A 384-dim float32 vector is 1,536 bytes, just under the roughly 2 KB threshold where "
      "Postgres moves values out of line into TOAST. So our vectors stay in the heap page. At 768 "
      "dims every vector read would add a TOAST lookup, worth remembering before switching "
      "models."),
    E("se", 4, "kubernetes cost", "HPA targets are relative to requests",
      "The HPA measures CPU utilisation against the pod's request, not its limit. recall requests "
      "1 vCPU with a 2 vCPU limit, so a 60% target means 0.6 vCPU of real use per pod.",
      after=3.2),
    E("se", 4, "memory docs", "What importance means in this diary",
      "1-2: trivia and personal notes. 3-4: routine work. 5-6: useful knowledge and ordinary "
      "decisions. 7-8: decisions that shape the system, and incidents. 9-10: customer-visible "
      "outages and security events."),
    E("se", 4, "ed25519 key-rotation", "Kid naming",
      "Kids look like k-<agent>-<yyyy>-<mm>, e.g. k-ledger-2026-08, and test keys start with "
      "'test-'. The format is a convention and not a security boundary: keyring matches kids "
      "exactly and never parses dates out of them.", after=1.5),
    E("se", 4, "search latency", "Cold caches after a restart",
      "After a recall pod restarts, the first few hundred queries hit a cold page cache for both "
      "the tantivy segments and the HNSW vectors, and p95 runs 2-3x normal for about a minute. "
      "The readiness probe waits for warm-up, so those queries go to other pods.", after=2.5),
    E("se", 4, "embeddings search", "WordPiece and hostnames",
      "MiniLM's WordPiece vocabulary has 30,522 tokens, and unknown words are split into pieces "
      "marked with ##. A hostname like pg-main-1 becomes 7 or 8 tokens that carry little meaning, "
      "which is why vector search handles identifiers poorly and the raw BM25 field does better."),
    E("se", 3, "api security", "How the search rate limit works",
      "The governor crate implements GCRA, equivalent to a token bucket but storing one timestamp "
      "per key. Search is limited per agent id to 20 requests per second with a burst of 40.",
      after=2.3),
    E("se", 5, "config kubernetes deploy", "How kustomize overlays are laid out",
      "kustomize/base holds what every environment shares; overlays/stg, overlays/prod-fra1 and "
      "overlays/prod-iad1 override it. Anything that differs between environments belongs in an "
      "overlay, because a base change rolls out everywhere at the next sync."),
    E("se", 5, "ed25519 signing search", "Why recall re-verifies signatures",
      "recall re-verifies an entry's Ed25519 signature when returning it if it has not been "
      "checked since the last key event. That catches rows altered in storage and entries under a "
      "key revoked later. A verification costs about 50 microseconds and results are cached by "
      "(cid, kid)."),
    E("se", 5, "postgres replication", "Replication slots keep WAL",
      "A replication slot makes the primary keep WAL from the slot's restart_lsn until the "
      "consumer confirms it. An abandoned slot grows WAL without limit unless "
      "max_slot_wal_keep_size is set, in which case the slot is invalidated instead."),
    E("se", 4, "tantivy", "tantivy reader reloads",
      "An IndexReader with ReloadPolicy::OnCommitWithDelay picks up new segments shortly after a "
      "commit; tests that need immediate visibility must call reload(). Every live searcher keeps "
      "its segments alive, so long-running searchers keep deleted files on disk."),
    E("se", 6, "latency search", "recall's latency budget",
      "The p95 budget is 60 ms end to end: about 5 ms query embedding, 5 ms HNSW, 10 ms BM25, 5 ms "
      "fusion and filters, 10 ms hydration, the rest network and serialisation. A change that "
      "wants more time has to take it from another stage.", after=1.5),
    E("se", 4, "ed25519 performance", "Batch verification of Ed25519 signatures",
      "ed25519-dalek verifies a batch of signatures roughly twice as fast as one by one at 64 "
      "signatures, but a failed batch only says that something failed. Backfills use batch "
      "verification and fall back to single checks to find the culprit."),
    E("se", 4, "staging testing", "What is in the staging database",
      "stg holds a nightly scrubbed copy of a 10% sample of real diaries: content kept, agent ids "
      "and key material replaced. At 1.1M entries it is large enough to surface the lock and "
      "performance problems that the local seed data hides."),
    E("se", 6, "ed25519 key-rotation security", "Retired vs revoked keys",
      "A retired key signs nothing new, but what it signed while active stays valid. A revoked "
      "key also invalidates everything it signed after the revocation's effective time, which for "
      "a compromise is the earliest suspected exposure.", after=1.6),

    # --- reflections ------------------------------------------------------
    E("re", 5, "search monitoring", "Dashboards measured speed, not relevance",
      "In July the dashboards said search was fine while support said results were missing. Both "
      "were right: latency and error rate say nothing about relevance. I now read a sample of 50 "
      "real queries and their top results every week.", after=0.8),
    E("re", 4, "rust review", "The fusion trait nobody needed",
      "I wrote a pluggable Fusion trait with three implementations when we needed two functions. "
      "Jonas asked what the trait bought us and the honest answer was nothing yet. Deleted it; "
      "two plain functions and a match on the config value."),
    E("re", 5, "on-call production", "Ask before running it",
      "When I am unsure whether a command is safe in production, I ask instead of reasoning my "
      "way to yes. Marco said he would rather answer ten unnecessary questions than clean up one "
      "incident, and I believe him."),
    E("re", 7, "rollback incident", "I should have rolled back sooner",
      "In the ef_search incident I spent 8 of the 19 minutes before rollback looking for the "
      "cause. The deploy history alone made rollback the obvious first move. New rule for myself: "
      "a clear regression right after a change gets rolled back within five minutes, and the "
      "investigation happens afterwards.", after=1.35, before=2.5),
    E("re", 4, "docs", "Runbooks nobody runs go stale",
      "Half the runbooks I read in July referenced commands that no longer exist. The ones we use "
      "in drills are accurate; the rest decay. A runbook is only as fresh as its last real use.",
      after=0.6),
    E("re", 5, "planning chunking", "My estimates miss the integration work",
      "I said chunking would take two days; it took six, mostly on grouping results by entry and "
      "on tests. My estimates are fine for the code I can picture and poor for everything around "
      "it. Doubling them is crude but more honest.", after=2.8, before=3.5),
    E("re", 4, "flaky-tests ci", None,
      "I used to skim scout's flaky-test reports because they were accurate and therefore "
      "boring. Fixing just one flake from each weekly report took us from 7 flaky tests to 2 in a "
      "month.", after=1.8),
    E("re", 5, "embeddings team", "Say 'let me check' in the meeting",
      "Lena asked whether we could run e5 'just for a few agents', and I said yes on the spot. "
      "The next day I had to walk it back: a shared index cannot mix vectors from two models. "
      "'Let me check' would have cost nothing.", after=2.85, before=3.3),
    E("re", 5, "performance tantivy", "Compare like with like",
      "I claimed the merge policy change cut BM25 p95 from 9 to 5 ms, but the 'before' was a busy "
      "weekday and the 'after' a quiet weekend. Measured again on comparable days: 9 to 6 ms. "
      "Still worthwhile, and a reminder to compare like with like.", after=3.5, before=4.2),
    E("re", 6, "memory postgres migration", "Search the diary before acting",
      "I was about to write a migration without lock_timeout when I searched this diary for "
      "'migration lock' out of habit and found my own July rule. The diary only works as memory "
      "if I actually search it before doing something risky.", after=3.0),
    E("re", 5, "team on-call", "When the team is short, be available",
      "The week Marco was away and Sam was on call, I tried to ship three things. Two slipped and "
      "Sam got less backup than I had promised. When the team is short, my job is to be "
      "reachable, not to be productive.", after=3.6, before=4.3),
    E("re", 4, "review team", "Guesses should read as questions",
      "Jonas mentioned that my review comments sometimes sound certain when they are guesses. I "
      "now phrase those as questions, like 'I think this allocates on every call; does it?', and "
      "keep statements for things I have checked.", after=1.0),
    E("re", 6, "security review", "Error paths deserve review too",
      "The pentest's reflected-query finding sat in code I reviewed in August. I checked the logic "
      "and never looked at what ended up in the error message. Error paths need the same scrutiny "
      "as the happy path.", after=3.5),
    E("re", 6, "incident team", "Fixing and communicating are two jobs",
      "During the embedder OOM I was busy fixing and posted nothing; Priya heard about it from a "
      "customer before #harbor-incidents did. The person fixing should not also be the one "
      "posting updates, so I will ask for a comms person at the start.", after=3.55),
    E("re", 4, "cost", None,
      "Nobody looked at recall's cost for three months because it was nobody's number. Once "
      "monthly cost sat on the same board as latency, it fell by a third within weeks.",
      after=4.1),
    E("re", 5, "postgres planning", "Rehearsal as the standard",
      "Dmitri's two full rehearsals of the Postgres upgrade are the bar I want for any risky "
      "change: real-sized data, expected output written next to every command. It felt slow at "
      "the time and was faster than any incident would have been.", after=2.3),
    E("re", 5, "eval search", "The eval set missed what users cared about",
      "nDCG@10 rose by 0.06 over the summer, but the support agents' feedback only changed after "
      "the phrase search and hostname fixes, which barely moved the metric. The eval set had too "
      "few exact-lookup queries, so I added 80 of them.", after=3.7),
    E("re", 5, "embeddings", "Why I changed my mind on e5",
      "I argued in September for staying on MiniLM and in November for switching. Some of that is "
      "new facts, asynchronous embedding and chunking. Some of it is that I underweighted the "
      "quality gain the first time because latency was the number I had been staring at.",
      after=4.4),
    E("re", 3, "", None,
      "Days when I touch more than three services produce my buggiest PRs. Batching work by "
      "service, even if a ticket waits a day, means fewer review rounds for everyone."),
]

# ---------------------------------------------------------------------------
# Routine entries from pools (deploys, CI, reviews, on-call, morning checks).
# ---------------------------------------------------------------------------

# (service, change, extra tags, earliest position in months); used at most once.
CHANGES = [
    ("recall", "request ids propagated into the tantivy query spans", "search", 0),
    ("recall", "a slow-query log for searches over 200 ms, with the fused ranks attached", "search", 1.05),
    ("recall", "title hit highlighting in search responses", "search", 0),
    ("recall", "snippet length configurable per request (default 160 chars)", "search", 0),
    ("recall", "tag facet counts alongside the results", "search", 0),
    ("recall", "a metric for the overlap between the BM25 and HNSW result lists", "search monitoring", 0),
    ("recall", "a graceful shutdown that finishes in-flight queries before closing the index", "search", 0),
    ("harbor-api", "clearer 422 messages for invalid tags", "api", 0),
    ("harbor-api", "a lower request body limit of 1 MiB", "api security", 3.6),
    ("harbor-api", "the regenerated OpenAPI document", "api docs", 0),
    ("harbor-api", "structured audit log lines for entry deletes", "api security", 0),
    ("harbor-api", "a larger connection pool, 32 per pod instead of 20", "api postgres", 0),
    ("embedder", "a warm-up batch at startup so the first request is not slow", "embeddings", 0),
    ("embedder", "the model_id label on all latency metrics", "embeddings monitoring", 1.25),
    ("embedder", "a batch timeout of 8 ms instead of 15 ms", "embeddings latency", 0),
    ("keyring", "the KR-41 rate limit on GET /keys/{kid}", "ed25519 security", 1.9),
    ("keyring", "two-approver admin rotations (KR-42)", "ed25519 key-rotation", 1.9),
    ("keyring", "a retired_at column exposed in the key listing", "ed25519", 1.6),
    ("ingest-worker", "a metric for the dead-letter queue depth", "monitoring", 0),
    ("ingest-worker", "backpressure that kicks in when recall's indexing lags by more than 30 s", "performance", 0),
    ("ingest-worker", "jittered retries for transient Postgres errors", "postgres", 0),
    ("notifier", "hourly digests for mention notifications", None, 0),
    ("notifier", "retries with backoff for Slack webhooks", None, 0),
    ("notifier", "a reminder template for upcoming key rotations", "key-rotation", 1.6),
]

STAGING_FRAMES = [
    "Deployed {svc} {sha} to stg: {change}. Smoke suite passed, {n} of {n} checks, in {s} s.",
    "{svc} {sha} is on staging with {change}. Rollout took {m} minutes; nothing unusual in the stg logs.",
    "Put {svc} {sha} on stg: {change}. {note}",
    "Staging now runs {svc} {sha}: {change}. Argo CD synced in {s} s and the smoke run was green.",
    "stg deploy of {svc} {sha}, carrying {change}. {note}",
]
STAGING_NOTES = [
    "One smoke check timed out on the first try and passed on retry; watching it.",
    "Left it to soak overnight before anything else happens with it.",
    "p95 on stg moved by less than a millisecond.",
    "Posted the result in #harbor-deploys and tagged Jonas for a look.",
    "Had to restart one pod stuck in ContainerCreating on a volume attach, unrelated to the change.",
    "scout's staging diff of the top queries showed no ranking changes, as expected.",
    "Error rate on stg stayed at zero through the rollout.",
]
PROD_FRAMES = [
    "Promoted {svc} {sha} to production ({change}). prod-fra1 first, prod-iad1 {m} minutes later; {obs}.",
    "{svc} {sha} is live in production: {change}. {obs_cap}.",
    "Production rollout of {svc} {sha} with {change}. Both regions green after the 15-minute watch; {obs}.",
    "Shipped {change} to production ({svc} {sha}). {obs_cap}.",
]
PROD_OBS = [
    "error rate stayed at 0.01%",
    "latency at p95 unchanged within a millisecond",
    "no alerts fired",
    "one pod in prod-iad1 took two restarts to pass readiness, then settled",
    "CPU per pod dropped slightly",
    "the golden-signals board looked flat the whole time",
    "Marco confirmed the dashboards from his side",
]

FLAKES = [
    ("keyring::tests::publish_then_fetch", "'called Result::unwrap() on an Err value: Timeout'",
     "a hard-coded 100 ms timeout on a loaded runner; raised it and switched to paused time", 1.5),
    ("recall::fusion::tests::rrf_ties", "a tie between two documents with equal RRF scores",
     "ordering of equal scores depended on HashMap iteration; ties now break on entry id", 1.05),
    ("harbor_api::it::cursor_roundtrip", "'expected 50 entries, got 49'",
     "two inserts with the same created_at microsecond; the cursor comparison now includes id", 0),
    ("embedder::tests::golden_vectors", "a cosine of 0.99998 against a 0.99999 threshold",
     "a newer onnxruntime fused LayerNorm differently; tolerance is now 1e-4", 0.4),
    ("ingest_worker::tests::commit_batching", "'left: 499, right: 500'",
     "the batch timer raced the size trigger; the test now drives the timer manually", 0.35),
    ("recall::hnsw::tests::insert_delete_insert", "a panic at src/hnsw/graph.rs:212 'index out of bounds'",
     "reusing a tombstoned slot did not reset its neighbour list; real bug, fixed", 0),
    ("notifier::tests::digest_window", "an assertion on the hour boundary",
     "the test used the wall clock and failed when run at minute 59; now injects a clock", 0),
    ("harbor_api::it::migrations_apply_cleanly", "'relation \"entry_vectors\" already exists'",
     "two shards shared one test database; each shard now gets its own schema", 1.6),
    ("keyring::tests::verify_strict_rejects_small_order", "a missing fixture file",
     "the fixture path was relative to the workspace root; switched to CARGO_MANIFEST_DIR", 0.45),
    ("recall::tests::snapshot_restore", "'No space left on device' on the runner",
     "the test left 2 GB snapshots in /tmp; it now uses tempfile and cleans up", 0),
]
FLAKE_FRAMES = [
    "{test} failed on CI with {err}. Cause: {fix}.",
    "scout pinned a flaky test on me: {test}, failing with {err}. Turned out to be {fix}.",
    "Chased {test} ({err}). {fix_cap}.",
]

REVIEWS = [
    ("Jonas", "moving entry listing to a covering index",
     "asked for EXPLAIN output from stg-sized data, not the local seed"),
    ("Sam", "a --dry-run flag for harbor-cli reembed",
     "suggested printing the estimated runtime from the last run's rate"),
    ("Priya", "the Q4 search-quality plan",
     "noted that the eval set has no queries in German although two agents write in German"),
    ("Marco", "PodDisruptionBudgets for recall",
     "pointed out that minAvailable 2 blocks node drains when HPA scales down to 2"),
    ("Jonas", "splitting harbor-api's error enum per module",
     "approved with one nit about a From impl that swallowed the source error"),
    ("Aiko", "zeroizing seeds when keyring drops them",
     "approved; asked whether the serde path also copies the seed, and it does, so that got fixed too"),
    ("Sam", "retry budgets for calls from recall to Postgres",
     "recommended capping retries at 10% of requests so a slow database is not hammered"),
    ("Lena", "the public changelog wording for phrase search",
     "suggested not calling it 'exact', since phrase matching still ignores case and punctuation"),
    ("Dmitri", "a partial index for entries with importance >= 8",
     "asked for the query it serves; it only helps one dashboard, so we skipped it"),
    ("Jonas", "an entry export endpoint streaming JSON lines",
     "asked to keep the export in created_at order so it can resume from a cursor"),
]
REVIEW_FRAMES = [
    "Reviewed {who}'s PR on {what}: {comment}.",
    "{who} asked me to look at {what}. I {comment_lc}.",
    "Review round on {what} ({who}): {comment}.",
]

ONCALL = [
    (2, "both pages were the flapping EmbedderQueueDepth alert, now with a 10-minute for: clause"),
    (0, "nothing paged; spent the time closing stale alert tickets"),
    (4, "three were one Postgres replica restart reported by three alerts; grouped them in Alertmanager"),
    (1, "the only page was a certificate expiring in 7 days on the keyring ingress, renewed by hand after cert-manager missed it"),
    (3, "two were real (an Argo CD sync failure, a noisy neighbour on a node) and one was a test alert someone forgot to silence"),
    (1, "a 10-minute spike of 502s from the load balancer during a provider maintenance window"),
    (0, "a quiet week; used it to write the runbook for tantivy segment cleanup"),
    (2, "both from the outbox age alert firing during a planned backfill that we forgot to silence"),
]
ONCALL_FRAMES = [
    "On-call week summary: {pages} page{s}. {detail_cap}.",
    "End of my on-call week with {pages} page{s}; {detail}.",
]

CHECKS = [
    ("search p95 {a} ms in fra1 and {b} ms in iad1, outbox lag under 2 s", "nothing to act on"),
    ("embedder queue depth peaked at {c} during the morning ingest burst", "still well under the alert at 500"),
    ("tombstone ratio {d}% in fra1, {e}% in iad1", "far from the 10% alert"),  # panel since late Aug
    ("tantivy segment count {k} in fra1", "merges keeping up"),
    ("replica lag on pg-main-1 {f} ms at the busiest minute", "normal for this hour"),
    ("search error rate 0.0{g}% over the last 24 hours, all client timeouts", "nothing server-side"),
    ("HPA held recall at {h} pods per region overnight", "the lower minimum is working"),
]
CHECK_FRAMES = [
    "Morning check: {fact}; {verdict}.",
    "Routine look at the dashboards: {fact}, {verdict}.",
    "Daily numbers: {fact}. {verdict_cap}.",
]


def cap(s):
    return s[:1].upper() + s[1:]


def sha(rng):
    return "".join(rng.choice("0123456789abcdef") for _ in range(7))


def routine_entries(rng):
    """Returns (position, entry) pairs; positions are in month units [0, 5)."""
    out = []
    n_months = len(MONTHS)

    def pos(lo=0.0, hi=float(n_months)):
        return rng.uniform(lo, hi)

    # Staging deploys, most followed by the same change in production.
    # Only a sample of each pool is used, so routine entries stay a minority.
    changes = rng.sample(CHANGES, 10)
    snotes = STAGING_NOTES[:]
    pobs = PROD_OBS[:]
    for i, (svc, change, extra, after) in enumerate(changes):
        p = pos(max(0.1, after), n_months - 0.5)
        s = sha(rng)
        frame = STAGING_FRAMES[i % len(STAGING_FRAMES)]
        content = frame.format(
            svc=svc, sha=s, change=change, n=rng.randint(38, 46), s=rng.randint(40, 190),
            m=rng.randint(3, 9), note=snotes[i % len(snotes)])
        tags = ["deploy", "staging"] + (extra.split() if extra else [])
        title = rng.choice([f"{svc} {s} to stg", f"Staging deploy: {svc}", None,
                            f"stg: {svc} {s}"])
        out.append((p, {"type": "episodic", "importance": rng.choice([3, 3, 4]),
                        "tags": tags[:5], "title": title, "content": content, "hour": None}))
        q = p + rng.uniform(0.08, 0.3)
        # Production follows for two changes in three, and never after the
        # last pre-freeze deploy (around 2026-11-19).
        if i % 3 != 2 and q < n_months - 0.15:
            obs = pobs[i % len(pobs)]
            pframe = PROD_FRAMES[i % len(PROD_FRAMES)]
            content = pframe.format(svc=svc, sha=s, change=change, m=rng.choice([15, 20, 30]),
                                    obs=obs, obs_cap=cap(obs))
            tags = ["deploy", "production"] + (extra.split() if extra else [])
            title = rng.choice([f"{svc} {s} in production", f"Production deploy: {svc}",
                                f"prod: {svc} {s}"])
            out.append((q, {"type": "episodic", "importance": rng.choice([4, 4, 5]),
                            "tags": tags[:5], "title": title, "content": content, "hour": None}))

    for i, (test, err, fix, after) in enumerate(rng.sample(FLAKES, 4)):
        frame = FLAKE_FRAMES[i % len(FLAKE_FRAMES)]
        content = frame.format(test=test, err=err, fix=fix, fix_cap=cap(fix))
        real_bug = "real bug" in fix
        tags = ["ci", "flaky-tests"] + (["testing"] if i % 2 else [])
        title = None if i % 4 == 1 else f"Flaky: {test}"
        out.append((pos(after), {"type": "episodic", "importance": 5 if real_bug else rng.choice([2, 3]),
                            "tags": tags, "title": title, "content": content, "hour": None}))

    for i, (who, what, comment) in enumerate(rng.sample(REVIEWS, 4)):
        frame = REVIEW_FRAMES[i % len(REVIEW_FRAMES)]
        # Sam joins in September, so his reviews go after that.
        lo = 2.05 if who == "Sam" else 3.75 if "phrase search" in what else 0.0
        content = frame.format(who=who, what=what, comment=comment,
                               comment_lc=comment[:1].lower() + comment[1:])
        title = None if i % 5 == 3 else f"Review: {what}"
        out.append((pos(lo), {"type": "episodic", "importance": rng.choice([2, 3, 3, 4]),
                              "tags": ["review"] + (["team"] if i % 3 == 0 else []),
                              "title": title, "content": content, "hour": None}))

    oncall = rng.sample(ONCALL, 3)
    for i, (pages, detail) in enumerate(oncall):
        frame = ONCALL_FRAMES[i % len(ONCALL_FRAMES)]
        content = frame.format(pages=pages, s="" if pages == 1 else "s",
                               detail=detail, detail_cap=cap(detail))
        p = (i + rng.uniform(0.2, 0.8)) * n_months / len(oncall)
        out.append((p, {"type": "episodic", "importance": 5 if pages >= 3 else 3,
                        "tags": ["on-call", "monitoring"] + (["alerting"] if pages else []),
                        "title": f"On-call week {i + 1}", "content": content, "hour": None}))

    for i, (fact, verdict) in enumerate(rng.sample(CHECKS, 3)):
        frame = CHECK_FRAMES[i % len(CHECK_FRAMES)]
        fact = fact.format(a=rng.randint(34, 48), b=rng.randint(38, 55), c=rng.randint(9, 180),
                           d=round(rng.uniform(0.3, 2.5), 1), e=round(rng.uniform(0.3, 2.5), 1),
                           f=rng.randint(40, 900), g=rng.randint(1, 9), h=rng.randint(5, 8),
                           k=rng.randint(10, 16))
        content = frame.format(fact=fact, verdict=verdict, verdict_cap=cap(verdict))
        # The HPA minimum changed in October.
        # The HPA minimum and the merge policy changed in October, the
        # tombstone panel appeared in late August.
        lo = 3.4 if ("HPA" in fact or "segment" in fact) else 1.9 if "tombstone" in fact else 0.0
        out.append((pos(lo), {"type": "semantic" if i % 3 == 2 else "episodic",
                              "importance": rng.choice([2, 2, 3]),
                              "tags": ["monitoring", "production"] + (["performance"] if i % 2 else []),
                              "title": None if i % 3 == 0 else "Morning dashboard check",
                              "content": content, "hour": None}))
    return out


# ---------------------------------------------------------------------------
# Timestamps and assembly.
# ---------------------------------------------------------------------------

def month_start(i):
    y, m, _ = MONTHS[i]
    return dt.datetime(y, m, 1, tzinfo=dt.timezone.utc)


def assemble(rng):
    placed = []  # (position, order, entry)
    story = [JULY, AUGUST, SEPTEMBER, OCTOBER, NOVEMBER]
    for mi, entries in enumerate(story):
        n = len(entries)
        for j, e in enumerate(entries):
            # Evenly spread through the month, a little jitter, order kept.
            p = mi + (j + 0.5 + rng.uniform(-0.3, 0.3)) / n
            placed.append((p, e))
    for e in LOOSE:
        placed.append((rng.uniform(max(0.05, e["after"]), min(e["before"], len(MONTHS) - 0.05)), e))
    placed.extend(routine_entries(rng))
    placed.sort(key=lambda pe: pe[0])

    # Map each position to a day, then give the entries of each day sorted
    # times within working hours (pinned hours honoured).
    by_day = {}
    for p, e in placed:
        mi = min(int(p), len(MONTHS) - 1)
        days = MONTHS[mi][2]
        day = min(int((p - mi) * days), days - 1)
        by_day.setdefault((mi, day), []).append(e)

    out = []
    for (mi, day) in sorted(by_day):
        es = by_day[(mi, day)]
        base = month_start(mi) + dt.timedelta(days=day)
        secs = sorted(rng.randint(6 * 3600, 21 * 3600) for _ in es)
        pinned = [k for k, e in enumerate(es) if e["hour"] is not None]
        for k in pinned:
            secs[k] = es[k]["hour"] * 3600 + rng.randint(0, 3000)
        # Re-impose strict order around pinned entries: earlier entries of
        # the day move before them, later ones after them.
        if pinned:
            first = pinned[0]
            for k in range(first - 1, -1, -1):
                if secs[k] >= secs[k + 1]:
                    secs[k] = secs[k + 1] - rng.randint(600, 2400)
            for k in range(first + 1, len(secs)):
                if secs[k] <= secs[k - 1]:
                    secs[k] = secs[k - 1] + rng.randint(600, 2400)
        assert 0 <= secs[0] and secs[-1] < 86400, (mi, day, secs)
        for k, e in enumerate(es):
            ts = base + dt.timedelta(seconds=secs[k])
            out.append({
                "title": e["title"],
                "content": e["content"],
                "tags": e["tags"],
                "entryType": e["type"],
                "importance": e["importance"],
                "createdAt": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            })
    return out


# ---------------------------------------------------------------------------
# Validation.
# ---------------------------------------------------------------------------

SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
STAGING_RE = re.compile(r"\b(staging|stg)\b", re.I)
PROD_RE = re.compile(r"\b(production|prod|prod-fra1|prod-iad1)\b", re.I)


def validate(rows):
    errors = []
    end = dt.datetime(2026, 11, 20, 23, 59, 59, tzinfo=dt.timezone.utc)
    seen = set()
    prev = None
    for i, r in enumerate(rows, 1):
        where = f"line {i}"
        if set(r) != {"title", "content", "tags", "entryType", "importance", "createdAt"}:
            errors.append(f"{where}: fields {sorted(r)}")
        t = r["title"]
        if t is not None and not (isinstance(t, str) and 1 <= len(t) <= 120):
            errors.append(f"{where}: bad title {t!r}")
        c = r["content"]
        if not isinstance(c, str) or not c.strip():
            errors.append(f"{where}: empty content")
        elif c in seen:
            errors.append(f"{where}: duplicate content")
        seen.add(c)
        n_sent = len(SENTENCE_SPLIT.split(c))
        if not 1 <= n_sent <= 6:
            errors.append(f"{where}: {n_sent} sentences")
        if "lorem" in c.lower():
            errors.append(f"{where}: lorem ipsum")
        tags = r["tags"]
        if len(tags) > 5 or len(set(tags)) != len(tags):
            errors.append(f"{where}: tags {tags}")
        for tag in tags:
            if not (1 <= len(tag) <= 128 and tag == tag.lower() and tag in VOCAB):
                errors.append(f"{where}: tag {tag!r}")
        if r["entryType"] not in TYPES.values():
            errors.append(f"{where}: entryType {r['entryType']!r}")
        imp = r["importance"]
        if not (isinstance(imp, int) and 1 <= imp <= 10):
            errors.append(f"{where}: importance {imp!r}")
        ts = dt.datetime.strptime(r["createdAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        if not START <= ts <= end:
            errors.append(f"{where}: createdAt {r['createdAt']} outside the period")
        if prev is not None and ts <= prev:
            errors.append(f"{where}: createdAt not increasing")
        prev = ts

    n = len(rows)
    if not 280 <= n <= 320:
        errors.append(f"{n} entries, expected about 300")
    null_titles = sum(r["title"] is None for r in rows)
    if not 0.07 * n <= null_titles <= 0.13 * n:
        errors.append(f"{null_titles} null titles, expected about 10%")
    types = Counter(r["entryType"] for r in rows)
    for ty, share in {"episodic": 0.40, "semantic": 0.25, "procedural": 0.20, "reflection": 0.15}.items():
        if abs(types[ty] / n - share) > 0.06:
            errors.append(f"{ty}: {types[ty]} of {n}, expected about {share:.0%}")
    used_tags = {t for r in rows for t in r["tags"]}
    if not 35 <= len(used_tags) <= 50:
        errors.append(f"{len(used_tags)} distinct tags")

    # Content the search tests and the demo rely on.
    def count(pred):
        return sum(1 for r in rows if pred(r["title"] or "", r["content"]))

    required = {
        "Ed25519 signing": lambda t, c: "ed25519" in c.lower() and "sign" in c.lower(),
        "key rotation": lambda t, c: "rotat" in (t + c).lower() and "key" in (t + c).lower(),
        "staging only": lambda t, c: STAGING_RE.search(c) and not PROD_RE.search(c) and "deploy" in (t + c).lower(),
        "production only": lambda t, c: PROD_RE.search(c) and not STAGING_RE.search(c) and (
            "deploy" in (t + c).lower() or "promot" in c.lower()),
        "postgres migration": lambda t, c: "migration" in c.lower() and ("postgres" in c.lower() or "sql" in c.lower() or "0" in c),
        "hnsw tuning": lambda t, c: "HNSW" in c and ("ef_search" in c or "ef_construction" in c),
        "tantivy / BM25": lambda t, c: "tantivy" in c and "BM25" in c,
        "embedding latency": lambda t, c: "embed" in c.lower() and ("latency" in c.lower() or "p95" in c),
        "ducks": lambda t, c: "duck" in c.lower(),
        "revised decisions": lambda t, c: (t + " " + c).startswith("Revised:") or c.startswith("Revised:"),
        "numbered steps": lambda t, c: c.startswith("1) "),
    }
    minimum = {"staging only": 5, "production only": 5, "revised decisions": 3, "ducks": 1}
    found = {}
    for name, pred in required.items():
        k = count(pred)
        found[name] = k
        if k < minimum.get(name, 2):
            errors.append(f"too few entries for {name!r}: {k}")
    reflections_on_mistakes = sum(
        1 for r in rows if r["entryType"] == "reflection" and re.search(
            r"\b(mine|mistake|should have|avoidable|forgot|I skipped|my worst)\b", r["content"], re.I))
    if reflections_on_mistakes < 3:
        errors.append(f"too few reflections on mistakes: {reflections_on_mistakes}")
    return errors, types, found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only validate the existing file")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    out = os.path.normpath(args.out)

    if args.check:
        with open(out, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    else:
        rows = assemble(random.Random(SEED))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w", encoding="utf-8", newline="\n") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")

    errors, types, found = validate(rows)
    print(f"{out}: {len(rows)} entries")
    print("types: " + ", ".join(f"{k} {v} ({v / len(rows):.0%})" for k, v in types.most_common()))
    print(f"null titles: {sum(r['title'] is None for r in rows)}")
    print("coverage: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    sys.stdout.flush()
    if errors:
        print(f"{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
