// Command customerd serves the Customer service's HTTP API.
//
// With no flags it runs the embedded mode: events in a bbolt file under ./data,
// read models in a redis-server it runs itself with its snapshot in the data
// directory (or, without redis-server, in an in-process Redis-protocol server
// rebuilt from the log at every start: redis.go), listening on 127.0.0.1:8080.
// --eventstore, --redis and --keystore point it at KurrentDB, a real Redis and
// a shared key table instead. customerd --help lists every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fieldservice/customer-service/api"
	"github.com/fieldservice/customer-service/api/auth"
	"github.com/fieldservice/customer-service/auditlog"
	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/eventstore/embedded"
	"github.com/fieldservice/customer-service/eventstore/kurrent"
	"github.com/fieldservice/customer-service/integration"
	"github.com/fieldservice/customer-service/keystore"
	keyfile "github.com/fieldservice/customer-service/keystore/embedded"
	keytable "github.com/fieldservice/customer-service/keystore/postgres"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/accessreport"
	"github.com/fieldservice/customer-service/projections/balances"
	"github.com/fieldservice/customer-service/projections/customerview"
	"github.com/fieldservice/customer-service/projections/search"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "customerd:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("customerd stopped", "error", err.Error())
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts down in order: stop taking requests and
// finish those in flight, stop the projections, close the stores.
func run(ctx context.Context, cfg config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	master, err := masterKey(cfg, log)
	if err != nil {
		return err
	}
	keyStore, err := openKeyStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer keyStore.Close()
	keys, err := keystore.NewKeyring(keyStore, master, keystore.KeyringOptions{})
	if err != nil {
		return err
	}
	metrics := api.NewMetrics()
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	store = eventstore.ObserveAppends(store, metrics.ObserveAppend)
	// The embedded store and the key file write to the data directory: its
	// free space is a readiness check and a metric. KurrentDB watches its own.
	var freeSpace func() (uint64, error)
	if cfg.EventStore == "" {
		freeSpace = func() (uint64, error) { return dataFree(cfg.Data) }
	}

	app, err := commands.New(ctx, commands.Config{Store: store, Keys: keys, PhoneRegion: cfg.PhoneRegion})
	if err != nil {
		return err
	}
	cdc, err := codec.New(commands.Events, keys)
	if err != nil {
		return err
	}
	rdb, closeRedis, redisKind, err := openRedis(ctx, cfg, keys.MasterKeyID(), log)
	if err != nil {
		return err
	}
	defer closeRedis()

	feed, err := projections.NewFeed(projections.FeedConfig{Store: store, Codec: cdc})
	if err != nil {
		return err
	}
	bus, err := integration.NewBus(integration.BusConfig{Kind: cfg.Bus, Redis: rdb, MaxLen: cfg.BusMaxLen, NATSURL: cfg.NATSURL})
	if err != nil {
		return err
	}
	defer bus.Close()
	relay := integration.Relay{Publisher: bus, Bus: cfg.Bus, Personal: cfg.BusPersonal}
	runners := map[string]*projections.Runner{}
	for _, p := range []projections.Projector{customerview.Projector{}, search.Projector{}, balances.Projector{}, accessreport.Projector{},
		relay} {
		r, err := projections.NewRunner(projections.Config{Store: store, Codec: cdc, Redis: rdb, Projector: p, Feed: feed, Logger: log})
		if err != nil {
			return err
		}
		runners[p.Name()] = r
	}
	views, index := runners[customerview.Name], runners[search.Name]

	created, err := auth.Bootstrap(cfg.Tokens, filepath.Join(cfg.Data, "admin.token"), time.Now())
	if err != nil {
		return err
	}
	if created {
		log.Warn("created the first admin token; read it from the file, then keep it safe or revoke it with customerctl",
			"file", filepath.Join(cfg.Data, "admin.token"))
	}
	tokens, err := auth.Open(cfg.Tokens)
	if err != nil {
		return err
	}
	signer, created, err := auditlog.LoadOrCreateKey(cfg.CheckpointKey)
	if err != nil {
		return err
	}
	if created {
		log.Warn("created the checkpoint signing key; keep it like the master key", "file", cfg.CheckpointKey)
	}
	audit := auditlog.New(store, signer)
	handler, err := api.New(api.Config{Audit: audit, App: app, Redis: rdb, Views: views, Search: index, Balances: runners[balances.Name], Access: runners[accessreport.Name],
		Relay: runners[relay.Name()], Republisher: &integration.Republisher{App: app, Publisher: bus, Personal: cfg.BusPersonal},
		Tokens: tokens, Metrics: metrics, Logger: log, MaxBody: cfg.MaxBody, MinPositionWait: cfg.MinPositionWait,
		ReadyLag: cfg.ReadyLag, FreeSpace: freeSpace, MinFreeSpace: cfg.MinFreeSpace})
	if err != nil {
		return err
	}

	projCtx, stopProjections := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = feed.Run(projCtx) })
	wg.Go(func() {
		if err := audit.Run(projCtx); err != nil && projCtx.Err() == nil {
			log.Error("audit log stopped", "error", err)
		}
	})
	for _, r := range runners {
		wg.Go(func() { _ = r.Run(projCtx) })
	}
	defer func() { stopProjections(); wg.Wait() }()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("customerd serving", "addr", ln.Addr().String(), "data", cfg.Data, "eventstore", storeKind(cfg),
		"redis", redisKind, "keystore", keyStoreKind(cfg), "tokens", cfg.Tokens, "bus", cfg.Bus)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func masterKey(cfg config, log *slog.Logger) (*keystore.MasterKey, error) {
	if v := os.Getenv(masterKeyEnv); v != "" {
		k, err := keystore.ParseMasterKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", masterKeyEnv, err)
		}
		return k, nil
	}
	k, created, err := keystore.LoadOrCreateMasterKeyFile(cfg.MasterKeyFile)
	if created {
		log.Warn("created a new master key; back it up apart from the data: without it no personal data can be read",
			"file", cfg.MasterKeyFile)
	}
	return k, err
}

func openKeyStore(ctx context.Context, cfg config) (keystore.Store, error) {
	if cfg.KeyStore == "" {
		return keyfile.Open(filepath.Join(cfg.Data, "keys.db"))
	}
	return keytable.Open(ctx, cfg.KeyStore)
}

func openStore(ctx context.Context, cfg config) (eventstore.Store, error) {
	if cfg.EventStore == "" {
		return embedded.Open(embedded.Config{Path: filepath.Join(cfg.Data, "events.db")})
	}
	return kurrent.Open(ctx, kurrent.Config{URL: cfg.EventStore, StreamPrefixes: commands.StreamPrefixes()})
}

func storeKind(cfg config) string {
	if cfg.EventStore == "" {
		return "embedded"
	}
	return "kurrentdb"
}

func keyStoreKind(cfg config) string {
	if cfg.KeyStore == "" {
		return "file"
	}
	return "postgresql"
}

// dataFree is the space left to an unprivileged writer on the file system of dir.
func dataFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}
