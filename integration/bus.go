package integration

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	nc "github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

// The buses a relay can publish to.
const (
	// Channel is watermill's in-process GoChannel: for subscribers in the same
	// process, and the embedded default. Nothing outside the process sees it.
	Channel = "channel"
	// Redis is Redis Streams, on the Redis the read models use.
	Redis = "redis"
	// NATS is NATS JetStream.
	NATS = "nats"
)

// BusConfig chooses and configures the publisher.
type BusConfig struct {
	// Kind is Channel, Redis or NATS.
	Kind string
	// Redis is the client for Kind Redis.
	Redis redis.UniversalClient
	// MaxLen trims each Redis stream to about this many events (XADD MAXLEN ~).
	// Default 1,000,000; a subscriber further behind than that has lost data and
	// needs a republish.
	MaxLen int64
	// NATSURL is the server for Kind NATS.
	NATSURL string
	// Logger gets watermill's own log lines. Default: none.
	Logger *slog.Logger
}

// Bus is a publisher and what closes it; Channel also subscribes.
type Bus struct {
	message.Publisher
	// Subscriber is set for Channel: in-process subscribers use it.
	Subscriber message.Subscriber
}

// NewBus returns the publisher cfg names.
func NewBus(cfg BusConfig) (*Bus, error) {
	var logger watermill.LoggerAdapter = watermill.NopLogger{}
	if cfg.Logger != nil {
		logger = watermill.NewSlogLogger(cfg.Logger)
	}
	switch cfg.Kind {
	case Channel, "":
		ch := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 1024}, logger)
		return &Bus{Publisher: ch, Subscriber: ch}, nil
	case Redis:
		if cfg.Redis == nil {
			return nil, errors.New("integration: the redis bus needs a Redis client")
		}
		if cfg.MaxLen == 0 {
			cfg.MaxLen = 1_000_000
		}
		p, err := redisstream.NewPublisher(redisstream.PublisherConfig{Client: cfg.Redis, DefaultMaxlen: cfg.MaxLen}, logger)
		if err != nil {
			return nil, fmt.Errorf("integration: redis bus: %w", err)
		}
		return &Bus{Publisher: p}, nil
	case NATS:
		if cfg.NATSURL == "" {
			return nil, errors.New("integration: the nats bus needs a server URL (--nats-url)")
		}
		p, err := nats.NewPublisher(nats.PublisherConfig{
			URL: cfg.NATSURL,
			// Reconnect for ever: an outage pauses the relay, it never ends it.
			NatsOptions: []nc.Option{nc.MaxReconnects(-1), nc.ReconnectWait(250 * time.Millisecond), nc.RetryOnFailedConnect(true)},
			Marshaler:   &nats.NATSMarshaler{},
			JetStream: nats.JetStreamConfig{AutoProvision: true, TrackMsgId: true,
				PublishOptions: []nc.PubOpt{nc.AckWait(5 * time.Second)}},
		}, logger)
		if err != nil {
			return nil, fmt.Errorf("integration: nats bus: %w", err)
		}
		return &Bus{Publisher: p}, nil
	}
	return nil, fmt.Errorf("integration: unknown bus %q (want channel, redis or nats)", cfg.Kind)
}
