// Package release obtains the release tools — GoReleaser and the OpenPGP signer (tools/goreleaser),
// the Helm chart checker (tools/chartcheck), the image builder (tools/ociimage) and the alert-rule
// checker (tools/rulecheck) — by building each from its own nested module into the repository's
// bin/ folder once, and its tests check what ships: a snapshot release's archives, sums and
// signature, the reconciler image, the Helm chart and plain manifests, and the alerting rules.
//
// Each tool has its own module so that GoReleaser, Helm, k8s.io/* and Prometheus never enter the
// provider's module graph (nor OpenTofu's in tools/go.mod, whose shared dependencies MVS would move).
package release
