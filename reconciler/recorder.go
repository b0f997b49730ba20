package reconciler

import (
	"context"
	"sync"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/status"
)

// recorder batches status writes: one control-plane transaction per batch instead of per tenant.
type recorder struct {
	store   *status.Store
	mu      sync.Mutex
	flushMu sync.Mutex
	pending []status.Update
}

const recordBatch = 32

func newRecorder(s *status.Store) *recorder { return &recorder{store: s} }

func (rc *recorder) add(ctx context.Context, u status.Update) error {
	rc.mu.Lock()
	rc.pending = append(rc.pending, u)
	full := len(rc.pending) >= recordBatch
	rc.mu.Unlock()
	if full {
		return rc.flush(ctx)
	}
	return nil
}

func (rc *recorder) flush(ctx context.Context) error {
	rc.flushMu.Lock()
	defer rc.flushMu.Unlock()
	rc.mu.Lock()
	batch := rc.pending
	rc.pending = nil
	rc.mu.Unlock()
	// Status must survive the caller's cancellation: it is what a restarted reconciler resumes from.
	return rc.store.Record(context.WithoutCancel(ctx), batch)
}
