//! `Engine::search`: both arms under one allowed-document bitmap, fused.

use std::collections::HashSet;

use time::OffsetDateTime;

use super::{list_response, now, Engine};
use crate::index::DocId;
use crate::search::fusion::{self, ArmHit};
use crate::search::query::ParsedQuery;
use crate::search::request::{Explain, SearchHit, SearchMode, SearchRequest, SearchResponse};
use crate::{Error, Result};

impl Engine {
    /// Hybrid search (see [`SearchRequest`]). An empty query lists entries
    /// newest first. If the query cannot be embedded, a hybrid search runs
    /// on the text arm alone and says so in `warnings` and `mode`.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResponse> {
        req.validate().map_err(Error::InvalidRequest)?;
        let allow = self.inner.catalog.read().allowed(&req.scope, &req.filters);
        if req.query.trim().is_empty() {
            let cat = self.inner.catalog.read();
            return Ok(list_response(&cat, &allow, req.offset, req.limit));
        }
        let parsed = ParsedQuery::parse(&req.query);
        let depth = req.arm_depth();
        let mut warnings = Vec::new();
        let mut mode = req.mode;

        // Vector arm.
        let mut vector_hits: Vec<ArmHit> = Vec::new();
        let mut vector_may_have_more = false;
        if mode != SearchMode::Text && !allow.is_empty() {
            let embedded = match &req.query_vector {
                Some(v) if v.len() != self.inner.embedder.dims() => {
                    return Err(Error::WrongVectorDimension {
                        expected: self.inner.embedder.dims(),
                        got: v.len(),
                    })
                }
                Some(v) => Ok(v.clone()),
                None => self
                    .inner
                    .embedder
                    .embed_queries(&[req.query.as_str()])
                    .map(|q| q.into_vec()),
            };
            match embedded {
                Ok(q) => {
                    let hits = self.inner.vectors.search(&q, depth, Some(&allow))?;
                    vector_may_have_more = hits.len() == depth;
                    let mut kept: Vec<(DocId, f32)> = hits
                        .into_iter()
                        .filter(|h| h.distance <= req.max_distance)
                        .map(|h| (h.doc, h.cosine()))
                        .collect();
                    if kept.len() < depth {
                        // The threshold cut the list: nothing further qualifies.
                        vector_may_have_more = false;
                    }
                    if parsed.has_negation() {
                        // MoltNet's rule: with a negation, vector hits must
                        // satisfy the full text query too.
                        let docs: Vec<DocId> = kept.iter().map(|h| h.0).collect();
                        let ok = self.inner.text.matching(&parsed, req.text_match, &docs)?;
                        kept.retain(|h| ok.contains(h.0));
                    }
                    vector_hits = kept
                        .into_iter()
                        .enumerate()
                        .map(|(i, (doc, cos))| ArmHit {
                            doc,
                            rank: i + 1,
                            score: cos,
                        })
                        .collect();
                }
                Err(e) if mode == SearchMode::Hybrid => {
                    tracing::warn!(error = %e, "query embedding failed; text arm only");
                    warnings.push(format!(
                        "query embedding failed ({e}); results come from the text arm only"
                    ));
                    mode = SearchMode::Text;
                }
                Err(e) => return Err(e),
            }
        }

        // Text arm.
        let mut text_hits: Vec<ArmHit> = Vec::new();
        let mut text_total = 0usize;
        if mode != SearchMode::Vector && !allow.is_empty() {
            let found = self
                .inner
                .text
                .search(&parsed, req.text_match, depth, 0, Some(&allow))?;
            text_total = found.total_matches;
            text_hits = found
                .hits
                .into_iter()
                .enumerate()
                .map(|(i, (doc, bm25))| ArmHit {
                    doc,
                    rank: i + 1,
                    score: bm25,
                })
                .collect();
        }

        let fused = fusion::fuse(&req.fusion, &vector_hits, &text_hits);
        let t = now();
        let cat = self.inner.catalog.read();
        let mut scored: Vec<(f32, fusion::Fused, f32, u8)> = fused
            .into_iter()
            .filter_map(|f| {
                let e = cat.entry_of(f.doc)?;
                let (_, last_access) = cat.access_of(e);
                let rec = fusion::recency(hours_between(last_access.unwrap_or(e.created_at), t));
                let score = fusion::final_score(&req.weights, f.relevance, rec, e.importance);
                Some((score, f, rec, e.importance))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.doc.cmp(&b.1.doc)));

        let text_docs: HashSet<DocId> = text_hits.iter().map(|h| h.doc).collect();
        let union = scored.len();
        let (total, lower_bound) = match mode {
            SearchMode::Text => (text_total, false),
            _ => {
                let text_beyond = text_total.saturating_sub(text_docs.len());
                (union + text_beyond, vector_may_have_more)
            }
        };
        let hits: Vec<SearchHit> = scored
            .into_iter()
            .skip(req.offset)
            .take(req.limit)
            .filter_map(|(score, f, rec, importance)| {
                let e = cat.entry_of(f.doc)?;
                Some(SearchHit {
                    entry: cat.current(e),
                    score,
                    explain: req.explain.then(|| Explain {
                        vector_rank: f.vector.map(|h| h.rank),
                        cosine: f.vector.map(|h| h.score),
                        text_rank: f.text.map(|h| h.rank),
                        bm25: f.text.map(|h| h.score),
                        relevance: f.relevance,
                        recency: rec,
                        importance: f32::from(importance) / 10.0,
                        score,
                    }),
                })
            })
            .collect();
        drop(cat);
        self.record_access(&hits, t);
        Ok(SearchResponse {
            hits,
            total,
            total_is_lower_bound: lower_bound,
            mode,
            warnings,
        })
    }

    /// Counts a read of each returned entry; `updatedAt` is not touched.
    /// Under the catalog's read lock: counting takes only the sharded
    /// locks of the access counts, so searches never wait for each other
    /// or for writers here (the journal logs the counts later).
    fn record_access(&self, hits: &[SearchHit], at: OffsetDateTime) {
        if hits.is_empty() {
            return;
        }
        let cat = self.inner.catalog.read();
        for h in hits {
            cat.record_access(h.entry.id, at);
        }
    }
}

fn hours_between(from: OffsetDateTime, to: OffsetDateTime) -> f64 {
    (to - from).as_seconds_f64() / 3600.0
}
