-- History 1 (d31a744): conversations and every question with its citations, local answer,
-- verifier value, routing decision, escalation (payload, answer, tokens, cost), latencies and
-- the user's 👍/👎.
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE questions (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    asked_at_ms INTEGER NOT NULL,
    question TEXT NOT NULL,
    citations_json TEXT NOT NULL,
    local_model TEXT NOT NULL,
    local_answer TEXT NOT NULL,
    verifier_value REAL,
    local_latency_ms INTEGER NOT NULL,
    verify_latency_ms INTEGER NOT NULL,
    route_decision TEXT NOT NULL,
    route_reason TEXT NOT NULL,
    expected_utilities_json TEXT NOT NULL,
    lambda REAL,
    estimated_cost_nanos INTEGER,
    remote_model TEXT,
    payload_json TEXT,
    remote_answer TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    usage_estimated INTEGER NOT NULL DEFAULT 0,
    cost_nanos INTEGER NOT NULL DEFAULT 0,
    currency TEXT,
    remote_latency_ms INTEGER,
    remote_error TEXT,
    total_latency_ms INTEGER NOT NULL,
    feedback INTEGER CHECK (feedback IN (-1, 1))
);
CREATE INDEX questions_by_conversation ON questions(conversation_id, asked_at_ms);
CREATE INDEX questions_escalated ON questions(asked_at_ms) WHERE remote_model IS NOT NULL;
