package twilio_test

import (
	"testing"

	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/donation"
)

func TestDeliveryStatus(t *testing.T) {
	tests := []struct {
		twilio string
		want   donation.DeliveryStatus
	}{
		{"accepted", donation.DeliveryQueued},
		{"scheduled", donation.DeliveryQueued},
		{"queued", donation.DeliveryQueued},
		{"sending", donation.DeliverySent},
		{"sent", donation.DeliverySent},
		{"partially_delivered", donation.DeliverySent},
		{"delivered", donation.DeliveryDelivered},
		{"read", donation.DeliveryDelivered},
		{"undelivered", donation.DeliveryUndelivered},
		{"failed", donation.DeliveryFailed},
		{"canceled", donation.DeliveryFailed},
		// Twilio's inbound statuses never describe an MT of ours.
		{"receiving", donation.DeliveryUnknown},
		{"received", donation.DeliveryUnknown},
		{"Delivered", donation.DeliveryUnknown},
		{"", donation.DeliveryUnknown},
		{"teleported", donation.DeliveryUnknown},
	}
	for _, tt := range tests {
		if got := twilio.DeliveryStatus(tt.twilio); got != tt.want {
			t.Errorf("DeliveryStatus(%q) = %q, want %q", tt.twilio, got, tt.want)
		}
	}
}
