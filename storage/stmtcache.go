package storage

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"io"
)

// stmtCacheSize bounds the prepared statements kept per connection: the
// store's statements are fixed strings, about a hundred of them, but a few
// are built for a batch's size.
const stmtCacheSize = 256

// cachingConnector hands database/sql connections that keep each statement
// they run prepared, keyed by its text, so that a statement is parsed (and on
// PostgreSQL planned) once per connection instead of once per call:
// database/sql prepares, runs and closes a statement for every call with
// arguments. Parsing was about a third of the store's CPU on SQLite; on
// PostgreSQL it is work the server repeats for every MO. No library does this
// below database/sql (the ones that exist wrap *sql.DB, which sqlx's Get and
// Select would bypass).
type cachingConnector struct {
	open   func(context.Context) (driver.Conn, error)
	driver driver.Driver
	// stale reports an error after which a statement must be prepared
	// anew: PostgreSQL refuses a prepared statement whose result's
	// columns a migration changed.
	stale func(error) bool
	// finalize closes the statements with their connection: SQLite's hold
	// the process's memory, PostgreSQL's end with its session (closing them
	// one by one would cost a round trip each).
	finalize bool
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
	return &cachingConn{inner: inner, stale: c.stale, finalize: c.finalize, byQuery: map[string]*list.Element{}, lru: list.New()}, nil
}

func (c *cachingConnector) Driver() driver.Driver { return c.driver }

// innerConn is what both drivers (lib/pq and modernc.org/sqlite) provide.
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
	inner    innerConn
	stale    func(error) bool
	finalize bool
	byQuery  map[string]*list.Element // of *cachedStmt
	lru      *list.List               // front: most recently used
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

// failed forgets query's statement when err says it can no longer run.
func (c *cachingConn) failed(query string, err error) {
	if err == nil || c.stale == nil || !c.stale(err) {
		return
	}
	if e, ok := c.byQuery[query]; ok && !e.Value.(*cachedStmt).busy {
		c.drop(e)
	}
}

// ExecContext runs a statement with arguments through its prepared form; one
// without arguments goes as is (both drivers send it in one message, and
// scripts such as migrations hold several statements).
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
	c.failed(query, err)
	return res, err
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
		}
		c.failed(query, err)
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs, owned: owned}, nil
}

// cachedRows frees its statement for the next call when closed.
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

func (r *cachedRows) Next(dest []driver.Value) error { return r.Rows.Next(dest) }

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

// CheckNamedValue lets lib/pq convert its own argument types (arrays,
// uint64); without a checker below, database/sql converts them itself.
func (c *cachingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.inner.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// Close closes the connection, and its statements first where they outlive it.
func (c *cachingConn) Close() error {
	for e := c.lru.Front(); c.finalize && e != nil; e = e.Next() {
		_ = e.Value.(*cachedStmt).stmt.Close()
	}
	c.lru.Init()
	clear(c.byQuery)
	return c.inner.Close()
}

var (
	_ driver.Connector         = (*cachingConnector)(nil)
	_ driver.ExecerContext     = (*cachingConn)(nil)
	_ driver.QueryerContext    = (*cachingConn)(nil)
	_ driver.NamedValueChecker = (*cachingConn)(nil)
	_ driver.SessionResetter   = (*cachingConn)(nil)
	_ driver.Validator         = (*cachingConn)(nil)
	_ io.Closer                = (*cachingConn)(nil)
)
