package platform

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// Errors of the group calls, wrapped like the database ones so callers branch with errors.Is.
var (
	ErrGroupNotFound      = errors.New("group not found")
	ErrGroupExists        = errors.New("group already exists")
	ErrGroupNotEmpty      = errors.New("group still has databases")
	ErrInvalidLocation    = errors.New("invalid location")
	ErrPrimaryLocation    = errors.New("the primary location cannot be removed")
	ErrDefaultGroupDelete = errors.New("the default group cannot be deleted")
)

// Group is a Turso group: databases that share a primary location, replica locations and signing
// keys, so one group token opens every database in it. The local backend keeps the same record
// (a folder per group) so configurations move between backends unchanged.
type Group struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
	// Primary is the location the group's databases are written in.
	Primary string `json:"primary"`
	// Locations is every location of the group, the primary first, the others sorted.
	Locations        []string `json:"locations"`
	DeleteProtection bool     `json:"deleteProtection"`
}

// GroupOptions creates a group.
type GroupOptions struct {
	Name string
	// Location is the primary location; empty means the backend's default.
	Location string
}

// GroupConfiguration is what can change on an existing group; a nil field is left as it is.
type GroupConfiguration struct {
	DeleteProtection *bool
}

// Groups is implemented by platforms that manage groups (both backends). It is separate from
// Platform so the tenant lifecycle, which only needs databases, does not depend on it.
type Groups interface {
	// CreateGroup returns an error wrapping ErrGroupExists (with the existing group) when the name is taken.
	CreateGroup(ctx context.Context, opts GroupOptions) (*Group, error)
	// GetGroup returns an error wrapping ErrGroupNotFound when there is no such group.
	GetGroup(ctx context.Context, name string) (*Group, error)
	ListGroups(ctx context.Context) ([]Group, error)
	// DeleteGroup fails with ErrGroupNotEmpty while databases remain and with ErrDeleteProtected
	// while delete_protection is on; a group already gone is success.
	DeleteGroup(ctx context.Context, name string) error
	// AddLocation and RemoveLocation change the group's replica locations and return the group.
	AddLocation(ctx context.Context, group, location string) (*Group, error)
	RemoveLocation(ctx context.Context, group, location string) (*Group, error)
	ConfigureGroup(ctx context.Context, name string, cfg GroupConfiguration) (*Group, error)
	// Locations maps every location id the platform offers to its description.
	Locations(ctx context.Context) (map[string]string, error)
	// CreateGroupToken mints a token that opens every database of the group (Turso's group
	// token); nothing outside the group accepts it. Local tokens are empty, as for databases.
	CreateGroupToken(ctx context.Context, group string, opts TokenOptions) (Token, error)
	// RotateGroupTokens invalidates every group token of the group and every database token of
	// its databases: its blast radius is the whole group.
	RotateGroupTokens(ctx context.Context, group string) error
}

// GroupsOf returns p's group calls, or an error naming the backend when it has none.
func GroupsOf(p Platform) (Groups, error) {
	g, ok := p.(Groups)
	if !ok {
		return nil, fmt.Errorf("the %s backend does not manage groups", p.Kind())
	}
	return g, nil
}

// localLocations is what the local backend offers: one location, since every file is on this
// machine, plus Turso's ids so a configuration written for Turso validates locally too.
var localLocations = map[string]string{
	"local":              "This machine",
	"aws-ap-northeast-1": "AWS AP NorthEast (Tokyo)",
	"aws-ap-south-1":     "AWS AP South (Mumbai)",
	"aws-eu-west-1":      "AWS EU West (Ireland)",
	"aws-us-east-1":      "AWS US East (Virginia)",
	"aws-us-east-2":      "AWS US East (Ohio)",
	"aws-us-west-2":      "AWS US West (Oregon)",
}

// sortLocations puts primary first and the rest sorted, without duplicates.
func sortLocations(primary string, locs []string) []string {
	seen := map[string]bool{primary: true}
	rest := []string{}
	for _, l := range locs {
		if !seen[l] {
			seen[l] = true
			rest = append(rest, l)
		}
	}
	sort.Strings(rest)
	return append([]string{primary}, rest...)
}
