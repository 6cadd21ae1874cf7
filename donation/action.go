package donation

import "time"

// Action is one row of the action log: what an admin, a treasurer or a
// local operator did (SPEC §11). It is written in the transaction of the
// change it records, so that the two commit together or not at all.
type Action struct {
	ID     string // sorts in write order; the store sets it
	At     time.Time
	Actor  string // who: "token:tok_... (name)", or a local operator
	Action string // what, e.g. "token.create", "refund.request"
	Detail string // phone numbers in it are masked
}
