-- Validation workload on bench/db/desk.sql, written after the advisor was
-- tuned and never tuned on.
SELECT id, subject FROM tickets WHERE status = 'open' ORDER BY priority DESC, opened_at LIMIT 25;
SELECT count(*) FROM tickets WHERE opened_at >= timestamptz '2026-04-01' AND opened_at < timestamptz '2026-04-03';
SELECT t.id, t.status FROM tickets t JOIN customers c ON c.id = t.customer_id WHERE c.email = 'c4711@example.org';
SELECT agent_id, count(*) FROM tickets WHERE closed_at BETWEEN timestamptz '2026-02-01' AND timestamptz '2026-02-02' GROUP BY agent_id;
SELECT * FROM tickets WHERE customer_id = 1234 AND status = 'closed' ORDER BY closed_at DESC LIMIT 10;
SELECT queue FROM agent_shifts WHERE agent_id = 42 AND day = date '2026-05-01';
SELECT c.country, count(*) FROM customers c JOIN tickets t ON t.customer_id = c.id WHERE t.opened_at > timestamptz '2026-12-01' AND c.tier = 'gold' GROUP BY c.country;
