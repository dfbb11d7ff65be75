package auditlog

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/fieldservice/customer-service/internal/durable"
)

// LoadOrCreateKey reads the checkpoint signing key from path (the base64 of
// its 32-byte seed), creating it (mode 0600) when the file does not exist.
// Keep it like the master key: whoever holds it can sign checkpoints.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		rand.Read(seed)
		if err := durable.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(seed)+"\n")); err != nil {
			return nil, false, fmt.Errorf("checkpoint key: %w", err)
		}
		return ed25519.NewKeyFromSeed(seed), true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("checkpoint key: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, false, fmt.Errorf("checkpoint key %s: want the base64 of a %d-byte seed", path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), false, nil
}
