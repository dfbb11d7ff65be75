package search

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// SearchInChunks is Search with first chunks of n candidates: tiny ones make
// small tests walk postings chunk after chunk, with filters cut short, as a
// large index does.
func SearchInChunks(ctx context.Context, rdb redis.Cmdable, req Request, n int) (Result, error) {
	return search(ctx, rdb, req, n)
}

// PostingCustomers lists the customers a posting's entries name.
func PostingCustomers(posting string) []uint32 {
	var out []uint32
	for _, e := range refs(posting) {
		out = append(out, refOfEntry(e))
	}
	return out
}
