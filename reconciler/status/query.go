package status

import (
	"context"
	"fmt"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/database"
)

// RolloutRecord is a rollout as `objectstack get rollouts` lists it: the record with its tasks counted by
// wave and state (tasks are kept for the latest few rollouts only; older ones show none).
type RolloutRecord struct {
	Rollout
	// Waves maps wave → task state → count.
	Waves map[string]map[string]int `json:"waves,omitempty"`
}

// Rollouts returns the latest limit rollouts, newest first, with their task counts (one request).
func (s *Store) Rollouts(ctx context.Context, limit int) ([]RolloutRecord, error) {
	if limit <= 0 {
		limit = 20
	}
	res, err := s.read(ctx, []database.Stmt{
		{SQL: `SELECT id, revision, digest, state, wave, message, started_at, updated_at FROM reconcile_rollouts ORDER BY id DESC LIMIT ?`,
			Args: []any{limit}, Query: true},
		{SQL: `SELECT rollout_id, wave, state, COUNT(*) FROM reconcile_tasks
			WHERE rollout_id IN (SELECT id FROM reconcile_rollouts ORDER BY id DESC LIMIT ?) GROUP BY rollout_id, wave, state`,
			Args: []any{limit}, Query: true},
	})
	if err != nil {
		return nil, fmt.Errorf("status store: rollouts: %w", err)
	}
	out := make([]RolloutRecord, 0, len(res[0].Rows))
	idx := map[int64]int{}
	for _, row := range res[0].Rows {
		var r RolloutRecord
		var started, updated string
		if err := database.Row(row).Scan(&r.ID, &r.Revision, &r.Digest, &r.State, &r.Wave, &r.Message, &started, &updated); err != nil {
			return nil, fmt.Errorf("status store: rollouts: %w", err)
		}
		r.StartedAt, r.UpdatedAt = parseTS(started), parseTS(updated)
		idx[r.ID] = len(out)
		out = append(out, r)
	}
	for _, row := range res[1].Rows {
		var id int64
		var wave, state string
		var n int
		if err := database.Row(row).Scan(&id, &wave, &state, &n); err != nil {
			return nil, fmt.Errorf("status store: rollout tasks: %w", err)
		}
		i, ok := idx[id]
		if !ok {
			continue
		}
		if out[i].Waves == nil {
			out[i].Waves = map[string]map[string]int{}
		}
		if out[i].Waves[wave] == nil {
			out[i].Waves[wave] = map[string]int{}
		}
		out[i].Waves[wave][state] += n
	}
	return out, nil
}

// TenantWaves maps each tenant to the wave it had in the latest rollout that visited it (one request).
func (s *Store) TenantWaves(ctx context.Context) (map[string]string, error) {
	res, err := s.read(ctx, []database.Stmt{{SQL: `SELECT t.tenant_id, t.wave FROM reconcile_tasks t
		WHERE t.rollout_id = (SELECT MAX(t2.rollout_id) FROM reconcile_tasks t2 WHERE t2.tenant_id = t.tenant_id)`, Query: true}})
	if err != nil {
		return nil, fmt.Errorf("status store: tenant waves: %w", err)
	}
	out := make(map[string]string, len(res[0].Rows))
	for _, row := range res[0].Rows {
		var id, wave string
		if err := database.Row(row).Scan(&id, &wave); err != nil {
			return nil, fmt.Errorf("status store: tenant waves: %w", err)
		}
		out[id] = wave
	}
	return out, nil
}
