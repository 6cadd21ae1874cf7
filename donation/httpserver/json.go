package httpserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/shortcode/shortcode/donation"
)

// writeJSON answers v as JSON with a success status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// WriteJSON answers v as JSON with status 200, for route handlers.
func WriteJSON(w http.ResponseWriter, v any) error { return writeJSON(w, http.StatusOK, v) }

// WriteCreated answers v as JSON with status 201.
func WriteCreated(w http.ResponseWriter, v any) error { return writeJSON(w, http.StatusCreated, v) }

// DecodeJSON reads the request body into v: one JSON object, no unknown
// fields, nothing after it, within the body limit. Any failure is Invalid
// (or TooLarge), never Internal.
func DecodeJSON(r *http.Request, v any) error {
	if r.Body == nil {
		return fmt.Errorf("empty body: %w", donation.ErrInvalid)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("empty body, want a JSON object: %w", donation.ErrInvalid)
		}
		return fmt.Errorf("body: %v: %w", err, donation.ErrInvalid)
	}
	if dec.More() {
		return fmt.Errorf("body: more than one JSON value: %w", donation.ErrInvalid)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("body: data after the JSON object: %w", donation.ErrInvalid)
	}
	// The decoder turns bytes that are not UTF-8 into U+FFFD, but keeps
	// an escaped NUL, which PostgreSQL refuses to store.
	if hasNUL(reflect.ValueOf(v)) {
		return fmt.Errorf("body: a string holds a NUL (\\u0000): %w", donation.ErrInvalid)
	}
	return nil
}

// hasNUL reports whether any string reachable from v holds a NUL.
func hasNUL(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return strings.ContainsRune(v.String(), 0)
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil() && hasNUL(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && hasNUL(v.Field(i)) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if hasNUL(v.Index(i)) {
				return true
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if hasNUL(it.Key()) || hasNUL(it.Value()) {
				return true
			}
		}
	}
	return false
}
