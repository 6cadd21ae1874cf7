package donation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// markOutbox records MarkAllSent's batches; the first call blocks until
// release is closed, so that the marks made meanwhile gather.
type markOutbox struct {
	Outbox
	mu      sync.Mutex
	batches [][]SentMT
	gone    map[string]bool
	fail    error
	release chan struct{}
}

func (o *markOutbox) MarkAllSent(_ context.Context, sent []SentMT, _ time.Time) ([]string, error) {
	o.mu.Lock()
	first := len(o.batches) == 0
	o.batches = append(o.batches, sent)
	o.mu.Unlock()
	if first {
		<-o.release
	}
	var gone []string
	for _, m := range sent {
		if o.gone[m.ID] {
			gone = append(gone, m.ID)
		}
	}
	return gone, o.fail
}

func TestSentMarksBatch(t *testing.T) {
	o := &markOutbox{gone: map[string]bool{"mt-7": true}, release: make(chan struct{})}
	b := newSentMarks(o, time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.run(ctx)

	errs := make([]error, 50)
	var wg sync.WaitGroup
	mark := func(i int) {
		defer wg.Done()
		errs[i] = b.mark(ctx, fmt.Sprintf("mt-%d", i), fmt.Sprintf("SM%d", i))
	}
	wg.Add(1)
	go mark(0)
	for { // the first batch is being written...
		o.mu.Lock()
		n := len(o.batches)
		o.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < 50; i++ { // ...while the others wait for the next
		wg.Add(1)
		go mark(i)
	}
	time.Sleep(50 * time.Millisecond)
	close(o.release)
	wg.Wait()

	marked := 0
	for _, batch := range o.batches {
		marked += len(batch)
	}
	if marked != 50 || len(o.batches) > 5 {
		t.Errorf("50 marks written in %d batches holding %d, want all in a few batches", len(o.batches), marked)
	}
	for i, err := range errs {
		if want := i == 7; errors.Is(err, ErrNotFound) != want || (!want && err != nil) {
			t.Errorf("mark mt-%d: err = %v, want ErrNotFound only for mt-7", i, err)
		}
	}
}

func TestSentMarksFailure(t *testing.T) {
	broken := errors.New("database down")
	release := make(chan struct{})
	close(release)
	b := newSentMarks(&markOutbox{fail: broken, release: release}, time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.run(ctx)
	if err := b.mark(ctx, "mt-1", "SM1"); !errors.Is(err, broken) {
		t.Errorf("mark with the store down: err = %v, want %v", err, broken)
	}
	// A mark after the writer stopped does not hang: the MT stays in
	// flight and is looked up at the gateway later.
	cancel()
	done := make(chan error, 1)
	go func() { done <- b.mark(ctx, "mt-2", "SM2") }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("mark after stop: err = nil, want the stop (or the store's error)")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("mark after stop hangs")
	}
}
