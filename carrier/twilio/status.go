package twilio

import "github.com/shortcode/shortcode/donation"

// deliveryStatuses maps Twilio's MessageStatus values for an outbound
// message onto ours. Twilio's finer steps fold into the nearest of ours;
// "read" (not sent for SMS) is a delivery, "canceled" (a scheduled message
// never sent) a failure, and "partially_delivered" is not yet a delivery.
var deliveryStatuses = map[string]donation.DeliveryStatus{
	"accepted":            donation.DeliveryQueued,
	"scheduled":           donation.DeliveryQueued,
	"queued":              donation.DeliveryQueued,
	"sending":             donation.DeliverySent,
	"sent":                donation.DeliverySent,
	"partially_delivered": donation.DeliverySent,
	"delivered":           donation.DeliveryDelivered,
	"read":                donation.DeliveryDelivered,
	"undelivered":         donation.DeliveryUndelivered,
	"failed":              donation.DeliveryFailed,
	"canceled":            donation.DeliveryFailed,
}

// DeliveryStatus returns our word for a MessageStatus of Twilio's, and
// donation.DeliveryUnknown for a value it does not know (Twilio adds some
// from time to time).
func DeliveryStatus(messageStatus string) donation.DeliveryStatus {
	if s, ok := deliveryStatuses[messageStatus]; ok {
		return s
	}
	return donation.DeliveryUnknown
}
