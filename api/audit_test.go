package api_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/fieldservice/customer-service/api"
	"github.com/fieldservice/customer-service/auditlog"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/merkle"
)

func decodeHash(t *testing.T, s string) merkle.Hash {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("hash %q", s)
	}
	return merkle.Hash(b)
}

// An auditor saves a checkpoint, the log grows, and the proofs over HTTP show
// that an event is in it and that the new tree extends the saved one.
func TestAuditCheckpointAndProofs(t *testing.T) {
	var log *auditlog.Log
	f := newFixture(t, func(c *api.Config) {
		key, _, err := auditlog.LoadOrCreateKey(filepath.Join(t.TempDir(), "checkpoint.key"))
		if err != nil {
			t.Fatal(err)
		}
		log = auditlog.New(c.App.Store(), key)
		c.Audit = log
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = log.Run(ctx) }()

	type checkpoint struct {
		Size                             uint64
		Root, Signature, PublicKey, Body string
	}
	get := func(w written) checkpoint {
		t.Helper()
		p, _ := eventstore.ParsePosition(w.Position)
		if err := log.WaitFor(ctx, p); err != nil {
			t.Fatal(err)
		}
		var cp checkpoint
		r := f.do(t, req{method: "GET", path: "/v1/audit/checkpoint", role: "auditor"})
		r.json(t, &cp)
		var raw map[string]any
		r.json(t, &raw)
		cp.PublicKey, _ = raw["public_key"].(string)
		pub, _ := base64.StdEncoding.DecodeString(cp.PublicKey)
		sig, _ := base64.StdEncoding.DecodeString(cp.Signature)
		if r.Status != 200 || !ed25519.Verify(pub, []byte(cp.Body), sig) {
			t.Fatalf("checkpoint: %d %s", r.Status, r.Body)
		}
		return cp
	}
	first := f.register(t, person("Ava", "Audit", "ava@audit.example"))
	saved := get(first)
	f.register(t, person("Ben", "Audit", "ben@audit.example"))
	last := f.register(t, person("Cy", "Audit", "cy@audit.example"))
	now := get(last)
	if now.Size <= saved.Size {
		t.Fatalf("sizes %d then %d", saved.Size, now.Size)
	}

	var cons struct {
		From, To uint64
		Proof    []string
	}
	f.do(t, req{method: "GET", path: "/v1/audit/proof/consistency?from=" + itoa(saved.Size), role: "auditor"}).json(t, &cons)
	proof := make([]merkle.Hash, len(cons.Proof))
	for i, p := range cons.Proof {
		proof[i] = decodeHash(t, p)
	}
	if err := merkle.VerifyConsistency(saved.Size, now.Size, decodeHash(t, saved.Root), decodeHash(t, now.Root), proof); err != nil || cons.To != now.Size {
		t.Fatalf("consistency %d → %d: %v", saved.Size, cons.To, err)
	}

	var inc struct {
		LeafIndex uint64   `json:"leaf_index"`
		TreeSize  uint64   `json:"tree_size"`
		LeafHash  string   `json:"leaf_hash"`
		AuditPath []string `json:"audit_path"`
	}
	f.do(t, req{method: "GET", path: "/v1/audit/proof/inclusion?position=" + first.Position + "&tree_size=" + itoa(now.Size), role: "auditor"}).json(t, &inc)
	path := make([]merkle.Hash, len(inc.AuditPath))
	for i, p := range inc.AuditPath {
		path[i] = decodeHash(t, p)
	}
	if err := merkle.VerifyInclusion(decodeHash(t, inc.LeafHash), inc.LeafIndex, inc.TreeSize, path, decodeHash(t, now.Root)); err != nil {
		t.Fatalf("inclusion: %v", err)
	}
	if r := f.do(t, req{method: "GET", path: "/v1/audit/proof/inclusion?position=999999/999999", role: "auditor"}); r.Status != 404 {
		t.Fatalf("a position beyond the log: %d", r.Status)
	}
	if r := f.do(t, req{method: "GET", path: "/v1/audit/checkpoint", role: "technician"}); r.Status != 403 {
		t.Fatalf("checkpoint as technician: %d", r.Status)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
