package querytrace

import "database/sql"

func sqlOpen(path string) *sql.DB {
	db, _ := sql.Open("sqlite", path)
	return db
}
