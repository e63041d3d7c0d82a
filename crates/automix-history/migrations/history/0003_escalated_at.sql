-- History 3 (4a3c1d0): when the remote call was made, so a question escalated on request days
-- later is charged on that day. Questions escalated before were escalated when asked.
ALTER TABLE questions ADD COLUMN escalated_at_ms INTEGER;
UPDATE questions SET escalated_at_ms = asked_at_ms WHERE remote_model IS NOT NULL;
