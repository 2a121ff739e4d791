//! The entry model's rules, seen from outside the crate: validation limits,
//! CIDs, signed-entry immutability, relations and verification.

use moltsearch_engine::entry::cid::{canonical_text, parse_cid, sorted_tags};
use moltsearch_engine::entry::signature::signing_bytes;
use moltsearch_engine::entry::validate::{MAX_CONTENT_CHARS, MAX_TAGS};
use moltsearch_engine::entry::{
    compute_content_cid, is_superseded, superseded_ids, Entry, EntryError, EntryPatch,
    EntrySignature, EntryType, EntryVerification, NewEntry, PrivateKey, Relation, RelationKind,
    RelationStatus, Signature, Visibility,
};
use proptest::prelude::*;
use time::macros::datetime;
use time::OffsetDateTime;
use uuid::Uuid;

const T0: OffsetDateTime = datetime!(2025-01-01 00:00 UTC);
const T1: OffsetDateTime = datetime!(2025-01-02 00:00 UTC);
const NONCE: &str = "f47ac10b-58cc-4372-a567-0e02b2c3d479";
const GOLDEN: &str = "bafkreicz3furirhe4c3y5da5lbns7mfn76b2yhjl4yut55zhx2brk7w2ne";

fn diary() -> Uuid {
    Uuid::from_u128(0xd1a7)
}

fn key() -> PrivateKey {
    PrivateKey::from_seed(&[42; 32])
}

fn new_entry(content: &str) -> NewEntry {
    NewEntry::new(diary(), content)
}

fn unsigned(content: &str) -> Entry {
    Entry::create(new_entry(content), T0).unwrap()
}

/// A request signed the way a MoltNet client signs: CID first, then the
/// signing bytes of (CID, nonce).
fn signed_request(mut new: NewEntry) -> NewEntry {
    let cid = compute_content_cid(
        new.entry_type.unwrap_or_default().as_str(),
        new.title.as_deref(),
        &new.content,
        new.tags.as_deref().unwrap_or(&[]),
    );
    let sig = key().sign(&cid, NONCE).unwrap();
    new.content_hash = Some(cid);
    new.content_signature = Some(sig.to_string());
    new.signing_nonce = Some(NONCE.into());
    new.signer_public_key = Some(key().public_key().to_string());
    new
}

fn signed(entry_type: EntryType) -> Entry {
    let new = NewEntry {
        title: Some("Title".into()),
        tags: Some(vec!["b".into(), "a".into()]),
        entry_type: Some(entry_type),
        ..new_entry("signed content")
    };
    Entry::create(signed_request(new), T0).unwrap()
}

// ---------------------------------------------------------------- creation

#[test]
fn create_applies_defaults_and_computes_the_cid() {
    let e = unsigned("hello");
    assert_eq!(e.entry_type(), EntryType::Semantic);
    assert_eq!(e.importance(), 5);
    assert_eq!(e.title(), None);
    assert!(e.tags().is_empty());
    assert!(!e.is_signed());
    assert!(!e.injection_risk());
    assert_eq!(e.access_count(), 0);
    assert_eq!(e.last_accessed_at(), None);
    assert_eq!((e.created_at(), e.updated_at()), (T0, T0));
    assert_eq!(e.diary_id(), diary());
    assert_eq!(e.id().get_version_num(), 7);
    assert_eq!(
        e.content_hash(),
        compute_content_cid::<&str>("semantic", None, "hello", &[])
    );
}

#[test]
fn create_reproduces_the_golden_cid() {
    let new = NewEntry {
        title: Some("Test <html>".into()),
        tags: Some(vec!["c&d".into(), "a<b".into()]),
        entry_type: Some(EntryType::Semantic),
        content_hash: Some(GOLDEN.into()),
        ..new_entry("Content with &amp; entities")
    };
    let e = Entry::create(new, T0).unwrap();
    assert_eq!(e.content_hash(), GOLDEN);
    // Tags are stored as given; only the hash sorts them.
    assert_eq!(e.tags(), ["c&d", "a<b"]);
}

#[test]
fn create_with_id_keeps_the_id() {
    let id = Uuid::from_u128(7);
    assert_eq!(
        Entry::create_with_id(id, new_entry("x"), T0).unwrap().id(),
        id
    );
}

#[test]
fn content_limits() {
    assert_eq!(
        Entry::create(new_entry(""), T0),
        Err(EntryError::Empty { field: "content" })
    );
    let max = "x".repeat(MAX_CONTENT_CHARS);
    assert!(Entry::create(new_entry(&max), T0).is_ok());
    let over = "é".repeat(MAX_CONTENT_CHARS + 1);
    assert_eq!(
        Entry::create(new_entry(&over), T0),
        Err(EntryError::TooLong {
            field: "content",
            max: 100_000,
            got: 100_001
        })
    );
}

#[test]
fn whitespace_only_content_is_refused_like_empty_content() {
    for blank in [" ", "   ", "\n", "\t \r\n", "\u{a0}\u{3000}"] {
        assert_eq!(
            Entry::create(new_entry(blank), T0),
            Err(EntryError::Blank { field: "content" }),
            "{blank:?}"
        );
    }
    let err = Entry::create(new_entry(" \n"), T0).unwrap_err().to_string();
    assert!(err.starts_with("content "), "{err}");
    // Whitespace around real text is kept as given (the CID hashes it).
    let e = Entry::create(new_entry("  padded\n"), T0).unwrap();
    assert_eq!(e.content(), "  padded\n");
    // A record stored before the rule still loads: a folder must open.
    let mut record = e.to_record();
    record.content = " ".into();
    assert!(Entry::from_record(record).is_ok());
}

#[test]
fn a_patch_cannot_blank_the_content() {
    let mut e = unsigned("keep");
    let before = e.clone();
    let bad = EntryPatch {
        content: Some(" \t\n".into()),
        ..EntryPatch::default()
    };
    assert_eq!(
        bad.apply(&mut e, T1),
        Err(EntryError::Blank { field: "content" })
    );
    assert_eq!(e, before);
}

#[test]
fn title_limits() {
    let make = |t: String| {
        Entry::create(
            NewEntry {
                title: Some(t),
                ..new_entry("x")
            },
            T0,
        )
    };
    assert!(make(String::new()).is_ok());
    assert!(make("🔑".repeat(255)).is_ok());
    assert_eq!(
        make("t".repeat(256)),
        Err(EntryError::TooLong {
            field: "title",
            max: 255,
            got: 256
        })
    );
}

#[test]
fn tag_limits() {
    let make = |tags: Vec<String>| {
        Entry::create(
            NewEntry {
                tags: Some(tags),
                ..new_entry("x")
            },
            T0,
        )
    };
    let twenty: Vec<String> = (0..MAX_TAGS).map(|i| format!("t{i}")).collect();
    assert!(make(twenty.clone()).is_ok());
    let mut many = twenty;
    many.push("one-too-many".into());
    assert_eq!(
        make(many),
        Err(EntryError::TooManyTags { max: 20, got: 21 })
    );
    assert_eq!(
        make(vec!["ok".into(), String::new()]),
        Err(EntryError::Empty { field: "tags" })
    );
    assert_eq!(
        make(vec!["x".repeat(129)]),
        Err(EntryError::TooLong {
            field: "tags",
            max: 128,
            got: 129
        })
    );
    // Exact and case-sensitive: kept as given, and they hash differently.
    let e = make(vec!["Rust".into(), "rust".into()]).unwrap();
    assert_eq!(e.tags(), ["Rust", "rust"]);
    assert_ne!(
        e.content_hash(),
        make(vec!["rust".into()]).unwrap().content_hash()
    );
}

#[test]
fn importance_limits() {
    let make = |i: i64| {
        Entry::create(
            NewEntry {
                importance: Some(i),
                ..new_entry("x")
            },
            T0,
        )
    };
    assert_eq!(make(1).unwrap().importance(), 1);
    assert_eq!(make(10).unwrap().importance(), 10);
    for bad in [0, 11, -5, 1000] {
        assert_eq!(
            make(bad),
            Err(EntryError::OutOfRange {
                field: "importance",
                min: 1,
                max: 10,
                got: bad
            })
        );
    }
}

#[test]
fn client_content_hash_is_only_checked() {
    let good = compute_content_cid::<&str>("semantic", None, "x", &[]);
    let ok = NewEntry {
        content_hash: Some(good.clone()),
        ..new_entry("x")
    };
    assert_eq!(Entry::create(ok, T0).unwrap().content_hash(), good);
    let bad = NewEntry {
        content_hash: Some(GOLDEN.into()),
        ..new_entry("x")
    };
    assert_eq!(
        Entry::create(bad, T0),
        Err(EntryError::ContentHashMismatch {
            got: GOLDEN.into(),
            computed: good
        })
    );
}

#[test]
fn error_messages_name_field_and_limit() {
    let e = EntryError::TooLong {
        field: "title",
        max: 255,
        got: 300,
    };
    let text = e.to_string();
    assert!(text.contains("title") && text.contains("255") && text.contains("300"));
    let text = EntryError::ImmutableSigned { field: "content" }.to_string();
    assert!(text.contains("content") && text.contains("signed"));
}

// ---------------------------------------------------------------- signing

#[test]
fn signed_creation_verifies() {
    let e = signed(EntryType::Procedural);
    assert!(e.is_signed());
    let sig = e.signature().unwrap();
    assert_eq!(sig.nonce, NONCE);
    assert_eq!(sig.public_key, key().public_key());
    let v = e.verify();
    assert_eq!(
        v,
        EntryVerification {
            signed: true,
            hash_matches: true,
            signature_valid: true,
            valid: true,
            content_hash: e.content_hash().to_owned(),
            agent_fingerprint: Some(key().public_key().fingerprint()),
        }
    );
}

#[test]
fn signed_creation_refuses_bad_signatures() {
    let base = || signed_request(new_entry("content"));

    let mut wrong_nonce = base();
    wrong_nonce.signing_nonce = Some("another-nonce".into());
    assert_eq!(
        Entry::create(wrong_nonce, T0),
        Err(EntryError::InvalidSignature)
    );

    let mut other_key = base();
    other_key.signer_public_key = Some(PrivateKey::from_seed(&[1; 32]).public_key().to_string());
    assert_eq!(
        Entry::create(other_key, T0),
        Err(EntryError::InvalidSignature)
    );

    // Signed CID of other content, no client hash: the signature does not
    // cover what was sent.
    let mut other_content = base();
    other_content.content = "changed".into();
    other_content.content_hash = None;
    assert_eq!(
        Entry::create(other_content, T0),
        Err(EntryError::InvalidSignature)
    );

    for (field, clear) in [
        ("contentSignature", 0),
        ("signingNonce", 1),
        ("signerPublicKey", 2),
    ] {
        let mut partial = base();
        match clear {
            0 => partial.content_signature = None,
            1 => partial.signing_nonce = None,
            _ => partial.signer_public_key = None,
        }
        assert_eq!(
            Entry::create(partial, T0),
            Err(EntryError::IncompleteSignature { missing: field })
        );
    }

    let mut bad_b64 = base();
    bad_b64.content_signature = Some("%%%".into());
    assert!(matches!(
        Entry::create(bad_b64, T0),
        Err(EntryError::Malformed {
            field: "contentSignature",
            ..
        })
    ));
    let mut bad_key = base();
    bad_key.signer_public_key = Some("ed25519:AAAA".into());
    assert_eq!(
        Entry::create(bad_key, T0),
        Err(EntryError::WrongLength {
            field: "signerPublicKey",
            expected: 32,
            got: 3
        })
    );
    let mut empty_nonce = base();
    empty_nonce.signing_nonce = Some(String::new());
    assert_eq!(
        Entry::create(empty_nonce, T0),
        Err(EntryError::Empty {
            field: "signingNonce"
        })
    );
}

#[test]
fn attach_signature_after_creation() {
    let mut e = unsigned("later");
    let good = EntrySignature {
        signature: key().sign(e.content_hash(), NONCE).unwrap(),
        nonce: NONCE.into(),
        public_key: key().public_key(),
    };
    let mut wrong = good.clone();
    wrong.nonce = "x".into();
    assert_eq!(
        e.attach_signature(wrong, T1),
        Err(EntryError::InvalidSignature)
    );
    assert!(!e.is_signed());
    e.attach_signature(good.clone(), T1).unwrap();
    assert!(e.verify().valid);
    assert_eq!(e.updated_at(), T1);
    assert_eq!(
        e.attach_signature(good, T1),
        Err(EntryError::ImmutableSigned {
            field: "contentSignature"
        })
    );
}

// ---------------------------------------------------------------- updates

#[test]
fn patching_an_unsigned_entry_rehashes() {
    let mut e = unsigned("before");
    let old = e.content_hash().to_owned();
    let patch = EntryPatch {
        content: Some("after".into()),
        title: Some(Some("T".into())),
        tags: Some(vec!["x".into()]),
        entry_type: Some(EntryType::Episodic),
        importance: Some(9),
    };
    assert_eq!(patch.apply(&mut e, T1), Ok(true));
    assert_eq!(e.content(), "after");
    assert_eq!(e.title(), Some("T"));
    assert_eq!(e.tags(), ["x"]);
    assert_eq!(e.entry_type(), EntryType::Episodic);
    assert_eq!(e.importance(), 9);
    assert_ne!(e.content_hash(), old);
    assert_eq!(e.content_hash(), e.compute_cid());
    assert_eq!(e.updated_at(), T1);
    assert!(e.verify().hash_matches);
}

#[test]
fn an_empty_or_same_value_patch_changes_nothing() {
    let mut e = unsigned("same");
    assert!(EntryPatch::default().is_empty());
    assert_eq!(EntryPatch::default().apply(&mut e, T1), Ok(false));
    let same = EntryPatch {
        content: Some("same".into()),
        importance: Some(5),
        ..EntryPatch::default()
    };
    assert_eq!(same.apply(&mut e, T1), Ok(false));
    assert_eq!(e.updated_at(), T0);
}

#[test]
fn patches_are_validated_and_atomic() {
    let mut e = unsigned("keep");
    let before = e.clone();
    let bad = EntryPatch {
        importance: Some(3),
        content: Some(String::new()),
        ..EntryPatch::default()
    };
    assert_eq!(
        bad.apply(&mut e, T1),
        Err(EntryError::Empty { field: "content" })
    );
    let bad = EntryPatch {
        title: Some(Some("t".repeat(256))),
        ..EntryPatch::default()
    };
    assert!(matches!(
        bad.apply(&mut e, T1),
        Err(EntryError::TooLong { field: "title", .. })
    ));
    let bad = EntryPatch {
        content: Some("new".into()),
        importance: Some(11),
        ..EntryPatch::default()
    };
    assert!(matches!(
        bad.apply(&mut e, T1),
        Err(EntryError::OutOfRange {
            field: "importance",
            ..
        })
    ));
    assert_eq!(e, before);
}

#[test]
fn signed_entries_freeze_hashed_fields() {
    let cases: [(&str, EntryPatch); 5] = [
        (
            "title",
            EntryPatch {
                title: Some(Some("Other".into())),
                ..EntryPatch::default()
            },
        ),
        (
            "title",
            EntryPatch {
                title: Some(None),
                ..EntryPatch::default()
            },
        ),
        (
            "content",
            EntryPatch {
                content: Some("other".into()),
                ..EntryPatch::default()
            },
        ),
        (
            "tags",
            EntryPatch {
                tags: Some(vec!["a".into()]),
                ..EntryPatch::default()
            },
        ),
        (
            "entryType",
            EntryPatch {
                entry_type: Some(EntryType::Episodic),
                ..EntryPatch::default()
            },
        ),
    ];
    for (field, patch) in cases {
        let mut e = signed(EntryType::Semantic);
        let before = e.clone();
        // Bundling an allowed change does not sneak the frozen one through.
        let patch = EntryPatch {
            importance: Some(8),
            ..patch
        };
        assert_eq!(
            patch.apply(&mut e, T1),
            Err(EntryError::ImmutableSigned { field })
        );
        assert_eq!(e, before, "{field}: entry must be untouched");
    }
}

#[test]
fn signed_entries_accept_harmless_updates() {
    let mut e = signed(EntryType::Semantic);
    let cid = e.content_hash().to_owned();
    // Same values and reordered tags are not changes of signed data.
    let resend = EntryPatch {
        title: Some(Some("Title".into())),
        content: Some("signed content".into()),
        tags: Some(vec!["a".into(), "b".into()]),
        entry_type: Some(EntryType::Semantic),
        importance: Some(7),
    };
    assert_eq!(resend.apply(&mut e, T1), Ok(true));
    assert_eq!(e.importance(), 7);
    assert_eq!(e.content_hash(), cid);
    e.set_injection_risk(true);
    e.record_access(T1);
    e.record_access(T1);
    assert!(e.injection_risk());
    assert_eq!(e.access_count(), 2);
    assert_eq!(e.last_accessed_at(), Some(T1));
    assert!(e.verify().valid);
}

#[test]
fn signed_reflections_keep_their_importance() {
    let mut e = signed(EntryType::Reflection);
    let patch = EntryPatch {
        importance: Some(9),
        ..EntryPatch::default()
    };
    assert_eq!(
        patch.apply(&mut e, T1),
        Err(EntryError::ImmutableSigned {
            field: "importance"
        })
    );
    assert_eq!(e.importance(), 5);
    // Unsigned reflections may change it.
    let mut u = Entry::create(
        NewEntry {
            entry_type: Some(EntryType::Reflection),
            ..new_entry("r")
        },
        T0,
    )
    .unwrap();
    let patch = EntryPatch {
        importance: Some(9),
        ..EntryPatch::default()
    };
    assert_eq!(patch.apply(&mut u, T1), Ok(true));
}

#[test]
fn patch_json_distinguishes_null_from_absent() {
    let p: EntryPatch = serde_json::from_str(r#"{"title": null}"#).unwrap();
    assert_eq!(p.title, Some(None));
    let p: EntryPatch = serde_json::from_str(r#"{"importance": 3}"#).unwrap();
    assert_eq!(p.title, None);
    assert_eq!(p.importance, Some(3));
    let p: EntryPatch =
        serde_json::from_str(r#"{"title": "t", "entryType": "procedural", "tags": []}"#).unwrap();
    assert_eq!(p.title, Some(Some("t".into())));
    assert_eq!(p.entry_type, Some(EntryType::Procedural));
    assert_eq!(p.tags, Some(vec![]));
}

#[test]
fn signed_entries_cannot_be_deleted() {
    assert_eq!(unsigned("x").ensure_deletable(), Ok(()));
    assert_eq!(
        signed(EntryType::Episodic).ensure_deletable(),
        Err(EntryError::SignedNotDeletable)
    );
}

// ---------------------------------------------------------------- verification

#[test]
fn verification_of_unsigned_entry() {
    let v = unsigned("plain").verify();
    assert!(!v.signed && v.hash_matches && !v.signature_valid && !v.valid);
    assert_eq!(v.agent_fingerprint, None);
    let json = serde_json::to_value(&v).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "agentFingerprint",
            "contentHash",
            "hashMatches",
            "signatureValid",
            "signed",
            "valid"
        ]
    );
}

#[test]
fn verification_detects_tampered_storage() {
    let e = signed(EntryType::Semantic);

    let mut record = e.to_record();
    record.content.push('!');
    let altered = Entry::from_record(record).unwrap();
    let v = altered.verify();
    assert!(v.signed && !v.hash_matches && v.signature_valid && !v.valid);

    let mut record = e.to_record();
    let mut sig = record.content_signature.unwrap().to_bytes();
    sig[10] ^= 1;
    record.content_signature = Some(Signature::from_bytes(&sig));
    let forged = Entry::from_record(record).unwrap();
    let v = forged.verify();
    assert!(v.signed && v.hash_matches && !v.signature_valid && !v.valid);
}

// ---------------------------------------------------------------- records

#[test]
fn records_round_trip_through_json() {
    let mut e = signed(EntryType::Procedural);
    e.record_access(T1);
    let json = serde_json::to_value(&e).unwrap();
    for key in [
        "id",
        "diaryId",
        "title",
        "content",
        "tags",
        "entryType",
        "importance",
        "contentHash",
        "contentSignature",
        "signingNonce",
        "signerPublicKey",
        "injectionRisk",
        "accessCount",
        "lastAccessedAt",
        "createdAt",
        "updatedAt",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["entryType"], "procedural");
    assert_eq!(json["createdAt"], "2025-01-01T00:00:00Z");
    assert_eq!(json["signerPublicKey"], key().public_key().to_string());
    let back: Entry = serde_json::from_value(json).unwrap();
    assert_eq!(back, e);
    assert_eq!(Entry::from_record(e.to_record()), Ok(e));
}

#[test]
fn records_are_validated_on_load() {
    let e = signed(EntryType::Semantic);
    let mut r = e.to_record();
    r.signing_nonce = None;
    assert_eq!(
        Entry::from_record(r),
        Err(EntryError::IncompleteSignature {
            missing: "signingNonce"
        })
    );
    let mut r = e.to_record();
    r.importance = 0;
    assert!(matches!(
        Entry::from_record(r),
        Err(EntryError::OutOfRange { .. })
    ));
    let mut r = e.to_record();
    r.tags = vec![String::new()];
    assert_eq!(
        Entry::from_record(r),
        Err(EntryError::Empty { field: "tags" })
    );
}

#[test]
fn new_entry_json_uses_camel_case_and_raw_values() {
    let new: NewEntry = serde_json::from_str(
        r#"{"diaryId":"00000000-0000-0000-0000-00000000d1a7","content":"c",
            "tags":null,"title":null,"entryType":"reflection","importance":42}"#,
    )
    .unwrap();
    assert_eq!(new.entry_type, Some(EntryType::Reflection));
    assert_eq!(
        Entry::create(new, T0),
        Err(EntryError::OutOfRange {
            field: "importance",
            min: 1,
            max: 10,
            got: 42
        })
    );
}

// ---------------------------------------------------------------- enums

#[test]
fn enums_spell_like_moltnet() {
    let spell = |v: serde_json::Value| v.as_str().unwrap().to_owned();
    for t in EntryType::ALL {
        assert_eq!(t.as_str().parse::<EntryType>(), Ok(*t));
        assert_eq!(spell(serde_json::to_value(t).unwrap()), t.as_str());
        assert_eq!(t.to_string(), t.as_str());
    }
    for v in Visibility::ALL {
        assert_eq!(v.as_str().parse::<Visibility>(), Ok(*v));
        assert_eq!(spell(serde_json::to_value(v).unwrap()), v.as_str());
    }
    for k in RelationKind::ALL {
        assert_eq!(k.as_str().parse::<RelationKind>(), Ok(*k));
        assert_eq!(spell(serde_json::to_value(k).unwrap()), k.as_str());
    }
    for s in RelationStatus::ALL {
        assert_eq!(s.as_str().parse::<RelationStatus>(), Ok(*s));
        assert_eq!(spell(serde_json::to_value(s).unwrap()), s.as_str());
    }
    let types: Vec<&str> = EntryType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(types, ["episodic", "semantic", "procedural", "reflection"]);
    let vis: Vec<&str> = Visibility::ALL.iter().map(|v| v.as_str()).collect();
    assert_eq!(vis, ["private", "moltnet", "public"]);
    let kinds: Vec<&str> = RelationKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "supersedes",
            "elaborates",
            "contradicts",
            "supports",
            "caused_by",
            "references"
        ]
    );
    let statuses: Vec<&str> = RelationStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(statuses, ["proposed", "accepted", "rejected"]);
    assert_eq!(EntryType::default(), EntryType::Semantic);
    assert_eq!(Visibility::default(), Visibility::Private);
    assert_eq!(RelationStatus::default(), RelationStatus::Proposed);
}

#[test]
fn enums_are_case_sensitive_with_typed_errors() {
    assert!(matches!(
        "Semantic".parse::<EntryType>(),
        Err(EntryError::UnknownVariant {
            field: "entryType",
            ..
        })
    ));
    assert!(matches!(
        "causedBy".parse::<RelationKind>(),
        Err(EntryError::UnknownVariant {
            field: "relation",
            ..
        })
    ));
    assert!(serde_json::from_str::<Visibility>(r#""PUBLIC""#).is_err());
}

// ---------------------------------------------------------------- relations

fn entry_in(diary_id: Uuid, content: &str) -> Entry {
    Entry::create(NewEntry::new(diary_id, content), T0).unwrap()
}

#[test]
fn relations_link_two_entries_of_one_diary() {
    let a = unsigned("a");
    let b = unsigned("b");
    let r = Relation::new(&b, &a, RelationKind::Supersedes, T0).unwrap();
    assert_eq!(r.status, RelationStatus::Proposed);
    assert_eq!(
        (r.source_id, r.target_id, r.diary_id),
        (b.id(), a.id(), diary())
    );
    assert_eq!(
        Relation::new(&a, &a, RelationKind::Supports, T0),
        Err(EntryError::SelfRelation)
    );
    let elsewhere = entry_in(Uuid::from_u128(99), "c");
    assert_eq!(
        Relation::new(&a, &elsewhere, RelationKind::References, T0),
        Err(EntryError::CrossDiaryRelation {
            source_diary: diary(),
            target_diary: Uuid::from_u128(99)
        })
    );
}

#[test]
fn relations_are_unique_per_source_target_kind() {
    let a = unsigned("a");
    let b = unsigned("b");
    let existing = vec![Relation::new(&a, &b, RelationKind::Supports, T0).unwrap()];
    let dup = Relation::new(&a, &b, RelationKind::Supports, T1).unwrap();
    assert_eq!(
        dup.check_unique(&existing),
        Err(EntryError::DuplicateRelation {
            source_id: a.id(),
            target_id: b.id(),
            relation: RelationKind::Supports
        })
    );
    // Same pair, other kind or other direction: fine.
    let other_kind = Relation::new(&a, &b, RelationKind::Elaborates, T1).unwrap();
    assert_eq!(other_kind.check_unique(&existing), Ok(()));
    let reversed = Relation::new(&b, &a, RelationKind::Supports, T1).unwrap();
    assert_eq!(reversed.check_unique(&existing), Ok(()));
    // A stored relation does not collide with itself.
    assert_eq!(existing[0].check_unique(&existing), Ok(()));
}

#[test]
fn only_accepted_supersedes_supersedes() {
    let old = signed(EntryType::Semantic);
    let new = unsigned("correction");
    let mut r = Relation::new(&new, &old, RelationKind::Supersedes, T0).unwrap();
    assert!(!is_superseded(old.id(), [&r]));
    r.set_status(RelationStatus::Accepted, T1);
    assert_eq!(r.updated_at, T1);
    assert!(is_superseded(old.id(), [&r]));
    assert!(
        !is_superseded(new.id(), [&r]),
        "the source is not superseded"
    );
    r.set_status(RelationStatus::Rejected, T1);
    assert!(!is_superseded(old.id(), [&r]));

    let mut contradicts = Relation::new(&new, &old, RelationKind::Contradicts, T0).unwrap();
    contradicts.set_status(RelationStatus::Accepted, T1);
    assert!(!is_superseded(old.id(), [&contradicts]));

    r.set_status(RelationStatus::Accepted, T1);
    let all = [r, contradicts];
    assert_eq!(
        superseded_ids(&all).into_iter().collect::<Vec<_>>(),
        [old.id()]
    );
}

#[test]
fn relation_json() {
    let a = unsigned("a");
    let b = unsigned("b");
    let r = Relation::new(&a, &b, RelationKind::CausedBy, T0).unwrap();
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["relation"], "caused_by");
    assert_eq!(json["status"], "proposed");
    assert!(json.get("sourceId").is_some() && json.get("targetId").is_some());
    assert_eq!(serde_json::from_value::<Relation>(json).unwrap(), r);
}

// ---------------------------------------------------------------- properties

fn entry_type() -> impl Strategy<Value = EntryType> {
    prop::sample::select(EntryType::ALL)
}

/// Arbitrary text, half the time drawn from the characters escaping and
/// sorting get wrong: quotes, backslashes, controls, HTML-ish, non-ASCII,
/// line separators and characters outside the BMP.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\"\\\\\\x00-\\x1f\\x7f<>&/a-zA-Z é\u{2028}\u{ff5e}\u{1f511}\u{10ffff}]{0,16}",
    ]
}

fn tags() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), 0..8)
}

/// ECMAScript's QuoteJSONString (what `JSON.stringify` does to a string
/// without lone surrogates), written independently as a test oracle.
fn js_quote(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

proptest! {
    #[test]
    fn cid_ignores_tag_order(
        (tags, shuffled) in tags().prop_flat_map(|t| (Just(t.clone()), Just(t).prop_shuffle())),
        t in entry_type(),
        title in proptest::option::of(any::<String>()),
        content in any::<String>(),
    ) {
        prop_assert_eq!(
            compute_content_cid(t.as_str(), title.as_deref(), &content, &tags),
            compute_content_cid(t.as_str(), title.as_deref(), &content, &shuffled)
        );
    }

    #[test]
    fn cid_changes_with_every_field(
        t in entry_type(),
        other in entry_type(),
        title in proptest::option::of(any::<String>()),
        content in any::<String>(),
        tags in tags(),
        extra in any::<String>(),
        ch in any::<char>(),
    ) {
        let cid = |t: EntryType, title: Option<&str>, content: &str, tags: &[String]| {
            compute_content_cid(t.as_str(), title, content, tags)
        };
        let base = cid(t, title.as_deref(), &content, &tags);
        prop_assert!(parse_cid(&base).is_ok());
        if other != t {
            prop_assert_ne!(&base, &cid(other, title.as_deref(), &content, &tags));
        }
        let longer_title = format!("{}{ch}", title.as_deref().unwrap_or(""));
        prop_assert_ne!(&base, &cid(t, Some(&longer_title), &content, &tags));
        prop_assert_ne!(&base, &cid(t, title.as_deref(), &format!("{content}{ch}"), &tags));
        let mut more_tags = tags.clone();
        more_tags.push(extra);
        prop_assert_ne!(&base, &cid(t, title.as_deref(), &content, &more_tags));
        if let Some(first) = tags.first() {
            let mut edited = tags.clone();
            edited[0] = format!("{first}{ch}");
            prop_assert_ne!(&base, &cid(t, title.as_deref(), &content, &edited));
        }
    }

    #[test]
    fn canonical_text_is_json_of_the_fields(
        t in entry_type(),
        title in proptest::option::of(text()),
        content in text(),
        tags in tags(),
    ) {
        let text = canonical_text(t.as_str(), title.as_deref(), &content, &tags);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(v["c"].as_str(), Some(content.as_str()));
        prop_assert_eq!(v["t"].as_str(), Some(title.as_deref().unwrap_or("")));
        prop_assert_eq!(v["type"].as_str(), Some(t.as_str()));
        prop_assert_eq!(v["v"].as_str(), Some("moltnet:diary:v1"));
        let sorted: Vec<String> = sorted_tags(&tags).into_iter().map(String::from).collect();
        prop_assert_eq!(&v["tags"], &serde_json::json!(sorted));
        let quoted: Vec<String> = sorted.iter().map(|t| js_quote(t)).collect();
        let expected = format!(
            r#"{{"c":{},"t":{},"tags":[{}],"type":{},"v":"moltnet:diary:v1"}}"#,
            js_quote(&content),
            js_quote(title.as_deref().unwrap_or("")),
            quoted.join(","),
            js_quote(t.as_str()),
        );
        prop_assert_eq!(text, expected);
    }

    #[test]
    fn sorted_tags_follow_utf16_order(tags in tags()) {
        let sorted = sorted_tags(&tags);
        for pair in sorted.windows(2) {
            let a: Vec<u16> = pair[0].encode_utf16().collect();
            let b: Vec<u16> = pair[1].encode_utf16().collect();
            prop_assert!(a <= b);
        }
    }

    #[test]
    fn signing_round_trips(seed in any::<[u8; 32]>(), message in any::<String>(), nonce in any::<String>()) {
        let sk = PrivateKey::from_seed(&seed);
        let sig = sk.sign(&message, &nonce).unwrap();
        prop_assert!(sk.public_key().verify(&message, &nonce, &sig));
        let text = sig.to_string();
        prop_assert_eq!(text.len(), 88);
        prop_assert_eq!(text.parse::<Signature>().unwrap(), sig);
    }

    #[test]
    fn a_tampered_byte_fails_verification(
        seed in any::<[u8; 32]>(),
        message in any::<String>(),
        nonce in any::<String>(),
        index in any::<prop::sample::Index>(),
        bit in 0u8..8,
        in_signature in any::<bool>(),
    ) {
        let sk = PrivateKey::from_seed(&seed);
        let pk = sk.public_key();
        let bytes = signing_bytes(&message, &nonce).unwrap();
        let sig = sk.sign_raw(&bytes);
        prop_assert!(pk.verify_raw(&bytes, &sig));
        if in_signature {
            let mut raw = sig.to_bytes();
            let i = index.index(raw.len());
            raw[i] ^= 1 << bit;
            prop_assert!(!pk.verify_raw(&bytes, &Signature::from_bytes(&raw)));
        } else {
            let mut tampered = bytes.clone();
            let i = index.index(tampered.len());
            tampered[i] ^= 1 << bit;
            prop_assert!(!pk.verify_raw(&tampered, &sig));
        }
    }
}
