-- Library 2 (746d132): folders added as a whole are remembered, to be synced or watched later,
-- and each document keeps its file's modification time, so a sync can skip unchanged files unread.
CREATE TABLE folders (
    path TEXT PRIMARY KEY,
    added_at INTEGER NOT NULL
);
ALTER TABLE documents ADD COLUMN modified_ns INTEGER;
