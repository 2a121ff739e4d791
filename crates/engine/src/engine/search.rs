//! `Engine::search`: both arms under one allowed-document bitmap, fused.

use std::collections::HashSet;

use roaring::RoaringBitmap;
use time::OffsetDateTime;

use super::read::list_response;
use super::write::now;
use super::Engine;
use crate::index::DocId;
use crate::search::fusion::{self, ArmHit};
use crate::search::query::{Literal, ParsedQuery};
use crate::search::request::{Explain, SearchHit, SearchMode, SearchRequest, SearchResponse};
use crate::{Error, Result};

impl Engine {
    /// Hybrid search (see [`SearchRequest`]). An empty query lists entries
    /// newest first. If the query cannot be embedded, a hybrid search runs
    /// on the text arm alone and says so in `warnings` and `mode`.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResponse> {
        req.validate()?;
        let allow = self.inner.state.read().allowed(&req.scope, &req.filters);
        if req.query.trim().is_empty() {
            let cat = self.inner.state.read();
            return Ok(list_response(&cat, &allow, req.offset, req.limit));
        }
        // A bad query vector is refused before either arm does any work.
        if let Some(v) = req
            .query_vector
            .as_ref()
            .filter(|_| req.mode != SearchMode::Text)
        {
            if v.len() != self.inner.embedder.dims() {
                return Err(Error::WrongVectorDimension {
                    expected: self.inner.embedder.dims(),
                    got: v.len(),
                });
            }
        }
        let parsed = ParsedQuery::parse(&req.query);
        let negated = parsed.has_negation();
        let depth = req.arm_depth();
        let mut warnings = Vec::new();
        let mut mode = req.mode;

        // Text arm, first: with a negation, the docs it matches are the
        // vector arm's filter.
        let mut text_hits: Vec<ArmHit> = Vec::new();
        let mut text_total = 0usize;
        let mut text_matched: Option<RoaringBitmap> = None;
        if mode != SearchMode::Vector && !allow.is_empty() {
            let found = if negated && mode == SearchMode::Hybrid {
                let (found, matched) = self.inner.text.search_matching(
                    &parsed,
                    req.text_match,
                    depth,
                    0,
                    Some(&allow),
                )?;
                text_matched = Some(matched);
                found
            } else {
                self.inner
                    .text
                    .search(&parsed, req.text_match, depth, 0, Some(&allow))?
            };
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

        // Vector arm.
        let mut vector_hits: Vec<ArmHit> = Vec::new();
        let mut vector_may_have_more = false;
        if mode != SearchMode::Text && !allow.is_empty() {
            let embedded = match &req.query_vector {
                Some(v) => Ok(v.clone()),
                None => self
                    .inner
                    .embedder
                    .embed_queries(&[vector_query_text(&req.query, &parsed).as_str()])
                    .map(|q| q.into_vec()),
            };
            match embedded {
                Ok(q) => {
                    // MoltNet's rule: with a negation, vector hits must
                    // satisfy the full text query too. It is the search's
                    // filter, not a cut after it, so the arm fills its depth
                    // from docs that pass instead of losing most of them.
                    let narrowed;
                    let filter = if negated {
                        narrowed = match text_matched.take() {
                            Some(m) => m,
                            None => self
                                .inner
                                .text
                                .matching_in(&parsed, req.text_match, &allow)?,
                        };
                        &narrowed
                    } else {
                        &allow
                    };
                    let hits = if filter.is_empty() {
                        Vec::new()
                    } else {
                        self.inner.vectors.search(&q, depth, Some(filter))?
                    };
                    vector_may_have_more = hits.len() == depth;
                    let kept: Vec<(DocId, f32)> = hits
                        .into_iter()
                        .filter(|h| h.distance <= req.max_distance)
                        .map(|h| (h.doc, h.cosine()))
                        .collect();
                    if kept.len() < depth {
                        // The threshold cut the list: nothing further qualifies.
                        vector_may_have_more = false;
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

        let fused = fusion::fuse(&req.fusion, &vector_hits, &text_hits);
        let t = now();
        let cat = self.inner.state.read();
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

        let union = scored.len();
        let (total, lower_bound) = match mode {
            SearchMode::Text => (text_total, false),
            SearchMode::Vector => (union, vector_may_have_more),
            // Every vector hit matched the text query, which the text arm
            // counted exactly.
            SearchMode::Hybrid if negated => (text_total, false),
            SearchMode::Hybrid => {
                // Text matches beyond the text arm's depth, less those the
                // vector arm found (already in `union`).
                let beyond_depth = text_total.saturating_sub(text_hits.len());
                let mut counted_twice = 0;
                if beyond_depth > 0 {
                    let text_docs: HashSet<DocId> = text_hits.iter().map(|h| h.doc).collect();
                    let vector_only: Vec<DocId> = vector_hits
                        .iter()
                        .map(|h| h.doc)
                        .filter(|d| !text_docs.contains(d))
                        .collect();
                    if !vector_only.is_empty() {
                        counted_twice = self
                            .inner
                            .text
                            .matching(&parsed, req.text_match, &vector_only)?
                            .len() as usize;
                    }
                }
                (
                    union + beyond_depth.saturating_sub(counted_twice),
                    vector_may_have_more,
                )
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
    /// Under the state's read lock: counting takes only the sharded
    /// locks of the access counts, so searches never wait for each other
    /// or for writers here (the journal logs the counts later).
    fn record_access(&self, hits: &[SearchHit], at: OffsetDateTime) {
        if hits.is_empty() {
            return;
        }
        let cat = self.inner.state.read();
        for h in hits {
            cat.record_access(h.entry.id, at);
        }
    }
}

/// What the vector arm embeds: the query as typed, or, when it has a
/// negation, only its positive words and phrases. Embedding
/// `deploy -staging` whole pulls the query vector towards "staging", the
/// very thing excluded (and the text filter then throws those hits away). A
/// query with nothing positive (`-staging`) is embedded as typed: there is
/// no other text, and the filter still keeps only docs without the word.
fn vector_query_text(query: &str, parsed: &ParsedQuery) -> String {
    if !parsed.has_negation() {
        return query.to_string();
    }
    let positive: Vec<&str> = parsed
        .literals()
        .filter(|l| !l.is_negated())
        .map(Literal::text)
        .collect();
    if positive.is_empty() {
        query.to_string()
    } else {
        positive.join(" ")
    }
}

fn hours_between(from: OffsetDateTime, to: OffsetDateTime) -> f64 {
    (to - from).as_seconds_f64() / 3600.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedded(q: &str) -> String {
        vector_query_text(q, &ParsedQuery::parse(q))
    }

    #[test]
    fn the_vector_arm_embeds_only_what_is_asked_for() {
        assert_eq!(embedded("how do I deploy?"), "how do I deploy?");
        assert_eq!(embedded("deploy -staging"), "deploy");
        assert_eq!(
            embedded(r#"-"dry run" rotate "signing keys" -staging"#),
            "rotate signing keys"
        );
        assert_eq!(embedded("cat OR -dog"), "cat");
        assert_eq!(embedded("-staging"), "-staging");
    }
}
