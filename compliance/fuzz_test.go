package compliance_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
)

// Run longer with e.g. go test -fuzz FuzzNormalize ./compliance/.

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", " yes! ", "Stop.", "$10", "-$10.50", "give  10", "don't text me", "\xff$\xfe1", "👍 STOP 👍", "ǅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := compliance.Normalize(s)
		if again := compliance.Normalize(n); again != n {
			t.Fatalf("Normalize not idempotent: %q -> %q -> %q", s, n, again)
		}
		if strings.TrimSpace(n) != n || strings.Contains(n, "  ") {
			t.Fatalf("Normalize(%q) = %q has stray spaces", s, n)
		}
		// Classification never panics, and STOP texts are not also
		// "looks like STOP".
		if compliance.IsStop(n) && compliance.LooksLikeStop(n) {
			t.Fatalf("%q is both IsStop and LooksLikeStop", n)
		}
		_, _ = compliance.SplitKeyword(n)
		_, _ = compliance.ParseAmount(n)
	})
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"10", "$10.5", "10.001", "1e3", "10,00", "-1", "100000.00", "100000.01", "0.01", "00000000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cents, ok := compliance.ParseAmount(s)
		if !ok {
			if cents != 0 {
				t.Fatalf("ParseAmount(%q) = %d, false", s, cents)
			}
			return
		}
		if cents <= 0 || cents > 100_000_00 {
			t.Fatalf("ParseAmount(%q) = %d out of range", s, cents)
		}
		if back, ok := compliance.ParseAmount(compliance.FormatAmount(cents)); !ok || back != cents {
			t.Fatalf("round trip of %q: %d -> %q -> %d, %v", s, cents, compliance.FormatAmount(cents), back, ok)
		}
	})
}

func FuzzSeptets(f *testing.F) {
	for _, s := range []string{"", "Hello", "€{}", "👍", "\x1b", "\xff", strings.Repeat("x", 161), strings.Repeat("€", 80)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := compliance.Septets(s)
		segs, err2 := compliance.Segments(s)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("Septets and Segments disagree on %q: %v, %v", s, err, err2)
		}
		if err != nil {
			return
		}
		if n < len([]rune(s)) || n > 2*len([]rune(s)) {
			t.Fatalf("Septets(%q) = %d", s, n)
		}
		switch {
		case n == 0 && segs != 0, n > 0 && n <= 160 && segs != 1:
			t.Fatalf("Segments(%q) = %d for %d septets", s, segs, n)
		case n > 160 && (segs < (n+152)/153 || segs*153 < n):
			t.Fatalf("Segments(%q) = %d for %d septets", s, segs, n)
		}
	})
}

func FuzzParsePhone(f *testing.F) {
	for _, s := range []string{"+12015550123", "(201) 555-0123", "+1555", "garbage", "+442071838750", "++1", "tel:+1-201-555-0123;ext=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e164, err := compliance.ParsePhone(s)
		if err != nil {
			if run := digitRun(s, err.Error(), 7); run != "" {
				t.Fatalf("ParsePhone(%q) error %q shows the digits %s", s, err, run)
			}
			return
		}
		if again, err := compliance.ParsePhone(e164); err != nil || again != e164 {
			t.Fatalf("ParsePhone(%q) = %q, which parses as %q, %v", s, e164, again, err)
		}
		_ = compliance.IsUS(e164)
		if m := compliance.MaskPhone(e164); len(m) != len(e164) {
			t.Fatalf("MaskPhone(%q) = %q", e164, m)
		}
	})
}

func FuzzCheck(f *testing.F) {
	f.Add(int64(2000), int64(3000), int64(1700000000), int64(1000), int64(0), int64(3600), "America/New_York", true)
	f.Add(int64(-5), int64(0), int64(0), int64(-1), int64(-1), int64(-1), "", false)
	f.Fuzz(func(t *testing.T, amount, used, unix, offset, open, expiry int64, tz string, pac bool) {
		c := compliance.Committee{Type: compliance.Candidate, TimeZone: tz}
		if pac {
			c.Type = compliance.PAC
		}
		now := time.Unix(unix%(1<<40), 0)
		// Spans of up to about 13 days: an open reservation until its
		// expiry, and the new amount's own.
		at := now.Add(-time.Duration(offset % (1 << 50)))
		history := []compliance.Entry{{At: at, Until: at.Add(time.Duration(open % (1 << 50))), Amount: used}}
		until := now.Add(time.Duration(expiry % (1 << 50)))
		l := compliance.DefaultLimits
		rem, _ := l.Remaining(c, history, now, until)
		if rem < 0 || rem > max(l.Month, l.Cycle) {
			t.Fatalf("Remaining = %d", rem)
		}
		err := l.Check(c, history, now, until, amount)
		if err == nil && (amount <= 0 || amount > rem || amount > l.PerMessage) {
			t.Fatalf("Check(%d) passed with %d remaining", amount, rem)
		}
		if err != nil && amount > 0 && amount <= rem && amount <= l.PerMessage {
			t.Fatalf("Check(%d) = %v with %d remaining", amount, err, rem)
		}
		start, end := c.Period(now)
		if now.Before(start) || !now.Before(end) {
			t.Fatalf("Period(%v) = [%v, %v)", now, start, end)
		}
	})
}
