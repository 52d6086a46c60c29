-- A workload file: statements with literal values, as Dexter takes them.
SELECT * FROM orders WHERE customer_id = 42;
SELECT * FROM orders WHERE customer_id = 42;
SELECT $$a;b$$ AS s, id FROM orders WHERE note = 'x;y' -- trailing; comment
;
/* a block comment; with a semicolon */
UPDATE orders SET status = 'done' WHERE id = 7;
SELEC broken FROM;
CREATE TABLE x (a int);
-- SQLite placeholders
SELECT * FROM products WHERE name = ? ORDER BY id LIMIT ?;
