package projections

import (
	"context"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/eventstore"
)

// Keys names the keys of one generation of a read model.
type Keys struct {
	prefix string
	gen    int64
}

// Key joins parts under the generation's prefix: Key("c", id) is
// "rm:<name>:<gen>:c:<id>".
func (k Keys) Key(parts ...string) string {
	s := k.prefix
	for i, p := range parts {
		if i > 0 {
			s += ":"
		}
		s += p
	}
	return s
}

// Prefix is the generation's prefix, ending in ":".
func (k Keys) Prefix() string { return k.prefix }

// ModelPrefix is what every key of a read model starts with: its generation
// pointer is ModelPrefix(name)+"gen", and generation g's keys are under
// ModelPrefix(name)+g+":". A Lua script that finds the generation itself
// builds its keys so.
func ModelPrefix(name string) string { return "rm:" + name + ":" }

func genKey(name string) string { return ModelPrefix(name) + "gen" }

func keysOf(name string, gen int64) Keys {
	return Keys{prefix: ModelPrefix(name) + strconv.FormatInt(gen, 10) + ":", gen: gen}
}

// KeysAt names the keys of generation gen of a read model.
func KeysAt(name string, gen int64) Keys { return keysOf(name, gen) }

func checkpointKey(k Keys) string { return k.Key("checkpoint") }

// CurrentKeys returns the keys of the generation queries should read, or false
// when the read model has none yet (a first build, or Redis lost its data).
func CurrentKeys(ctx context.Context, r redis.Cmdable, name string) (Keys, bool, error) {
	gen, err := r.Get(ctx, genKey(name)).Int64()
	if errors.Is(err, redis.Nil) {
		return Keys{}, false, nil
	}
	if err != nil {
		return Keys{}, false, err
	}
	return keysOf(name, gen), true, nil
}

func readCheckpoint(ctx context.Context, rdb redis.Cmdable, keys Keys) (eventstore.Position, error) {
	s, err := rdb.Get(ctx, checkpointKey(keys)).Result()
	if errors.Is(err, redis.Nil) {
		return eventstore.Position{}, nil
	}
	if err != nil {
		return eventstore.Position{}, err
	}
	return eventstore.ParsePosition(s)
}
