package devserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"
)

// Hrana v2 wire types (tursodatabase/libsql docs/HRANA_2_SPEC.md, HTTP_V2_SPEC.md).

type pipelineRequest struct {
	Baton    *string         `json:"baton"`
	Requests []streamRequest `json:"requests"`
}

type streamRequest struct {
	Type  string  `json:"type"`
	Stmt  *stmt   `json:"stmt,omitempty"`
	Batch *batch  `json:"batch,omitempty"`
	SQL   *string `json:"sql,omitempty"`
	SQLID *int32  `json:"sql_id,omitempty"`
}

type stmt struct {
	SQL       *string      `json:"sql"`
	SQLID     *int32       `json:"sql_id"`
	Args      []hranaValue `json:"args"`
	NamedArgs []namedArg   `json:"named_args"`
	WantRows  *bool        `json:"want_rows"`
}

type namedArg struct {
	Name  string     `json:"name"`
	Value hranaValue `json:"value"`
}

type batch struct {
	Steps []batchStep `json:"steps"`
}

type batchStep struct {
	Condition *batchCond `json:"condition"`
	Stmt      stmt       `json:"stmt"`
}

type batchCond struct {
	Type  string      `json:"type"`
	Step  *int        `json:"step"`
	Cond  *batchCond  `json:"cond"`
	Conds []batchCond `json:"conds"`
}

// hranaValue is a Hrana Value on input. value is kept raw because integers arrive as strings
// and floats as numbers; libsql-client-go omits "value" when it is empty (omitempty), so a
// missing value means the type's zero value.
type hranaValue struct {
	Type   string          `json:"type"`
	Value  json.RawMessage `json:"value"`
	Base64 *string         `json:"base64"`
}

func (v hranaValue) toSQL() (sqlValue, error) {
	switch v.Type {
	case "null":
		return sqlValue{kind: sqlite3.SQLITE_NULL}, nil
	case "integer":
		if len(v.Value) == 0 {
			return sqlValue{kind: sqlite3.SQLITE_INTEGER}, nil
		}
		var s string
		if err := json.Unmarshal(v.Value, &s); err != nil {
			// Be lenient with clients that send a JSON number.
			var n json.Number
			if err2 := json.Unmarshal(v.Value, &n); err2 != nil {
				return sqlValue{}, fmt.Errorf("integer value must be a string of digits")
			}
			s = n.String()
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return sqlValue{}, fmt.Errorf("invalid integer value %q", s)
		}
		return sqlValue{kind: sqlite3.SQLITE_INTEGER, i: i}, nil
	case "float":
		if len(v.Value) == 0 {
			return sqlValue{kind: sqlite3.SQLITE_FLOAT}, nil
		}
		var f float64
		if err := json.Unmarshal(v.Value, &f); err != nil {
			var s string
			if err2 := json.Unmarshal(v.Value, &s); err2 != nil {
				return sqlValue{}, fmt.Errorf("invalid float value")
			}
			if f, err = strconv.ParseFloat(s, 64); err != nil {
				return sqlValue{}, fmt.Errorf("invalid float value %q", s)
			}
		}
		return sqlValue{kind: sqlite3.SQLITE_FLOAT, f: f}, nil
	case "text":
		var s string
		if len(v.Value) != 0 {
			if err := json.Unmarshal(v.Value, &s); err != nil {
				return sqlValue{}, fmt.Errorf("text value must be a string")
			}
		}
		return sqlValue{kind: sqlite3.SQLITE_TEXT, s: s}, nil
	case "blob":
		b := []byte{}
		if v.Base64 != nil {
			// sqld accepts padded input and emits unpadded; accept both.
			var err error
			b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(*v.Base64, "="))
			if err != nil {
				return sqlValue{}, fmt.Errorf("invalid base64 in blob value")
			}
		}
		return sqlValue{kind: sqlite3.SQLITE_BLOB, b: b}, nil
	default:
		return sqlValue{}, fmt.Errorf("unknown value type %q", v.Type)
	}
}

// appendValue writes a SQLite value in Hrana JSON form (§2.3 of the research notes):
// integers as strings, floats as numbers, blobs as unpadded standard base64.
func appendValue(buf *bytes.Buffer, v sqlValue) {
	switch v.kind {
	case sqlite3.SQLITE_INTEGER:
		buf.WriteString(`{"type":"integer","value":"`)
		buf.WriteString(strconv.FormatInt(v.i, 10))
		buf.WriteString(`"}`)
	case sqlite3.SQLITE_FLOAT:
		if math.IsInf(v.f, 0) || math.IsNaN(v.f) {
			// JSON has no infinities; null keeps the response parseable.
			buf.WriteString(`{"type":"float","value":null}`)
			return
		}
		buf.WriteString(`{"type":"float","value":`)
		b, _ := json.Marshal(v.f)
		buf.Write(b)
		buf.WriteString(`}`)
	case sqlite3.SQLITE_TEXT:
		buf.WriteString(`{"type":"text","value":`)
		writeJSONString(buf, v.s)
		buf.WriteString(`}`)
	case sqlite3.SQLITE_BLOB:
		buf.WriteString(`{"type":"blob","base64":"`)
		buf.WriteString(base64.RawStdEncoding.EncodeToString(v.b))
		buf.WriteString(`"}`)
	default:
		buf.WriteString(`{"type":"null"}`)
	}
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	buf.Write(b)
}

// hranaError is a Hrana Error {message, code}.
type hranaError struct {
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

func (e *hranaError) Error() string { return e.Message }

func protoErr(code, format string, a ...any) *hranaError {
	return &hranaError{Message: fmt.Sprintf(format, a...), Code: code}
}

// toHranaError converts an execution error into the wire form sqld uses.
func toHranaError(err error) *hranaError {
	var he *hranaError
	if errors.As(err, &he) {
		return he
	}
	var se *sqliteError
	if errors.As(err, &se) {
		code := codeName(se.code)
		if se.code&0xff == sqlite3.SQLITE_ERROR && strings.Contains(se.msg, "syntax error") {
			code = "SQL_PARSE_ERROR"
		}
		return &hranaError{Message: "SQLite error: " + se.msg, Code: code}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &hranaError{Message: "SQLite error: interrupted", Code: "SQLITE_INTERRUPT"}
	}
	return &hranaError{Message: err.Error(), Code: "SQL_INPUT_ERROR"}
}

// stmtResult is a finished statement, already encoded as a Hrana StmtResult object.
type stmtResult struct {
	json        []byte
	rowsRead    int64
	rowsWritten int64
}

// access says what the stream's current token and database configuration allow.
type access struct {
	readOnlyToken bool
	blockWrites   bool
	blockReads    bool
	// budget accounts the pipeline's results against the response limits (limits.go).
	budget *respBudget
}

// execStmt runs one Hrana Stmt on c. sql is the resolved SQL text (from sql or sql_id).
func execStmt(ctx context.Context, c *sqliteConn, sql string, st *stmt, acc access) (*stmtResult, error) {
	if len(st.Args) > 0 && len(st.NamedArgs) > 0 {
		return nil, protoErr("ARGS_BOTH_POSITIONAL_AND_NAMED", "Statement has both positional and named arguments")
	}
	if acc.blockReads {
		return nil, protoErr("BLOCKED", "Reads are blocked for this database (block_reads is enabled)")
	}
	kw := leadingKeyword(sql)
	// What the statement may touch is SQLite's decision (guard.go); the keyword only tells the
	// guard that a VACUUM may attach its own temporary copy.
	if err := c.beginClient(ctx, acc.readOnlyToken, kw == "VACUUM"); err != nil {
		return nil, err
	}
	defer c.endClient()
	p, err := c.prepare(sql)
	if err != nil {
		return nil, c.refusal(err)
	}
	if p.stmt == 0 {
		return nil, protoErr("SQL_NO_STATEMENT", "SQL string does not contain any statement")
	}
	defer c.finalize(p.stmt)
	if rest := sql[p.tail:]; strings.TrimSpace(strings.ReplaceAll(rest, ";", "")) != "" {
		if q, err := c.prepare(rest); err != nil || q.stmt != 0 {
			c.finalize(q.stmt)
			return nil, protoErr("SQL_MANY_STATEMENTS", "SQL string contains more than one statement")
		}
	}
	if !c.readonly(p.stmt) {
		switch {
		case acc.blockWrites:
			return nil, protoErr("BLOCKED", "Writes are blocked for this database (block_writes is enabled)")
		case acc.readOnlyToken:
			return nil, protoErr("SQLITE_READONLY", "SQLite error: attempt to write a readonly database (the token is read-only)")
		}
	}
	// Connections are pooled between streams; one whose settings or temp schema a client
	// changed is closed when its stream ends instead. Schema-query pragmas (table_info(t))
	// are frequent and harmless, so only assignments (either spelling) count.
	switch {
	case kw == "PRAGMA" && foreignKeysAssignment.MatchString(sql):
		// Every migration batch switches enforcement off before BEGIN: restore it on release and keep the
		// connection, rather than paying a close (a WAL checkpoint) and an open per batch.
		c.resetForeignKeys = true
	case (kw == "PRAGMA" && pragmaAssigns(sql)) || (kw == "CREATE" && containsWord(sql, "TEMP", "TEMPORARY")):
		c.dirty = true
	}

	if len(st.Args) > 0 {
		if n := c.paramCount(p.stmt); len(st.Args) > n {
			return nil, protoErr("ARGS_INVALID", "Statement takes %d arguments, %d were given", n, len(st.Args))
		}
		for i, a := range st.Args {
			v, err := a.toSQL()
			if err != nil {
				return nil, protoErr("ARGS_INVALID", "argument %d: %v", i+1, err)
			}
			if err := c.bind(p.stmt, i+1, v); err != nil {
				return nil, err
			}
		}
	}
	for _, a := range st.NamedArgs {
		v, err := a.Value.toSQL()
		if err != nil {
			return nil, protoErr("ARGS_INVALID", "argument %q: %v", a.Name, err)
		}
		if idx := c.paramIndex(p.stmt, a.Name); idx > 0 {
			if err := c.bind(p.stmt, idx, v); err != nil {
				return nil, err
			}
		}
	}

	wantRows := st.WantRows == nil || *st.WantRows
	cols := c.columns(p.stmt)
	var buf bytes.Buffer
	buf.WriteString(`{"cols":[`)
	for i, col := range cols {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"name":`)
		writeJSONString(&buf, col.name)
		buf.WriteString(`,"decltype":`)
		if col.decltype == nil {
			buf.WriteString("null")
		} else {
			writeJSONString(&buf, *col.decltype)
		}
		buf.WriteByte('}')
	}
	buf.WriteString(`],"rows":[`)

	before := c.totalChanges()
	stop := c.watch(ctx)
	var rows int64
	for {
		row, err := c.step(p.stmt)
		if err != nil {
			stop()
			if ctx.Err() != nil {
				return nil, &hranaError{Message: "SQLite error: interrupted: " + ctx.Err().Error(), Code: "SQLITE_INTERRUPT"}
			}
			return nil, c.refusal(err)
		}
		if !row {
			break
		}
		rows++
		if !wantRows {
			continue
		}
		if rows > 1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('[')
		for i := range cols {
			if i > 0 {
				buf.WriteByte(',')
			}
			c.appendColumn(&buf, p.stmt, i)
		}
		buf.WriteByte(']')
		if !acc.budget.fits(buf.Len()) {
			stop()
			return nil, responseTooLarge(acc.budget)
		}
	}
	stop()
	// sqlite3_changes keeps the count of the last INSERT/UPDATE/DELETE, so a SELECT or DDL
	// would repeat it; total_changes moves only when this statement changed rows.
	var affected int64
	lastRowID := "null"
	if c.totalChanges() != before {
		affected = c.changes()
		lastRowID = `"` + strconv.FormatInt(c.lastInsertRowID(), 10) + `"`
	}
	buf.WriteString(`],"affected_row_count":`)
	buf.WriteString(strconv.FormatInt(affected, 10))
	buf.WriteString(`,"last_insert_rowid":`)
	buf.WriteString(lastRowID)
	buf.WriteString(`,"replication_index":null}`)
	return &stmtResult{json: buf.Bytes(), rowsRead: rows, rowsWritten: affected}, nil
}

// refusal turns an error caused by the authorizer into one that says why; other errors pass.
func (c *sqliteConn) refusal(err error) error {
	switch reason, readOnly := c.deniedReason(); {
	case readOnly:
		return protoErr("SQLITE_READONLY", "SQLite error: attempt to write a readonly database (%s)", reason)
	case reason != "":
		return protoErr("SQLITE_AUTH", "SQLite error: not authorized: %s", reason)
	}
	return err
}

// maxResponseBytes bounds the encoded results of one pipeline (sqld has RESPONSE_TOO_LARGE too).
const maxResponseBytes = 32 << 20

// leadingKeyword returns the first SQL keyword, upper-cased, skipping whitespace and comments.
func leadingKeyword(sql string) string {
	s := sql
	for {
		s = strings.TrimLeft(s, " \t\r\n\f;")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s[2:], "*/")
			if i < 0 {
				return ""
			}
			s = s[i+4:]
		default:
			end := 0
			for end < len(s) && (s[end] == '_' || s[end] >= 'a' && s[end] <= 'z' || s[end] >= 'A' && s[end] <= 'Z') {
				end++
			}
			return strings.ToUpper(s[:end])
		}
	}
}

// queryPragmas take an argument in function form, name(arg), without changing the connection.
var queryPragmas = map[string]bool{
	"table_info": true, "table_xinfo": true, "table_list": true, "index_info": true, "index_xinfo": true,
	"index_list": true, "foreign_key_list": true, "foreign_key_check": true, "integrity_check": true,
	"quick_check": true,
}

// pragmaAssigns reports whether a PRAGMA may set something: "name = value", or the function
// form "name(value)" (query_only(1) changes the connection just as query_only = 1 does) unless
// name is a known query. Unparseable names count as assignments: the cost is one connection.
// foreignKeysAssignment is "PRAGMA foreign_keys = ON|OFF|…", the one connection setting the pool restores.
var foreignKeysAssignment = regexp.MustCompile(`(?i)^\s*PRAGMA\s+(main\.)?foreign_keys\s*=\s*(on|off|true|false|yes|no|0|1)\s*;?\s*$`)

func pragmaAssigns(sql string) bool {
	if strings.Contains(sql, "=") {
		return true
	}
	open := strings.IndexByte(sql, '(')
	if open < 0 {
		return false
	}
	head := strings.TrimRight(sql[:open], " \t\r\n\f")
	start := len(head)
	for start > 0 && (head[start-1] == '_' || head[start-1] >= 'a' && head[start-1] <= 'z' ||
		head[start-1] >= 'A' && head[start-1] <= 'Z' || head[start-1] >= '0' && head[start-1] <= '9') {
		start--
	}
	return !queryPragmas[strings.ToLower(head[start:])]
}

func containsWord(sql string, words ...string) bool {
	f := strings.FieldsFunc(strings.ToUpper(sql), func(r rune) bool {
		return !(r == '_' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
	for _, w := range f {
		for _, x := range words {
			if w == x {
				return true
			}
		}
	}
	return false
}

// evalCond evaluates a batch condition against the outcomes of earlier steps.
// ok[i]/failed[i] say whether step i succeeded/failed (both false when it was skipped).
func evalCond(c *batchCond, cur int, ok, failed []bool, autocommit func() bool) (bool, error) {
	switch c.Type {
	case "ok", "error":
		if c.Step == nil {
			return false, fmt.Errorf("condition %q needs a step", c.Type)
		}
		s := *c.Step
		if s < 0 || s >= cur {
			return false, fmt.Errorf("condition refers to step %d, which is not before step %d", s, cur)
		}
		if c.Type == "ok" {
			return ok[s], nil
		}
		return failed[s], nil
	case "not":
		if c.Cond == nil {
			return false, errors.New(`condition "not" needs "cond"`)
		}
		v, err := evalCond(c.Cond, cur, ok, failed, autocommit)
		return !v, err
	case "and", "or":
		for i := range c.Conds {
			v, err := evalCond(&c.Conds[i], cur, ok, failed, autocommit)
			if err != nil {
				return false, err
			}
			if c.Type == "and" && !v {
				return false, nil
			}
			if c.Type == "or" && v {
				return true, nil
			}
		}
		return c.Type == "and", nil
	case "is_autocommit":
		// Hrana 3 only; cheap to support, and harmless for v2 clients that never send it.
		return autocommit(), nil
	default:
		return false, fmt.Errorf("unknown condition type %q", c.Type)
	}
}
