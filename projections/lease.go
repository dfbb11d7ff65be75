package projections

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/eventstore"
)

// Leadership. Several instances of the service may share one Redis: each read
// model is projected by one of them at a time, the holder of its lease, a key
// "rm:<name>:lease" set with SET NX PX to a token of the holder's own and
// renewed at a third of its lifetime, and with every commit. Every commit of
// the leader checks, inside its transaction (the lease key is WATCHed with the
// checkpoint), that the key holds its token, or nobody's: a leader paused past
// its lease (a long GC, a frozen VM) finds its next commit refused if another
// instance has taken over, never applied over its successor's. When the leader
// dies, its lease expires and another instance takes over. A rebuild's writes
// to its new generation are not fenced (nobody reads them); making it current
// is. A fenced transaction must take less than the lease: one that outlasts it
// fails (the watched key expires) and is tried again.
//
// The others follow: each commit publishes "<generation> <from> <to>" on
// "rm:<name>:commits", and a follower's Status (and so WaitFor, X-Min-Position
// and readiness) moves with what it hears, and with the checkpoint it reads
// from Redis now and then in case it missed a message.

// ErrNotLeader refuses a commit of a runner that does not hold the read model's
// lease (any more).
var ErrNotLeader = errors.New("projections: this instance no longer holds the read model's lease")

func leaseKey(name string) string { return ModelPrefix(name) + "lease" }

// CommitsChannel is the Redis channel a read model's leader publishes each
// commit on, as "<generation> <from position> <to position>".
func CommitsChannel(name string) string { return ModelPrefix(name) + "commits" }

// renewScript extends the lease if it is still the caller's, or takes it back
// if it ran out while nobody took it (a long transaction kept the renewal
// waiting): nobody else can have projected meanwhile.
var renewScript = redis.NewScript(`
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not held then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`)

// releaseScript gives the lease up if it is still the caller's, so that
// another instance takes over at once after a clean stop.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// defaultInstance names this process in its lease tokens, for operators who
// look at the key: host and process id.
func defaultInstance() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// tryLead takes the lease if nobody holds it, and returns its token ("" when
// another instance leads).
func (r *Runner) tryLead(ctx context.Context) (string, error) {
	b := make([]byte, 8)
	rand.Read(b)
	token := r.cfg.Instance + "/" + hex.EncodeToString(b)
	ok, err := r.cfg.Redis.SetNX(ctx, leaseKey(r.cfg.Projector.Name()), token, r.cfg.Lease).Result()
	if err != nil && ctx.Err() != nil {
		// Stopped while asking: Redis may have granted it all the same.
		r.release(ctx, token)
	}
	if err != nil || !ok {
		return "", err
	}
	return token, nil
}

// Leader returns the instance that holds the read model's lease ("" when none
// does): for operators and tests.
func Leader(ctx context.Context, rdb redis.Cmdable, name string) (string, error) {
	tok, err := rdb.Get(ctx, leaseKey(name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	instance, _, _ := strings.Cut(tok, "/")
	return instance, err
}

// lead projects while the lease is the runner's: it renews it, runs, retries
// failures with backoff, and returns once the lease is lost or ctx ends (then
// it gives the lease up).
func (r *Runner) lead(ctx context.Context, token string) {
	name := r.cfg.Projector.Name()
	r.setLeader(token)
	defer r.setLeader("")
	leadCtx, lost := context.WithCancel(ctx)
	defer lost()
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		tick := time.NewTicker(r.cfg.Lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-leadCtx.Done():
				return
			case <-tick.C:
			}
			r.fence.Lock()
			n, err := renewScript.Run(leadCtx, r.cfg.Redis, []string{leaseKey(name)}, token, r.cfg.Lease.Milliseconds()).Int()
			r.fence.Unlock()
			if err == nil && n == 0 {
				// Taken over. (A renewal that fails, with Redis down or busy, changes
				// nothing: the fence refuses commits if another took the lease.)
				lost()
				return
			}
		}
	}()
	backoff := 100 * time.Millisecond
	for leadCtx.Err() == nil {
		progressed, err := r.runOnce(leadCtx)
		if leadCtx.Err() != nil {
			break
		}
		r.failed(err)
		if progressed {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-leadCtx.Done():
		case <-time.After(jitter(backoff)):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	lost()
	<-renewed
	if ctx.Err() != nil {
		r.release(ctx, token) // a clean stop: hand over at once, not when the lease runs out
	}
}

// release gives the lease up, if it is still token's.
func (r *Runner) release(ctx context.Context, token string) {
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = releaseScript.Run(stopCtx, r.cfg.Redis, []string{leaseKey(r.cfg.Projector.Name())}, token).Err()
}

// followLeader keeps the status in step with the leader's commits until this
// runner takes the lease (returning its token) or ctx ends ("").
func (r *Runner) followLeader(ctx context.Context) (string, error) {
	name := r.cfg.Projector.Name()
	sub := r.cfg.Redis.Subscribe(ctx, CommitsChannel(name))
	defer sub.Close()
	msgs := sub.Channel()
	tick := time.NewTicker(min(r.cfg.CheckEvery, r.cfg.Lease/3))
	defer tick.Stop()
	if err := r.observe(ctx); err != nil {
		return "", err
	}
	for {
		select {
		case <-ctx.Done():
			return "", nil
		case m := <-msgs:
			r.heard(m.Payload)
		case <-tick.C:
			token, err := r.tryLead(ctx)
			if err != nil || token != "" {
				return token, err
			}
			if err := r.observe(ctx); err != nil {
				return "", err
			}
		}
	}
}

// observe reads the current generation and its checkpoint from Redis.
func (r *Runner) observe(ctx context.Context) error {
	keys, ok, err := CurrentKeys(ctx, r.cfg.Redis, r.cfg.Projector.Name())
	if err != nil {
		return err
	}
	if !ok {
		r.followed(0, eventstore.Position{}, false)
		return nil
	}
	cp, err := readCheckpoint(ctx, r.cfg.Redis, keys)
	if err != nil {
		return err
	}
	r.followed(keys.gen, cp, true)
	return nil
}

// heard takes in a commit message of the leader.
func (r *Runner) heard(payload string) {
	var gen int64
	var from, to string
	if _, err := fmt.Sscan(payload, &gen, &from, &to); err != nil {
		return
	}
	if p, err := eventstore.ParsePosition(to); err == nil {
		r.followed(gen, p, true)
	}
}

// followed records where the leader's read model is.
func (r *Runner) followed(gen int64, cp eventstore.Position, built bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != r.state.Generation || cp.Compare(r.state.Checkpoint) > 0 {
		r.state.Generation, r.state.Checkpoint = gen, cp
	}
	r.state.Running, r.state.LastError = built, nil
	r.signal()
}

// checkLease refuses a transaction of a runner that does not lead (token "")
// or whose lease another instance holds now. The caller WATCHes the lease key,
// so a lease taken between this check and EXEC fails the transaction too, and
// queues holdLease in it.
func checkLease(ctx context.Context, tx *redis.Tx, name, token string) error {
	if token == "" {
		return ErrNotLeader
	}
	held, err := tx.Get(ctx, leaseKey(name)).Result()
	if errors.Is(err, redis.Nil) {
		return nil // ran out with nobody taking it: the transaction takes it back
	}
	if err == nil && held != token {
		return ErrNotLeader
	}
	return err
}

// fenced runs fn in a transaction that watches keys and the lease key and
// holds only while this runner leads (checkLease); fn queues holdLease in it.
// The runner's own renewals wait meanwhile: they would fail it.
func (r *Runner) fenced(ctx context.Context, fn func(tx *redis.Tx, token string) error, keys ...string) error {
	name := r.cfg.Projector.Name()
	token := r.leaseToken()
	r.fence.Lock()
	defer r.fence.Unlock()
	return r.cfg.Redis.Watch(ctx, func(tx *redis.Tx) error {
		if err := checkLease(ctx, tx, name, token); err != nil {
			return err
		}
		return fn(tx, token)
	}, append(keys, leaseKey(name))...)
}

// holdLease renews (or takes back) the lease in a fenced transaction.
func (r *Runner) holdLease(ctx context.Context, w redis.Pipeliner, token string) {
	w.Set(ctx, leaseKey(r.cfg.Projector.Name()), token, r.cfg.Lease)
}
