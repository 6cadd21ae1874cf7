package storage

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation/auditlog"
)

// Transcript returns the texts a number sent to a short code and got from
// it between from and to, in time order (MOs before MTs at the same time):
// the conversation an auditor reads beside a certification.
func (db *DB) Transcript(ctx context.Context, phone, shortCode string, from, to time.Time) ([]auditlog.TranscriptLine, error) {
	var mos []struct {
		MessageID string `db:"message_id"`
		Body      string `db:"body"`
		At        stamp  `db:"received_at"`
	}
	if err := db.db.SelectContext(ctx, &mos, db.rebind(`SELECT message_id, body, received_at FROM mos
		WHERE phone = ? AND short_code = ? AND received_at >= ? AND received_at <= ?`),
		phone, shortCode, stamp(from), stamp(to)); err != nil {
		return nil, fmt.Errorf("transcript of %s: %w", compliance.MaskPhone(phone), err)
	}
	var mts []struct {
		ID     string  `db:"id"`
		Body   string  `db:"body"`
		Status string  `db:"status"`
		SID    *string `db:"sid"`
		At     stamp   `db:"created_at"`
	}
	if err := db.db.SelectContext(ctx, &mts, db.rebind(`SELECT id, body, status, sid, created_at FROM outbox
		WHERE phone = ? AND short_code = ? AND created_at >= ? AND created_at <= ? ORDER BY id`),
		phone, shortCode, stamp(from), stamp(to)); err != nil {
		return nil, fmt.Errorf("transcript of %s: %w", compliance.MaskPhone(phone), err)
	}
	out := make([]auditlog.TranscriptLine, 0, len(mos)+len(mts))
	for _, m := range mos {
		out = append(out, auditlog.TranscriptLine{At: time.Time(m.At), Direction: "mo", Body: m.Body, MessageID: m.MessageID})
	}
	for _, m := range mts {
		l := auditlog.TranscriptLine{At: time.Time(m.At), Direction: "mt", Body: m.Body, Status: m.Status}
		if m.SID != nil {
			l.MessageID = *m.SID
		}
		out = append(out, l)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Direction == "mo" && out[j].Direction == "mt"
	})
	return out, nil
}
