// Package postgres is a keystore.Store in a PostgreSQL table, for several
// instances of the service that must share their customers' data keys (the
// embedded key file serves one process).
//
// A destroyed key's row stays, with its wrapped bytes set to NULL, so the id is
// never reused; the table is vacuumed right after, so the old row version
// leaves the table's pages. PostgreSQL's write-ahead log, its replicas and its
// backups still hold the old bytes until they are recycled: keep their
// retention within the erasure promise, as for disk snapshots.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fieldservice/customer-service/keystore"
)

const schema = `CREATE TABLE IF NOT EXISTS customerd_keys (
	id        uuid PRIMARY KEY,
	wrapped   bytea CHECK (octet_length(wrapped) BETWEEN 1 AND 96),
	destroyed boolean NOT NULL DEFAULT false,
	CHECK (destroyed = (wrapped IS NULL))
)`

// Store is a key table. It is safe for concurrent use, by many processes.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the database at url (postgres://…) and creates the key table
// when it is missing.
func Open(ctx context.Context, url string) (*Store, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	if err := createTable(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("key store: create table: %w", err)
	}
	return &Store{pool: pool}, nil
}

// createTable creates the key table once, however many instances start at
// once: CREATE TABLE IF NOT EXISTS alone races with itself.
func createTable(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('customerd_keys'))`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, schema); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func check(wrapped []byte) error {
	if len(wrapped) == 0 || len(wrapped) > keystore.MaxWrappedSize {
		return fmt.Errorf("key store: a wrapped key has 1 to %d bytes, not %d", keystore.MaxWrappedSize, len(wrapped))
	}
	return nil
}

// Create implements keystore.Store.
func (s *Store) Create(ctx context.Context, id uuid.UUID, wrapped []byte) error {
	if err := check(wrapped); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO customerd_keys (id, wrapped) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, id, wrapped)
	if err != nil {
		return fmt.Errorf("key store: create %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("key %s: %w", id, keystore.ErrExists)
	}
	return nil
}

// Get implements keystore.Store.
func (s *Store) Get(ctx context.Context, id uuid.UUID) ([]byte, error) {
	var wrapped []byte
	var destroyed bool
	err := s.pool.QueryRow(ctx, `SELECT wrapped, destroyed FROM customerd_keys WHERE id = $1`, id).Scan(&wrapped, &destroyed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("key %s: %w", id, keystore.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("key store: get %s: %w", id, err)
	case destroyed:
		return nil, fmt.Errorf("key %s: %w", id, keystore.ErrDestroyed)
	}
	return wrapped, nil
}

// Replace implements keystore.Store.
func (s *Store) Replace(ctx context.Context, id uuid.UUID, old, next []byte) error {
	if err := check(next); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE customerd_keys SET wrapped = $3 WHERE id = $1 AND wrapped = $2 AND NOT destroyed`, id, old, next)
	if err != nil {
		return fmt.Errorf("key store: replace %s: %w", id, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("key %s: %w", id, keystore.ErrChanged)
}

// Destroy implements keystore.Store.
func (s *Store) Destroy(ctx context.Context, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `UPDATE customerd_keys SET wrapped = NULL, destroyed = true WHERE id = $1 AND NOT destroyed`, id)
	if err != nil {
		return fmt.Errorf("key store: destroy %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		_, err := s.Get(ctx, id)
		return err
	}
	// The update left the old row version in the table's pages until a vacuum:
	// remove it now, not at autovacuum's leisure.
	if _, err := s.pool.Exec(ctx, `VACUUM customerd_keys`); err != nil {
		return fmt.Errorf("key store: destroy %s: vacuum: %w", id, err)
	}
	return nil
}

// Keys implements keystore.Store.
func (s *Store) Keys(ctx context.Context) iter.Seq2[keystore.Entry, error] {
	return func(yield func(keystore.Entry, error) bool) {
		rows, err := s.pool.Query(ctx, `SELECT id, wrapped FROM customerd_keys WHERE NOT destroyed`)
		if err != nil {
			yield(keystore.Entry{}, fmt.Errorf("key store: list: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var e keystore.Entry
			if err := rows.Scan(&e.ID, &e.Wrapped); err != nil {
				yield(keystore.Entry{}, fmt.Errorf("key store: list: %w", err))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(keystore.Entry{}, fmt.Errorf("key store: list: %w", err))
		}
	}
}

// Close implements keystore.Store.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
