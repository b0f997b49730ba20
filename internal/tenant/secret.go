package tenant

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SecretKeyEnv holds a 32-byte key (base64 or hex) that overrides DataDir/secret.key.
const SecretKeyEnv = "OBJECTSTACK_SECRET_KEY"

// secretBox encrypts database tokens at rest (AES-256-GCM). The tenant id is the additional data, so a
// ciphertext copied onto another tenant's row does not decrypt.
type secretBox struct{ aead cipher.AEAD }

const sealedPrefix = "v1:"

func newSecretBox(key []byte) (*secretBox, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &secretBox{aead: aead}, nil
}

func (b *secretBox) seal(tenantID, plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("encrypt token: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(tenantID))
	return sealedPrefix + base64.StdEncoding.EncodeToString(out), nil
}

func (b *secretBox) open(tenantID, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	if !strings.HasPrefix(sealed, sealedPrefix) {
		return "", errors.New("decrypt token: unknown format")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, sealedPrefix))
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", errors.New("decrypt token: malformed ciphertext")
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(tenantID))
	if err != nil {
		// Deliberately vague: the usual cause is a different secret key (secret.key replaced or
		// OBJECTSTACK_SECRET_KEY changed).
		return "", fmt.Errorf("decrypt token of tenant %s: wrong secret key or corrupted value", tenantID)
	}
	return string(pt), nil
}

// loadSecretKey returns the key from explicit, then OBJECTSTACK_SECRET_KEY, then dataDir/secret.key,
// creating that file (0600) with a random key on first use.
func loadSecretKey(explicit []byte, dataDir string) ([]byte, error) {
	if len(explicit) > 0 {
		return explicit, nil
	}
	if v := strings.TrimSpace(os.Getenv(SecretKeyEnv)); v != "" {
		k, err := decodeKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", SecretKeyEnv, err)
		}
		return k, nil
	}
	if dataDir == "" {
		return nil, errors.New("no secret key: set DataDir (secret.key is created there) or " + SecretKeyEnv)
	}
	path := filepath.Join(dataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		k, derr := decodeKey(strings.TrimSpace(string(b)))
		if derr != nil {
			return nil, fmt.Errorf("secret key file %s: %w", path, derr)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read secret key file %s: %w", path, err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dataDir, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate secret key: %w", err)
	}
	// Write a temp file and hard-link it into place: two processes starting at once both end up
	// with whichever key won, never with a half-written file.
	tmp, err := os.CreateTemp(dataDir, ".secret.key.*")
	if err != nil {
		return nil, fmt.Errorf("create secret key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("create secret key file: %w", err)
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write secret key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write secret key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return loadSecretKey(nil, dataDir)
		}
		return nil, fmt.Errorf("install secret key file %s: %w", path, err)
	}
	return key, nil
}

func decodeKey(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	return nil, errors.New("must be 32 bytes, base64 or hex encoded")
}
