package schema

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// dbSchema is what introspection sees in a live database.
type dbSchema struct {
	Tables map[string]*table
	Views  []namedSQL
	// HasRegistry is true when _objectstack_objects exists.
	HasRegistry bool
	// HasRestorePoint is true when _objectstack_deployments has its restore_point column (databases
	// whose registry predates it gain it with their first destructive deployment; restore_point.go).
	HasRestorePoint bool
	// Fingerprint hashes every introspected row; Apply re-checks it inside its transaction.
	Fingerprint string
}

// introspectQuery reads every table's columns, user indexes (with their columns and CREATE text),
// foreign keys, and every trigger and view in ONE statement, through the pragma table-valued functions,
// so the cost is one round trip whatever the number of tables (that matters over Hrana).
// Row kinds: 0 column, 1 index column, 2 foreign key column, 3 trigger/view/index/table SQL, 4 registry marker,
// 5 restore-point column marker.
// UNION ALL returns the branches in order and each branch in sqlite_schema order, which is stable for
// an unchanged database, so the rows need no ORDER BY (sorting them cost more than the rest of a plan).
const introspectQuery = `
WITH t AS (
  SELECT name FROM sqlite_schema
  WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' AND name NOT LIKE '!_objectstack!_%' ESCAPE '!'
)
SELECT 0 AS k, t.name AS tbl, c.name AS n, c.type AS s1, c.dflt_value AS s2, NULL AS s3,
       c.cid AS i1, c."notnull" AS i2, c.pk AS i3
  FROM t, pragma_table_info(t.name) AS c
UNION ALL
SELECT 1, t.name, il.name, il.origin, ii.name, NULL, il."unique", il.partial, ii.seqno
  FROM t, pragma_index_list(t.name) AS il, pragma_index_info(il.name) AS ii
UNION ALL
SELECT 2, t.name, fk."from", fk."table", fk."to", fk.on_delete, fk.id, fk.seq, 0
  FROM t, pragma_foreign_key_list(t.name) AS fk
UNION ALL
SELECT 3, tbl_name, name, type, NULL, sql, 0, 0, 0
  FROM sqlite_schema WHERE (type IN ('trigger', 'view', 'table') OR (type = 'index' AND sql IS NOT NULL))
   AND tbl_name NOT LIKE '!_objectstack!_%' ESCAPE '!' AND tbl_name NOT LIKE 'sqlite!_%' ESCAPE '!'
UNION ALL
SELECT 4, name, NULL, NULL, NULL, NULL, 0, 0, 0
  FROM sqlite_schema WHERE type = 'table' AND name = '_objectstack_objects'
UNION ALL
SELECT 5, name, NULL, NULL, NULL, NULL, 0, 0, 0
  FROM pragma_table_info('_objectstack_deployments') WHERE name = 'restore_point'`

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func introspect(ctx context.Context, q queryer) (*dbSchema, error) {
	rows, err := q.QueryContext(ctx, introspectQuery)
	if err != nil {
		return nil, fmt.Errorf("introspect: %w", err)
	}
	defer rows.Close()
	var all [][]any
	for rows.Next() {
		vals := make([]any, 9)
		ptrs := make([]any, 9)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("introspect: %w", err)
		}
		all = append(all, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("introspect: %w", err)
	}
	return introspectRows(all)
}

func nullString(v any) sql.NullString {
	switch x := v.(type) {
	case nil:
		return sql.NullString{}
	case string:
		return sql.NullString{String: x, Valid: true}
	case []byte:
		return sql.NullString{String: string(x), Valid: true}
	}
	return sql.NullString{String: fmt.Sprint(v), Valid: true}
}

func nullInt(v any) sql.NullInt64 {
	if v == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: asInt(v), Valid: true}
}

// introspectRows builds the schema from introspectQuery's rows, however they were fetched (database/sql or a
// Hrana batch).
func introspectRows(all [][]any) (*dbSchema, error) {
	s := &dbSchema{Tables: map[string]*table{}}
	h := sha256.New()
	get := func(name string) *table {
		t := s.Tables[name]
		if t == nil {
			t = &table{Name: name, constraintCols: map[string]bool{}}
			s.Tables[name] = t
		}
		return t
	}
	type fkKey struct {
		tbl string
		id  int64
	}
	fkCols := map[fkKey]int{}
	var buf []byte
	// Index CREATE statements come from sqlite_schema rows rather than a join per index: sqlite_schema
	// has no index on name, so a join would scan it once per index.
	indexSQL := map[string]string{}
	partial := map[string]bool{}
	for _, row := range all {
		if len(row) != 9 {
			return nil, fmt.Errorf("introspect: row of %d columns", len(row))
		}
		k, tbl, n := asInt(row[0]), asString(row[1]), nullString(row[2])
		s1, s2, s3 := nullString(row[3]), nullString(row[4]), nullString(row[5])
		i1, i2, i3 := nullInt(row[6]), nullInt(row[7]), nullInt(row[8])
		if k != 4 { // the registry's existence is not part of the user schema
			// Hand-rolled rather than fmt: this runs for every column of every table.
			buf = strconv.AppendInt(buf[:0], k, 10)
			buf = append(buf, 0)
			buf = append(buf, tbl...)
			buf = append(buf, 0)
			buf = append(buf, n.String...)
			for _, ns := range [...]sql.NullString{s1, s2, s3} {
				if ns.Valid {
					buf = append(buf, 1)
				} else {
					buf = append(buf, 2)
				}
				buf = append(buf, ns.String...)
			}
			for _, ni := range [...]int64{i1.Int64, i2.Int64, i3.Int64} {
				buf = append(buf, 0)
				buf = strconv.AppendInt(buf, ni, 10)
			}
			buf = append(buf, '\n')
			h.Write(buf)
		}
		switch k {
		case 0:
			t := get(tbl)
			c := column{Name: n.String, Type: strings.ToUpper(strings.TrimSpace(s1.String)), NotNull: i2.Int64 != 0, PK: i3.Int64 != 0}
			if s2.Valid {
				d := normaliseDefault(s2.String)
				c.Default = &d
			}
			t.Columns = append(t.Columns, c)
		case 1:
			t := get(tbl)
			origin := s1.String
			if origin != "c" {
				if s2.Valid {
					t.constraintCols[s2.String] = true
				}
				continue
			}
			ix, ok := t.index(n.String)
			if !ok {
				t.Indexes = append(t.Indexes, index{Name: n.String, Table: tbl, Unique: i1.Int64 != 0})
				ix = &t.Indexes[len(t.Indexes)-1]
				if i2.Int64 != 0 {
					partial[n.String] = true
				}
			}
			// An expression column has no name; keep a placeholder so the index never equals a desired one.
			col := s2.String
			if !s2.Valid {
				col = "<expr>"
			}
			ix.Columns = append(ix.Columns, col)
		case 2:
			t := get(tbl)
			key := fkKey{tbl, i1.Int64}
			fkCols[key]++
			if fkCols[key] > 1 {
				// Composite foreign keys are not something the engine creates; mark every column so
				// the table differs from any desired shape and gets rebuilt to the declared one.
				for i := range t.Columns {
					if t.Columns[i].Ref != nil && t.Columns[i].Ref.Table == s1.String {
						t.Columns[i].Ref.Column += "+"
					}
				}
			}
			if c, ok := t.column(n.String); ok {
				to := s2.String
				if !s2.Valid {
					to = "<pk>"
				}
				c.Ref = &foreignKey{Table: s1.String, Column: to, OnDelete: strings.ToUpper(s3.String)}
			}
		case 3:
			if s1.String == "index" {
				indexSQL[n.String] = s3.String
			} else if s1.String == "view" {
				s.Views = append(s.Views, namedSQL{Name: n.String, SQL: s3.String})
			} else if t := s.Tables[tbl]; t != nil && s1.String == "table" {
				t.sql = s3.String
			} else if t != nil {
				t.triggers = append(t.triggers, namedSQL{Name: n.String, SQL: s3.String})
			}
		case 4:
			s.HasRegistry = true
		case 5:
			s.HasRestorePoint = true
		}
	}
	for _, t := range s.Tables {
		for i := range t.Indexes {
			ix := &t.Indexes[i]
			ix.SQL = indexSQL[ix.Name]
			if partial[ix.Name] {
				ix.Where = partialWhere(ix.SQL)
			}
		}
		sort.Slice(t.Indexes, func(i, j int) bool { return t.Indexes[i].Name < t.Indexes[j].Name })
	}
	s.Fingerprint = hex.EncodeToString(h.Sum(nil))
	return s, nil
}

// normaliseDefault puts back the parentheses SQLite strips from an expression default: sqlite_schema
// keeps "DEFAULT (strftime(...))" but pragma_table_info reports "strftime(...)". Literals are reported
// verbatim. The result is the text the engine itself writes after DEFAULT, so fresh tables compare equal.
func normaliseDefault(d string) string {
	d = strings.TrimSpace(d)
	if isLiteral(d) {
		return d
	}
	return "(" + d + ")"
}

func isLiteral(d string) bool {
	switch strings.ToUpper(d) {
	case "NULL", "TRUE", "FALSE", "CURRENT_TIME", "CURRENT_DATE", "CURRENT_TIMESTAMP":
		return true
	}
	if _, err := strconv.ParseFloat(d, 64); err == nil {
		return true
	}
	if strings.HasPrefix(d, "0x") || strings.HasPrefix(d, "0X") {
		_, err := strconv.ParseInt(d[2:], 16, 64)
		return err == nil
	}
	body := d
	if len(d) > 2 && (d[0] == 'x' || d[0] == 'X') {
		body = d[1:]
	}
	if len(body) < 2 || body[0] != '\'' || body[len(body)-1] != '\'' {
		return false
	}
	inner := body[1 : len(body)-1]
	// Every quote inside a single literal is doubled.
	return !strings.Contains(strings.ReplaceAll(inner, "''", ""), "'")
}

// partialWhere extracts the WHERE clause of a partial index from its CREATE statement.
func partialWhere(createSQL string) string {
	i := strings.Index(strings.ToUpper(createSQL), ") WHERE ")
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(createSQL[i+len(") WHERE "):])
}
