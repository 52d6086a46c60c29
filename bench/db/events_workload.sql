-- Tuning workload on bench/db/events.sql: 7 queries of the issue's shapes
-- (point lookups with ORDER BY … LIMIT, a kind + time-range count, a join
-- with a time filter and GROUP BY, a one-day window over all accounts, a
-- small-table two-column equality).
SELECT * FROM events WHERE account_id = 4242 ORDER BY created_at DESC LIMIT 20;
SELECT id, kind, amount FROM events WHERE account_id = 17 ORDER BY id DESC LIMIT 50;
SELECT count(*) FROM events WHERE kind = 'purchase' AND created_at >= timestamptz '2026-05-01' AND created_at < timestamptz '2026-05-08';
SELECT a.plan, count(*), sum(e.amount) FROM events e JOIN accounts a ON a.id = e.account_id WHERE e.created_at >= timestamptz '2026-06-01' AND e.created_at < timestamptz '2026-06-02' AND a.region = 'eu' GROUP BY a.plan;
SELECT * FROM events WHERE created_at BETWEEN timestamptz '2026-03-10' AND timestamptz '2026-03-11';
SELECT id, token FROM api_keys WHERE account_id = 99 AND label = 'deploy';
SELECT e.kind, count(*) FROM accounts a JOIN events e ON e.account_id = a.id WHERE a.plan = 'enterprise' AND a.region = 'apac' AND e.created_at > timestamptz '2026-08-01' GROUP BY e.kind;
