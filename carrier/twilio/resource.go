package twilio

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The REST API's shapes: the client reads them, and the simulator and the
// load test's gateway, which stand in for the API, write them.

// TimeLayout is how the REST API writes dates: "Mon, 02 Jan 2006 15:04:05 -0700".
const TimeLayout = time.RFC1123Z

// MaxBodyCharacters is the API's limit on a message's body (code 21617).
const MaxBodyCharacters = 1600

// Error codes of the REST API's refusals (https://www.twilio.com/docs/errors/).
const (
	CodeAuthenticate = 20003
	CodeNotFound     = 20404
	CodeBadRequest   = 21100 // the stand-ins' pick for an unreadable form
	CodeInvalidTo    = 21211
	CodeBodyRequired = 21602
	CodeFromRequired = 21603
	CodeToRequired   = 21604
	CodeBadCallback  = 21609
	CodeBodyTooLong  = 21617
)

// Message is a message resource as the REST API shows it: the answer to a
// create, and each entry of a Messages.json list.
type Message struct {
	SID          string  `json:"sid"`
	AccountSID   string  `json:"account_sid"`
	To           string  `json:"to"`
	From         string  `json:"from"`
	Body         string  `json:"body"`
	Status       string  `json:"status"`
	Direction    string  `json:"direction"`
	NumSegments  string  `json:"num_segments"`
	NumMedia     string  `json:"num_media"`
	DateCreated  string  `json:"date_created"`
	DateUpdated  string  `json:"date_updated"`
	DateSent     *string `json:"date_sent"` // null until the message is sent
	ErrorCode    *int    `json:"error_code"`
	ErrorMessage *string `json:"error_message"`
	Price        *string `json:"price"`
	APIVersion   string  `json:"api_version"`
	URI          string  `json:"uri"`
}

// MessageList is a page of Messages.json.
type MessageList struct {
	Messages    []Message `json:"messages"`
	Page        int       `json:"page"`
	PageSize    int       `json:"page_size"`
	URI         string    `json:"uri"`
	NextPageURI *string   `json:"next_page_uri"` // null on the last page
}

// WriteError answers a request as the REST API refuses one: the status,
// and an APIError of the code, the message and the code's page.
func WriteError(w http.ResponseWriter, status, code int, msg string) {
	WriteJSON(w, status, APIError{Code: code, Message: msg, Status: status,
		MoreInfo: fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code)})
}

// WriteJSON answers with v as the REST API's JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
