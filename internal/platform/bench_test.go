package platform_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
)

func benchCreateTokenDelete(b *testing.B, p platform.Platform) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("bench-%d", i)
		if _, err := p.CreateDatabase(ctx, platform.CreateOptions{Name: name}); err != nil {
			b.Fatal(err)
		}
		if _, err := p.CreateToken(ctx, name, platform.TokenOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := p.DeleteDatabase(ctx, name); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocalCreateTokenDelete is the platform share of provisioning one local tenant.
func BenchmarkLocalCreateTokenDelete(b *testing.B) {
	l, err := platform.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	benchCreateTokenDelete(b, l)
}

// BenchmarkTursoDevServerCreateTokenDelete is the same through the Platform API client and
// objectstack dev on loopback.
func BenchmarkTursoDevServerCreateTokenDelete(b *testing.B) {
	benchCreateTokenDelete(b, newDevTurso(b, startDev(b, nil, nil)))
}
