package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/mod/sumdb/note"

	"github.com/shortcode/shortcode/compliance/certlog"
)

// keysCommand is `shortcode keys`.
type keysCommand struct {
	Generate keysGenerateCommand `cmd:"" help:"Make the certification log's signer and verifier keys."`
}

type keysGenerateCommand struct {
	Origin string `required:"" placeholder:"NAME" help:"The log's name, the first line of its checkpoints: a URL without scheme, e.g. donate.example.org/shortcode/log."`
	Out    string `default:"log" placeholder:"PREFIX" help:"Write the signer key to PREFIX.key (mode 0600) and the verifier key to PREFIX.pub."`
}

func (keysGenerateCommand) Help() string {
	return `The signer key (PREFIX.key, PRIVATE+KEY+...) signs the log's checkpoints: keep it secret, and give the same one to every server of the log, by --log-key or SHORTCODE_LOG_KEY. The verifier key (PREFIX.pub, printed on stdout) checks them: publish it, and give it to auditors (shortcode audit verify --key). Existing files are never overwritten.`
}

func (c *keysGenerateCommand) Run(ctx context.Context, s *stdio) error {
	skey, vkey, err := note.GenerateKey(rand.Reader, c.Origin)
	if err != nil {
		return err
	}
	// The key must be able to sign the log's checkpoints, whose first
	// line is the key's name.
	signer, err := note.NewSigner(skey)
	if err == nil {
		_, err = certlog.SignCheckpoint(certlog.Checkpoint{Origin: c.Origin}, signer)
	}
	if err != nil {
		return usagef("keys generate", "--origin %q: want a name with no spaces, no + and no control characters, such as donate.example.org/shortcode/log", c.Origin)
	}
	if c.Out == "" {
		return usagef("keys generate", "--out: want a file name prefix, e.g. log")
	}
	skeyFile, vkeyFile := c.Out+".key", c.Out+".pub"
	for _, name := range []string{skeyFile, vkeyFile} {
		if _, err := os.Lstat(name); err == nil {
			return fmt.Errorf("%s exists: a key is never overwritten (move it away, or choose another --out)", name)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := createFile(skeyFile, skey+"\n", 0o600); err != nil {
		return err
	}
	if err := createFile(vkeyFile, vkey+"\n", 0o644); err != nil {
		os.Remove(skeyFile)
		return err
	}
	// The verifier key alone on stdout, so that it can be captured.
	fmt.Fprintln(s.out, vkey)
	fmt.Fprintf(s.err, `wrote %[1]s, the signer key (secret; mode 0600), and %[2]s, the verifier key (public: give it to auditors).
Give the signer key to every server of the log, through the environment (it stays off the process list):

    SHORTCODE_LOG_KEY="$(cat %[1]s)" shortcode serve ...

or with shortcode serve --log-key "$(cat %[1]s)". An auditor checks the log with the verifier key:

    shortcode audit verify --log log.jsonl --checkpoint log.checkpoint --key %[2]s
`, skeyFile, vkeyFile)
	return nil
}

// createFile writes a new file, and fails if name exists.
func createFile(name, content string, perm os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}
