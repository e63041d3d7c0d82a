-- History 4: the network log, one row per outbound request the app made (each HTTP attempt of
-- an escalation, each model download), for the user to check what left the laptop.
CREATE TABLE network_requests (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    host TEXT NOT NULL,
    what TEXT NOT NULL,
    bytes_sent INTEGER,
    bytes_received INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL,
    cost REAL NOT NULL DEFAULT 0,
    currency TEXT
);
CREATE INDEX network_requests_by_time ON network_requests(at_ms);
