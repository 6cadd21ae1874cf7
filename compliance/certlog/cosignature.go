package certlog

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// algCosignatureV1 is the signature type of Ed25519 cosignatures in a
// verifier key (c2sp.org/tlog-cosignature).
const algCosignatureV1 = 0x04

// NewCosignatureVerifier returns the verifier of a witness's Ed25519
// cosignatures (c2sp.org/tlog-cosignature) from its verifier key,
// <name>+<key hash>+<base64 of 0x04 and the public key>, as a witness such
// as litewitness prints it. golang.org/x/mod/sumdb/note knows only its own
// Ed25519 signatures (type 0x01), which sign the note text alone; a
// cosignature also signs the time it was made.
//
// The verifier checks a cosignature of a checkpoint's note text: use it
// with note.Open.
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	hash, err1 := strconv.ParseUint(hash16, 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(key64)
	if !ok1 || !ok2 || len(hash16) != 8 || err1 != nil || err2 != nil || !validName(name) {
		return nil, errors.New("certlog: malformed cosigner verifier key")
	}
	if len(key) == 0 || key[0] != algCosignatureV1 {
		return nil, errors.New("certlog: not an Ed25519 cosigner key (c2sp.org/tlog-cosignature, type 0x04)")
	}
	if len(key) != 1+ed25519.PublicKeySize {
		return nil, errors.New("certlog: malformed cosigner verifier key")
	}
	if uint32(hash) != keyHash(name, key) {
		return nil, errors.New("certlog: cosigner verifier key: the key hash does not match the name and key")
	}
	return &cosignatureVerifier{name: name, hash: uint32(hash), key: ed25519.PublicKey(key[1:])}, nil
}

// validName reports whether name can name a note key: not empty, valid
// UTF-8, with no space and no plus sign.
func validName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// keyHash is the key ID of a signed note key: the first four bytes of the
// SHA-256 of the name, a newline, and the type and public key.
func keyHash(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

type cosignatureVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *cosignatureVerifier) Name() string    { return v.name }
func (v *cosignatureVerifier) KeyHash() uint32 { return v.hash }

// Verify reports whether sig, the time as seconds since the epoch (8 bytes,
// big-endian) and an Ed25519 signature, signs the header line, the time
// line and msg, the checkpoint's note text.
func (v *cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > math.MaxInt64 {
		return false
	}
	signed := fmt.Appendf(nil, "cosignature/v1\ntime %d\n", t)
	signed = append(signed, msg...)
	return ed25519.Verify(v.key, signed, sig[8:])
}

// AppendSignatures returns msg, a signed note, with sigs as further
// signature lines after its own, as a log serves a checkpoint with the
// cosignatures its witnesses returned. It verifies nothing: a verifier that
// knows none of the added keys ignores them.
func AppendSignatures(msg []byte, sigs ...note.Signature) []byte {
	out := slices.Clip(msg)
	for _, s := range sigs {
		out = fmt.Appendf(out, "— %s %s\n", s.Name, s.Base64)
	}
	return out
}
