package demo

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// schemaVersion is stored in PRAGMA user_version by the seeding transaction,
// so a database that has it is complete: the schema and every product were
// committed together.
const schemaVersion = 1

// seed fixes the generator so that every fresh demo database holds the same
// products, and figures from different machines can be compared.
const seed1, seed2 = 20260101, 42

// Categories are the product categories, in page order.
var Categories = []string{
	"books", "electronics", "garden", "grocery", "health",
	"home", "kitchen", "outdoor", "sports", "toys",
}

// The name parts give 16×12×16 = 3,072 names, so a name matches about seven
// products: /api/search has real work to do and a real result.
var (
	adjectives = []string{"Rustic", "Sleek", "Compact", "Deluxe", "Classic", "Modern", "Vintage", "Rugged", "Ergonomic", "Elegant", "Handmade", "Portable", "Smart", "Premium", "Eco", "Bold"}
	materials  = []string{"Steel", "Oak", "Cotton", "Bamboo", "Leather", "Glass", "Ceramic", "Wool", "Granite", "Copper", "Linen", "Rubber"}
	nouns      = []string{"Chair", "Lamp", "Kettle", "Backpack", "Table", "Speaker", "Bottle", "Blanket", "Clock", "Shelf", "Mug", "Bench", "Watch", "Basket", "Jacket", "Knife"}
	words      = strings.Fields(`reliable everyday design crafted with care for long lasting use and easy
		cleaning built to handle daily wear while keeping a refined look that fits any room or
		trip thoughtfully sized light enough to carry yet sturdy enough to trust tested by
		our team over many months of real work finished by hand in small batches comes with
		a two year warranty and free returns within thirty days of delivery`)
)

// OpenSQLite opens the SQLite database at path in WAL mode with a busy
// timeout, the settings the demo expects. BEGIN is IMMEDIATE so that a
// read-then-write transaction never fails to upgrade its lock.
func OpenSQLite(path string) (*sql.DB, error) {
	dsn := path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// The name column is COLLATE NOCASE so the search is case-insensitive and an
// index on products(name) would still serve it. There is deliberately no such
// index: GET /api/search scans the whole table, the slow query the database
// optimizer is meant to find.
const schema = `
CREATE TABLE IF NOT EXISTS products (
	id          INTEGER PRIMARY KEY,
	sku         TEXT    NOT NULL,
	name        TEXT    NOT NULL COLLATE NOCASE,
	category    TEXT    NOT NULL,
	price_cents INTEGER NOT NULL,
	description TEXT    NOT NULL,
	stock       INTEGER NOT NULL,
	updated_at  TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
	name         TEXT PRIMARY KEY,
	display_name TEXT NOT NULL,
	email        TEXT NOT NULL,
	plan         TEXT NOT NULL,
	created_at   TEXT NOT NULL
);`

// prepare creates and seeds the database unless a previous start finished
// doing so. It reports whether it seeded.
func prepare(db *sql.DB) (bool, error) {
	ctx := context.Background()
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if v == schemaVersion {
		return false, nil
	}
	if v > schemaVersion {
		return false, fmt.Errorf("database schema version %d is newer than this program's %d", v, schemaVersion)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin seed: %w", err)
	}
	defer tx.Rollback()
	// Another process may have seeded while we waited for the write lock.
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if v == schemaVersion {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return false, fmt.Errorf("create schema: %w", err)
	}
	if err := seedProducts(ctx, tx); err != nil {
		return false, err
	}
	// Built after the rows are in: one sort instead of 20,000 inserts into
	// the index.
	if _, err := tx.ExecContext(ctx, `CREATE INDEX IF NOT EXISTS products_category_id ON products(category, id)`); err != nil {
		return false, fmt.Errorf("create index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return false, fmt.Errorf("set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit seed: %w", err)
	}
	return true, nil
}

// seedBatch rows go into one INSERT: far fewer statement executions than
// one per row, which is most of the seeding time.
const seedBatch = 100

// ProductCount must be a multiple of seedBatch: this fails to compile if not.
const _ uint = -(ProductCount % seedBatch)

func seedProducts(ctx context.Context, tx *sql.Tx) error {
	const row = "(?, ?, ?, ?, ?, ?, ?, ?)"
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO products
		(id, sku, name, category, price_cents, description, stock, updated_at)
		VALUES `+strings.Repeat(row+", ", seedBatch-1)+row)
	if err != nil {
		return fmt.Errorf("prepare seed: %w", err)
	}
	defer stmt.Close()
	g := newGenerator()
	args := make([]any, 0, 8*seedBatch)
	for id := int64(1); id <= ProductCount; id++ {
		p := g.product(id)
		args = append(args, p.ID, p.SKU, p.Name, p.Category, cents(p.Price),
			p.Description, p.Stock, p.UpdatedAt.Format(time.RFC3339))
		if len(args) < cap(args) {
			continue
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("seed products up to %d: %w", id, err)
		}
		args = args[:0]
	}
	return nil
}

// generator produces the seed products; the same sequence every time.
type generator struct {
	r    *rand.Rand
	base time.Time
	b    strings.Builder
}

func newGenerator() *generator {
	return &generator{
		r:    rand.New(rand.NewPCG(seed1, seed2)),
		base: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

func (g *generator) product(id int64) Product {
	r := g.r
	p := Product{
		ID:       id,
		SKU:      fmt.Sprintf("PE-%06d", id),
		Name:     randomName(r),
		Category: Categories[r.IntN(len(Categories))],
		Price:    float64(199+r.IntN(99_800)) / 100,
		Stock:    r.IntN(500),
		// Seconds, so the value survives the RFC 3339 round trip unchanged.
		UpdatedAt: g.base.Add(time.Duration(r.IntN(365*24*3600)) * time.Second),
	}
	// About 340 characters, so a page of PageSize products is about 50 KB.
	g.b.Reset()
	for g.b.Len() < 300+r.IntN(80) {
		if g.b.Len() > 0 {
			g.b.WriteByte(' ')
		}
		g.b.WriteString(words[r.IntN(len(words))])
	}
	g.b.WriteByte('.')
	p.Description = g.b.String()
	return p
}

// randomName draws a product name from the seed's vocabulary; the load
// driver uses it for searches that find something.
func randomName(r *rand.Rand) string {
	return adjectives[r.IntN(len(adjectives))] + " " + materials[r.IntN(len(materials))] + " " + nouns[r.IntN(len(nouns))]
}

func cents(price float64) int64 { return int64(price*100 + 0.5) }
