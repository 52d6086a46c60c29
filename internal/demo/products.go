package demo

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Product is one catalogue entry as the API serves it.
type Product struct {
	ID          int64     `json:"id"`
	SKU         string    `json:"sku"`
	Name        string    `json:"name"`
	Category    string    `json:"category"`
	Price       float64   `json:"price"` // in currency units, two decimals
	Description string    `json:"description"`
	Stock       int       `json:"stock"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ProductPage is the body of GET /api/products.
type ProductPage struct {
	Category string    `json:"category,omitempty"`
	Page     int       `json:"page"`
	PerPage  int       `json:"per_page"`
	Total    int       `json:"total"`
	Pages    int       `json:"pages"`
	Products []Product `json:"products"`
}

// SearchResult is the body of GET /api/search.
type SearchResult struct {
	Query    string    `json:"query"`
	Count    int       `json:"count"`
	Products []Product `json:"products"`
}

// Profile is the body of GET /api/me.
type Profile struct {
	User        string    `json:"user"`
	DisplayName string    `json:"display_name"`
	Email       string    `json:"email"`
	Plan        string    `json:"plan"`
	CreatedAt   time.Time `json:"created_at"`
}

// Limits of the API's inputs.
const (
	maxPage        = 10_000
	maxQueryLen    = 200
	maxSearchRows  = 100
	maxBodyBytes   = 64 << 10
	maxNameLen     = 120
	maxDescLen     = 2000
	maxPrice       = 100_000
	maxStock       = 1_000_000
	maxUserNameLen = 64
)

const productColumns = `id, sku, name, category, price_cents, description, stock, updated_at`

func scanProduct(sc interface{ Scan(...any) error }) (Product, error) {
	var (
		p       Product
		c       int64
		updated string
	)
	if err := sc.Scan(&p.ID, &p.SKU, &p.Name, &p.Category, &c, &p.Description, &p.Stock, &updated); err != nil {
		return Product{}, err
	}
	p.Price = float64(c) / 100
	t, err := time.Parse(time.RFC3339, updated)
	if err != nil {
		return Product{}, fmt.Errorf("product %d: updated_at %q: %w", p.ID, updated, err)
	}
	p.UpdatedAt = t
	return p, nil
}

func scanProducts(rows *sql.Rows) ([]Product, error) {
	defer rows.Close()
	out := make([]Product, 0, PageSize)
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *Service) handleProducts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page := 1
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			s.fail(w, r, "invalid", fmt.Sprintf("page must be an integer in [1, %d]", maxPage))
			return
		}
		page = n
	}
	cat := q.Get("category")
	if cat != "" && !slices.Contains(Categories, cat) {
		s.fail(w, r, "invalid", "category must be one of "+strings.Join(Categories, ", "))
		return
	}
	ctx := r.Context()
	var (
		total int
		rows  *sql.Rows
		err   error
	)
	offset := (page - 1) * PageSize
	if cat == "" {
		err = s.db.QueryRowContext(ctx, `SELECT count(*) FROM products`).Scan(&total)
		if err == nil {
			rows, err = s.db.QueryContext(ctx, `SELECT `+productColumns+` FROM products ORDER BY id LIMIT ? OFFSET ?`, PageSize, offset)
		}
	} else {
		err = s.db.QueryRowContext(ctx, `SELECT count(*) FROM products WHERE category = ?`, cat).Scan(&total)
		if err == nil {
			rows, err = s.db.QueryContext(ctx, `SELECT `+productColumns+` FROM products WHERE category = ? ORDER BY id LIMIT ? OFFSET ?`, cat, PageSize, offset)
		}
	}
	if err != nil {
		s.fail(w, r, "internal", "list products: "+err.Error())
		return
	}
	products, err := scanProducts(rows)
	if err != nil {
		s.fail(w, r, "internal", "list products: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, ProductPage{
		Category: cat, Page: page, PerPage: PageSize, Total: total,
		Pages: (total + PageSize - 1) / PageSize, Products: products,
	})
}

func (s *Service) productID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.fail(w, r, "invalid", "product id must be a positive integer")
		return 0, false
	}
	return id, true
}

func (s *Service) handleProduct(w http.ResponseWriter, r *http.Request) {
	id, ok := s.productID(w, r)
	if !ok {
		return
	}
	p, err := scanProduct(s.db.QueryRowContext(r.Context(), `SELECT `+productColumns+` FROM products WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		s.fail(w, r, "not_found", fmt.Sprintf("product %d does not exist", id))
		return
	}
	if err != nil {
		s.fail(w, r, "internal", "get product: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// RelatedCount is how many related products GET /api/related/{id} returns.
const RelatedCount = 12

// handleRelated lists products of the same category as one, fetching each
// by its own query on purpose: an N+1 for the database module to find.
func (s *Service) handleRelated(w http.ResponseWriter, r *http.Request) {
	id, ok := s.productID(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM products
		WHERE category = (SELECT category FROM products WHERE id = ?) AND id != ? ORDER BY id LIMIT ?`, id, id, RelatedCount)
	if err != nil {
		s.fail(w, r, "internal", "related products: "+err.Error())
		return
	}
	var ids []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			s.fail(w, r, "internal", "related products: "+err.Error())
			return
		}
		ids = append(ids, n)
	}
	rows.Close()
	out := make([]Product, 0, len(ids))
	for _, n := range ids { // one query per product: the deliberate N+1
		p, err := scanProduct(s.db.QueryRowContext(ctx, `SELECT `+productColumns+` FROM products WHERE id = ?`, n))
		if err != nil {
			s.fail(w, r, "internal", "related product: "+err.Error())
			return
		}
		out = append(out, p)
	}
	writeJSON(w, http.StatusOK, out)
}

// ProductUpdate is the body of PUT /api/products/{id}: the fields present
// are changed, the others kept.
type ProductUpdate struct {
	Name        *string  `json:"name,omitempty"`
	Category    *string  `json:"category,omitempty"`
	Price       *float64 `json:"price,omitempty"`
	Description *string  `json:"description,omitempty"`
	Stock       *int     `json:"stock,omitempty"`
}

// ParseProductUpdate decodes and validates a PUT body: one JSON object, no
// unknown fields, at least one field, every value in range. Its errors are
// meant for the client.
func ParseProductUpdate(body []byte) (ProductUpdate, error) {
	var u ProductUpdate
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return ProductUpdate{}, fmt.Errorf("body must be a JSON object of name, category, price, description, stock: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return ProductUpdate{}, errors.New("body must hold exactly one JSON object")
	}
	if u == (ProductUpdate{}) {
		return ProductUpdate{}, errors.New("body must set at least one of name, category, price, description, stock")
	}
	var errs []error
	if u.Name != nil {
		*u.Name = strings.TrimSpace(*u.Name)
		if n := utf8.RuneCountInString(*u.Name); n == 0 || n > maxNameLen || !printable(*u.Name) {
			errs = append(errs, fmt.Errorf("name must be 1 to %d printable characters", maxNameLen))
		}
	}
	if u.Category != nil && !slices.Contains(Categories, *u.Category) {
		errs = append(errs, fmt.Errorf("category must be one of %s", strings.Join(Categories, ", ")))
	}
	if u.Price != nil && (*u.Price <= 0 || *u.Price > maxPrice) {
		errs = append(errs, fmt.Errorf("price must be in (0, %d]", maxPrice))
	}
	if u.Description != nil && (utf8.RuneCountInString(*u.Description) > maxDescLen || !utf8.ValidString(*u.Description)) {
		errs = append(errs, fmt.Errorf("description must be at most %d characters", maxDescLen))
	}
	if u.Stock != nil && (*u.Stock < 0 || *u.Stock > maxStock) {
		errs = append(errs, fmt.Errorf("stock must be in [0, %d]", maxStock))
	}
	return u, errors.Join(errs...)
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return utf8.ValidString(s)
}

func (s *Service) handleUpdateProduct(w http.ResponseWriter, r *http.Request) {
	id, ok := s.productID(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.fail(w, r, "too_large", fmt.Sprintf("body must be at most %d bytes", maxBodyBytes))
			return
		}
		s.fail(w, r, "invalid", "read body: "+err.Error())
		return
	}
	u, err := ParseProductUpdate(body)
	if err != nil {
		s.fail(w, r, "invalid", strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	var (
		sets []string
		args []any
	)
	if u.Name != nil {
		sets, args = append(sets, "name = ?"), append(args, *u.Name)
	}
	if u.Category != nil {
		sets, args = append(sets, "category = ?"), append(args, *u.Category)
	}
	if u.Price != nil {
		sets, args = append(sets, "price_cents = ?"), append(args, cents(*u.Price))
	}
	if u.Description != nil {
		sets, args = append(sets, "description = ?"), append(args, *u.Description)
	}
	if u.Stock != nil {
		sets, args = append(sets, "stock = ?"), append(args, *u.Stock)
	}
	sets, args = append(sets, "updated_at = ?"), append(args, s.now().UTC().Format(time.RFC3339), id)
	p, err := scanProduct(s.db.QueryRowContext(r.Context(),
		`UPDATE products SET `+strings.Join(sets, ", ")+` WHERE id = ? RETURNING `+productColumns, args...))
	if errors.Is(err, sql.ErrNoRows) {
		s.fail(w, r, "not_found", fmt.Sprintf("product %d does not exist", id))
		return
	}
	if err != nil {
		s.fail(w, r, "internal", "update product: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// handleSearch finds products by name, ignoring case. The products table has
// no index on name, so every search reads all of it: the demo's slow query.
func (s *Service) handleSearch(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" || len(q) > maxQueryLen {
		s.fail(w, r, "invalid", fmt.Sprintf("q must be 1 to %d bytes, a product name such as \"Rustic Steel Chair\"", maxQueryLen))
		return
	}
	rows, err := s.db.QueryContext(r.Context(),
		`SELECT `+productColumns+` FROM products WHERE name = ? ORDER BY id LIMIT ?`, q, maxSearchRows)
	if err != nil {
		s.fail(w, r, "internal", "search: "+err.Error())
		return
	}
	products, err := scanProducts(rows)
	if err != nil {
		s.fail(w, r, "internal", "search: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, SearchResult{Query: q, Count: len(products), Products: products})
}

// bearerUser returns the user named by "Authorization: Bearer <user>".
func bearerUser(h string) (string, error) {
	if h == "" {
		return "", errors.New("missing Authorization: Bearer <user>")
	}
	scheme, user, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errors.New("authorization must be Bearer <user>")
	}
	user = strings.TrimSpace(user)
	if user == "" || len(user) > maxUserNameLen {
		return "", fmt.Errorf("user must be 1 to %d characters", maxUserNameLen)
	}
	for _, c := range user {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "", errors.New("user may hold only letters, digits, '.', '_' and '-'")
		}
	}
	return user, nil
}

var plans = []string{"free", "pro", "team"}

// handleMe returns the caller's profile, creating it on first sight as a
// sign-up would. The response is private to the user: a cache must not
// share it.
func (s *Service) handleMe(w http.ResponseWriter, r *http.Request) {
	user, err := bearerUser(r.Header.Get("Authorization"))
	if err != nil {
		s.fail(w, r, "unauthorized", err.Error())
		return
	}
	ctx := r.Context()
	var (
		p       Profile
		created string
	)
	query := `SELECT name, display_name, email, plan, created_at FROM users WHERE name = ?`
	err = s.db.QueryRowContext(ctx, query, user).Scan(&p.User, &p.DisplayName, &p.Email, &p.Plan, &created)
	if errors.Is(err, sql.ErrNoRows) {
		h := fnv.New32a()
		h.Write([]byte(user))
		_, err = s.db.ExecContext(ctx, `INSERT OR IGNORE INTO users (name, display_name, email, plan, created_at) VALUES (?, ?, ?, ?, ?)`,
			user, displayName(user), strings.ToLower(user)+"@example.com", plans[h.Sum32()%uint32(len(plans))],
			s.now().UTC().Format(time.RFC3339))
		if err == nil {
			err = s.db.QueryRowContext(ctx, query, user).Scan(&p.User, &p.DisplayName, &p.Email, &p.Plan, &created)
		}
	}
	if err != nil {
		s.fail(w, r, "internal", "load profile: "+err.Error())
		return
	}
	if p.CreatedAt, err = time.Parse(time.RFC3339, created); err != nil {
		s.fail(w, r, "internal", "load profile: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func displayName(user string) string {
	parts := strings.FieldsFunc(user, func(r rune) bool { return r == '.' || r == '_' || r == '-' })
	for i, p := range parts {
		parts[i] = strings.ToUpper(p[:1]) + p[1:]
	}
	if len(parts) == 0 {
		return user
	}
	return strings.Join(parts, " ")
}

func (s *Service) handleSlow(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms < 0 || ms > int(MaxSlow/time.Millisecond) {
		s.fail(w, r, "invalid", fmt.Sprintf("ms must be an integer in [0, %d]", MaxSlow/time.Millisecond))
		return
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return // the client left; nobody reads an answer
	}
	writeJSON(w, http.StatusOK, map[string]int{"slept_ms": ms})
}
