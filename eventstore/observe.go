package eventstore

import (
	"context"
	"time"
)

// ObserveAppends wraps s so that observe learns how long each append took until
// it was durable, and whether it failed: for latency metrics.
func ObserveAppends(s Store, observe func(d time.Duration, err error)) Store {
	return observedStore{s, observe}
}

type observedStore struct {
	Store
	observe func(time.Duration, error)
}

func (s observedStore) Append(ctx context.Context, stream string, expected ExpectedVersion, events ...EventData) (AppendResult, error) {
	start := time.Now()
	res, err := s.Store.Append(ctx, stream, expected, events...)
	s.observe(time.Since(start), err)
	return res, err
}
