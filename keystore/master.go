package keystore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fieldservice/customer-service/internal/durable"
)

// MasterKeySize is the size of a master key: 256 bits.
const MasterKeySize = 32

// MasterKey wraps data keys. It never leaves this process: only its ID, a
// fingerprint that reveals nothing of it, is stored beside what it wrapped.
type MasterKey struct {
	id   [8]byte
	aead cipher.AEAD
}

// NewMasterKey makes a master key of 32 raw bytes.
func NewMasterKey(raw []byte) (*MasterKey, error) {
	if len(raw) != MasterKeySize {
		return nil, fmt.Errorf("master key: want %d bytes, got %d", MasterKeySize, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	m := &MasterKey{aead: aead}
	fp := hmac.New(sha256.New, raw)
	fp.Write([]byte("customerd master key fingerprint v1"))
	copy(m.id[:], fp.Sum(nil))
	return m, nil
}

// ID is the key's public fingerprint (16 hex digits), safe to log.
func (m *MasterKey) ID() string { return hex.EncodeToString(m.id[:]) }

// GenerateMasterKey returns 32 random bytes.
func GenerateMasterKey() []byte {
	raw := make([]byte, MasterKeySize)
	rand.Read(raw) // never fails (crypto/rand since Go 1.24)
	return raw
}

// ParseMasterKey reads a master key written as base64 (standard or URL alphabet,
// padded or not) or hex, as CUSTOMERD_MASTER_KEY and key files hold it. Errors
// never quote the input.
func ParseMasterKey(s string) (*MasterKey, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString,
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		if raw, err := dec(s); err == nil && len(raw) == MasterKeySize {
			return NewMasterKey(raw)
		}
	}
	return nil, fmt.Errorf("master key: want %d bytes as base64 or hex (%d characters given)", MasterKeySize, len(s))
}

// EncodeMasterKey formats raw as ParseMasterKey reads it (standard base64).
func EncodeMasterKey(raw []byte) string { return base64.StdEncoding.EncodeToString(raw) }

// LoadOrCreateMasterKeyFile reads the master key in path, or, when path does not
// exist, creates it (mode 0600, directories 0700) with a new random key and
// reports created. A key file readable by group or others is refused: the key
// protects every customer's personal data.
func LoadOrCreateMasterKeyFile(path string) (key *MasterKey, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		raw := GenerateMasterKey()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, fmt.Errorf("master key file: %w", err)
		}
		if err := durable.CreateFile(path, []byte(EncodeMasterKey(raw)+"\n")); err != nil {
			return nil, false, fmt.Errorf("master key file: %w", err)
		}
		key, err := NewMasterKey(raw)
		return key, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("master key file: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("master key file: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("master key file %s: mode %v lets others read it; chmod 600 it", path, info.Mode().Perm())
	}
	key, err = ParseMasterKey(string(b))
	if err != nil {
		return nil, false, fmt.Errorf("master key file %s: %w", path, err)
	}
	return key, false, nil
}
