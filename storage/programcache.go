package storage

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/shortcode/shortcode/compliance"
)

// programsChannel is the PostgreSQL notification channel every program
// change notifies at its commit.
const programsChannel = "shortcode_programs"

// programCache keeps each short code's programs between changes, on
// PostgreSQL, where reading them (a join and a JSON decode per program)
// would cost every MO a round trip. Every change sends NOTIFY at its
// commit; each server listens on its own connection and forgets what it
// cached at each notification. While that connection is down the cache
// reads through, and it starts empty again once reconnected, so no server
// keeps using a program that changed: an MO sees a change as soon as it
// would have without the cache, give or take the notification's delivery.
type programCache struct {
	listener *pq.Listener

	mu     sync.Mutex
	live   bool   // listening: cached entries are kept
	gen    uint64 // bumped at every forget, so a read begun before one is not kept
	byCode map[string][]compliance.Program
}

// newProgramCache listens for program changes on dsn's database. A cache
// that cannot listen yet reads through until it can.
func newProgramCache(dsn string) *programCache {
	c := &programCache{byCode: map[string][]compliance.Program{}}
	c.listener = pq.NewListener(listenerDSN(dsn), 100*time.Millisecond, 5*time.Second, func(ev pq.ListenerEventType, _ error) {
		switch ev {
		case pq.ListenerEventDisconnected, pq.ListenerEventConnectionAttemptFailed:
			c.setLive(false)
		case pq.ListenerEventReconnected:
			c.setLive(true)
		}
	})
	go func() {
		// A nil notification follows a reconnection: changes may have
		// been missed meanwhile.
		for range c.listener.Notify {
			c.forget()
		}
	}()
	go func() {
		if err := c.listener.Listen(programsChannel); err == nil {
			c.setLive(true)
		}
	}()
	return c
}

// listenerDSN names the listener's connection for pg_stat_activity.
func listenerDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set("application_name", "shortcode-programs-listener")
	u.RawQuery = q.Encode()
	return u.String()
}

func (c *programCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.gen++
	clear(c.byCode)
}

func (c *programCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.byCode)
}

// get returns shortCode's programs, reading them with read on a miss.
func (c *programCache) get(ctx context.Context, shortCode string, read func(context.Context, string) ([]compliance.Program, error)) ([]compliance.Program, error) {
	c.mu.Lock()
	ps, ok := c.byCode[shortCode]
	live, gen := c.live, c.gen
	c.mu.Unlock()
	if ok {
		return slices.Clone(ps), nil
	}
	ps, err := read(ctx, shortCode)
	if err != nil || !live {
		return ps, err
	}
	c.mu.Lock()
	if c.live && c.gen == gen {
		c.byCode[shortCode] = slices.Clone(ps)
	}
	c.mu.Unlock()
	return ps, nil
}

func (c *programCache) close() error { return c.listener.Close() }
