-- Ledger 2 (3f24091): running totals per month, so a reservation reads one row instead of
-- summing the month's reservations; the index that summing used goes.
CREATE TABLE budget_months (
    month TEXT PRIMARY KEY,
    reserved_nanos INTEGER NOT NULL DEFAULT 0,
    settled_nanos INTEGER NOT NULL DEFAULT 0
);
-- The totals start from what the reservations already hold: what is still reserved, and what
-- settled calls were charged (the sums ledger 1 computed on every check). Ledger 1 files opened
-- by the unversioned code of 3f24091 and later started from empty totals instead.
INSERT INTO budget_months (month, reserved_nanos, settled_nanos)
SELECT month,
       COALESCE(SUM(CASE WHEN state = 'reserved' THEN reserved_nanos END), 0),
       COALESCE(SUM(CASE WHEN state = 'settled' THEN charged_nanos END), 0)
FROM budget_reservations
GROUP BY month;
DROP INDEX IF EXISTS budget_reservations_by_month;
