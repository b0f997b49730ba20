package devserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// This file is the group half of the Platform API beyond create/get/list/delete (platform.go):
// replica locations, group configuration (delete_protection), group tokens and their rotation,
// and the check that lets a group token open every database of its group and nothing else.
//
// A group token carries the group's uuid ("gid", as Turso's group tokens name their group) and the
// group's token generation instead of a database name. Rotating the group bumps the generation,
// which invalidates every group token; rotating one database's tokens does too, because on Turso
// a group's databases share its signing keys — that is the blast radius the tenant lifecycle
// reports when it suspends a tenant in a shared group.

const groupStateSchema = `
CREATE TABLE IF NOT EXISTS devserver_group_state (
	org               TEXT NOT NULL,
	name              TEXT NOT NULL,
	locations         TEXT NOT NULL DEFAULT '[]',
	delete_protection INTEGER NOT NULL DEFAULT 0,
	token_gen         INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (org, name)
);`

// groupState is what a group has beyond groupEntry: replica locations, delete protection and the
// token generation. Absent means the zero state. Guarded by Server.mu.
type groupState struct {
	locations        []string // replicas, not the primary
	deleteProtection bool
	gen              int64
}

// groupStates is keyed by groupKey; it lives beside Server.groups so the default group (which
// has no groupEntry) can have state too.
type groupStates map[string]*groupState

func (r *registry) loadGroupStates(ctx context.Context) (groupStates, error) {
	if _, err := r.db.ExecContext(ctx, groupStateSchema); err != nil {
		return nil, fmt.Errorf("create dev server group table: %w", err)
	}
	rows, err := r.db.QueryContext(ctx, `SELECT org, name, locations, delete_protection, token_gen FROM devserver_group_state`)
	if err != nil {
		return nil, fmt.Errorf("load dev server group state: %w", err)
	}
	defer rows.Close()
	out := groupStates{}
	for rows.Next() {
		var org, name, locs string
		st := &groupState{}
		if err := rows.Scan(&org, &name, &locs, &st.deleteProtection, &st.gen); err != nil {
			return nil, fmt.Errorf("load dev server group state: %w", err)
		}
		if err := json.Unmarshal([]byte(locs), &st.locations); err != nil {
			return nil, fmt.Errorf("load dev server group state %s: %w", name, err)
		}
		out[groupKey(org, name)] = st
	}
	return out, rows.Err()
}

func (r *registry) saveGroupState(ctx context.Context, org, name string, st groupState) error {
	locs, _ := json.Marshal(append([]string{}, st.locations...))
	_, err := r.db.ExecContext(ctx, `INSERT INTO devserver_group_state(org, name, locations, delete_protection, token_gen) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(org, name) DO UPDATE SET locations = excluded.locations, delete_protection = excluded.delete_protection, token_gen = excluded.token_gen`,
		org, name, string(locs), st.deleteProtection, st.gen)
	if err != nil {
		return fmt.Errorf("save group %s: %w", name, err)
	}
	return nil
}

func (r *registry) deleteGroupState(ctx context.Context, org, name string) error {
	if _, err := r.db.ExecContext(ctx, `DELETE FROM devserver_group_state WHERE org = ? AND name = ?`, org, name); err != nil {
		return fmt.Errorf("unregister group %s: %w", name, err)
	}
	return nil
}

// groupStateLocked returns a copy of the group's state. The caller holds s.mu.
func (s *Server) groupStateLocked(org, name string) groupState {
	if st := s.gstate[groupKey(org, name)]; st != nil {
		return groupState{locations: slices.Clone(st.locations), deleteProtection: st.deleteProtection, gen: st.gen}
	}
	return groupState{}
}

// setGroupStateLocked persists and installs st. The caller holds s.mu (write).
func (s *Server) setGroupStateLocked(ctx context.Context, org, name string, st groupState) error {
	if err := s.reg.saveGroupState(ctx, org, name, st); err != nil {
		return err
	}
	s.gstate[groupKey(org, name)] = &st
	return nil
}

// groupIdentityLocked is the group's uuid and primary location. The caller holds s.mu.
func (s *Server) groupIdentityLocked(org, name string) (uuid, primary string) {
	if g := s.groups[groupKey(org, name)]; g != nil {
		return g.uuid, g.location
	}
	return defaultGroupUUID(org), defaultLocation
}

func (s *Server) groupRoutes(mux *http.ServeMux) {
	const g = "/v1/organizations/{org}/groups/{group}"
	mux.HandleFunc("POST "+g+"/locations/{location}", s.apiAuth(s.addGroupLocation))
	mux.HandleFunc("DELETE "+g+"/locations/{location}", s.apiAuth(s.removeGroupLocation))
	mux.HandleFunc("GET "+g+"/configuration", s.apiAuth(s.getGroupConfiguration))
	mux.HandleFunc("PATCH "+g+"/configuration", s.apiAuth(s.patchGroupConfiguration))
	mux.HandleFunc("POST "+g+"/auth/tokens", s.apiAuth(s.createGroupToken))
	mux.HandleFunc("POST "+g+"/auth/rotate", s.apiAuth(s.rotateGroupTokens))
}

// pathGroupLocked returns the request path's group, answering Turso's 404 when it does not exist;
// s.mu is held (read or write) by the caller, so the group cannot vanish before the caller uses it.
func (s *Server) pathGroupLocked(w http.ResponseWriter, r *http.Request) (org, name string, ok bool) {
	org, name = r.PathValue("org"), r.PathValue("group")
	if !s.groupExistsLocked(org, name) {
		writeError(w, http.StatusNotFound, "group not found")
		return "", "", false
	}
	return org, name, true
}

// changeGroup runs fn on the path's group state under the write lock and saves it, answering
// Turso's 404 for a missing group.
func (s *Server) changeGroup(w http.ResponseWriter, r *http.Request, fn func(st *groupState, primary string) (int, string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	org, name, ok := s.pathGroupLocked(w, r)
	if !ok {
		return
	}
	_, primary := s.groupIdentityLocked(org, name)
	st := s.groupStateLocked(org, name)
	if status, msg := fn(&st, primary); status != 0 {
		writeError(w, status, msg)
		return
	}
	if err := s.setGroupStateLocked(r.Context(), org, name, st); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": s.groupJSON(org, name)})
}

func (s *Server) addGroupLocation(w http.ResponseWriter, r *http.Request) {
	loc := r.PathValue("location")
	s.changeGroup(w, r, func(st *groupState, primary string) (int, string) {
		if _, ok := locations[loc]; !ok {
			return http.StatusBadRequest, "invalid location: " + loc
		}
		if loc != primary && !slices.Contains(st.locations, loc) {
			st.locations = append(st.locations, loc)
			slices.Sort(st.locations)
		}
		return 0, ""
	})
}

func (s *Server) removeGroupLocation(w http.ResponseWriter, r *http.Request) {
	loc := r.PathValue("location")
	s.changeGroup(w, r, func(st *groupState, primary string) (int, string) {
		if _, ok := locations[loc]; !ok {
			return http.StatusBadRequest, "invalid location: " + loc
		}
		if loc == primary {
			return http.StatusBadRequest, fmt.Sprintf("cannot remove the primary location %s of the group", loc)
		}
		st.locations = slices.DeleteFunc(st.locations, func(x string) bool { return x == loc })
		return 0, ""
	})
}

func (s *Server) getGroupConfiguration(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	org, name, ok := s.pathGroupLocked(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"delete_protection": s.groupStateLocked(org, name).deleteProtection})
}

func (s *Server) patchGroupConfiguration(w http.ResponseWriter, r *http.Request) {
	var body struct {
		DeleteProtection *bool `json:"delete_protection"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	s.changeGroup(w, r, func(st *groupState, _ string) (int, string) {
		if body.DeleteProtection != nil {
			st.deleteProtection = *body.DeleteProtection
		}
		return 0, ""
	})
}

func (s *Server) createGroupToken(w http.ResponseWriter, r *http.Request) {
	exp, readOnly, ok := tokenRequest(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	org, name, ok := s.pathGroupLocked(w, r)
	uuid, _ := s.groupIdentityLocked(org, name)
	gen := s.groupStateLocked(org, name).gen
	s.mu.RUnlock()
	if !ok {
		return
	}
	tok, err := s.tokens.mintGroup(uuid, gen, readOnly, exp)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "could not create token")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"jwt": tok})
}

func (s *Server) rotateGroupTokens(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	org, name, ok := s.pathGroupLocked(w, r)
	if !ok {
		return
	}
	if err := s.bumpGroupGenLocked(r.Context(), org, name); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	// Turso rotates the group's keys, which every database token of the group is signed with too.
	for _, e := range s.dbs {
		if e.org == org && e.group == name {
			if err := s.reg.updateDatabase(r.Context(), e.name, e.cfg, e.gen+1); err != nil {
				writeError(w, http.StatusInternalServerError, err.Error())
				return
			}
			e.gen++
		}
	}
	s.log.Info("group tokens rotated", "org", org, "group", name)
	w.WriteHeader(http.StatusOK)
}

// bumpGroupGenLocked invalidates every group token of the group. The caller holds s.mu (write).
func (s *Server) bumpGroupGenLocked(ctx context.Context, org, name string) error {
	st := s.groupStateLocked(org, name)
	st.gen++
	return s.setGroupStateLocked(ctx, org, name, st)
}

// groupTokenOpens checks a verified group token against database e: it must name e's group and
// carry the group's current token generation.
func (s *Server) groupTokenOpens(c *dbClaims, e *dbEntry) error {
	s.mu.RLock()
	uuid, _ := s.groupIdentityLocked(e.org, e.group)
	gen := s.groupStateLocked(e.org, e.group).gen
	s.mu.RUnlock()
	if c.GroupID != uuid {
		return errors.New("the group token is not valid for this database (it belongs to another group)")
	}
	if c.Gen != gen {
		return errors.New("the token was revoked (the group's credentials were rotated)")
	}
	return nil
}
