package storage

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"strings"

	"github.com/lib/pq"
)

// stmtCacheSize bounds the prepared statements kept per connection: the
// store's statements are fixed strings, about a hundred of them, but a few
// are built for a batch's size.
const stmtCacheSize = 256

// cachingConnector hands database/sql connections that keep each statement
// they run with arguments prepared, keyed by its text, so that a statement
// is parsed (and on PostgreSQL planned) once per connection instead of once
// per call: database/sql prepares, runs and closes a statement for every
// call with arguments. SQLite's parser was about a third of the store's
// CPU, and PostgreSQL's planning 40% of an MO's statement time. No library
// does this below database/sql; the ones that exist wrap *sql.DB, which
// sqlx's Get and Select would bypass.
//
// SQLite prepares a kept statement again by itself when the schema
// changes. PostgreSQL gives a kept statement a generic plan after five
// calls, made for the tables as they are then: one made while a table was
// young kept a sequential scan as the table grew (the caps' query took
// 2.3-3.8 ms a call after 3,000 donations, against 0.09 ms). The store's
// PostgreSQL sessions therefore run with enable_seqscan=off
// (withoutSeqScans): every statement of the store reads through an index.
// A kept statement whose result columns a migration changed fails once
// ("cached plan must not change result type") and is prepared again at its
// next call.
type cachingConnector struct {
	open   func(context.Context) (driver.Conn, error)
	driver driver.Driver
}

func (c *cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := dc.(innerConn)
	if !ok {
		_ = dc.Close()
		return nil, errors.New("storage: the database driver lacks context support")
	}
	return &cachingConn{inner: inner, byQuery: map[string]*list.Element{}, lru: list.New()}, nil
}

func (c *cachingConnector) Driver() driver.Driver { return c.driver }

// innerConn is what the connections of modernc.org/sqlite and lib/pq provide.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is used by one goroutine at a time (database/sql's rule for a
// driver.Conn), so it needs no lock.
type cachingConn struct {
	inner   innerConn
	byQuery map[string]*list.Element // of *cachedStmt
	lru     *list.List               // front: most recently used
}

type cachedStmt struct {
	query string
	stmt  driver.Stmt
	busy  bool // its rows are open: running it again would reset them
}

// stmt returns the statement prepared for query, preparing it on a miss;
// a busy one is prepared again, uncached, and closed with its use (owned).
func (c *cachingConn) stmt(ctx context.Context, query string) (cs *cachedStmt, owned bool, err error) {
	if e, ok := c.byQuery[query]; ok {
		cs = e.Value.(*cachedStmt)
		if !cs.busy {
			c.lru.MoveToFront(e)
			return cs, false, nil
		}
		st, err := c.inner.PrepareContext(ctx, query)
		if err != nil {
			return nil, false, err
		}
		return &cachedStmt{query: query, stmt: st}, true, nil
	}
	st, err := c.inner.PrepareContext(ctx, query)
	if err != nil {
		return nil, false, err
	}
	cs = &cachedStmt{query: query, stmt: st}
	c.byQuery[query] = c.lru.PushFront(cs)
	for c.lru.Len() > stmtCacheSize {
		old := c.lru.Back()
		if old.Value.(*cachedStmt).busy {
			break // closed with the connection
		}
		c.drop(old)
	}
	return cs, false, nil
}

func (c *cachingConn) drop(e *list.Element) {
	cs := c.lru.Remove(e).(*cachedStmt)
	delete(c.byQuery, cs.query)
	_ = cs.stmt.Close()
}

// ExecContext runs a statement with arguments through its prepared form; one
// without arguments goes as is (scripts such as migrations hold several
// statements).
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		return c.inner.ExecContext(ctx, query, args)
	}
	cs, owned, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if owned {
		defer cs.stmt.Close()
	}
	res, err := cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	if err != nil && !owned && stalePlan(err) {
		c.forget(cs)
	}
	return res, err
}

// forget drops cs from the cache, if it is still there.
func (c *cachingConn) forget(cs *cachedStmt) {
	if e, ok := c.byQuery[cs.query]; ok && e.Value.(*cachedStmt) == cs {
		c.drop(e)
	}
}

// stalePlan says whether PostgreSQL refused a kept statement because the
// columns it returns changed under it.
func stalePlan(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "0A000" && strings.Contains(pe.Message, "cached plan must not change result type")
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 {
		return c.inner.QueryContext(ctx, query, args)
	}
	cs, owned, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		if owned {
			_ = cs.stmt.Close()
		} else if stalePlan(err) {
			c.forget(cs)
		}
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs, owned: owned}, nil
}

// cachedRows frees its statement for the next call when closed. It hides
// the driver's optional column-type methods, which the store never asks for.
type cachedRows struct {
	driver.Rows
	cs     *cachedStmt
	owned  bool
	closed bool
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.cs.busy = false
		if r.owned {
			if cerr := r.cs.stmt.Close(); err == nil {
				err = cerr
			}
		}
	}
	return err
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.inner.Prepare(query)
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner.PrepareContext(ctx, query)
}

func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.inner.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner.BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.inner.Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error { return c.inner.ResetSession(ctx) }

func (c *cachingConn) IsValid() bool { return c.inner.IsValid() }

// Close closes the statements, which would otherwise hold their memory, and
// then the connection.
func (c *cachingConn) Close() error {
	for e := c.lru.Front(); e != nil; e = e.Next() {
		_ = e.Value.(*cachedStmt).stmt.Close()
	}
	c.lru.Init()
	clear(c.byQuery)
	return c.inner.Close()
}

var (
	_ driver.Connector       = (*cachingConnector)(nil)
	_ driver.ExecerContext   = (*cachingConn)(nil)
	_ driver.QueryerContext  = (*cachingConn)(nil)
	_ driver.SessionResetter = (*cachingConn)(nil)
	_ driver.Validator       = (*cachingConn)(nil)
	_ io.Closer              = (*cachingConn)(nil)
)
