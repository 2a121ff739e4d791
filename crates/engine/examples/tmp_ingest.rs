use moltsearch_engine::embed::{runtime, Embedder, Embeddings};
use moltsearch_engine::index::text::TextIndex;
use moltsearch_engine::index::vector::{VectorIndex, VectorIndexBuilder};
use std::time::Instant;
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(50000);
    let corpus = moltsearch_engine::eval::read_corpus(
        &moltsearch_engine::eval::shared_dir().join("data/wordnet/corpus.jsonl"),
    )
    .unwrap();
    let e = Embedder::builder().build().unwrap();
    let cache = runtime::cache_dir().join("eval").join(format!(
        "wordnet-{}-{}.f32",
        corpus.len(),
        e.model_id()
    ));
    let v: Embeddings =
        moltsearch_engine::eval::embed_corpus_cached(&e, &corpus, Some(&cache), |_| {}).unwrap();
    let dims = 384;
    let docs: Vec<u32> = (0..n as u32).collect();
    let t = Instant::now();
    let vi = VectorIndexBuilder::new().dims(dims).build().unwrap();
    for c in docs.chunks(4096) {
        vi.insert_batch(
            c,
            &v.as_slice()[c[0] as usize * dims..(c[0] as usize + c.len()) * dims],
        )
        .unwrap();
    }
    println!(
        "vector insert_batch {n}: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    vi.wait_idle();
    println!(
        "vector + background builds idle: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let ti = TextIndex::create_in_ram().unwrap();
    for c in docs.chunks(4096) {
        for &d in c {
            let doc = &corpus[d as usize];
            ti.add(d, Some(&doc.title), &doc.text, &[]).unwrap();
        }
        ti.commit().unwrap();
    }
    println!("text add+commit {n}: {:.2} s", t.elapsed().as_secs_f64());
}
