package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// The local backend keeps a group as a folder, <dataDir>/groups/<name>/, holding group.json (the
// record Turso would keep). Databases stay in <dataDir>/databases (names are unique across groups,
// as on Turso) and name their group in their sidecar. The default group always exists and has no
// folder until it is configured.

// localDefaultLocation is the primary location of local groups created without one.
const localDefaultLocation = "local"

type localGroupMeta struct {
	UUID             string    `json:"uuid"`
	Primary          string    `json:"primary"`
	Locations        []string  `json:"locations"`
	DeleteProtection bool      `json:"deleteProtection"`
	CreatedAt        time.Time `json:"createdAt"`
}

var _ Groups = (*Local)(nil)

func (l *Local) groupsDir() string { return filepath.Join(filepath.Dir(l.dir), "groups") }

func (l *Local) groupFile(name string) string {
	return filepath.Join(l.groupsDir(), name, "group.json")
}

// readGroup returns the group's record; the default group exists without one. The caller holds l.mu.
func (l *Local) readGroup(name string) (localGroupMeta, error) {
	b, err := os.ReadFile(l.groupFile(name))
	if errors.Is(err, fs.ErrNotExist) {
		if name == DefaultGroup {
			return localGroupMeta{UUID: "00000000-0000-4000-8000-000000000000", Primary: localDefaultLocation, Locations: []string{localDefaultLocation}}, nil
		}
		return localGroupMeta{}, ErrGroupNotFound
	}
	if err != nil {
		return localGroupMeta{}, err
	}
	var m localGroupMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", l.groupFile(name), err)
	}
	return m, nil
}

// writeGroup replaces the group's record atomically. The caller holds l.mu.
func (l *Local) writeGroup(name string, m localGroupMeta) error {
	dir := filepath.Dir(l.groupFile(name))
	if err := database.PrivateDir(dir); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".group.json.*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), l.groupFile(name))
}

func groupFromMeta(name string, m localGroupMeta) *Group {
	return &Group{Name: name, UUID: m.UUID, Primary: m.Primary, Locations: sortLocations(m.Primary, m.Locations), DeleteProtection: m.DeleteProtection}
}

func checkLocalLocation(loc string) error {
	if _, ok := localLocations[loc]; !ok {
		return fmt.Errorf("%w: %s", ErrInvalidLocation, loc)
	}
	return nil
}

// CreateGroup makes the group's folder; a folder that exists already means the group does.
func (l *Local) CreateGroup(ctx context.Context, opts GroupOptions) (*Group, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateName(opts.Name); err != nil {
		return nil, fmt.Errorf("create group: %w", err)
	}
	loc := opts.Location
	if loc == "" {
		loc = localDefaultLocation
	}
	if err := checkLocalLocation(loc); err != nil {
		return nil, fmt.Errorf("create group %s: %w", opts.Name, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if m, err := l.readGroup(opts.Name); err == nil {
		return groupFromMeta(opts.Name, m), fmt.Errorf("create group %s: %w", opts.Name, ErrGroupExists)
	} else if !errors.Is(err, ErrGroupNotFound) {
		return nil, fmt.Errorf("create group %s: %w", opts.Name, err)
	}
	m := localGroupMeta{UUID: newUUID(), Primary: loc, Locations: []string{loc}, CreatedAt: time.Now().UTC()}
	if err := l.writeGroup(opts.Name, m); err != nil {
		_ = os.RemoveAll(filepath.Dir(l.groupFile(opts.Name))) // nothing half-created
		return nil, fmt.Errorf("create group %s: %w", opts.Name, err)
	}
	return groupFromMeta(opts.Name, m), nil
}

// GetGroup returns the group or ErrGroupNotFound.
func (l *Local) GetGroup(ctx context.Context, name string) (*Group, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateName(name); err != nil {
		return nil, fmt.Errorf("get group: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	m, err := l.readGroup(name)
	if err != nil {
		return nil, fmt.Errorf("get group %s: %w", name, err)
	}
	return groupFromMeta(name, m), nil
}

// ListGroups lists the default group and every group folder, sorted by name.
func (l *Local) ListGroups(ctx context.Context) ([]Group, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	names := map[string]bool{DefaultGroup: true}
	entries, err := os.ReadDir(l.groupsDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && ValidateName(e.Name()) == nil {
			names[e.Name()] = true
		}
	}
	out := []Group{}
	for n := range names {
		m, err := l.readGroup(n)
		if errors.Is(err, ErrGroupNotFound) {
			continue // a folder without its record: deleted half-way
		}
		if err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		out = append(out, *groupFromMeta(n, m))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteGroup removes the group's folder once no database names the group.
func (l *Local) DeleteGroup(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	m, err := l.readGroup(name)
	if errors.Is(err, ErrGroupNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete group %s: %w", name, err)
	}
	if name == DefaultGroup {
		return fmt.Errorf("delete group %s: %w", name, ErrDefaultGroupDelete)
	}
	if m.DeleteProtection {
		return fmt.Errorf("delete group %s: %w; set delete_protection = false first", name, ErrDeleteProtected)
	}
	members, err := l.databasesInGroup(name)
	if err != nil {
		return fmt.Errorf("delete group %s: %w", name, err)
	}
	if len(members) > 0 {
		return fmt.Errorf("delete group %s: %w (%s); delete them first", name, ErrGroupNotEmpty, strings.Join(members, ", "))
	}
	if err := os.RemoveAll(filepath.Dir(l.groupFile(name))); err != nil {
		return fmt.Errorf("delete group %s: %w", name, err)
	}
	return nil
}

// databasesInGroup names the databases whose sidecar names group. The caller holds l.mu.
func (l *Local) databasesInGroup(group string) ([]string, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".db")
		if !ok || e.IsDir() || ValidateName(name) != nil {
			continue
		}
		m, err := l.readMeta(name)
		if err != nil {
			return nil, err
		}
		if m.Group == group {
			out = append(out, name)
		}
	}
	return out, nil
}

func (l *Local) changeGroup(ctx context.Context, op, name string, fn func(*localGroupMeta) error) (*Group, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateName(name); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	m, err := l.readGroup(name)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, name, err)
	}
	if err := fn(&m); err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, name, err)
	}
	if err := l.writeGroup(name, m); err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, name, err)
	}
	return groupFromMeta(name, m), nil
}

// AddLocation records a replica location (files do not replicate; the record keeps the
// configuration portable to Turso).
func (l *Local) AddLocation(ctx context.Context, group, location string) (*Group, error) {
	if err := checkLocalLocation(location); err != nil {
		return nil, fmt.Errorf("add location to group %s: %w", group, err)
	}
	return l.changeGroup(ctx, "add location to group", group, func(m *localGroupMeta) error {
		m.Locations = sortLocations(m.Primary, append(m.Locations, location))
		return nil
	})
}

// RemoveLocation drops a replica location; the primary cannot be removed.
func (l *Local) RemoveLocation(ctx context.Context, group, location string) (*Group, error) {
	return l.changeGroup(ctx, "remove location from group", group, func(m *localGroupMeta) error {
		if location == m.Primary {
			return fmt.Errorf("%w (%s)", ErrPrimaryLocation, location)
		}
		var keep []string
		for _, x := range m.Locations {
			if x != location {
				keep = append(keep, x)
			}
		}
		m.Locations = sortLocations(m.Primary, keep)
		return nil
	})
}

// ConfigureGroup sets the group's delete_protection.
func (l *Local) ConfigureGroup(ctx context.Context, name string, cfg GroupConfiguration) (*Group, error) {
	return l.changeGroup(ctx, "configure group", name, func(m *localGroupMeta) error {
		if cfg.DeleteProtection != nil {
			m.DeleteProtection = *cfg.DeleteProtection
		}
		return nil
	})
}

// Locations lists what the local backend accepts.
func (l *Local) Locations(ctx context.Context) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(localLocations))
	for k, v := range localLocations {
		out[k] = v
	}
	return out, nil
}

// CreateGroupToken returns an empty token, as CreateToken does: files have no server to check it.
func (l *Local) CreateGroupToken(ctx context.Context, group string, opts TokenOptions) (Token, error) {
	if _, err := l.GetGroup(ctx, group); err != nil {
		return Token{}, fmt.Errorf("create group token: %w", err)
	}
	if err := validateTokenOptions(opts); err != nil {
		return Token{}, fmt.Errorf("create group token for %s: %w", group, err)
	}
	return Token{}, nil
}

// RotateGroupTokens checks the group exists; local tokens carry nothing to rotate.
func (l *Local) RotateGroupTokens(ctx context.Context, group string) error {
	if _, err := l.GetGroup(ctx, group); err != nil {
		return fmt.Errorf("rotate group tokens: %w", err)
	}
	return nil
}
