package projections

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/eventstore"
)

// Config configures a Runner.
type Config struct {
	// Store is the log the runner reads. Required.
	Store eventstore.Store
	// Codec decodes (and unseals) the log's events. Required.
	Codec *codec.Codec
	// Redis holds the read model and its checkpoint. Required.
	Redis *redis.Client
	// Projector maintains the read model. Required.
	Projector Projector
	// Feed is the shared reader of the log the runner joins once it has caught
	// up; whoever made it runs it. Default: a feed of the runner's own, which
	// Run runs.
	Feed *Feed
	// BatchSize caps the events of one transaction while the runner catches up
	// on its own. Default 512.
	BatchSize int
	// RebuildBatchSize caps the events of one transaction of a rebuild, which
	// nobody reads until it is done: larger batches share more writes (a read
	// model's key touched by many customers is written once). Default: the
	// projector's RebuildBatchSize if it has one (RebuildBatcher), else 8192.
	RebuildBatchSize int
	// Clock is for lag figures. Default time.Now.
	Clock func() time.Time
	// CheckEvery is how often an idle runner checks that its generation still
	// exists in Redis, and a follower reads the leader's checkpoint. Default one
	// second.
	CheckEvery time.Duration
	// Lease is how long leadership of the read model lasts unrenewed (lease.go):
	// when the leader dies, another instance takes over within about this long.
	// Default three seconds.
	Lease time.Duration
	// Instance names this process in the lease, for operators. Default
	// "<host>:<pid>".
	Instance string
	// Logger hears of rebuilds and why they happen. Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 512
	}
	if b, ok := c.Projector.(RebuildBatcher); ok && c.RebuildBatchSize == 0 {
		c.RebuildBatchSize = b.RebuildBatchSize()
	}
	if c.RebuildBatchSize == 0 {
		c.RebuildBatchSize = 8192
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.CheckEvery == 0 {
		c.CheckEvery = time.Second
	}
	if c.Lease == 0 {
		c.Lease = 3 * time.Second
	}
	if c.Instance == "" {
		c.Instance = defaultInstance()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	for _, r := range []struct {
		name    string
		missing bool
	}{{"store", c.Store == nil}, {"codec", c.Codec == nil}, {"redis", c.Redis == nil}, {"projector", c.Projector == nil}} {
		if r.missing {
			errs = append(errs, fmt.Errorf("%s is required", r.name))
		}
	}
	if c.BatchSize < 0 || c.RebuildBatchSize < 0 || c.CheckEvery < 0 {
		errs = append(errs, errors.New("batch sizes and the check interval must not be negative"))
	}
	if c.Lease < 0 || c.Lease > 0 && c.Lease < 30*time.Millisecond {
		errs = append(errs, errors.New("the lease must be at least 30ms"))
	}
	return errors.Join(errs...)
}
