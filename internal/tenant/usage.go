package tenant

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/schema"
)

// CheckQuota answers whether the tenant may use `requested` more units of quota (a key of
// QuotaKeys; maxStorage is accepted as an alias). The rule is deny when current + requested > limit
// (protocol §1.2). Current usage is measured from the tenant database:
//   - maxObjects: objects registered by the engine (all owners);
//   - maxRecordsPerObject: the largest object's row count, or one object's with the key
//     "maxRecordsPerObject:<object>" (§6.19: counted per object at check time);
//   - maxStorageBytes: page_count × page_size;
//   - maxDeploymentsPerDay: engine deployments started today (UTC), failed ones aside;
//   - maxUsers, apiRateLimit: not measurable from the database; current usage is 0, so only a
//     request larger than the limit itself is denied. Runtimes that count users or requests
//     compare with Quotas.Limit themselves.
func (s *Service) CheckQuota(ctx context.Context, id, quota string, requested int64) (QuotaEnforcementResult, error) {
	if requested < 0 {
		return QuotaEnforcementResult{}, invalidf("requested", fmt.Sprint(requested), "must not be negative")
	}
	key, object, _ := strings.Cut(quota, ":")
	if object != "" && key != QuotaMaxRecordsPerObject {
		return QuotaEnforcementResult{}, invalidf("quota", quota, "only maxRecordsPerObject takes an :<object> suffix")
	}
	t, err := s.Get(ctx, id)
	if err != nil {
		return QuotaEnforcementResult{}, err
	}
	limit, ok := t.Quotas.Limit(key)
	if !ok {
		return QuotaEnforcementResult{}, invalidf("quota", quota, "is not one of %s", strings.Join(QuotaKeys, ", "))
	}
	if key == quotaMaxStorageAlias {
		key = QuotaMaxStorageBytes
	}
	var current int64
	switch key {
	case QuotaMaxUsers, QuotaAPIRateLimit:
	default:
		db, err := s.DB(ctx, t.ID)
		if err != nil {
			return QuotaEnforcementResult{}, fmt.Errorf("check quota %s of tenant %s: %w", key, t.ID, err)
		}
		current, err = measure(ctx, db, key, object, s.now())
		if err != nil {
			return QuotaEnforcementResult{}, fmt.Errorf("check quota %s of tenant %s: %w", key, t.ID, err)
		}
	}
	return enforce(key, limit, current, requested), nil
}

func measure(ctx context.Context, db *sql.DB, key, object string, now time.Time) (int64, error) {
	switch key {
	case QuotaMaxStorageBytes:
		return storageBytes(ctx, db)
	case QuotaMaxDeploymentsPerDay:
		return deploymentsOn(ctx, db, now)
	}
	objs, err := schema.RegisteredObjects(ctx, db)
	if err != nil {
		return 0, err
	}
	if key == QuotaMaxObjects {
		return int64(len(objs)), nil
	}
	var most int64
	found := false
	for _, o := range objs {
		if object != "" && o.Name != object {
			continue
		}
		found = true
		n, err := countRows(ctx, db, objectTable(o))
		if err != nil {
			return 0, err
		}
		if n > most {
			most = n
		}
	}
	if object != "" && !found {
		return 0, invalidf("quota", key+":"+object, "names an object that is not deployed")
	}
	return most, nil
}

func objectTable(o schema.RegisteredObject) string {
	if o.Table != "" {
		return o.Table
	}
	return o.Definition.Table()
}

func deploymentsOn(ctx context.Context, db *sql.DB, now time.Time) (int64, error) {
	deps, err := schema.Deployments(ctx, db, "")
	if err != nil {
		return 0, err
	}
	day := now.UTC().Format("2006-01-02")
	var n int64
	for _, d := range deps {
		// As apps.CheckQuotas counts them: a failed deployment changed nothing and uses none of the day's quota.
		if strings.HasPrefix(d.StartedAt, day) && d.Status != schema.StatusFailed {
			n++
		}
	}
	return n, nil
}

// Usage measures the protocol's TenantUsage from the tenant database (see CheckQuota for what is
// and is not measurable).
func (s *Service) Usage(ctx context.Context, id string) (*Usage, error) {
	t, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	db, err := s.DB(ctx, t.ID)
	if err != nil {
		return nil, fmt.Errorf("usage of tenant %s: %w", t.ID, err)
	}
	u := &Usage{RecordsPerObject: map[string]int64{}}
	objs, err := schema.RegisteredObjects(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("usage of tenant %s: %w", t.ID, err)
	}
	u.CurrentObjectCount = int64(len(objs))
	for _, o := range objs {
		n, err := countRows(ctx, db, objectTable(o))
		if err != nil {
			return nil, fmt.Errorf("usage of tenant %s: %w", t.ID, err)
		}
		u.RecordsPerObject[o.Name] = n
		u.CurrentRecordCount += n
	}
	if u.CurrentStorageBytes, err = storageBytes(ctx, db); err != nil {
		return nil, fmt.Errorf("usage of tenant %s: %w", t.ID, err)
	}
	now := s.now()
	if u.DeploymentsToday, err = deploymentsOn(ctx, db, now); err != nil {
		return nil, fmt.Errorf("usage of tenant %s: %w", t.ID, err)
	}
	u.LastUpdatedAt = formatTime(now)
	return u, nil
}
