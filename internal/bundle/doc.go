// Package bundle owns the metadata bundle format: the object/field/index/dataset model, loading a bundle folder
// (bundle.yaml + objects/, views/, flows/, permissions/, seed/) from YAML or JSON with file and line for every
// element, validation into the protocol's DeployValidationResult with path-precise issues, and the canonical
// SHA-256 checksum that the engine's registry and the provider use to detect change.
//
// Loading never fails on content: anything wrong inside a file becomes an Issue; only I/O failures are errors.
package bundle
