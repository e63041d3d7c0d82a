-- Library 4: a document or a folder can be private ("never leaves this device"). A document is
-- private when its own flag is set or it lies inside a private folder; the engine keeps the
-- passages of private documents out of everything it sends to a remote model.
ALTER TABLE documents ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
ALTER TABLE folders ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
