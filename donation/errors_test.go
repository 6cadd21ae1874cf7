package donation_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
)

func TestKindOf(t *testing.T) {
	_, phoneErr := compliance.ParsePhone("+1555")
	tests := []struct {
		err  error
		want donation.Kind
	}{
		{nil, donation.Internal},
		{errors.New("disk on fire"), donation.Internal},
		{fmt.Errorf("donation D1: %w", donation.ErrNotFound), donation.NotFound},
		{fmt.Errorf("x: %w", donation.ErrUnknownShortCode), donation.NotFound},
		{fmt.Errorf("refund: %w", treasury.ErrRefundInProgress), donation.Conflict},
		{fmt.Errorf("refund: %w", treasury.ErrNotRefundable), donation.Conflict},
		{fmt.Errorf("amount: %w", donation.ErrInvalid), donation.Invalid},
		{&donation.InputError{Err: errors.New("bad")}, donation.Invalid},
		{phoneErr, donation.Invalid},
		{&compliance.CapError{Cap: compliance.CapMonth}, donation.Invalid},
		{fmt.Errorf("db: %w", donation.ErrUnavailable), donation.Unavailable},
		{fmt.Errorf("role: %w", donation.ErrForbidden), donation.Forbidden},
		{errors.Join(errors.New("first"), donation.ErrConflict), donation.Conflict},
	}
	for _, tt := range tests {
		if got := donation.KindOf(tt.err); got != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if s := donation.NotFound.String(); s != "not_found" {
		t.Errorf("NotFound.String() = %q", s)
	}
}
