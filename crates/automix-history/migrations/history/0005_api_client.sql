-- Conversations started through the local OpenAI-compatible API (`automix serve`) name the client
-- that sent them; NULL is the app itself (its chat or the command line).
ALTER TABLE conversations ADD COLUMN api_client TEXT;
