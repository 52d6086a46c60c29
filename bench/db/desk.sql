-- The validation dataset, never tuned on: a support desk with 1M tickets,
-- 50k customers and a small agent_shifts table. Load: psql -f bench/db/desk.sql
\set ON_ERROR_STOP on
DROP TABLE IF EXISTS tickets, agent_shifts, customers CASCADE;
SELECT setseed(0.61);

CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, country text NOT NULL, tier text NOT NULL);
INSERT INTO customers SELECT i, 'c' || i || '@example.org', (ARRAY['de','fr','us','jp','br','in','gb','es'])[1 + (random() * 7)::int],
  (ARRAY['basic','basic','plus','gold'])[1 + (random() * 3)::int]
FROM generate_series(1, 50000) i;

CREATE TABLE agent_shifts (id serial PRIMARY KEY, agent_id int NOT NULL, day date NOT NULL, queue text NOT NULL);
INSERT INTO agent_shifts (agent_id, day, queue)
SELECT a, date '2026-01-01' + d, (ARRAY['billing','tech','sales'])[1 + (random() * 2)::int] FROM generate_series(1, 200) a, generate_series(0, 364) d;

CREATE TABLE tickets (id bigserial PRIMARY KEY, customer_id int NOT NULL, agent_id int, status text NOT NULL, priority int NOT NULL,
  subject text NOT NULL, opened_at timestamptz NOT NULL, closed_at timestamptz);
INSERT INTO tickets (customer_id, agent_id, status, priority, subject, opened_at, closed_at)
SELECT 1 + (random() * 49999)::int, 1 + (random() * 199)::int, s, 1 + (random() * 4)::int, md5(i::text),
  timestamptz '2026-01-01' + i * interval '30 seconds', CASE WHEN s = 'closed' THEN timestamptz '2026-01-01' + i * interval '30 seconds' + random() * interval '5 days' END
FROM generate_series(1, 1000000) i, LATERAL (SELECT CASE WHEN random() < 0.03 THEN 'open' WHEN random() < 0.05 THEN 'pending' ELSE 'closed' END AS s, i * 0 AS z) st;

VACUUM ANALYZE;
