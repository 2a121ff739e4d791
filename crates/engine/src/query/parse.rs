//! Parsing: Postgres's websearch tokenizer and stop list, from a string to
//! a [`ParsedQuery`].

use tantivy::tokenizer::{SimpleTokenizer, TokenStream, Tokenizer};

use super::ast::{Conjunction, Literal, LiteralKind, ParsedQuery, QueryToken};

/// Tokens of this many bytes or more are dropped from queries, because the
/// index's `en_stem` analyzer (`RemoveLongFilter::limit(40)`) never indexes
/// them: keeping them would make an AND query unmatchable.
pub const MAX_TOKEN_BYTES: usize = 40;

/// The most tokens a query keeps, so that a pasted document cannot build an
/// arbitrarily large boolean query.
pub const MAX_QUERY_TOKENS: usize = 256;

/// Postgres's English stop list (`tsearch_data/english.stop`, 127 words),
/// sorted for binary search. Matching MoltNet means dropping the same words.
#[rustfmt::skip]
const STOP_WORDS: [&str; 127] = [
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "did", "do", "does", "doing", "don", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
    "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just",
    "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once",
    "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "s", "same", "she",
    "should", "so", "some", "such", "t", "than", "that", "the", "their", "theirs", "them",
    "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too",
    "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while",
    "who", "whom", "why", "will", "with", "you", "your", "yours", "yourself", "yourselves",
];

/// Whether `word` (already lower-cased) is on Postgres's English stop list.
///
/// Public so that other query front ends (e.g. highlighting) drop the same
/// words as the parser.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// Postgres's `ISOPERATOR` characters: they end a word and are skipped
/// wherever an operand or an operator is expected (so `cat & OR dog` is
/// `cat OR dog`, as in Postgres).
fn is_operator_char(c: char) -> bool {
    matches!(c, '!' | '&' | '|' | '(' | ')' | '<')
}

/// Characters that end a word: whitespace, quotes, operator characters and
/// `:` (Postgres's tsvector reader stops there, for weight suffixes such as
/// `cat:A`; a `:` can still start the next word, so `cat:dog` is two words
/// and `- :x` negates the word `:x`, not a later one).
fn ends_word(c: char) -> bool {
    c.is_whitespace() || c == '"' || c == ':' || is_operator_char(c)
}

/// Postgres's `parse_or_operator`: `or` (any case) not followed by a word
/// character, with some non-space character after the next one.
fn starts_with_or_operator(rest: &str) -> bool {
    let mut chars = rest.chars();
    let is_or = matches!(
        (chars.next(), chars.next()),
        (Some('o' | 'O'), Some('r' | 'R'))
    );
    if !is_or {
        return false;
    }
    match chars.next() {
        None => false,
        Some(c) if c == '-' || c == '_' || c.is_alphanumeric() => false,
        Some(_) => chars.any(|c| !c.is_whitespace()),
    }
}

impl ParsedQuery {
    /// Parses a user query in `websearch_to_tsquery` syntax. Never fails:
    /// malformed input (unbalanced quotes, dangling operators, punctuation,
    /// emoji) is read the way Postgres reads it.
    pub fn parse(input: &str) -> ParsedQuery {
        Parser::new(input).run()
    }
}

/// The state of Postgres's websearch tokenizer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a word, a phrase or `-`.
    Operand,
    /// After an operand: expecting `OR`, or anything else meaning AND.
    Operator,
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
    tokenizer: SimpleTokenizer,
    disjuncts: Vec<Conjunction>,
    current: Vec<Literal>,
    tokens_kept: usize,
    truncated: bool,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Parser {
            input,
            pos: 0,
            tokenizer: SimpleTokenizer::default(),
            disjuncts: Vec::new(),
            current: Vec::new(),
            tokens_kept: 0,
            truncated: false,
        }
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn bump(&mut self, c: char) {
        self.pos += c.len_utf8();
    }

    /// Advances past characters until `stop` holds (or the end); returns the
    /// text passed over.
    fn take_until(&mut self, stop: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        let rest = &self.input[start..];
        let len = rest.find(stop).unwrap_or(rest.len());
        self.pos += len;
        &self.input[start..self.pos]
    }

    fn run(mut self) -> ParsedQuery {
        let mut state = State::Operand;
        let mut negations = 0u32;
        while let Some(c) = self.peek() {
            match state {
                State::Operand => {
                    if c == '-' {
                        negations += 1;
                        self.bump(c);
                    } else if c == '"' {
                        self.bump(c);
                        let text = self.take_until(|c| c == '"');
                        if let Some(q) = self.peek() {
                            self.bump(q);
                        }
                        self.push(LiteralKind::Phrase, text, negations % 2 == 1);
                        negations = 0;
                        state = State::Operator;
                    } else if c.is_whitespace() || is_operator_char(c) {
                        self.bump(c);
                    } else {
                        let start = self.pos;
                        self.bump(c);
                        self.take_until(ends_word);
                        let text = &self.input[start..self.pos];
                        self.push(LiteralKind::Word, text, negations % 2 == 1);
                        negations = 0;
                        state = State::Operator;
                    }
                }
                State::Operator => {
                    if c.is_whitespace() || is_operator_char(c) {
                        self.bump(c);
                    } else if starts_with_or_operator(&self.input[self.pos..]) {
                        self.pos += 2;
                        self.end_conjunction();
                        state = State::Operand;
                    } else {
                        // Anything else is an implicit AND before the next
                        // operand; the character is read again as its start.
                        state = State::Operand;
                    }
                }
            }
        }
        self.end_conjunction();
        ParsedQuery {
            disjuncts: self.disjuncts,
            truncated: self.truncated,
        }
    }

    fn end_conjunction(&mut self) {
        if !self.current.is_empty() {
            let literals = std::mem::take(&mut self.current);
            self.disjuncts.push(Conjunction { literals });
        }
    }

    /// Tokenizes an operand and appends it to the current conjunction,
    /// unless no token survives (stop words, punctuation) or the token
    /// budget is spent.
    fn push(&mut self, kind: LiteralKind, text: &str, negated: bool) {
        if self.truncated {
            return;
        }
        let mut tokens = Vec::new();
        let mut first = None;
        let mut stream = self.tokenizer.token_stream(text);
        let mut position = 0u32;
        while let Some(token) = stream.next() {
            let word = &token.text;
            if word.len() < MAX_TOKEN_BYTES && !is_stop_word(&word.to_lowercase()) {
                let first = *first.get_or_insert(position);
                tokens.push(QueryToken {
                    text: word.clone(),
                    offset: position - first,
                });
            }
            position = position.saturating_add(1);
        }
        if tokens.is_empty() {
            return;
        }
        if self.tokens_kept + tokens.len() > MAX_QUERY_TOKENS {
            self.truncated = true;
            return;
        }
        self.tokens_kept += tokens.len();
        self.current.push(Literal {
            kind,
            negated,
            text: text.to_owned(),
            tokens,
        });
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A compact rendering of the AST for assertions: conjunctions joined by
    /// ` | `, literals by ` & `, phrases as `a<->b` with `<n>` gaps.
    fn shape(q: &ParsedQuery) -> String {
        q.disjuncts()
            .iter()
            .map(|c| {
                c.literals()
                    .iter()
                    .map(|l| {
                        let mut s = String::new();
                        let mut prev = 0;
                        for (i, t) in l.tokens().iter().enumerate() {
                            if i > 0 {
                                match t.offset() - prev {
                                    1 => s.push_str("<->"),
                                    n => s.push_str(&format!("<{n}>")),
                                }
                            }
                            prev = t.offset();
                            s.push_str(&t.text().to_lowercase());
                        }
                        if l.kind() == LiteralKind::Phrase {
                            s = format!("\"{s}\"");
                        }
                        if l.is_negated() {
                            s.insert(0, '!');
                        }
                        s
                    })
                    .collect::<Vec<_>>()
                    .join(" & ")
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    fn p(input: &str) -> String {
        shape(&ParsedQuery::parse(input))
    }

    #[test]
    fn stop_list_is_sorted_and_complete() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_stop_word("the"));
        assert!(is_stop_word("or"));
        assert!(!is_stop_word("cat"));
    }

    #[test]
    fn plain_words_are_anded() {
        assert_eq!(p("deploy staging"), "deploy & staging");
        assert_eq!(p("  deploy\t\nstaging  "), "deploy & staging");
    }

    #[test]
    fn and_binds_tighter_than_or_like_postgres() {
        // PostgreSQL 15: 'cat' & 'dog' | 'fish'
        assert_eq!(p("cat dog or fish"), "cat & dog | fish");
        assert_eq!(p("cat dog OR fish bird"), "cat & dog | fish & bird");
        assert_eq!(p("cat -dog OR fish"), "cat & !dog | fish");
        assert_eq!(p("-cat OR dog"), "!cat | dog");
        assert_eq!(p("cat OR -dog"), "cat | !dog");
    }

    #[test]
    fn or_only_between_operands() {
        assert_eq!(p("OR cat"), "cat");
        assert_eq!(p("cat OR"), "cat");
        assert_eq!(p("cat or"), "cat");
        assert_eq!(p("cat OR OR dog"), "cat | dog");
        assert_eq!(p("cat ORdog"), "cat & ordog");
        assert_eq!(p("dog ORANGE"), "dog & orange");
        assert_eq!(p("dog or-cat"), "dog & cat");
        assert_eq!(p("cat OR. dog"), "cat | dog");
        assert_eq!(p("cat or, dog"), "cat | dog");
        assert_eq!(p("cat or.dog"), "cat | dog");
        assert_eq!(p("cat or."), "cat");
        assert_eq!(p("-OR cat"), "cat");
        // Operator characters are skipped after an operand too.
        assert_eq!(p("cat & OR dog"), "cat | dog");
        assert_eq!(p("cat ( ( or dog"), "cat | dog");
        assert_eq!(p("Or :😀ORbird & OR dog"), "orbird | dog");
        assert_eq!(p("cat -& OR dog"), "cat & dog");
        assert_eq!(p("cat :or dog"), "cat & dog");
        // `:` ends a word but starts one too (Postgres's tsvector reader).
        assert_eq!(p("fish !| : - : bird"), "fish & bird");
        assert_eq!(p("cat:A-( 😀&< :-theORfish"), "cat & theorfish");
        assert_eq!(p("| cat:Aor ( or cat: OR dog"), "cat & aor | cat | dog");
        assert_eq!(p("cat , or dog"), "cat | dog");
        assert_eq!(p("cat -, or dog"), "cat | dog");
        assert_eq!(p(r#"cat or"dog""#), r#"cat | "dog""#);
    }

    #[test]
    fn phrases() {
        assert_eq!(
            p(r#""key rotation" schedule"#),
            r#""key<->rotation" & schedule"#
        );
        assert_eq!(
            p(r#""sad cat" or "fat rat""#),
            r#""sad<->cat" | "fat<->rat""#
        );
        // Stop words leave position gaps, as in Postgres ('rotat' <2> 'key').
        assert_eq!(p(r#""rotate the keys""#), r#""rotate<2>keys""#);
        assert_eq!(p(r#""the quick brown""#), r#""quick<->brown""#);
        assert_eq!(p(r#""the cat""#), r#""cat""#);
        // Unterminated quotes run to the end; quotes split words.
        assert_eq!(p(r#""unterminated phrase"#), r#""unterminated<->phrase""#);
        assert_eq!(p(r#"x"y z"w"#), r#"x & "y<->z" & w"#);
        assert_eq!(p(r#""cat""dog""#), r#""cat" & "dog""#);
        assert_eq!(p(r#"cat "dog"#), r#"cat & "dog""#);
        assert_eq!(p(r#""""#), "");
        assert_eq!(p(r#"""#), "");
        assert_eq!(p(r#"" ""#), "");
    }

    #[test]
    fn negation() {
        assert_eq!(p("deploy -staging"), "deploy & !staging");
        assert_eq!(
            p(r#"signal -"segmentation fault""#),
            r#"signal & !"segmentation<->fault""#
        );
        assert_eq!(p("cat - dog"), "cat & !dog");
        assert_eq!(p("- cat"), "!cat");
        assert_eq!(p("cat -"), "cat");
        assert_eq!(p("-"), "");
        assert_eq!(p("--cat"), "cat");
        assert_eq!(p("cat -!dog"), "cat & !dog");
        assert_eq!(p("cat<->dog"), "cat & !dog");
        assert_eq!(p("-the dog"), "dog");
        assert_eq!(p("x -\"the cat\""), "x & !\"cat\"");
    }

    #[test]
    fn punctuation_separates_like_postgres() {
        assert_eq!(p("hello, world!"), "hello & world");
        assert_eq!(p("cat|dog"), "cat & dog");
        assert_eq!(p("cat & dog"), "cat & dog");
        assert_eq!(p("(cat)"), "cat");
        assert_eq!(p("cat:*"), "cat");
        assert_eq!(p("cat!dog"), "cat & dog");
        // Other punctuation inside a word: its tokens must be adjacent.
        assert_eq!(p("k8s-prod"), "k8s<->prod");
        assert_eq!(p("foo_bar baz"), "foo<->bar & baz");
        assert_eq!(p("the-cat"), "cat");
        assert_eq!(p("C++ rust"), "c & rust");
        assert_eq!(p("don't stop"), "stop");
        assert_eq!(p("it's"), "");
    }

    #[test]
    fn stop_words_are_removed_like_postgres() {
        assert_eq!(p("the"), "");
        assert_eq!(p("the cat"), "cat");
        assert_eq!(p("cat OR the"), "cat");
        assert_eq!(p("the OR cat dog"), "cat & dog");
        assert_eq!(p("a b OR c"), "b | c");
        assert_eq!(p(r#""a" OR "the""#), "");
        assert!(ParsedQuery::parse("the a of").is_empty());
    }

    #[test]
    fn emoji_and_unicode() {
        assert_eq!(p("😀 cat"), "cat");
        assert_eq!(p("😀"), "");
        assert_eq!(p("über straße"), "über & straße");
        assert_eq!(p("日本語"), "日本語");
    }

    #[test]
    fn overlong_tokens_are_dropped() {
        let long = "x".repeat(MAX_TOKEN_BYTES);
        assert_eq!(p(&format!("cat {long}")), "cat");
        let fits = "y".repeat(MAX_TOKEN_BYTES - 1);
        assert_eq!(p(&fits), fits);
    }

    #[test]
    fn flags() {
        let q = ParsedQuery::parse("deploy -staging");
        assert!(q.has_negation());
        assert!(!q.is_negative_only());
        assert!(!q.is_empty());
        let q = ParsedQuery::parse("-staging");
        assert!(q.has_negation() && q.is_negative_only() && !q.is_empty());
        let q = ParsedQuery::parse("-staging OR prod");
        assert!(q.is_negative_only());
        let q = ParsedQuery::parse("deploy OR \"dry run\"");
        assert!(!q.has_negation() && !q.is_negative_only());
        let q = ParsedQuery::parse("-the");
        assert!(q.is_empty() && !q.has_negation());
    }

    #[test]
    fn literal_accessors() {
        let q = ParsedQuery::parse(r#"K8s-Prod -"Dry the Run""#);
        let lits: Vec<&Literal> = q.literals().collect();
        assert_eq!(lits.len(), 2);
        assert_eq!(lits[0].kind(), LiteralKind::Word);
        assert_eq!(lits[0].text(), "K8s-Prod");
        assert!(!lits[0].is_negated());
        let toks: Vec<(&str, u32)> = lits[1]
            .tokens()
            .iter()
            .map(|t| (t.text(), t.offset()))
            .collect();
        assert_eq!(toks, vec![("Dry", 0), ("Run", 2)]);
        assert_eq!(lits[1].kind(), LiteralKind::Phrase);
        assert!(lits[1].is_negated());
    }

    #[test]
    fn long_input_is_truncated_not_rejected() {
        let input = "word ".repeat(100_000);
        let q = ParsedQuery::parse(&input);
        assert!(q.is_truncated());
        assert_eq!(q.literals().count(), MAX_QUERY_TOKENS);
        assert!(!ParsedQuery::parse("a few words").is_truncated());
    }

    #[test]
    fn display_renders_websearch_syntax() {
        let q = ParsedQuery::parse(r#"the deploy  -staging or "key  rotation""#);
        assert_eq!(q.to_string(), r#"deploy -staging OR "key  rotation""#);
    }

    fn word() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9]{0,7}".prop_filter("stop word", |w| !is_stop_word(w))
    }

    fn literal() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            prop_oneof![
                word(),
                prop::collection::vec(word(), 1..4).prop_map(|ws| format!("\"{}\"", ws.join(" "))),
                (word(), word()).prop_map(|(a, b)| format!("{a}-{b}")),
            ],
        )
            .prop_map(|(neg, lit)| if neg { format!("-{lit}") } else { lit })
    }

    fn simple_query() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::collection::vec(literal(), 1..4), 1..4).prop_map(|conjs| {
            conjs
                .iter()
                .map(|c| c.join(" "))
                .collect::<Vec<_>>()
                .join(" OR ")
        })
    }

    proptest! {
        #[test]
        fn never_panics(input in any::<String>()) {
            let q = ParsedQuery::parse(&input);
            let _ = (q.is_empty(), q.has_negation(), q.is_negative_only(), q.to_string());
            for c in q.disjuncts() {
                prop_assert!(!c.literals().is_empty());
                for l in c.literals() {
                    prop_assert!(!l.tokens().is_empty());
                    prop_assert_eq!(l.tokens()[0].offset(), 0);
                }
            }
        }

        #[test]
        fn never_panics_on_syntax_soup(input in r#"[-"a-c oOrR!&|()<:*.,\- 😀é]{0,40}"#) {
            let q = ParsedQuery::parse(&input);
            let again = ParsedQuery::parse(&q.to_string());
            prop_assert_eq!(again.is_empty(), q.is_empty());
        }

        #[test]
        fn simple_queries_round_trip(input in simple_query()) {
            let q = ParsedQuery::parse(&input);
            prop_assert_eq!(q.to_string(), input.clone());
            prop_assert_eq!(ParsedQuery::parse(&q.to_string()), q.clone());
            prop_assert_eq!(q.disjuncts().len(), input.split(" OR ").count());
            prop_assert_eq!(q.has_negation(), input.starts_with('-') || input.contains(" -"));
        }
    }
}
