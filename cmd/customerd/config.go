package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
)

// config is customerd's configuration. Every setting is a flag and an environment
// variable (CUSTOMERD_ plus the flag's name in capitals, dashes as underscores);
// a flag wins over the variable.
type config struct {
	Addr            string
	Data            string
	EventStore      string
	Redis           string
	KeyStore        string
	MasterKeyFile   string
	CheckpointKey   string
	Tokens          string
	LogLevel        slog.Level
	PhoneRegion     string
	MaxBody         int64
	MinFreeSpace    uint64
	MinPositionWait time.Duration
	ReadyLag        time.Duration
	ShutdownTimeout time.Duration
	// Bus is where integration events go: channel, redis or nats.
	Bus         string
	NATSURL     string
	BusPersonal bool
	BusMaxLen   int64
}

// masterKeyEnv holds the master key itself, for deployments that inject secrets
// as variables. It has no flag: a key on a command line shows up in ps.
const masterKeyEnv = "CUSTOMERD_MASTER_KEY"

func envName(flagName string) string {
	return "CUSTOMERD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig reads flags, falling back to the environment, then to defaults.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("customerd", flag.ContinueOnError)
	fs.SetOutput(out)
	var envErrs []error
	str := func(p *string, name, def, usage string) {
		if v := getenv(envName(name)); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" ("+envName(name)+")")
	}
	dur := func(p *time.Duration, name string, def time.Duration, usage string) {
		if v := getenv(envName(name)); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s: %w", envName(name), err))
			}
			def = d
		}
		fs.DurationVar(p, name, def, usage+" ("+envName(name)+")")
	}
	str(&c.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	str(&c.Data, "data", "./data", "data directory: embedded event store, key file, tokens, master key")
	str(&c.EventStore, "eventstore", "", "KurrentDB connection string (esdb://host:2113?tls=false); empty: the embedded store in the data directory")
	str(&c.Redis, "redis", "", "Redis URL for the read models (redis://host:6379/0); empty: a redis-server customerd runs, saved in the data directory (without redis-server on PATH: in-process, rebuilt at every start)")
	str(&c.KeyStore, "keystore", "", "PostgreSQL URL of the data-key store that several instances share (postgres://user@host/db); empty: the key file in the data directory, for one instance")
	str(&c.MasterKeyFile, "master-key-file", "", "file holding the master key that wraps the data keys; created on first start (default <data>/master.key; or set "+masterKeyEnv+")")
	str(&c.CheckpointKey, "checkpoint-key-file", "", "file holding the Ed25519 key that signs the audit log's checkpoints; created on first start (default <data>/checkpoint.key)")
	str(&c.Tokens, "tokens", "", "bearer token file (hashes only) (default <data>/tokens.json)")
	str(&c.PhoneRegion, "phone-region", "US", "region of phone numbers typed without a country code (ISO 3166 alpha-2)")
	var level string
	str(&level, "log-level", "info", "log level: debug, info, warn or error")
	maxBody := "65536"
	str(&maxBody, "max-body", maxBody, "largest request body in bytes")
	minFree := "67108864"
	str(&minFree, "min-free-space", minFree, "free bytes the data directory needs for /readyz to report the store ready (embedded store)")
	str(&c.Bus, "bus", "channel", "where integration events are published: channel (in-process only), redis (Redis Streams on the read models' Redis) or nats (NATS JetStream at --nats-url)")
	str(&c.NATSURL, "nats-url", "", "NATS server for --bus nats (nats://host:4222)")
	personal := "false"
	str(&personal, "bus-personal", personal, "also publish the personal topic (customer-events-personal-v1) for trusted consumers: true or false")
	maxLen := "1000000"
	str(&maxLen, "bus-max-len", maxLen, "with --bus redis, trim each stream to about this many events")
	dur(&c.MinPositionWait, "min-position-wait", 5*time.Second, "how long a read waits for X-Min-Position before answering 503")
	dur(&c.ReadyLag, "ready-lag", 10*time.Second, "how far behind the log a read model may be while /readyz says ready")
	dur(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long shutdown waits for requests in flight")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (settings are flags: see --help)", fs.Arg(0))
	}
	errs := envErrs
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		errs = append(errs, fmt.Errorf("log-level: %w", err))
	}
	if _, err := fmt.Sscan(maxBody, &c.MaxBody); err != nil || c.MaxBody < 1024 {
		errs = append(errs, errors.New("max-body: want a number of bytes, at least 1024"))
	}
	if _, err := fmt.Sscan(minFree, &c.MinFreeSpace); err != nil || c.MinFreeSpace < 1 {
		errs = append(errs, errors.New("min-free-space: want a number of bytes, at least 1"))
	}
	switch c.Bus {
	case "channel", "redis":
	case "nats":
		if c.NATSURL == "" {
			errs = append(errs, errors.New("nats-url: --bus nats needs the server's URL"))
		}
	default:
		errs = append(errs, fmt.Errorf("bus: %q is not channel, redis or nats", c.Bus))
	}
	switch personal {
	case "true", "false":
		c.BusPersonal = personal == "true"
	default:
		errs = append(errs, errors.New("bus-personal: want true or false"))
	}
	if _, err := fmt.Sscan(maxLen, &c.BusMaxLen); err != nil || c.BusMaxLen < 1000 {
		errs = append(errs, errors.New("bus-max-len: want a number of events, at least 1000"))
	}
	if c.Data == "" {
		errs = append(errs, errors.New("data: a directory is required"))
	}
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = filepath.Join(c.Data, "master.key")
	}
	if c.CheckpointKey == "" {
		c.CheckpointKey = filepath.Join(c.Data, "checkpoint.key")
	}
	if c.Tokens == "" {
		c.Tokens = filepath.Join(c.Data, "tokens.json")
	}
	return c, errors.Join(errs...)
}
