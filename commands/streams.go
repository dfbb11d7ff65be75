package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/eventstore"
)

// streams reads and appends the events of one stream at a time: every command's
// way to the store. Each append continues the hash chain from the head its
// caller read, and expects the stream at that head's version, so a write decided
// on a stale read fails with eventstore.ErrWrongVersion instead of being lost.
type streams struct {
	store eventstore.Store
	codec *codec.Codec
}

// read decodes the events of stream that opts selects, in order, passing each to
// fn (nil: decode only for the head). It returns the head of the stream's chain
// as far as it read: the newest event it saw, or the zero Head when the stream
// does not exist.
func (s streams) read(ctx context.Context, stream string, opts eventstore.ReadOptions,
	fn func(e codec.Event, rec eventstore.RecordedEvent, meta codec.Metadata) error) (codec.Head, error) {
	var head codec.Head
	for rec, err := range s.store.ReadStream(ctx, stream, opts) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return codec.Head{}, nil
		}
		if err != nil {
			return head, fmt.Errorf("read %s: %w", stream, err)
		}
		e, meta, err := s.codec.Decode(ctx, rec)
		if err != nil {
			return head, fmt.Errorf("read %s: %w", stream, err)
		}
		if rec.Version > head.Version {
			head = codec.Head{Version: rec.Version, Hash: meta.Hash}
		}
		if fn != nil {
			if err := fn(e, rec, meta); err != nil {
				return head, err
			}
		}
	}
	return head, nil
}

// last decodes a stream's newest event: nil and the zero Head when there is none.
func (s streams) last(ctx context.Context, stream string) (codec.Event, codec.Metadata, codec.Head, error) {
	var last codec.Event
	var md codec.Metadata
	head, err := s.read(ctx, stream, eventstore.ReadOptions{Direction: eventstore.Backwards, Limit: 1},
		func(e codec.Event, _ eventstore.RecordedEvent, meta codec.Metadata) error {
			last, md = e, meta
			return nil
		})
	return last, md, head, err
}

// append encodes events after b.Head and appends them, expecting the stream at
// b.Head's version. It returns the stream's new head and where the events landed.
func (s streams) append(ctx context.Context, b codec.Batch, meta codec.Metadata, events ...codec.Event) (codec.Head, eventstore.AppendResult, error) {
	data, head, err := s.codec.Encode(ctx, b, meta, events...)
	if err != nil {
		return b.Head, eventstore.AppendResult{}, err
	}
	res, err := s.store.Append(ctx, b.Stream, eventstore.Exact(b.Head.Version), data...)
	if err != nil {
		return b.Head, res, err
	}
	return head, res, nil
}
