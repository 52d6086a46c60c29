-- A scaled-down TPC-H-like dataset generated in SQL (go-tpc's generator
-- takes far longer on a 2-core machine). Same tables, keys and value
-- domains as TPC-H, primary keys only, uniform random data.
-- Scale: psql -v sf=0.2 (lineitem has about 6,000,000 × sf rows).
\set ON_ERROR_STOP on
DROP TABLE IF EXISTS lineitem, orders, partsupp, part, customer, supplier, nation, region CASCADE;
SELECT setseed(0.42);

CREATE TABLE region (r_regionkey int PRIMARY KEY, r_name text NOT NULL, r_comment text);
INSERT INTO region SELECT i, (ARRAY['AFRICA','AMERICA','ASIA','EUROPE','MIDDLE EAST'])[i + 1], 'region ' || i FROM generate_series(0, 4) i;

CREATE TABLE nation (n_nationkey int PRIMARY KEY, n_name text NOT NULL, n_regionkey int NOT NULL, n_comment text);
INSERT INTO nation SELECT i, 'NATION' || i, i % 5, 'nation ' || i FROM generate_series(0, 24) i;

CREATE TABLE supplier (s_suppkey int PRIMARY KEY, s_name text NOT NULL, s_address text, s_nationkey int NOT NULL, s_phone text, s_acctbal numeric(12,2), s_comment text);
INSERT INTO supplier SELECT i, 'Supplier#' || lpad(i::text, 9, '0'), md5(i::text), (random() * 24)::int, '10-' || i, (random() * 10999 - 999)::numeric(12,2), md5('s' || i)
FROM generate_series(1, (10000 * :sf)::int) i;

CREATE TABLE customer (c_custkey int PRIMARY KEY, c_name text NOT NULL, c_address text, c_nationkey int NOT NULL, c_phone text, c_acctbal numeric(12,2), c_mktsegment text NOT NULL, c_comment text);
INSERT INTO customer SELECT i, 'Customer#' || lpad(i::text, 9, '0'), md5(i::text), (random() * 24)::int, '20-' || i, (random() * 10999 - 999)::numeric(12,2),
  (ARRAY['AUTOMOBILE','BUILDING','FURNITURE','HOUSEHOLD','MACHINERY'])[1 + (random() * 4)::int], md5('c' || i)
FROM generate_series(1, (150000 * :sf)::int) i;

CREATE TABLE part (p_partkey int PRIMARY KEY, p_name text NOT NULL, p_mfgr text NOT NULL, p_brand text NOT NULL, p_type text NOT NULL, p_size int NOT NULL, p_container text NOT NULL, p_retailprice numeric(12,2), p_comment text);
INSERT INTO part SELECT i, md5(i::text), 'Manufacturer#' || m, 'Brand#' || m || (1 + (random() * 4)::int),
  (ARRAY['STANDARD','SMALL','MEDIUM','LARGE','ECONOMY','PROMO'])[1 + (random() * 5)::int] || ' ' || (ARRAY['ANODIZED','BURNISHED','PLATED','POLISHED','BRUSHED'])[1 + (random() * 4)::int] || ' ' || (ARRAY['TIN','NICKEL','BRASS','STEEL','COPPER'])[1 + (random() * 4)::int],
  1 + (random() * 49)::int, (ARRAY['SM','LG','MED','JUMBO','WRAP'])[1 + (random() * 4)::int] || ' ' || (ARRAY['CASE','BOX','BAG','JAR','PKG','PACK','CAN','DRUM'])[1 + (random() * 7)::int],
  (900 + i % 1000)::numeric(12,2), md5('p' || i)
FROM generate_series(1, (200000 * :sf)::int) i, LATERAL (SELECT 1 + (random() * 4)::int + i * 0 AS m) mm;

CREATE TABLE partsupp (ps_partkey int NOT NULL, ps_suppkey int NOT NULL, ps_availqty int, ps_supplycost numeric(12,2), ps_comment text, PRIMARY KEY (ps_partkey, ps_suppkey));
INSERT INTO partsupp SELECT p, 1 + ((p + j * ((10000 * :sf)::int / 4)) % (10000 * :sf)::int), (random() * 9999)::int, (random() * 999 + 1)::numeric(12,2), md5(p || '-' || j)
FROM generate_series(1, (200000 * :sf)::int) p, generate_series(0, 3) j;

CREATE TABLE orders (o_orderkey int PRIMARY KEY, o_custkey int NOT NULL, o_orderstatus char(1) NOT NULL, o_totalprice numeric(12,2), o_orderdate date NOT NULL, o_orderpriority text NOT NULL, o_clerk text, o_shippriority int, o_comment text);
INSERT INTO orders SELECT i, 1 + (random() * ((150000 * :sf)::int - 1))::int, (ARRAY['F','O','P'])[1 + (random() * 2)::int], (random() * 500000)::numeric(12,2),
  date '1992-01-01' + (random() * 2405)::int, (ARRAY['1-URGENT','2-HIGH','3-MEDIUM','4-NOT SPECIFIED','5-LOW'])[1 + (random() * 4)::int],
  'Clerk#' || lpad((1 + (random() * 999)::int)::text, 9, '0'), 0, md5('o' || i)
FROM generate_series(1, (1500000 * :sf)::int) i;

CREATE TABLE lineitem (l_orderkey int NOT NULL, l_partkey int NOT NULL, l_suppkey int NOT NULL, l_linenumber int NOT NULL, l_quantity numeric(12,2), l_extendedprice numeric(12,2), l_discount numeric(12,2), l_tax numeric(12,2),
  l_returnflag char(1), l_linestatus char(1), l_shipdate date, l_commitdate date, l_receiptdate date, l_shipinstruct text, l_shipmode text, l_comment text, PRIMARY KEY (l_orderkey, l_linenumber));
INSERT INTO lineitem SELECT o.o_orderkey, 1 + (random() * ((200000 * :sf)::int - 1))::int, 1 + (random() * ((10000 * :sf)::int - 1))::int, n,
  1 + (random() * 49)::int, (random() * 100000)::numeric(12,2), (random() * 0.1)::numeric(12,2), (random() * 0.08)::numeric(12,2),
  (ARRAY['R','A','N'])[1 + (random() * 2)::int], (ARRAY['O','F'])[1 + (random())::int], o.o_orderdate + 1 + (random() * 120)::int, o.o_orderdate + 30 + (random() * 60)::int, o.o_orderdate + 2 + (random() * 150)::int,
  (ARRAY['DELIVER IN PERSON','COLLECT COD','NONE','TAKE BACK RETURN'])[1 + (random() * 3)::int], (ARRAY['REG AIR','AIR','RAIL','SHIP','TRUCK','MAIL','FOB'])[1 + (random() * 6)::int], md5('l' || o.o_orderkey || n)
FROM orders o, LATERAL generate_series(1, 1 + (random() * 6)::int + o.o_orderkey * 0) n;

VACUUM ANALYZE;
