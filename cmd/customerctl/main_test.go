package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestFlagsBeforeOrAfterTheCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errs bytes.Buffer
	if err := run([]string{"--data", dir, "token", "create", "--role", "technician", "--name", "Tom on site"}, &out, &errs); err != nil {
		t.Fatalf("flags before the command: %v\n%s", err, errs.String())
	}
	if !strings.HasPrefix(out.String(), "cst_") {
		t.Fatalf("no token printed: %q", out.String())
	}
	out.Reset()
	if err := run([]string{"token", "list", "--data=" + dir}, &out, &errs); err != nil {
		t.Fatalf("flags after the command: %v", err)
	}
	if !strings.Contains(out.String(), "Tom on site") || !strings.Contains(out.String(), "technician") {
		t.Fatalf("list: %s", out.String())
	}
	if err := run([]string{"--data", dir, "token", "revoke"}, &out, &errs); err == nil {
		t.Fatal("revoke without a token id succeeded")
	}
}

// republish needs a range's start before it asks customerd anything (the
// e2e tests run it against a real customerd).
func TestRepublishNeedsFrom(t *testing.T) {
	var out, errs bytes.Buffer
	if err := run([]string{"republish", "--url", "http://127.0.0.1:1"}, &out, &errs); err == nil || !strings.Contains(err.Error(), "--from is required") {
		t.Fatalf("no --from: %v", err)
	}
}
