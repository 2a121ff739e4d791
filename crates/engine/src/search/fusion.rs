//! Fusing the vector and text arms into one ranking, then re-weighting by
//! recency and importance.
//!
//! The default reproduces MoltNet's `diary_search` SQL: reciprocal rank
//! fusion with k = 60, `relevance = rrf / (2 / (k + 1))` (1.0 when a document
//! is first in both arms), and
//! `score = wRelevance·relevance + wRecency·0.99^hours + wImportance·importance/10`.
//! Weighted RRF and a score-normalised convex combination are options.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::invalid::InvalidField;
use crate::index::DocId;

/// How the two arms' rankings combine.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "camelCase")]
pub enum Fusion {
    /// Reciprocal rank fusion: `Σ 1/(k + rank)` (MoltNet's default, k = 60).
    Rrf {
        /// Rank offset; larger flattens the head.
        k: f32,
    },
    /// RRF with a weight per arm: `wv/(k + rank_v) + wt/(k + rank_t)`.
    WeightedRrf {
        /// Rank offset.
        k: f32,
        /// Weight of the vector arm.
        vector_weight: f32,
        /// Weight of the text arm.
        text_weight: f32,
    },
    /// Scores min-max normalised within each arm, then
    /// `alpha·vector + (1 − alpha)·text`; uses score gaps that RRF ignores.
    Convex {
        /// Weight of the vector arm, 0..=1.
        alpha: f32,
    },
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion::Rrf { k: 60.0 }
    }
}

impl Fusion {
    /// Checks parameter ranges; the error names the bad one.
    pub fn validate(&self) -> Result<(), InvalidField> {
        let unit = |name: &'static str, v: f32| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(InvalidField::new(
                    name,
                    format!("must be within 0..=1, got {v}"),
                ))
            }
        };
        match *self {
            Fusion::Rrf { k } => positive_k(k),
            Fusion::WeightedRrf {
                k,
                vector_weight,
                text_weight,
            } => {
                positive_k(k)?;
                unit("vectorWeight", vector_weight)?;
                unit("textWeight", text_weight)?;
                if vector_weight + text_weight <= 0.0 {
                    return Err(InvalidField::new(
                        "vectorWeight",
                        "vectorWeight + textWeight must be > 0",
                    ));
                }
                Ok(())
            }
            Fusion::Convex { alpha } => unit("alpha", alpha),
        }
    }
}

fn positive_k(k: f32) -> Result<(), InvalidField> {
    if k.is_finite() && k > 0.0 && k <= 10_000.0 {
        Ok(())
    } else {
        Err(InvalidField::new(
            "k",
            format!("fusion k must be within (0, 10000], got {k}"),
        ))
    }
}

/// One arm's hit: document, 1-based rank and raw score (cosine or BM25).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArmHit {
    /// The document.
    pub doc: DocId,
    /// 1-based rank within the arm.
    pub rank: usize,
    /// Cosine similarity (vector arm) or BM25 (text arm).
    pub score: f32,
}

/// A fused candidate with each arm's contribution kept for `explain`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fused {
    /// The document.
    pub doc: DocId,
    /// Vector arm hit, when the document was in it.
    pub vector: Option<ArmHit>,
    /// Text arm hit, when the document was in it.
    pub text: Option<ArmHit>,
    /// Fused relevance, 0..=1 (1 = best possible in both arms).
    pub relevance: f32,
}

/// Fuses two arms (each sorted best first) into candidates, in no
/// particular order; the caller re-weights and sorts.
pub fn fuse(fusion: &Fusion, vector: &[ArmHit], text: &[ArmHit]) -> Vec<Fused> {
    let mut by_doc: HashMap<DocId, Fused> = HashMap::with_capacity(vector.len() + text.len());
    for h in vector {
        candidate(&mut by_doc, h.doc).vector = Some(*h);
    }
    for h in text {
        candidate(&mut by_doc, h.doc).text = Some(*h);
    }
    let (v_min, v_max) = min_max(vector);
    let (t_min, t_max) = min_max(text);
    let mut out: Vec<Fused> = by_doc.into_values().collect();
    for f in &mut out {
        f.relevance = match *fusion {
            Fusion::Rrf { k } => {
                let rrf = rrf_term(k, f.vector) + rrf_term(k, f.text);
                rrf / (2.0 / (k + 1.0))
            }
            Fusion::WeightedRrf {
                k,
                vector_weight,
                text_weight,
            } => {
                let rrf = vector_weight * rrf_term(k, f.vector) + text_weight * rrf_term(k, f.text);
                rrf / ((vector_weight + text_weight) / (k + 1.0))
            }
            Fusion::Convex { alpha } => {
                let v = f.vector.map_or(0.0, |h| normalise(h.score, v_min, v_max));
                let t = f.text.map_or(0.0, |h| normalise(h.score, t_min, t_max));
                alpha * v + (1.0 - alpha) * t
            }
        };
    }
    out
}

fn candidate(by_doc: &mut HashMap<DocId, Fused>, doc: DocId) -> &mut Fused {
    by_doc.entry(doc).or_insert(Fused {
        doc,
        vector: None,
        text: None,
        relevance: 0.0,
    })
}

fn rrf_term(k: f32, hit: Option<ArmHit>) -> f32 {
    hit.map_or(0.0, |h| 1.0 / (k + h.rank as f32))
}

fn min_max(hits: &[ArmHit]) -> (f32, f32) {
    hits.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), h| {
            (lo.min(h.score), hi.max(h.score))
        })
}

/// Min-max normalisation; a single-valued arm maps to 1 (its hits are all
/// equally the best it has).
fn normalise(v: f32, lo: f32, hi: f32) -> f32 {
    if hi > lo {
        (v - lo) / (hi - lo)
    } else {
        1.0
    }
}

/// Weights of the final score; each within 0..=1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Weights {
    /// Weight of fused relevance (default 1).
    pub relevance: f32,
    /// Weight of recency, `0.99^hours since last access or creation` (default 0).
    pub recency: f32,
    /// Weight of importance / 10 (default 0).
    pub importance: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            relevance: 1.0,
            recency: 0.0,
            importance: 0.0,
        }
    }
}

impl Weights {
    /// Checks every weight is within 0..=1 (fields named as MoltNet's
    /// search API names them: `wRelevance`, `wRecency`, `wImportance`).
    pub fn validate(&self) -> Result<(), InvalidField> {
        for (name, v) in [
            ("wRelevance", self.relevance),
            ("wRecency", self.recency),
            ("wImportance", self.importance),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(InvalidField::new(
                    name,
                    format!("must be within 0..=1, got {v}"),
                ));
            }
        }
        Ok(())
    }
}

/// MoltNet's recency term: `0.99^hours`, hours clamped at 0 for clock skew.
pub fn recency(hours_since: f64) -> f32 {
    0.99f64.powf(hours_since.max(0.0)) as f32
}

/// The final score of a candidate.
pub fn final_score(w: &Weights, relevance: f32, recency: f32, importance: u8) -> f32 {
    w.relevance * relevance + w.recency * recency + w.importance * f32::from(importance) / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(doc: DocId, rank: usize, score: f32) -> ArmHit {
        ArmHit { doc, rank, score }
    }

    fn rel(fused: &[Fused], doc: DocId) -> f32 {
        fused.iter().find(|f| f.doc == doc).unwrap().relevance
    }

    #[test]
    fn rrf_first_in_both_arms_is_one() {
        let f = fuse(
            &Fusion::default(),
            &[hit(1, 1, 0.9), hit(2, 2, 0.8)],
            &[hit(1, 1, 7.0), hit(3, 2, 5.0)],
        );
        assert!((rel(&f, 1) - 1.0).abs() < 1e-6);
        // Only in one arm at rank 2: (1/62) / (2/61).
        assert!((rel(&f, 2) - (1.0 / 62.0) / (2.0 / 61.0)).abs() < 1e-6);
        assert_eq!(f.len(), 3);
    }

    #[test]
    fn weighted_rrf_favours_the_heavier_arm() {
        let fusion = Fusion::WeightedRrf {
            k: 60.0,
            vector_weight: 1.0,
            text_weight: 0.2,
        };
        let f = fuse(&fusion, &[hit(1, 1, 0.9)], &[hit(2, 1, 9.0)]);
        assert!(rel(&f, 1) > rel(&f, 2));
    }

    #[test]
    fn convex_uses_score_gaps() {
        let f = fuse(
            &Fusion::Convex { alpha: 0.5 },
            &[hit(1, 1, 0.9), hit(2, 2, 0.1)],
            &[hit(2, 1, 3.0), hit(1, 2, 2.9), hit(3, 3, 0.0)],
        );
        // RRF would tie 1 and 2 (ranks 1+2 each); the score gaps don't.
        assert!(rel(&f, 1) > rel(&f, 2) + 0.3);
    }

    #[test]
    fn score_and_recency() {
        assert!((recency(0.0) - 1.0).abs() < 1e-6);
        assert!((recency(100.0) - 0.99f32.powi(100)).abs() < 1e-4);
        assert_eq!(recency(-5.0), 1.0);
        let w = Weights {
            relevance: 0.5,
            recency: 0.25,
            importance: 0.25,
        };
        assert!((final_score(&w, 1.0, 1.0, 10) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn invalid_parameters_are_named() {
        assert_eq!(Fusion::Rrf { k: 0.0 }.validate().unwrap_err().field, "k");
        let alpha = Fusion::Convex { alpha: 2.0 }.validate().unwrap_err();
        assert_eq!(alpha.field, "alpha");
        assert!(alpha.reason.contains("0..=1"), "{}", alpha.reason);
        let w = Weights {
            recency: -1.0,
            ..Weights::default()
        };
        assert_eq!(w.validate().unwrap_err().field, "wRecency");
    }
}
