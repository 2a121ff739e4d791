-- MoltNet's rule for signatures (libs/database: the partial unique index
-- diary_entries_content_signature_unique_idx): a content signature signs
-- one entry. moltsearch also keeps nonces unique (diary_entries_nonce),
-- which is stricter; this index states MoltNet's own rule as well.
CREATE UNIQUE INDEX diary_entries_signature ON diary_entries (content_signature)
    WHERE content_signature IS NOT NULL;
