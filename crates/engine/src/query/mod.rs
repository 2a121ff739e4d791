//! The user query language: Postgres `websearch_to_tsquery` syntax, and
//! how bare words must match ([`TextMatch`]).
//!
//! The bottom of search: both the text index (which executes a
//! [`ParsedQuery`]) and the search layer (which inspects it and carries a
//! [`TextMatch`] in requests) read it, and it reads neither, the way
//! tantivy keeps its query grammar in a crate of its own. `parse.rs` turns
//! a string into the parsed form of `ast.rs`.
//!
//! MoltNet searches diaries in SQL with
//! `to_tsvector('english', …) @@ websearch_to_tsquery('english', $query)`, so
//! that is what its users type. This module parses the same syntax into a
//! small AST ([`ParsedQuery`]) that the text index
//! (`crate::index::text`, above this module) turns into tantivy queries, and that the hybrid
//! search inspects ([`ParsedQuery::has_negation`]).
//!
//! # Syntax (checked against PostgreSQL 15's `websearch_to_tsquery`)
//!
//! - `deploy staging`: plain words, all required (implicit AND).
//! - `"key rotation"`: a phrase: the words next to each other, in order.
//!   An unterminated quote runs to the end of the input.
//! - `cat or dog`, `cat OR dog`: either side. The keyword is case-insensitive
//!   as in Postgres, and it is only an operator between two operands
//!   (`OR cat`, `cat OR`, `cat or-dog` contain no operator).
//! - `-staging`, `-"dry run"`: negation of the next word or phrase
//!   (`- staging` also negates, a trailing `-` is ignored, `--x` is `x`).
//!
//! **Precedence is Postgres's, not Google's: AND binds tighter than OR.**
//! `a b OR c d` means `(a AND b) OR (c AND d)`, so a query is a disjunction
//! of conjunctions ([`ParsedQuery::disjuncts`]) of possibly negated words
//! and phrases ([`Literal`]). (PostgreSQL 15:
//! `websearch_to_tsquery('english', 'cat dog or fish')` is
//! `'cat' & 'dog' | 'fish'`, which matches a document containing only
//! `fish`.)
//!
//! Everything else is a separator, exactly where Postgres treats it so:
//! `! & | ( ) <` end a word and are otherwise skipped (`cat & OR dog` is
//! `cat OR dog`), `:` ends a word (`cat:dog` is two words); other punctuation
//! inside a word splits it into tokens that must then appear next to each
//! other, like Postgres's `foo-bar` → `'foo-bar' <-> 'foo' <-> 'bar'`.
//! Parsing never fails: every string is a query, possibly empty.
//!
//! # Tokens and stop words
//!
//! Words and phrases are split into tokens by tantivy's `SimpleTokenizer`
//! (runs of alphanumeric characters), the first stage of the index's
//! `en_stem` analyzer, so a query token is exactly an indexed token before
//! lower-casing and stemming (which the index applies). Then, as Postgres's
//! `english` configuration does, tokens on Postgres's English stop list
//! ([`is_stop_word`]) are dropped, and so are tokens of
//! [`MAX_TOKEN_BYTES`] bytes or more (the index never holds them). A
//! dropped token still counts for positions, so `"rotate the keys"`
//! requires `keys` two positions after `rotate` (Postgres: `'rotat' <2>
//! 'key'`). A word or phrase left with no token disappears from the query,
//! and so does a conjunction left with no literal (Postgres's
//! `clean_stopwords`): `the OR cat` is `cat`.
//!
//! # Empty and negation-only queries
//!
//! A query with nothing left (`""`, `the`, `-the`, `!!!`, emoji) is
//! [empty](ParsedQuery::is_empty): like Postgres's empty tsquery it matches
//! no document. A query made only of negations (`-staging`) is not empty:
//! as in Postgres (`to_tsvector('dog') @@ websearch_to_tsquery('-cat')` is
//! true) it matches every document without the negated words, with a
//! ranking score of zero; [`ParsedQuery::is_negative_only`] tells the
//! engine that the text arm carries no ranking signal for it.
//!
//! # Limits
//!
//! At most [`MAX_QUERY_TOKENS`] tokens are kept; later words and phrases are
//! ignored and [`ParsedQuery::is_truncated`] says so. This bounds the work a
//! pasted document can cause.

mod ast;
mod parse;
mod text_match;

pub use self::ast::{Conjunction, Literal, LiteralKind, ParsedQuery, QueryToken};
pub use self::parse::{is_stop_word, MAX_QUERY_TOKENS, MAX_TOKEN_BYTES};
pub use self::text_match::TextMatch;
