package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// A snapshot made under another master key is emptied; one made under this
// key is kept.
func TestSnapshotOfAnotherMasterKeyIsEmptied(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	ctx, log := context.Background(), slog.New(slog.DiscardHandler)
	if ok, err := trusted(ctx, rdb, "key-a", log); err != nil || !ok {
		t.Fatalf("a first start: %v %v", ok, err)
	}
	rdb.Set(ctx, "rm:customers-v1:gen", "1", 0)
	if ok, err := trusted(ctx, rdb, "key-a", log); err != nil || !ok || rdb.Exists(ctx, "rm:customers-v1:gen").Val() != 1 {
		t.Fatalf("the same master key: %v %v, and the read model is gone", ok, err)
	}
	if ok, err := trusted(ctx, rdb, "key-b", log); err != nil || ok {
		t.Fatalf("another master key: %v %v, want the snapshot distrusted", ok, err)
	}
	if rdb.Exists(ctx, "rm:customers-v1:gen").Val() != 0 || rdb.Get(ctx, masterIDKey).Val() != "key-b" {
		t.Fatal("the snapshot of another master key was not emptied and marked with the new one")
	}
}
