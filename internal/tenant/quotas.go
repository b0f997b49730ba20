package tenant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/apps"
)

// Quotas is the protocol's TenantQuota with the storage duplication resolved (§6.1): one
// MaxStorageBytes. A nil field means unlimited; a set field must be > 0.
type Quotas struct {
	MaxUsers             *int64 `json:"maxUsers,omitempty"`
	MaxStorageBytes      *int64 `json:"maxStorageBytes,omitempty"`
	APIRateLimit         *int64 `json:"apiRateLimit,omitempty"`
	MaxObjects           *int64 `json:"maxObjects,omitempty"`
	MaxRecordsPerObject  *int64 `json:"maxRecordsPerObject,omitempty"`
	MaxDeploymentsPerDay *int64 `json:"maxDeploymentsPerDay,omitempty"`
}

// Quota keys, as used in QuotaEnforcementResult.exceededQuota and CheckQuota.
const (
	QuotaMaxUsers             = "maxUsers"
	QuotaMaxStorageBytes      = "maxStorageBytes"
	QuotaAPIRateLimit         = "apiRateLimit"
	QuotaMaxObjects           = "maxObjects"
	QuotaMaxRecordsPerObject  = "maxRecordsPerObject"
	QuotaMaxDeploymentsPerDay = "maxDeploymentsPerDay"
	// quotaMaxStorageAlias is the deprecated duplicate of maxStorageBytes (§6.1), accepted on input.
	quotaMaxStorageAlias = "maxStorage"
)

// QuotaKeys lists the quota keys CheckQuota understands.
var QuotaKeys = []string{QuotaMaxUsers, QuotaMaxStorageBytes, QuotaAPIRateLimit, QuotaMaxObjects, QuotaMaxRecordsPerObject, QuotaMaxDeploymentsPerDay}

// UnmarshalJSON accepts the deprecated maxStorage alias and rejects a document where it differs from
// maxStorageBytes. Unknown keys are dropped, as everywhere in the protocol.
func (q *Quotas) UnmarshalJSON(data []byte) error {
	type plain Quotas
	var aux struct {
		plain
		MaxStorage *int64 `json:"maxStorage,omitempty"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&aux); err != nil {
		return fmt.Errorf("quotas: %w", err)
	}
	*q = Quotas(aux.plain)
	if aux.MaxStorage != nil {
		if q.MaxStorageBytes != nil && *q.MaxStorageBytes != *aux.MaxStorage {
			return invalidf("quotas.maxStorage", strconv.FormatInt(*aux.MaxStorage, 10),
				"differs from quotas.maxStorageBytes (%d); maxStorage is a deprecated alias — set only maxStorageBytes", *q.MaxStorageBytes)
		}
		q.MaxStorageBytes = aux.MaxStorage
	}
	return nil
}

// Validate checks that every set quota is > 0.
func (q Quotas) Validate() error {
	for _, f := range q.fields() {
		if f.v != nil && *f.v <= 0 {
			return invalidf("quotas."+f.key, strconv.FormatInt(*f.v, 10), "must be greater than 0 (omit it for unlimited)")
		}
	}
	return nil
}

type quotaField struct {
	key string
	v   *int64
}

func (q Quotas) fields() []quotaField {
	return []quotaField{
		{QuotaMaxUsers, q.MaxUsers},
		{QuotaMaxStorageBytes, q.MaxStorageBytes},
		{QuotaAPIRateLimit, q.APIRateLimit},
		{QuotaMaxObjects, q.MaxObjects},
		{QuotaMaxRecordsPerObject, q.MaxRecordsPerObject},
		{QuotaMaxDeploymentsPerDay, q.MaxDeploymentsPerDay},
	}
}

// Limit returns the limit for a quota key (maxStorage accepted as alias); ok is false for unknown keys.
func (q Quotas) Limit(key string) (limit *int64, ok bool) {
	if key == quotaMaxStorageAlias {
		key = QuotaMaxStorageBytes
	}
	for _, f := range q.fields() {
		if f.key == key {
			return f.v, true
		}
	}
	return nil, false
}

// Set sets a quota by key (maxStorage accepted as alias); v must be > 0.
func (q *Quotas) Set(key string, v int64) error {
	if v <= 0 {
		return invalidf("quotas."+key, strconv.FormatInt(v, 10), "must be greater than 0 (omit it for unlimited)")
	}
	p := &v
	switch key {
	case QuotaMaxUsers:
		q.MaxUsers = p
	case QuotaMaxStorageBytes, quotaMaxStorageAlias:
		if q.MaxStorageBytes != nil && *q.MaxStorageBytes != v {
			return invalidf("quotas."+key, strconv.FormatInt(v, 10), "conflicts with maxStorageBytes %d already set (maxStorage is an alias)", *q.MaxStorageBytes)
		}
		q.MaxStorageBytes = p
	case QuotaAPIRateLimit:
		q.APIRateLimit = p
	case QuotaMaxObjects:
		q.MaxObjects = p
	case QuotaMaxRecordsPerObject:
		q.MaxRecordsPerObject = p
	case QuotaMaxDeploymentsPerDay:
		q.MaxDeploymentsPerDay = p
	default:
		return invalidf("quotas", key, "is not a quota (one of maxUsers, maxStorageBytes, apiRateLimit, maxObjects, maxRecordsPerObject, maxDeploymentsPerDay)")
	}
	return nil
}

// QuotaEnforcementResult is the protocol's answer to "may this tenant use `requested` more units?".
type QuotaEnforcementResult struct {
	Allowed       bool   `json:"allowed"`
	ExceededQuota string `json:"exceededQuota,omitempty"`
	CurrentUsage  int64  `json:"currentUsage"`
	Limit         *int64 `json:"limit,omitempty"`
	Message       string `json:"message,omitempty"`
}

// Usage is the protocol's TenantUsage, measured from the tenant database.
type Usage struct {
	CurrentObjectCount    int64  `json:"currentObjectCount"`
	CurrentRecordCount    int64  `json:"currentRecordCount"`
	CurrentStorageBytes   int64  `json:"currentStorageBytes"`
	DeploymentsToday      int64  `json:"deploymentsToday"`
	CurrentUsers          int64  `json:"currentUsers"`
	APIRequestsThisMinute int64  `json:"apiRequestsThisMinute"`
	LastUpdatedAt         string `json:"lastUpdatedAt,omitempty"`
	// RecordsPerObject is the per-object count maxRecordsPerObject is checked against (§6.19).
	RecordsPerObject map[string]int64 `json:"recordsPerObject,omitempty"`
}

// enforce applies the rule deny when current + requested > limit.
func enforce(key string, limit *int64, current, requested int64) QuotaEnforcementResult {
	r := QuotaEnforcementResult{Allowed: true, CurrentUsage: current, Limit: limit}
	if limit == nil {
		return r
	}
	if current+requested > *limit {
		r.Allowed = false
		r.ExceededQuota = key
		r.Message = fmt.Sprintf("%s exceeded: current usage %d + requested %d > limit %d", key, current, requested, *limit)
	}
	return r
}

// Limits are the quotas a deployment to the tenant must respect (bundles, apps, seed data), for the checks of
// internal/apps. maxStorageBytes is not among them: it is the platform's size limit on the database (pushed at
// create and update), which refuses the write itself wherever it comes from. maxUsers and apiRateLimit limit
// what runtimes do, not deployments.
func (q Quotas) Limits() apps.Limits {
	return apps.Limits{MaxObjects: q.MaxObjects, MaxRecordsPerObject: q.MaxRecordsPerObject, MaxDeploymentsPerDay: q.MaxDeploymentsPerDay}
}
