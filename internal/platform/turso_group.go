package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

var _ Groups = (*Turso)(nil)

// groupSentinel maps a Platform API answer about a group to this package's errors by status and
// body text (Turso's bodies are {"error": "group not found"} and the like), keeping the APIError
// inside for its message.
func groupSentinel(err error) error {
	var api *APIError
	if !errors.As(err, &api) {
		return err
	}
	text := strings.ToLower(api.Message)
	switch {
	case strings.Contains(text, "delete protection") || strings.Contains(text, "delete_protection"):
		return fmt.Errorf("%w: %w", ErrDeleteProtected, err)
	case api.Status == http.StatusConflict || strings.Contains(text, "already exists"):
		return fmt.Errorf("%w: %w", ErrGroupExists, err)
	case strings.Contains(text, "invalid location"):
		return fmt.Errorf("%w: %w", ErrInvalidLocation, err)
	case strings.Contains(text, "still has databases") || strings.Contains(text, "not empty"):
		return fmt.Errorf("%w: %w", ErrGroupNotEmpty, err)
	case strings.Contains(text, "primary location"):
		return fmt.Errorf("%w: %w", ErrPrimaryLocation, err)
	case strings.Contains(text, "default group"):
		return fmt.Errorf("%w: %w", ErrDefaultGroupDelete, err)
	case api.Status == http.StatusNotFound || strings.Contains(text, "group not found"):
		return fmt.Errorf("%w: %w", ErrGroupNotFound, err)
	}
	return err
}

// decodeGroup reads {"group": Group}; "locations" is deprecated upstream but still sent, and
// the primary comes first when it is missing there.
func decodeGroup(body []byte) (*Group, error) {
	var env struct {
		Group *struct {
			Name             string   `json:"name"`
			UUID             string   `json:"uuid"`
			Primary          string   `json:"primary"`
			Locations        []string `json:"locations"`
			DeleteProtection bool     `json:"delete_protection"`
		} `json:"group"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("decode group: %w", err)
	}
	if env.Group == nil || env.Group.Name == "" {
		return nil, errors.New("decode group: no group object")
	}
	g := env.Group
	return &Group{Name: g.Name, UUID: g.UUID, Primary: g.Primary, Locations: sortLocations(g.Primary, g.Locations), DeleteProtection: g.DeleteProtection}, nil
}

// CreateGroup POSTs /groups {name, location}. Like database creation it is sent once per attempt
// and a lost answer is resolved by looking the group up, so a retry never reports "exists" for
// the group it created itself.
func (t *Turso) CreateGroup(ctx context.Context, opts GroupOptions) (*Group, error) {
	if err := ValidateName(opts.Name); err != nil {
		return nil, fmt.Errorf("create group: %w", err)
	}
	body := map[string]any{"name": opts.Name}
	if opts.Location != "" {
		body["location"] = opts.Location
	}
	for attempt := 0; ; attempt++ {
		r, err := t.send(ctx, t.single, http.MethodPost, "/groups", nil, body)
		if err == nil {
			g, perr := decodeGroup(r.body)
			if perr != nil {
				return nil, fmt.Errorf("create group %s: %w", opts.Name, perr)
			}
			return g, nil
		}
		err = groupSentinel(err)
		if errors.Is(err, ErrGroupExists) {
			g, gerr := t.GetGroup(ctx, opts.Name)
			if gerr != nil {
				return nil, fmt.Errorf("create group %s: exists, but reading it failed: %w", opts.Name, gerr)
			}
			return g, fmt.Errorf("create group %s: %w", opts.Name, err)
		}
		if !retryable(ctx, r, err) || attempt >= t.maxRetries {
			return nil, fmt.Errorf("create group %s: %w", opts.Name, err)
		}
		if g, gerr := t.GetGroup(ctx, opts.Name); gerr == nil {
			return g, nil
		}
		if serr := sleep(ctx, t.backoff(t.waitMin, t.waitMax, attempt, nil)); serr != nil {
			return nil, fmt.Errorf("create group %s: %w (after: %v)", opts.Name, serr, err)
		}
	}
}

// GetGroup GETs /groups/{name}.
func (t *Turso) GetGroup(ctx context.Context, name string) (*Group, error) {
	if err := ValidateName(name); err != nil {
		return nil, fmt.Errorf("get group: %w", err)
	}
	r, err := t.send(ctx, t.retrying, http.MethodGet, "/groups/"+name, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("get group %s: %w", name, groupSentinel(err))
	}
	g, err := decodeGroup(r.body)
	if err != nil {
		return nil, fmt.Errorf("get group %s: %w", name, err)
	}
	return g, nil
}

// ListGroups GETs /groups.
func (t *Turso) ListGroups(ctx context.Context) ([]Group, error) {
	r, err := t.send(ctx, t.retrying, http.MethodGet, "/groups", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	var env struct {
		Groups []json.RawMessage `json:"groups"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil {
		return nil, fmt.Errorf("list groups: decode response: %w", err)
	}
	out := make([]Group, 0, len(env.Groups))
	for _, raw := range env.Groups {
		g, err := decodeGroup([]byte(`{"group":` + string(raw) + `}`))
		if err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		out = append(out, *g)
	}
	return out, nil
}

// DeleteGroup DELETEs /groups/{name}; a group already gone is success.
func (t *Turso) DeleteGroup(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	_, err := t.send(ctx, t.retrying, http.MethodDelete, "/groups/"+name, nil, nil)
	if err == nil {
		return nil
	}
	err = groupSentinel(err)
	if errors.Is(err, ErrGroupNotFound) {
		return nil
	}
	return fmt.Errorf("delete group %s: %w", name, err)
}

func (t *Turso) groupLocation(ctx context.Context, method, op, group, location string) (*Group, error) {
	if err := ValidateName(group); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if location == "" || strings.ContainsAny(location, "/?#") {
		return nil, fmt.Errorf("%s %s: %w: %q", op, group, ErrInvalidLocation, location)
	}
	r, err := t.send(ctx, t.retrying, method, "/groups/"+group+"/locations/"+url.PathEscape(location), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, group, groupSentinel(err))
	}
	g, err := decodeGroup(r.body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, group, err)
	}
	return g, nil
}

// AddLocation POSTs /groups/{g}/locations/{loc}: adding a location twice leaves one, so it is retried.
func (t *Turso) AddLocation(ctx context.Context, group, location string) (*Group, error) {
	return t.groupLocation(ctx, http.MethodPost, "add location to group", group, location)
}

// RemoveLocation DELETEs /groups/{g}/locations/{loc}.
func (t *Turso) RemoveLocation(ctx context.Context, group, location string) (*Group, error) {
	return t.groupLocation(ctx, http.MethodDelete, "remove location from group", group, location)
}

// ConfigureGroup PATCHes /groups/{g}/configuration {delete_protection} and returns the group.
func (t *Turso) ConfigureGroup(ctx context.Context, name string, cfg GroupConfiguration) (*Group, error) {
	if err := ValidateName(name); err != nil {
		return nil, fmt.Errorf("configure group: %w", err)
	}
	if cfg.DeleteProtection != nil {
		body := map[string]any{"delete_protection": *cfg.DeleteProtection}
		if _, err := t.send(ctx, t.retrying, http.MethodPatch, "/groups/"+name+"/configuration", nil, body); err != nil {
			return nil, fmt.Errorf("configure group %s: %w", name, groupSentinel(err))
		}
	}
	return t.GetGroup(ctx, name)
}

// Locations GETs /v1/locations (outside the organization).
func (t *Turso) Locations(ctx context.Context) (map[string]string, error) {
	// A path starting with /v1/ is sent outside the organization (see orgURL).
	r, err := t.send(ctx, t.retrying, http.MethodGet, "/v1/locations", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("list locations: %w", err)
	}
	var env struct {
		Locations map[string]string `json:"locations"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil {
		return nil, fmt.Errorf("list locations: decode response: %w", err)
	}
	return env.Locations, nil
}

// CreateGroupToken POSTs /groups/{g}/auth/tokens with the database token's query parameters.
func (t *Turso) CreateGroupToken(ctx context.Context, group string, opts TokenOptions) (Token, error) {
	return t.createToken(ctx, "create group token", "/groups/", group, opts, groupSentinel)
}

// RotateGroupTokens POSTs /groups/{g}/auth/rotate.
func (t *Turso) RotateGroupTokens(ctx context.Context, group string) error {
	if err := ValidateName(group); err != nil {
		return fmt.Errorf("rotate group tokens: %w", err)
	}
	if _, err := t.send(ctx, t.retrying, http.MethodPost, "/groups/"+group+"/auth/rotate", nil, nil); err != nil {
		return fmt.Errorf("rotate group tokens for %s: %w", group, groupSentinel(err))
	}
	return nil
}
