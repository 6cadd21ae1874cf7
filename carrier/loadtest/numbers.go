package loadtest

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"

	"github.com/shortcode/shortcode/compliance"
)

// BlockSize is how many numbers a run's block holds: the 10,000 numbers
// of one exchange, +1 NPA NXX 0000 to 9999.
const BlockSize = 10000

// blockPrefix is the shape of a block: +1, an area code and an exchange.
var blockPrefix = regexp.MustCompile(`^\+1[2-9][0-9]{2}[2-9][0-9]{2}$`)

// areaCodes are US area codes, none of them the simulator's special ones
// (+1201 to +1208 and +1416, SPEC §12.3), from which RandomBlock picks.
var areaCodes = []string{"212", "213", "305", "312", "404", "415", "503", "512", "614", "617", "646", "702", "718", "919"}

// RandomBlock returns a block that a run is unlikely to share with an
// earlier one: a US area code and an exchange from 200 to 999 but 555 (the
// simulator's test numbers) and the N11 service codes.
func RandomBlock() string {
	for {
		x := 200 + rand.IntN(800)
		if x != 555 && x%100 != 11 {
			return fmt.Sprintf("+1%s%03d", areaCodes[rand.IntN(len(areaCodes))], x)
		}
	}
}

// Numbers hands out a run's donor numbers from one block, each for at most
// a number of conversations, so that no number nears a cap (SPEC §5). All
// the numbers of a run share their first eight characters, so that each is
// known by its last four digits, which is what the operator API shows an
// auditor (+1******4321). Numbers are postpaid US lines of the simulator's
// number plan. Its methods are safe for concurrent use.
type Numbers struct {
	prefix string
	uses   int

	mu    sync.Mutex
	next  int            // the next fresh suffix
	free  []string       // numbers with conversations left, oldest first
	used  map[string]int // conversations each number had
	seen  map[string]int // MTs each number read
	taken []string       // every number handed out
}

// NewNumbers returns the numbers of the block prefix (+1 NPA NXX), each for
// at most uses conversations.
func NewNumbers(prefix string, uses int) (*Numbers, error) {
	if !blockPrefix.MatchString(prefix) {
		return nil, fmt.Errorf("numbers %q: want +1, an area code and an exchange, such as +1312867", prefix)
	}
	if !compliance.IsUS(prefix + "0000") {
		return nil, fmt.Errorf("numbers %q: not a US block", prefix)
	}
	if uses < 1 {
		return nil, fmt.Errorf("%d conversations a number: want at least 1", uses)
	}
	return &Numbers{prefix: prefix, uses: uses, used: map[string]int{}, seen: map[string]int{}}, nil
}

// Prefix is the block's prefix.
func (n *Numbers) Prefix() string { return n.prefix }

// take returns a number for a conversation and how many MTs it read
// before, or false when the block is used up.
func (n *Numbers) take() (string, int, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.free) > 0 {
		p := n.free[0]
		n.free = n.free[1:]
		return p, n.seen[p], true
	}
	for n.next < BlockSize {
		p := fmt.Sprintf("%s%04d", n.prefix, n.next)
		n.next++
		if _, err := compliance.ParsePhone(p); err == nil && compliance.IsUS(p) {
			n.taken = append(n.taken, p)
			return p, 0, true
		}
	}
	return "", 0, false
}

// release gives back a number after a conversation that read seen MTs in
// all; one whose conversation went wrong (again says false) is not handed
// out again: its state at the server is not known.
func (n *Numbers) release(phone string, seen int, again bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.used[phone]++
	n.seen[phone] = seen
	if again && n.used[phone] < n.uses {
		n.free = append(n.free, phone)
	}
}

// Taken returns every number handed out.
func (n *Numbers) Taken() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.taken...)
}
