package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// DatabaseConfiguration is a database's access and protection settings as the platform holds
// them (Turso: GET /databases/{db}/configuration).
type DatabaseConfiguration struct {
	BlockReads       bool
	BlockWrites      bool
	DeleteProtection bool
	// SizeLimitBytes is 0 when there is no limit.
	SizeLimitBytes int64
}

// ConfigurationReader is implemented by platforms that can report a database's configuration
// (both backends). It is optional so that the tenant lifecycle only reads it when asked: a
// refresh that manages none of these settings costs no Platform API call.
type ConfigurationReader interface {
	GetConfiguration(ctx context.Context, name string) (DatabaseConfiguration, error)
}

var (
	_ ConfigurationReader = (*Local)(nil)
	_ ConfigurationReader = (*Turso)(nil)
)

// GetConfiguration reads the sidecar.
func (l *Local) GetConfiguration(ctx context.Context, name string) (DatabaseConfiguration, error) {
	if err := ctx.Err(); err != nil {
		return DatabaseConfiguration{}, err
	}
	if err := ValidateName(name); err != nil {
		return DatabaseConfiguration{}, fmt.Errorf("get configuration: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := os.Stat(l.Path(name)); err != nil {
		if os.IsNotExist(err) {
			return DatabaseConfiguration{}, fmt.Errorf("get configuration of %s: %w", name, ErrNotFound)
		}
		return DatabaseConfiguration{}, fmt.Errorf("get configuration of %s: %w", name, err)
	}
	m, err := l.readMeta(name)
	if err != nil {
		return DatabaseConfiguration{}, fmt.Errorf("get configuration of %s: %w", name, err)
	}
	return DatabaseConfiguration{BlockReads: m.BlockReads, BlockWrites: m.BlockWrites, DeleteProtection: m.DeleteProtection, SizeLimitBytes: m.SizeLimitBytes}, nil
}

// GetConfiguration GETs /databases/{db}/configuration.
func (t *Turso) GetConfiguration(ctx context.Context, name string) (DatabaseConfiguration, error) {
	if err := ValidateName(name); err != nil {
		return DatabaseConfiguration{}, fmt.Errorf("get configuration: %w", err)
	}
	r, err := t.send(ctx, t.retrying, http.MethodGet, "/databases/"+name+"/configuration", nil, nil)
	if err != nil {
		return DatabaseConfiguration{}, fmt.Errorf("get configuration of %s: %w", name, err)
	}
	var body struct {
		SizeLimit        json.RawMessage `json:"size_limit"`
		BlockReads       bool            `json:"block_reads"`
		BlockWrites      bool            `json:"block_writes"`
		DeleteProtection bool            `json:"delete_protection"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		return DatabaseConfiguration{}, fmt.Errorf("get configuration of %s: decode response: %w", name, err)
	}
	limit, err := ParseSizeLimit(body.SizeLimit)
	if err != nil {
		return DatabaseConfiguration{}, fmt.Errorf("get configuration of %s: %w", name, err)
	}
	return DatabaseConfiguration{BlockReads: body.BlockReads, BlockWrites: body.BlockWrites, DeleteProtection: body.DeleteProtection, SizeLimitBytes: limit}, nil
}

var sizeLimitRE = regexp.MustCompile(`^(\d+)\s*(b|kb|mb|gb|tb)?$`)

// ParseSizeLimit reads Turso's size_limit: bytes as a JSON string or number, or a size such as
// "256mb" (decimal units). Empty, null and 0 mean no limit.
func ParseSizeLimit(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
			return 0, fmt.Errorf("size_limit %s: expected bytes or a size like \"256mb\"", raw)
		}
		return n, nil
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return 0, nil
	}
	m := sizeLimitRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("size_limit %q: expected bytes or a size like \"256mb\"", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size_limit %q: %w", s, err)
	}
	mult := map[string]int64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}[m[2]]
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size_limit %q: too large", s)
	}
	return n * mult, nil
}
