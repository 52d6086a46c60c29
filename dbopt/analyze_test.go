package dbopt

import (
	"reflect"
	"testing"
)

func TestParseShapeDistinct(t *testing.T) {
	tests := []struct {
		sql  string
		want []colRef
	}{
		{"SELECT DISTINCT category FROM products", []colRef{{Name: "category"}}},
		{"SELECT DISTINCT category, brand FROM products WHERE price > 10", []colRef{{Name: "category"}, {Name: "brand"}}},
		{"SELECT DISTINCT ON (customer_id) customer_id, created_at FROM orders ORDER BY customer_id, created_at DESC", []colRef{{Name: "customer_id"}}},
		{"SELECT DISTINCT lower(name) FROM products", nil},
		{"SELECT category FROM products GROUP BY category", []colRef{{Name: "category"}}},
	}
	for _, tc := range tests {
		s, err := parseShape(tc.sql)
		if err != nil {
			t.Fatalf("parseShape(%q): %v", tc.sql, err)
		}
		if !reflect.DeepEqual(s.Group, tc.want) {
			t.Errorf("parseShape(%q).Group = %v, want %v", tc.sql, s.Group, tc.want)
		}
	}
}

func TestParseShapeRefs(t *testing.T) {
	tests := []struct {
		sql  string
		want []colRef // nil: not known
	}{
		{"SELECT status, total FROM orders WHERE customer_id = $1", []colRef{{Name: "status"}, {Name: "total"}, {Name: "customer_id"}}},
		{"SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = $1",
			[]colRef{{Qual: "o", Name: "id"}, {Qual: "c", Name: "id"}, {Qual: "o", Name: "customer_id"}, {Qual: "c", Name: "email"}}},
		{"SELECT count(*) FROM orders WHERE created_at > now() - interval '1 day' GROUP BY status", []colRef{{Name: "created_at"}, {Name: "status"}}},
		{"SELECT * FROM orders WHERE id = 1", nil},
		{"SELECT o.* FROM orders o WHERE id = 1", nil},
		{"SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE country = 'de')", nil},
		{"WITH recent AS (SELECT id FROM orders) SELECT id FROM recent", nil},
		{"SELECT id FROM a UNION SELECT id FROM b", nil},
		{"UPDATE orders SET total = 0 WHERE id = 1", nil},
	}
	for _, tc := range tests {
		s, err := parseShape(tc.sql)
		if err != nil {
			t.Fatalf("parseShape(%q): %v", tc.sql, err)
		}
		if !reflect.DeepEqual(s.Refs, tc.want) {
			t.Errorf("parseShape(%q).Refs = %v, want %v", tc.sql, s.Refs, tc.want)
		}
	}
}

// FuzzParseShape: any text is a shape or an error, never a panic, and a
// shape's columns all have names.
func FuzzParseShape(f *testing.F) {
	for _, s := range []string{
		"SELECT status, total FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 10",
		"SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = $1",
		"SELECT a FROM t WHERE b BETWEEN 1 AND 2 AND c LIKE 'x%' AND d IS NULL AND NOT e GROUP BY a",
		"WITH x AS (SELECT 1) SELECT * FROM x", "DELETE FROM t USING u WHERE t.id = u.id", "SELEC", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		s, err := parseShape(sql)
		if err != nil {
			return
		}
		for _, c := range s.Refs {
			if c.Name == "" {
				t.Fatalf("parseShape(%q): a column reference without a name in %v", sql, s.Refs)
			}
		}
	})
}
