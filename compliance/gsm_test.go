package compliance_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/shortcode/shortcode/compliance"
)

func TestSeptets(t *testing.T) {
	for _, tc := range []struct {
		text    string
		septets int
		bad     string // a part of the error naming the bad character
	}{
		{"", 0, ""},
		{"Hello", 5, ""},
		{"@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà", 62, ""},
		{"line\nbreak\r", 11, ""},
		{"^", 2, ""},
		{"{}", 4, ""},
		{"[]", 4, ""},
		{"~|\\", 6, ""},
		{"€", 2, ""},
		{"\f", 2, ""},
		{"Give $10 & certify 18+", 22, ""},
		{"café", 4, ""},
		{"naïve", 0, "'ï'"},
		{"smart ’quote’", 0, "'’'"},
		{"emoji 👍", 0, "'👍'"},
		{"tab\there", 0, "'\\t'"},
		{"esc\x1b", 0, "'\\x1b'"},
		{"`", 0, "'`'"},
		{"bad \xff utf8", 0, "invalid UTF-8 at byte 4"},
	} {
		n, err := compliance.Septets(tc.text)
		if tc.bad == "" {
			if err != nil || n != tc.septets {
				t.Errorf("Septets(%q) = %d, %v; want %d", tc.text, n, err, tc.septets)
			}
			continue
		}
		if err == nil || !errors.Is(err, compliance.ErrNotGSM7) || !strings.Contains(err.Error(), tc.bad) {
			t.Errorf("Septets(%q) = %d, %v; want an ErrNotGSM7 naming %s", tc.text, n, err, tc.bad)
		}
	}
}

func TestSegments(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name string
		text string
		want int
	}{
		{"empty", "", 0},
		{"one char", "x", 1},
		{"160", x(160), 1},
		{"161", x(161), 2},
		{"159 + extension", x(159) + "€", 2},
		{"158 + extension", x(158) + "€", 1},
		{"306", x(306), 2},
		{"307", x(307), 3},
		{"459", x(459), 3},
		{"460", x(460), 4},
		// 152 septets, then an escape pair that cannot be split: the pair
		// opens part 2 (153+153 would have held 306 septets).
		{"extension at a part boundary", x(152) + "€" + x(152), 3},
		{"extension inside a part", x(151) + "€" + x(153), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := compliance.Segments(tc.text)
			if err != nil || got != tc.want {
				t.Errorf("Segments = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	if _, err := compliance.Segments("👍"); !errors.Is(err, compliance.ErrNotGSM7) {
		t.Errorf("Segments(emoji) error = %v, want ErrNotGSM7", err)
	}
}

// BenchmarkSegments measures the GSM-7 check of one rendered MT (the
// confirmation, the longest text of a donation): its septets, and so its
// segments, or an error for a character outside GSM 03.38.
func BenchmarkSegments(b *testing.B) {
	text := "Reply YES to give $10 to Demo PAC on your phone bill & certify 18+, own funds, not foreign national or fed contractor. Terms 127.0.0.1:8080/t/demo"
	for b.Loop() {
		if n, err := compliance.Segments(text); err != nil || n != 1 {
			b.Fatalf("Segments = %d, %v", n, err)
		}
	}
}
