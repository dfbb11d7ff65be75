package commands

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/reservation"
	"github.com/fieldservice/customer-service/eventstore"
)

// emails keeps primary emails unique with one reservation stream per email, named
// by a keyed hash of the normalized address (no stream name holds an email).
//
// Reserving and saving the customer are two appends, so a crash between them can
// leave a reservation whose owner never got (or no longer has) the email. Such a
// reservation is taken over once it is older than the grace period and its owner
// does not hold the email; the grace period is far longer than any command may run,
// so a registration still in flight never loses its email.
type emails struct {
	streams
	key   []byte
	grace time.Duration
	clock func() time.Time
	// holds reports whether customer id currently has the email as its primary one.
	holds func(ctx context.Context, id, email string) (bool, error)
}

type emailClaim struct {
	owner string
	at    time.Time
	head  codec.Head
}

func (e emails) stream(email string) string {
	m := hmac.New(sha256.New, e.key)
	m.Write([]byte(customer.EmailKey(email)))
	return reservation.EmailStream.Name(hex.EncodeToString(m.Sum(nil)[:16]))
}

func (e emails) claim(ctx context.Context, stream string) (emailClaim, error) {
	last, meta, head, err := e.last(ctx, stream)
	if err != nil {
		return emailClaim{}, fmt.Errorf("read email reservation: %w", err)
	}
	c := emailClaim{head: head, at: meta.OccurredAt}
	if r, ok := last.(reservation.EmailReserved); ok {
		c.owner = r.CustomerID
	}
	return c, nil
}

// reserve gives email to customer id, or fails with *EmailTakenError.
func (e emails) reserve(ctx context.Context, email, id string, meta Meta) error {
	stream := e.stream(email)
	for attempt := 0; ; attempt++ {
		c, err := e.claim(ctx, stream)
		if err != nil {
			return err
		}
		if c.owner == id {
			return nil
		}
		if c.owner != "" {
			if e.clock().Sub(c.at) < e.grace {
				return &EmailTakenError{OwnerID: c.owner}
			}
			held, err := e.holds(ctx, c.owner, email)
			if err != nil {
				return err
			}
			if held {
				return &EmailTakenError{OwnerID: c.owner}
			}
		}
		err = e.record(ctx, stream, c.head, reservation.EmailReserved{CustomerID: id}, meta)
		if errors.Is(err, eventstore.ErrWrongVersion) && attempt == 0 {
			continue // someone else reserved it meanwhile: read who, once
		}
		if err != nil {
			return fmt.Errorf("reserve email: %w", err)
		}
		return nil
	}
}

// release frees email if customer id still owns it. Losing a race here means the
// email has a new owner already: nothing to release.
func (e emails) release(ctx context.Context, email, id string, meta Meta) error {
	stream := e.stream(email)
	c, err := e.claim(ctx, stream)
	if err != nil || c.owner != id {
		return err
	}
	err = e.record(ctx, stream, c.head, reservation.EmailReleased{CustomerID: id}, meta)
	if err != nil && !errors.Is(err, eventstore.ErrWrongVersion) {
		return fmt.Errorf("release email: %w", err)
	}
	return nil
}

func (e emails) record(ctx context.Context, stream string, head codec.Head, ev codec.Event, meta Meta) error {
	_, _, err := e.streams.append(ctx, codec.Batch{Stream: stream, Head: head}, meta.metadata(e.clock()), ev)
	return err
}

// numbers hands out customer numbers from one stream whose version is the last
// number given: the store's optimistic concurrency keeps them unique across
// instances; a mutex keeps this instance's callers from racing each other.
type numbers struct {
	streams
	clock func() time.Time

	mu    sync.Mutex
	known bool
	head  codec.Head // its version is the last number given
}

func (n *numbers) assign(ctx context.Context, id string, meta Meta) (int64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for attempt := 0; attempt < 100; attempt++ {
		if !n.known {
			if err := n.readHead(ctx); err != nil {
				return 0, err
			}
		}
		next := int64(n.head.Version + 1)
		head, _, err := n.append(ctx, codec.Batch{Stream: reservation.NumberStream.Name(""), Head: n.head},
			meta.metadata(n.clock()), reservation.NumberAssigned{CustomerID: id, Number: next})
		if errors.Is(err, eventstore.ErrWrongVersion) {
			n.known = false // another instance took it: reread and try the next one
			continue
		}
		if err != nil {
			n.known = false
			return 0, fmt.Errorf("assign customer number: %w", err)
		}
		n.head = head
		return next, nil
	}
	return 0, fmt.Errorf("assign customer number: %w: gave up after 100 lost races", ErrConflict)
}

func (n *numbers) readHead(ctx context.Context) error {
	_, _, head, err := n.last(ctx, reservation.NumberStream.Name(""))
	if err != nil {
		return fmt.Errorf("read customer numbers: %w", err)
	}
	n.head, n.known = head, true
	return nil
}
