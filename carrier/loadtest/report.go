package loadtest

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shortcode/shortcode/compliance"
)

// WriteText writes the result for a person.
func (r *Result) WriteText(w io.Writer) error {
	var b bytes.Buffer
	mode := fmt.Sprintf("closed loop, %d donors", r.Donors)
	if r.Mode == "open" {
		mode = fmt.Sprintf("open loop, %g MOs/s", r.Rate)
	}
	fmt.Fprintf(&b, "%s for %v (%v with the drain), numbers %s\n", mode, r.Duration, r.Elapsed.Round(100*time.Millisecond), r.Numbers)
	line := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "%-15s %s\n", name, fmt.Sprintf(format, args...))
	}
	line("MOs", "%d taken, %.1f/s", r.MOs, r.MOsPerSecond)
	line("MTs", "%d", r.MTs)
	line("conversations", "%d completed, %.1f/s; %d failed or cut off; %d started", r.Completed, r.ConversationsPerSecond, r.Failed, r.Started)
	line("webhook answer", "%s (%d posts)", r.Webhook.short(), r.Webhook.Count)
	line("MO -> reply", "%s (%d replies)", r.Reply.short(), r.Reply.Count)
	if len(r.Errors) == 0 {
		line("errors", "none")
	} else {
		var es []string
		for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
			es = append(es, fmt.Sprintf("%s %d", k, r.Errors[k]))
		}
		line("errors", "%s", strings.Join(es, ", "))
	}
	for _, s := range r.Samples {
		line("", "%s", s)
	}
	if rep := r.Invariants; rep != nil {
		verdict := "HOLD"
		if !rep.Hold {
			verdict = fmt.Sprintf("FAIL (%d violations)", len(rep.Violations))
		}
		line("invariants 1-3", "%s: %d completed donations, $%s; %d carrier charges, $%s; %d receipts",
			verdict, rep.Donations, compliance.FormatAmount(rep.CompletedCents), rep.Charges, compliance.FormatAmount(rep.ChargedCents), rep.Receipts)
		if !rep.Signed {
			line("", "checkpoint signatures not checked (give --key)")
		}
		for i, v := range rep.Violations {
			if i == 20 {
				line("", "and %d more (--json lists them all)", len(rep.Violations)-i)
				break
			}
			line("", "%s", v)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// short is the latency's percentiles on one line.
func (l Latency) short() string {
	if l.Count == 0 {
		return "none"
	}
	r := func(d time.Duration) time.Duration {
		if d < 10*time.Millisecond {
			return d.Round(10 * time.Microsecond)
		}
		return d.Round(100 * time.Microsecond)
	}
	return fmt.Sprintf("p50 %v  p95 %v  p99 %v  max %v", r(l.P50), r(l.P95), r(l.P99), r(l.Max))
}
