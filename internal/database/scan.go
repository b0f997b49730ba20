package database

import (
	"fmt"
	"strconv"
)

// Row is one row of a batch Result with database/sql's Scan shape, so code that scans *sql.Rows (through a
// `Scan(dest ...any) error` interface) reads batched results with the same function.
type Row []any

// Scan copies the row's values into dest: *string, *int64, *int, *bool, *float64, *[]byte or *any. A NULL
// fits only *any and *[]byte, as with database/sql, so a NOT NULL column that comes back NULL is an error
// rather than a silent zero value.
func (r Row) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("scan: %d destination(s) for %d column(s)", len(dest), len(r))
	}
	for i, d := range dest {
		if err := assign(d, r[i]); err != nil {
			return fmt.Errorf("scan column %d: %w", i, err)
		}
	}
	return nil
}

func assign(dest, v any) error {
	switch d := dest.(type) {
	case *any:
		*d = v
		return nil
	case *[]byte:
		switch x := v.(type) {
		case nil:
			*d = nil
		case []byte:
			*d = append([]byte(nil), x...)
		case string:
			*d = []byte(x)
		default:
			*d = []byte(fmt.Sprint(x))
		}
		return nil
	}
	if v == nil {
		return fmt.Errorf("NULL into %T", dest)
	}
	switch d := dest.(type) {
	case *string:
		switch x := v.(type) {
		case string:
			*d = x
		case []byte:
			*d = string(x)
		case int64:
			*d = strconv.FormatInt(x, 10)
		case float64:
			*d = strconv.FormatFloat(x, 'g', -1, 64)
		default:
			return fmt.Errorf("%T into *string", v)
		}
	case *int64:
		n, err := toInt(v)
		if err != nil {
			return err
		}
		*d = n
	case *int:
		n, err := toInt(v)
		if err != nil {
			return err
		}
		*d = int(n)
	case *bool:
		n, err := toInt(v)
		if err != nil {
			return err
		}
		*d = n != 0
	case *float64:
		switch x := v.(type) {
		case float64:
			*d = x
		case int64:
			*d = float64(x)
		case string:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return err
			}
			*d = f
		default:
			return fmt.Errorf("%T into *float64", v)
		}
	default:
		return fmt.Errorf("unsupported destination %T", dest)
	}
	return nil
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		if x != float64(int64(x)) {
			return 0, fmt.Errorf("%v is not an integer", x)
		}
		return int64(x), nil
	case string:
		return strconv.ParseInt(x, 10, 64)
	case []byte:
		return strconv.ParseInt(string(x), 10, 64)
	}
	return 0, fmt.Errorf("%T into an integer", v)
}
