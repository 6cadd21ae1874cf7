package donation

import (
	"errors"

	"github.com/shortcode/shortcode/compliance"
)

// Kind says what sort of failure an error is, so that whoever reports it
// (an HTTP status, a CLI exit code) can tell the caller what to do about it
// without knowing every error.
type Kind int

// The kinds of failure.
const (
	// Internal: a bug, or a failure the caller cannot act on.
	Internal Kind = iota
	// Invalid: the request is malformed or breaks a rule; fix it.
	Invalid
	// NotFound: what the request names does not exist.
	NotFound
	// Conflict: the request clashes with the current state.
	Conflict
	// Forbidden: the caller may not do this.
	Forbidden
	// Unavailable: something the request needs is down; try again later.
	Unavailable
	// Unauthenticated: the caller did not say who they are, or not in a
	// way that can be believed.
	Unauthenticated
	// TooLarge: the request is bigger than anything legitimate.
	TooLarge
)

var kindNames = [...]string{"internal", "invalid", "not_found", "conflict", "forbidden", "unavailable", "unauthenticated", "too_large"}

// String returns the kind's name in snake case, e.g. "not_found".
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "internal"
	}
	return kindNames[k]
}

// kindError is a sentinel error of one kind.
type kindError struct {
	msg  string
	kind Kind
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Kind() Kind    { return e.kind }

// NewError returns a sentinel error of kind k, for errors.Is.
func NewError(k Kind, msg string) error { return &kindError{msg: msg, kind: k} }

// Sentinels of each kind, for errors that need no sentinel of their own:
// wrap them, as in fmt.Errorf("program %s: %w", id, ErrConflict).
var (
	ErrInvalid         = NewError(Invalid, "invalid")
	ErrConflict        = NewError(Conflict, "conflict")
	ErrForbidden       = NewError(Forbidden, "forbidden")
	ErrUnavailable     = NewError(Unavailable, "unavailable")
	ErrUnauthenticated = NewError(Unauthenticated, "unauthenticated")
)

// KindOf returns the kind of err: that of the first error in its tree with
// a Kind() Kind method, or Invalid for the rule violations of package
// compliance (which cannot depend on this package), else Internal.
func KindOf(err error) Kind {
	if err == nil {
		return Internal
	}
	var k interface{ Kind() Kind }
	if errors.As(err, &k) {
		return k.Kind()
	}
	var capErr *compliance.CapError
	if errors.Is(err, compliance.ErrInvalidPhone) || errors.As(err, &capErr) {
		return Invalid
	}
	return Internal
}
