package treasury

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// Block is a number on a committee's blocklist, or on the global one: it
// may not give by text (SPEC §6.1).
type Block struct {
	CommitteeID string // "" for the global blocklist
	Phone       string
	Reason      string
	Source      string // what put it there: a refund, or who
	At          time.Time
}

// NewBlock decides putting phone (E.164) on committeeID's blocklist ("" for
// the global one), with the action-log row.
func NewBlock(committeeID, phone, reason, actor string, now time.Time) (Change, error) {
	if reason == "" || len(reason) > 200 || !utf8.ValidString(reason) {
		return Change{}, fmt.Errorf("blocklist: want a reason of 1 to 200 bytes of UTF-8: %w", donation.ErrInvalid)
	}
	b := Block{CommitteeID: committeeID, Phone: phone, Reason: reason, Source: actor, At: now}
	return Change{Block: &b, Action: &donation.Action{At: now, Actor: actor, Action: "blocklist.add",
		Detail: fmt.Sprintf("phone=%s %s reason=%q", compliance.MaskPhone(phone), blocklistOf(committeeID), reason)}}, nil
}

// RemoveBlock decides taking b off its blocklist, with the action-log row.
func RemoveBlock(b Block, actor string, now time.Time) Change {
	return Change{Unblock: &b, Action: &donation.Action{At: now, Actor: actor, Action: "blocklist.remove",
		Detail: fmt.Sprintf("phone=%s %s (was: %q from %s)", compliance.MaskPhone(b.Phone), blocklistOf(b.CommitteeID), b.Reason, b.Source)}}
}

func blocklistOf(committeeID string) string {
	if committeeID == "" {
		return "blocklist=global"
	}
	return "committee=" + committeeID
}
