// Package auth keeps the API's bearer tokens. A token maps to an actor (id, name,
// role) that the API records in the metadata of every event it causes.
//
// Tokens live in one JSON file that holds only their SHA-256 hashes: a stolen file
// gives no access. A token is 32 random bytes, so a fast hash is enough (there is
// nothing to guess). The server re-reads the file whenever it changes, so tokens
// that customerctl issues or revokes take effect without a restart; writers take
// an exclusive lock beside the file and replace it atomically.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/internal/durable"
)

// Prefix starts every token, so a leaked one is easy to recognise (secret scanners).
const Prefix = "cst_"

// Token is an issued token, without its secret.
type Token struct {
	ID        string     `json:"id"`
	Hash      string     `json:"sha256"`
	ActorID   string     `json:"actor_id"`
	Name      string     `json:"name"`
	Role      actor.Role `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Actor is who the token acts for.
func (t Token) Actor() actor.Actor { return actor.Actor{ID: t.ActorID, Name: t.Name, Role: t.Role} }

type tokenFile struct {
	Tokens []Token `json:"tokens"`
}

// Errors of the token file.
var (
	ErrUnknownToken = errors.New("no such token")
	ErrNoTokenFile  = errors.New("token file does not exist")
)

// Tokens authenticates bearer tokens against a token file.
type Tokens struct {
	path string

	mu     sync.Mutex
	info   fs.FileInfo // of the file last read
	byHash map[string]Token
}

// Open reads the token file at path.
func Open(path string) (*Tokens, error) {
	t := &Tokens{path: path}
	if err := t.reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Path is the token file.
func (t *Tokens) Path() string { return t.path }

// Authenticate returns the actor of a live token. It re-reads the file first when
// the file changed, so a revocation holds from the next request on.
func (t *Tokens) Authenticate(secret string) (actor.Actor, bool) {
	if !strings.HasPrefix(secret, Prefix) {
		return actor.Actor{}, false
	}
	if err := t.reload(); err != nil {
		return actor.Actor{}, false // an unreadable file admits nobody
	}
	t.mu.Lock()
	tok, ok := t.byHash[hash(secret)]
	t.mu.Unlock()
	if !ok || tok.RevokedAt != nil {
		return actor.Actor{}, false
	}
	return tok.Actor(), true
}

func (t *Tokens) reload() error {
	info, err := os.Stat(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNoTokenFile, t.path)
	}
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.info != nil && os.SameFile(t.info, info) && t.info.ModTime().Equal(info.ModTime()) && t.info.Size() == info.Size() {
		return nil
	}
	f, err := read(t.path)
	if err != nil {
		return err
	}
	t.byHash = make(map[string]Token, len(f.Tokens))
	for _, tok := range f.Tokens {
		t.byHash[tok.Hash] = tok
	}
	t.info = info
	return nil
}

func read(path string) (tokenFile, error) {
	var f tokenFile
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, fmt.Errorf("%w: %s", ErrNoTokenFile, path)
	}
	if err != nil {
		return f, fmt.Errorf("token file: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("token file %s: %w", path, err)
	}
	return f, nil
}

func hash(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

// Issue creates a token for a and returns its secret, which is shown once and
// stored nowhere. It creates the token file when there is none.
func Issue(path string, a actor.Actor, now time.Time) (secret string, tok Token, err error) {
	if err := a.Validate(); err != nil {
		return "", Token{}, err
	}
	if a.Role == actor.System {
		return "", Token{}, errors.New("the system role is the service's own; issue admin, coordinator, technician or auditor")
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	secret = Prefix + base64.RawURLEncoding.EncodeToString(raw)
	id := make([]byte, 6)
	rand.Read(id)
	tok = Token{ID: "tok_" + hex.EncodeToString(id), Hash: hash(secret), ActorID: a.ID, Name: a.Name, Role: a.Role,
		CreatedAt: now.UTC()}
	err = update(path, true, func(f *tokenFile) error {
		f.Tokens = append(f.Tokens, tok)
		return nil
	})
	return secret, tok, err
}

// Revoke revokes the token with id; revoking it again changes nothing.
func Revoke(path, id string, now time.Time) error {
	return update(path, false, func(f *tokenFile) error {
		i := slices.IndexFunc(f.Tokens, func(t Token) bool { return t.ID == id })
		if i < 0 {
			return fmt.Errorf("%w: %s", ErrUnknownToken, id)
		}
		if f.Tokens[i].RevokedAt == nil {
			at := now.UTC()
			f.Tokens[i].RevokedAt = &at
		}
		return nil
	})
}

// List returns every token, revoked ones too.
func List(path string) ([]Token, error) {
	f, err := read(path)
	return f.Tokens, err
}

// Bootstrap gives a new installation its first admin: when the token file does not
// exist, it issues an admin token and writes its secret to secretPath (mode 0600),
// so there is no anonymous access even on first start. It reports whether it did.
func Bootstrap(path, secretPath string, now time.Time) (bool, error) {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	secret, _, err := Issue(path, actor.Actor{ID: "admin", Name: "Administrator", Role: actor.Admin}, now)
	if err != nil {
		return false, err
	}
	if err := durable.WriteFile(secretPath, []byte(secret+"\n")); err != nil {
		return false, fmt.Errorf("admin token file: %w", err)
	}
	return true, nil
}

// update changes the token file under an exclusive lock and replaces it atomically.
func update(path string, create bool, change func(*tokenFile) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("token file lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("token file lock: %w", err)
	}
	f, err := read(path)
	if errors.Is(err, ErrNoTokenFile) && create {
		err = nil
	}
	if err != nil {
		return err
	}
	if err := change(&f); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return durable.WriteFile(path, append(b, '\n'))
}
