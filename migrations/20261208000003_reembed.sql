-- Re-embedding a database (`moltsearch reindex --database-url --reembed`):
-- new vectors are staged here, resumably, then swapped in with the model
-- id in one transaction.
CREATE TABLE entry_embeddings_next (
    entry_id     uuid PRIMARY KEY REFERENCES diary_entries (id) ON DELETE CASCADE,
    model_id     text NOT NULL,
    -- The CID the vector was computed for: an entry edited meanwhile is
    -- embedded again.
    content_hash text NOT NULL,
    embedding    real[] NOT NULL
);

-- Every stored vector comes from the database's model: a server still
-- running the previous model after a switch cannot write vectors of it.
CREATE FUNCTION moltsearch_check_model() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.model_id IS DISTINCT FROM (SELECT model_id FROM moltsearch_meta) THEN
        RAISE EXCEPTION 'vector of model % but the database holds model %',
            NEW.model_id, (SELECT model_id FROM moltsearch_meta)
            USING ERRCODE = 'check_violation', CONSTRAINT = 'diary_entries_model';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER diary_entries_model BEFORE INSERT OR UPDATE OF embedding, model_id
    ON diary_entries FOR EACH ROW EXECUTE FUNCTION moltsearch_check_model();
