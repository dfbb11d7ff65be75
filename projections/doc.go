// Package projections keeps the Redis read models up to date with the event log.
//
// A Runner keeps one read model: it follows the store's global log from a
// checkpoint kept in Redis and hands batches of decoded events to its
// Projector; the projector's writes and the new checkpoint commit together in
// one MULTI/EXEC, so a crash replays at most one batch, with the same result.
//
// Runners share a Feed: one subscription to the log, each event decoded (and
// unsealed) once and handed to every runner that has caught up with it. A
// runner that is behind (a first build, a restart from an older checkpoint, a
// rebuild) reads the log on its own until it reaches the feed, then joins it.
//
// With several instances on one Redis, each read model is projected by one of
// them, the holder of its lease; the others follow its commits (lease.go).
//
// Keys of a read model live under "rm:<name>:<generation>:". The current
// generation is in "rm:<name>:gen"; a rebuild fills the next generation from the
// start of the log while queries keep reading the current one, then switches the
// pointer in one transaction. If Redis loses its data (the pointer is gone), the
// runner rebuilds from the start by itself.
//
// # Writing a read model
//
// A read model is a Projector; the customer view (package customerview) is the
// worked example:
//
//	// Name is the read model's identity: its keys and checkpoint. A new
//	// layout is a new name (and a rebuild).
//	func (Projector) Name() string { return "customers-v1" }
//
//	// EventTypes (optional, Subscriber): only these are decoded and handed over.
//	func (Projector) EventTypes() []string { return customerbatch.EventTypes() }
//
//	// Project reads what the batch touches through r (the model as it was
//	// before the batch) and queues its writes on w, under keys.Key(...). It
//	// must be deterministic: a crash can run a batch twice.
//	func (Projector) Project(ctx context.Context, keys projections.Keys,
//		r redis.Cmdable, w redis.Pipeliner, batch []projections.Event) error {
//		ids, byID := customerbatch.Group(batch)
//		... load the views of ids with r.MGet, apply byID[id] through the
//		aggregate's own Apply, w.Set the new views and their list entries ...
//	}
//
// Optional interfaces tune a rebuild (RebuildBatcher, Compactor) or retire the
// keys of the layouts a new one replaced (Retirer). Queries read the current
// generation with CurrentKeys.
//
// The service runs every read model on one feed:
//
//	feed, _ := projections.NewFeed(projections.FeedConfig{Store: store, Codec: cdc})
//	views, _ := projections.NewRunner(projections.Config{Store: store, Codec: cdc,
//		Redis: rdb, Projector: customerview.Projector{}, Feed: feed})
//	go feed.Run(ctx)
//	go views.Run(ctx)
//	views.WaitFor(ctx, position) // read-your-writes
package projections
