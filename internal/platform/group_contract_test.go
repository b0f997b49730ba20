package platform_test

import (
	"context"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform/platformtest"
)

func TestLocalGroupContract(t *testing.T) {
	platformtest.RunGroups(t, func(t *testing.T) platform.Platform { return newLocal(t) }, platformtest.Options{})
}

// TestTursoGroupContractAgainstDevServer runs the group contract through the Platform API client
// (Turso's request and response bodies) against objectstack dev, with tokens enforced.
func TestTursoGroupContractAgainstDevServer(t *testing.T) {
	platformtest.RunGroups(t, func(t *testing.T) platform.Platform {
		return newDevTurso(t, startDev(t, nil, nil))
	}, platformtest.Options{TokensEnforced: true})
}

// TestLocalGroupIsAFolder: a local group is a folder holding its record, gone with the group.
func TestLocalGroupIsAFolder(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	if _, err := l.CreateGroup(ctx, platform.GroupOptions{Name: "eu", Location: "aws-eu-west-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.CreateDatabase(ctx, platform.CreateOptions{Name: "acme", Group: "eu"}); err != nil {
		t.Fatal(err)
	}
	dbs, err := l.ListDatabases(ctx, "eu")
	if err != nil || len(dbs) != 1 || dbs[0].Name != "acme" || dbs[0].PrimaryRegion != "aws-eu-west-1" {
		t.Fatalf("list eu = %+v, %v", dbs, err)
	}
}
