package commands

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/reservation"
	"github.com/fieldservice/customer-service/eventstore"
)

// idempotency remembers, per key, which request claimed it and what it returned,
// in a stream per key (named by the key's hash), so retries are answered the same
// after a restart and across instances.
//
// A claim is written before the command runs, so two requests with one key never
// both act. Requests with a key that is running in this process wait for it; one
// running in another process gets ErrIdempotencyInProgress. A claim left by a crash
// is resumed after the grace period, with the customer id it recorded, so a
// registration cannot create a second customer.
type idempotency struct {
	streams
	key   []byte // keys the request fingerprints: they hash personal input
	grace time.Duration
	clock func() time.Time

	mu       sync.Mutex
	inflight map[string]chan struct{}
}

type keyState struct {
	claim   *reservation.CommandClaimed
	claimAt time.Time
	done    *reservation.CommandCompleted
	head    codec.Head
}

func (i *idempotency) state(ctx context.Context, stream string) (keyState, error) {
	var s keyState
	head, err := i.read(ctx, stream, eventstore.ReadOptions{}, func(ev codec.Event, _ eventstore.RecordedEvent, meta codec.Metadata) error {
		switch e := ev.(type) {
		case reservation.CommandClaimed:
			s.claim, s.claimAt, s.done = &e, meta.OccurredAt, nil
		case reservation.CommandCompleted:
			s.done = &e
		case reservation.CommandFailed:
			s.claim, s.done = nil, nil
		}
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("read idempotency key: %w", err)
	}
	s.head = head
	return s, nil
}

// run executes fn at most once per key. id is the customer the command acts on;
// fn receives the id to use (the claimed one when resuming) and whether it resumes
// a claim left by a crash.
func (i *idempotency) run(ctx context.Context, meta Meta, command string, input any, id string,
	fn func(id string, resumed bool) (Result, error)) (Result, error) {
	if meta.IdempotencyKey == "" {
		return fn(id, false)
	}
	hash := i.requestHash(command, input)
	if err := i.enter(ctx, meta.IdempotencyKey); err != nil {
		return Result{}, err
	}
	defer i.leave(meta.IdempotencyKey)

	sum := sha256.Sum256([]byte(meta.IdempotencyKey))
	stream := reservation.IdempotencyStream.Name(hex.EncodeToString(sum[:16]))
	s, err := i.state(ctx, stream)
	if err != nil {
		return Result{}, err
	}
	resumed := false
	switch {
	case s.claim != nil && s.claim.RequestHash != hash:
		return Result{}, ErrIdempotencyKeyReused
	case s.done != nil:
		pos, err := eventstore.ParsePosition(s.done.Position)
		if err != nil {
			return Result{}, fmt.Errorf("idempotency key result: %w", err)
		}
		return Result{CustomerID: s.done.CustomerID, Number: s.done.Number, Version: s.done.Version, Position: pos}, nil
	case s.claim != nil && i.clock().Sub(s.claimAt) < i.grace:
		return Result{}, ErrIdempotencyInProgress
	case s.claim != nil:
		id, resumed = s.claim.CustomerID, true
	}
	md := meta.metadata(i.clock())
	head, err := i.record(ctx, stream, s.head, reservation.CommandClaimed{RequestHash: hash, Command: command, CustomerID: id}, md)
	if err != nil {
		if errors.Is(err, eventstore.ErrWrongVersion) {
			return Result{}, ErrIdempotencyInProgress // another instance claimed it just now
		}
		return Result{}, err
	}
	res, err := fn(id, resumed)
	var outcome codec.Event = reservation.CommandCompleted{CustomerID: res.CustomerID, Number: res.Number, Version: res.Version, Position: res.Position.String()}
	if err != nil {
		outcome = reservation.CommandFailed{Reason: errorKind(err)}
	}
	if _, rerr := i.record(ctx, stream, head, outcome, md); rerr != nil && err == nil {
		return Result{}, fmt.Errorf("record idempotent result: %w", rerr)
	}
	return res, err
}

func (i *idempotency) record(ctx context.Context, stream string, head codec.Head, e codec.Event, md codec.Metadata) (codec.Head, error) {
	next, _, err := i.append(ctx, codec.Batch{Stream: stream, Head: head}, md, e)
	return next, err
}

// requestHash fingerprints a command's input, to tell a retry from a different
// request under the same idempotency key. It is keyed: the input holds personal
// data, and an unkeyed hash of it could be confirmed by guessing.
func (i *idempotency) requestHash(command string, input any) string {
	b, _ := json.Marshal(input) // inputs are plain data: encoding cannot fail
	m := hmac.New(sha256.New, i.key)
	m.Write([]byte(command + "\x00"))
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// enter waits until no other request with key runs in this process.
func (i *idempotency) enter(ctx context.Context, key string) error {
	for {
		i.mu.Lock()
		ch, busy := i.inflight[key]
		if !busy {
			i.inflight[key] = make(chan struct{})
			i.mu.Unlock()
			return nil
		}
		i.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (i *idempotency) leave(key string) {
	i.mu.Lock()
	close(i.inflight[key])
	delete(i.inflight, key)
	i.mu.Unlock()
}

// errorKind names an error without its text, which may quote personal data.
func errorKind(err error) string {
	for _, known := range []error{customer.ErrInvalid, customer.ErrErased, customer.ErrNotArchived, ErrEmailTaken, ErrStaleVersion,
		ErrConflict, ErrForbidden, ErrCustomerNotFound} {
		if errors.Is(err, known) {
			return known.Error()
		}
	}
	return fmt.Sprintf("%T", err)
}
