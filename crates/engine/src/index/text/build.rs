//! Translation of a [`ParsedQuery`] into a tantivy query.
//!
//! A literal (word or phrase) becomes a disjunction (scores summed) over
//! fields: a term query (one token) or a positional phrase query (several
//! tokens, with the gaps left by stop words) in `body`, `title` and `tags`,
//! each multiplied by its [`FieldBoosts`] weight, plus an exact match of the
//! literal's text against whole tags. Since `body` holds title, content and
//! tags, whether a literal matches is decided by `body` or the exact tag;
//! the other fields only add score.
//!
//! [`TextMatch::All`] keeps Postgres's boolean structure: every positive
//! literal of a conjunction is `Must`, negated ones `MustNot`, conjunctions
//! are `Should` alternatives. [`TextMatch::Any`] relaxes bare words to
//! `Should` and splits a bare word of several tokens (`IL-6`, `k8s-prod`)
//! into one alternative per token (SciFact train: +0.005 nDCG@10 over
//! keeping it a phrase; an extra phrase bonus measured slightly worse),
//! while quoted phrases stay `Must` phrases and negations `MustNot`. A
//! conjunction made only of negations matches all documents (score 0)
//! minus the excluded ones, as in Postgres.

use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::Term;

use super::schema::{analyze_one, Fields};
use super::FieldBoosts;
use crate::query::{Conjunction, Literal, LiteralKind, ParsedQuery, TextMatch};

/// Builds tantivy queries for one search; owns clones of the analyzers
/// (tantivy analyzers need `&mut` to run).
pub(super) struct QueryBuilder<'a> {
    pub fields: &'a Fields,
    pub boosts: &'a FieldBoosts,
    pub text_analyzer: TextAnalyzer,
    pub tag_analyzer: TextAnalyzer,
}

impl QueryBuilder<'_> {
    /// The query, or `None` when it can match nothing (empty query).
    pub fn build(&mut self, query: &ParsedQuery, mode: TextMatch) -> Option<Box<dyn Query>> {
        let mut disjuncts: Vec<Box<dyn Query>> = query
            .disjuncts()
            .iter()
            .map(|c| self.conjunction(c, mode))
            .collect();
        match disjuncts.len() {
            0 => None,
            1 => disjuncts.pop(),
            _ => Some(Box::new(BooleanQuery::new(
                disjuncts.into_iter().map(|q| (Occur::Should, q)).collect(),
            ))),
        }
    }

    fn conjunction(&mut self, conjunction: &Conjunction, mode: TextMatch) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for literal in conjunction.literals() {
            let occur = match (literal.is_negated(), mode, literal.kind()) {
                (true, _, _) => Occur::MustNot,
                (false, TextMatch::All, _) | (false, TextMatch::Any, LiteralKind::Phrase) => {
                    Occur::Must
                }
                (false, TextMatch::Any, LiteralKind::Word) => Occur::Should,
            };
            let split_tokens = occur == Occur::Should;
            clauses.push((occur, self.literal(literal, split_tokens)));
        }
        if clauses.iter().all(|(occur, _)| *occur == Occur::MustNot) {
            // Postgres: `!'cat'` matches every document without `cat`.
            clauses.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(Box::new(AllQuery), 0.0)),
            ));
        }
        if clauses.len() == 1 && clauses[0].0 != Occur::MustNot {
            if let Some((_, query)) = clauses.pop() {
                return query;
            }
        }
        Box::new(BooleanQuery::new(clauses))
    }

    /// A literal as a disjunction over fields (see the module docs). With
    /// `split_tokens`, each token is its own alternative instead of the
    /// tokens forming a phrase.
    fn literal(&mut self, literal: &Literal, split_tokens: bool) -> Box<dyn Query> {
        let stems: Vec<(usize, String)> = literal
            .tokens()
            .iter()
            .filter_map(|t| {
                analyze_one(&mut self.text_analyzer, t.text()).map(|s| (t.offset() as usize, s))
            })
            .collect();
        let mut alternatives: Vec<Box<dyn Query>> = Vec::new();
        let text_fields = [
            (self.fields.body, self.boosts.body),
            (self.fields.title, self.boosts.title),
            (self.fields.tags, self.boosts.tags),
        ];
        for (i, (field, boost)) in text_fields.into_iter().enumerate() {
            // `body` decides matching, so it stays even with a zero boost.
            let boost = boost.max(0.0);
            if stems.is_empty() || (i > 0 && boost == 0.0) {
                continue;
            }
            if split_tokens {
                for stem in &stems {
                    let query = field_query(field, std::slice::from_ref(stem));
                    alternatives.push(boosted(query, boost));
                }
            } else {
                alternatives.push(boosted(field_query(field, &stems), boost));
            }
        }
        if self.boosts.exact_tag > 0.0 {
            let text = literal.text().trim();
            let trimmed = text.trim_matches(|c: char| !c.is_alphanumeric());
            let mut tags: Vec<String> = [text, trimmed]
                .iter()
                .filter_map(|t| analyze_one(&mut self.tag_analyzer, t))
                .collect();
            tags.dedup();
            for tag in tags {
                let term = Term::from_field_text(self.fields.tag, &tag);
                let query = Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
                alternatives.push(boosted(query, self.boosts.exact_tag));
            }
        }
        match alternatives.len() {
            0 => Box::new(EmptyQuery),
            1 => alternatives.pop().unwrap_or_else(|| Box::new(EmptyQuery)),
            _ => Box::new(BooleanQuery::new(
                alternatives
                    .into_iter()
                    .map(|q| (Occur::Should, q))
                    .collect(),
            )),
        }
    }
}

/// One token: a term query; several: a phrase with their relative offsets.
fn field_query(field: Field, stems: &[(usize, String)]) -> Box<dyn Query> {
    if let [(_, stem)] = stems {
        let term = Term::from_field_text(field, stem);
        return Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
    }
    let terms = stems
        .iter()
        .map(|(offset, stem)| (*offset, Term::from_field_text(field, stem)))
        .collect();
    Box::new(PhraseQuery::new_with_offset(terms))
}

fn boosted(query: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    if boost == 1.0 {
        query
    } else {
        Box::new(BoostQuery::new(query, boost))
    }
}
