package donation

import (
	"encoding/hex"
	"fmt"

	"github.com/shortcode/shortcode/compliance/certlog"
)

// Record is the certification as the log publishes it at index i, with its
// phone number committed to under salt (SPEC §8).
func (c Certification) Record(i int64, salt certlog.Salt) (certlog.Record, error) {
	text, err := digest(c.TextSHA256)
	if err != nil {
		return certlog.Record{}, fmt.Errorf("text hash: %w", err)
	}
	terms, err := digest(c.TermsSHA256)
	if err != nil {
		return certlog.Record{}, fmt.Errorf("terms hash: %w", err)
	}
	r := certlog.Record{
		Index: i, Time: c.At, Program: c.ProgramID, Committee: c.CommitteeID, Donation: c.DonationID,
		Channel: c.Channel, MessageID: c.MessageID,
		TextVersion: c.TextVersion, TextSHA256: text, TermsVersion: c.TermsVersion, TermsSHA256: terms,
		Amount: c.Amount, PhoneCommitment: certlog.Commit(salt, c.Phone),
	}
	if c.Channel == certlog.Web {
		r.ClientDigest = certlog.ClientDigest(salt, c.IP, c.UserAgent)
	}
	return r, nil
}

// Opening returns what opens the record of c made with salt.
func (c Certification) Opening(salt certlog.Salt) certlog.Opening {
	return certlog.Opening{Salt: salt, Phone: c.Phone, IP: c.IP, UserAgent: c.UserAgent}
}

// Validate reports whether the certification can be published in the log.
// A certification the log would refuse must never be queued: the log
// cannot skip a record, so it would stop there.
func (c Certification) Validate() error {
	r, err := c.Record(0, certlog.Salt(c.Salt))
	if err == nil {
		_, err = r.Marshal()
	}
	if err != nil {
		return fmt.Errorf("certification of donation %s: %w: %w", c.DonationID, ErrInvalid, err)
	}
	return nil
}

func digest(h string) ([32]byte, error) {
	var d [32]byte
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(d) {
		return d, fmt.Errorf("%q is not a hex SHA-256", h)
	}
	copy(d[:], b)
	return d, nil
}
