-- The tuning dataset: an events table of 1.5M rows appended over a year,
-- 20k accounts and a small api_keys table, in the shape of the issue's
-- workload (its own queries were held out). Load: psql -f bench/db/events.sql
\set ON_ERROR_STOP on
DROP TABLE IF EXISTS events, api_keys, accounts CASCADE;
SELECT setseed(0.17);

CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, plan text NOT NULL, region text NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO accounts SELECT i, 'account ' || i, (ARRAY['free','free','free','team','pro','enterprise'])[1 + (random() * 5)::int],
  (ARRAY['eu','us','apac','latam'])[1 + (random() * 3)::int], timestamptz '2024-01-01' + random() * interval '700 days'
FROM generate_series(1, 20000) i;

CREATE TABLE api_keys (id serial PRIMARY KEY, account_id int NOT NULL, label text NOT NULL, token text NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO api_keys (account_id, label, token, created_at)
SELECT 1 + (random() * 19999)::int, (ARRAY['deploy','ci','local','backup','metrics'])[1 + (random() * 4)::int], md5(i::text), timestamptz '2025-01-01' + random() * interval '300 days'
FROM generate_series(1, 30000) i;

-- Appended in time order, as an events table is: created_at correlates
-- with the physical order.
CREATE TABLE events (id bigserial PRIMARY KEY, account_id int NOT NULL, kind text NOT NULL, created_at timestamptz NOT NULL, amount numeric(10,2), payload text);
INSERT INTO events (account_id, kind, created_at, amount, payload)
SELECT 1 + (random() * 19999)::int,
  (ARRAY['view','view','view','view','click','click','signup','purchase','refund','login'])[1 + (random() * 9)::int],
  timestamptz '2026-01-01' + i * interval '21 seconds', (random() * 200)::numeric(10,2), md5(i::text) || md5((i * 7)::text)
FROM generate_series(1, 1500000) i;

VACUUM ANALYZE;
