-- moltsearch's schema: Postgres holds the truth, each server's data folder
-- is an index cache rebuilt from these tables. Names follow MoltNet's
-- (diaries, diary_entries, entry_relations) where they exist; see
-- docs/POSTGRES.md for the comparison. The CHECKs repeat the rules the API
-- enforces: a second line of defence, not the first.

-- One row: who this database is (a cache stamped with another database's
-- id is foreign and rebuilt), which model its vectors come from, and how
-- far the change log has been pruned.
CREATE TABLE moltsearch_meta (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    database_id    uuid NOT NULL,
    model_id       text,
    dims           integer CHECK (dims > 0),
    pruned_through bigint NOT NULL DEFAULT 0 CHECK (pruned_through >= 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO moltsearch_meta (database_id) VALUES (gen_random_uuid());

CREATE TABLE teams (
    id         uuid PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 128),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    prefix       text NOT NULL UNIQUE,
    hash         text NOT NULL CHECK (char_length(hash) = 64),
    team_id      uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    read_only    boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE diaries (
    id         uuid PRIMARY KEY,
    team_id    uuid NOT NULL,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    visibility text NOT NULL DEFAULT 'private'
               CHECK (visibility IN ('private', 'moltnet', 'public')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX diaries_team ON diaries (team_id);

CREATE TABLE diary_entries (
    id                uuid PRIMARY KEY,
    diary_id          uuid NOT NULL REFERENCES diaries (id) ON DELETE CASCADE,
    title             text CHECK (char_length(title) <= 255),
    content           text NOT NULL CHECK (char_length(content) BETWEEN 1 AND 100000),
    tags              text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 20),
    entry_type        text NOT NULL DEFAULT 'semantic'
                      CHECK (entry_type IN ('episodic', 'semantic', 'procedural', 'reflection')),
    importance        smallint NOT NULL CHECK (importance BETWEEN 1 AND 10),
    content_hash      text NOT NULL,
    content_signature text,
    signing_nonce     text CHECK (char_length(signing_nonce) <= 255),
    signer_public_key text,
    injection_risk    boolean NOT NULL DEFAULT false,
    access_count      bigint NOT NULL DEFAULT 0 CHECK (access_count >= 0),
    last_accessed_at  timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    -- The passage embedding and the model that computed it: a rebuild
    -- reads vectors from here and never re-embeds.
    embedding         real[] NOT NULL,
    model_id          text NOT NULL,
    -- All three signature fields, or none.
    CHECK ((content_signature IS NULL) = (signing_nonce IS NULL)
       AND (signing_nonce IS NULL) = (signer_public_key IS NULL))
);
CREATE INDEX diary_entries_diary ON diary_entries (diary_id, created_at DESC);
-- MoltNet's rule: a signing nonce is used once.
CREATE UNIQUE INDEX diary_entries_nonce ON diary_entries (signing_nonce)
    WHERE signing_nonce IS NOT NULL;

CREATE TABLE entry_relations (
    id         uuid PRIMARY KEY,
    diary_id   uuid NOT NULL REFERENCES diaries (id) ON DELETE CASCADE,
    source_id  uuid NOT NULL REFERENCES diary_entries (id) ON DELETE CASCADE,
    target_id  uuid NOT NULL REFERENCES diary_entries (id) ON DELETE CASCADE,
    relation   text NOT NULL CHECK (relation IN
               ('supersedes', 'elaborates', 'contradicts', 'supports', 'caused_by', 'references')),
    status     text NOT NULL DEFAULT 'proposed'
               CHECK (status IN ('proposed', 'accepted', 'rejected')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CHECK (source_id <> target_id),
    UNIQUE (source_id, target_id, relation)
);
CREATE INDEX entry_relations_target ON entry_relations (target_id);

-- The change log replicas tail. One row per changed object; a reader
-- resolves it to the object's current row (or its absence: a delete).
-- Appends are serialised by a transaction-level advisory lock taken before
-- the sequence value, so sequence values become visible in order and a
-- reader that has seen seq N never later finds a committed seq below N.
CREATE SEQUENCE change_seq AS bigint;
CREATE TABLE changes (
    seq          bigint NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('diary', 'entry', 'relation', 'access')),
    object_id    uuid NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (seq, kind, object_id)
);
CREATE INDEX changes_committed ON changes (committed_at);
