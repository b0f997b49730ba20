package tenant

import "context"

// SetAfterStep installs a hook that runs after each completed provisioning step; returning an
// error stops the run as if the process had died there.
func SetAfterStep(s *Service, fn func(step string) error) { s.afterStep = fn }

// SealedToken returns the stored (encrypted) token column of a tenant, for the at-rest test.
func SealedToken(ctx context.Context, s *Service, id string) (string, error) {
	r, err := s.store.get(ctx, id)
	if err != nil {
		return "", err
	}
	return r.tokenEnc, nil
}
