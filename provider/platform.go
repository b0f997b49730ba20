package provider

import (
	"fmt"
	"regexp"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/platform"
)

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// newPlatform builds the database platform the settings name.
func newPlatform(s Settings) (platform.Platform, error) {
	switch s.Backend {
	case BackendTurso:
		retries := s.MaxRetries
		if retries == 0 {
			retries = -1 // the client reads 0 as "its default"; the provider's 0 means "never retry"
		}
		p, err := platform.NewTurso(platform.TursoConfig{
			BaseURL:      s.APIURL,
			Organization: s.Organization,
			APIToken:     s.APIToken,
			Group:        s.Group,
			MaxRetries:   retries,
		})
		if err != nil {
			return nil, fmt.Errorf("turso backend: %w", err)
		}
		return p, nil
	default:
		p, err := platform.NewLocal(s.DataDir)
		if err != nil {
			return nil, fmt.Errorf("local backend: %w", err)
		}
		return p, nil
	}
}
