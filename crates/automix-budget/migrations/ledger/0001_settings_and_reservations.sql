-- Ledger 1 (243a0a7): the budget settings and every reservation booked against a month. The
-- ledger's tables live in the history's file (history.sqlite) and are versioned apart from it.
CREATE TABLE budget_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    monthly_limit_nanos INTEGER NOT NULL CHECK (monthly_limit_nanos >= 0),
    currency TEXT NOT NULL,
    per_answer_cap_nanos INTEGER CHECK (per_answer_cap_nanos >= 0)
);
CREATE TABLE budget_reservations (
    id INTEGER PRIMARY KEY,
    month TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    owner_pid INTEGER NOT NULL,
    label TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'settled', 'released')),
    reserved_nanos INTEGER NOT NULL CHECK (reserved_nanos >= 0),
    charged_nanos INTEGER,
    closed_at_ms INTEGER,
    closed_reason TEXT
);
CREATE INDEX budget_reservations_by_month ON budget_reservations(month, state);
CREATE INDEX budget_reservations_open ON budget_reservations(state) WHERE state = 'reserved';
