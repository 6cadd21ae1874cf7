package donation

import (
	"context"
	"fmt"
	"time"
)

// sentMarks records the gateway's acceptances of MTs in batches: while one
// batch is written the next gathers, so under load a send costs a share of
// one statement (a group commit), and alone it costs one statement as
// before. A send waits for its mark, so a number's next MT is claimable
// only once this one is recorded as sent.
type sentMarks struct {
	outbox Outbox
	now    func() time.Time
	reqs   chan markReq
}

type markReq struct {
	sent SentMT
	done chan error
}

// maxMarks bounds one batch's statement.
const maxMarks = 256

func newSentMarks(o Outbox, now func() time.Time) *sentMarks {
	return &sentMarks{outbox: o, now: now, reqs: make(chan markReq)}
}

// run writes batches until ctx is done. Its caller cancels ctx only once
// no send waits for a mark any more.
func (b *sentMarks) run(ctx context.Context) {
	for {
		var batch []markReq
		select {
		case <-ctx.Done():
			return
		case r := <-b.reqs:
			batch = append(batch, r)
		}
	gather:
		for len(batch) < maxMarks {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		b.write(batch)
	}
}

func (b *sentMarks) write(batch []markReq) {
	sent := make([]SentMT, len(batch))
	for i, r := range batch {
		sent[i] = r.sent
	}
	// The gateway took these MTs: record it even while shutting down, or
	// each would have to be looked up at the gateway after the restart.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gone, err := b.outbox.MarkAllSent(ctx, sent, b.now())
	left := make(map[string]bool, len(gone))
	for _, id := range gone {
		left[id] = true
	}
	for _, r := range batch {
		switch {
		case err != nil:
			r.done <- err
		case left[r.sent.ID]:
			r.done <- fmt.Errorf("mt %s: %w", r.sent.ID, ErrNotFound)
		default:
			r.done <- nil
		}
	}
}

// mark records one acceptance with the next batch and returns once it is
// written.
func (b *sentMarks) mark(ctx context.Context, id, sid string) error {
	r := markReq{sent: SentMT{ID: id, SID: sid}, done: make(chan error, 1)}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.done
}
