-- Library 3 (d9d786e): the word index reads a folded copy of each chunk (`index_text`: ligatures
-- and full-width forms folded, Chinese, Japanese and Korean cut into character pairs), and each
-- document keeps the text it was read as, with the physical pages and their printed labels.
-- Documents indexed before keep their chunks but lose their hash, so the next sync or add reads
-- them again and stores their text. After this SQL, Rust (store.rs, `fold_stored_chunks`) fills
-- `index_text` for the chunks already stored and rebuilds the index, in the same transaction.
DROP TRIGGER chunks_fts_insert;
DROP TRIGGER chunks_fts_delete;
DROP TABLE chunks_fts;
ALTER TABLE chunks ADD COLUMN index_text TEXT NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN text TEXT;
CREATE TABLE pages (
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    label TEXT,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    PRIMARY KEY (document_id, number)
);
CREATE VIRTUAL TABLE chunks_fts USING fts5(index_text, content='chunks', content_rowid='id', tokenize='porter unicode61');
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, index_text) VALUES (new.id, new.index_text);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, index_text) VALUES ('delete', old.id, old.index_text);
END;
UPDATE documents SET content_hash = '', modified_ns = NULL;
