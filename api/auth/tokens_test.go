package auth_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldservice/customer-service/api/auth"
	"github.com/fieldservice/customer-service/domain/actor"
)

func TestBootstrapIssuesOneAdminTokenOnce(t *testing.T) {
	dir := t.TempDir()
	path, secretPath := filepath.Join(dir, "tokens.json"), filepath.Join(dir, "admin.token")
	created, err := auth.Bootstrap(path, secretPath, time.Now())
	if err != nil || !created {
		t.Fatalf("first bootstrap: %v %v", created, err)
	}
	secret, err := os.ReadFile(secretPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, secretPath} {
		if info, _ := os.Stat(p); info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, info.Mode().Perm())
		}
	}
	file, _ := os.ReadFile(path)
	if strings.Contains(string(file), strings.TrimSpace(string(secret))) {
		t.Fatal("the token file holds the token itself, not only its hash")
	}
	tokens, err := auth.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := tokens.Authenticate(strings.TrimSpace(string(secret))); !ok || a.Role != actor.Admin {
		t.Fatalf("the bootstrap token does not authenticate as admin: %+v %v", a, ok)
	}
	if created, err := auth.Bootstrap(path, secretPath, time.Now()); err != nil || created {
		t.Fatalf("a second bootstrap issued again: %v %v", created, err)
	}
}

func TestTokensRefuseWhatTheyShould(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	if _, _, err := auth.Issue(path, actor.Actor{ID: "svc", Role: actor.System}, time.Now()); err == nil {
		t.Error("a token for the system role was issued")
	}
	secret, _, err := auth.Issue(path, actor.Actor{ID: "t", Name: "Tom", Role: actor.Technician}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.Revoke(path, "tok_nope", time.Now()); !errors.Is(err, auth.ErrUnknownToken) {
		t.Errorf("revoking an unknown id: %v", err)
	}
	tokens, err := auth.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "cst_", secret + "x", strings.TrimPrefix(secret, "cst_")} {
		if _, ok := tokens.Authenticate(bad); ok {
			t.Errorf("%q authenticated", bad)
		}
	}
	if _, err := auth.Open(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, auth.ErrNoTokenFile) {
		t.Errorf("opening a missing file: %v", err)
	}
}
