package serve

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// Standard Webhooks (https://www.standardwebhooks.com): the sender signs
// "id.timestamp.body" with HMAC-SHA256 under a shared secret and sends
// webhook-id, webhook-timestamp (Unix seconds) and webhook-signature
// ("v1,<base64>", several separated by spaces while a secret is rolled).

// WebhookTolerance is how far a webhook's timestamp may be from the
// service's clock, either way: the specification's five minutes.
const WebhookTolerance = 5 * time.Minute

// DefaultMaxSeenWebhooks bounds the messages remembered to refuse replays.
const DefaultMaxSeenWebhooks = 100_000

// maxWebhookID bounds a webhook-id, so that a remembered message costs
// little memory.
const maxWebhookID = 256

// minWebhookSecret is the shortest secret accepted, in bytes: the
// specification asks for 24 to 64 random bytes; 16 is the floor below
// which an HMAC key is guessable.
const minWebhookSecret = 16

// SecretRef names where a webhook secret is read from, as an environment
// file names a backend's secret: an environment variable (env) or a file
// (file, relative to the configuration's folder). Exactly one is set; the
// secret is never written in the configuration itself.
type SecretRef struct {
	Env  string `json:"env,omitempty" yaml:"env"`
	File string `json:"file,omitempty" yaml:"file"`
}

// Read returns the secret; dir resolves a relative file. Errors name the
// variable or the file, never the content.
func (r SecretRef) Read(dir string) (string, error) {
	switch {
	case r.Env != "" && r.File != "":
		return "", steps.Errorf(steps.Invalid, "a webhook secret is read from env or from file, not both")
	case r.Env != "":
		s, ok := os.LookupEnv(r.Env)
		if !ok || s == "" {
			return "", steps.Errorf(steps.Invalid, "webhook secret: environment variable %s is not set or empty", r.Env)
		}
		return s, nil
	case r.File != "":
		path := r.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		b, err := steps.ReadFile(path, 4096)
		if err != nil {
			return "", steps.Errorf(steps.Invalid, "webhook secret: %w", err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", steps.Errorf(steps.Invalid, "webhook secret: %s is empty", path)
		}
		return s, nil
	}
	return "", steps.Errorf(steps.Invalid, "a webhook secret needs env or file")
}

// StandardWebhooks verifies Standard Webhooks signatures for named hooks,
// each with one or more secrets (several while the sender rolls its
// secret: a signature by any of them is good). It refuses a message
// whose timestamp is more than WebhookTolerance off, and a replay: the
// same message (webhook-id and webhook-timestamp) received twice.
//
// A sender's retry keeps the webhook-id but carries a new timestamp and
// so a new signature, which only a holder of the secret can make: it is
// accepted, and the service answers it with the run the first delivery
// started (the webhook-id is its idempotency key). The messages seen are
// kept in memory only for the tolerance window, at most MaxSeen of them:
// after a restart a message sent in the five minutes before it could be
// replayed once, and would find the run it started already there.
type StandardWebhooks struct {
	// MaxSeen bounds the messages remembered (DefaultMaxSeenWebhooks
	// when zero); when that many arrived within the window, new ones are
	// refused rather than a replay let through.
	MaxSeen int
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	keys map[string][][]byte
	mu   sync.Mutex
	seen map[string]time.Time // hook, id and timestamp → when received
}

var _ WebhookVerifier = (*StandardWebhooks)(nil)

// NewStandardWebhooks takes each hook's secrets, as the sender shows them
// (whsec_ and the base64 of the key; the prefix may be left out).
func NewStandardWebhooks(secrets map[string][]string) (*StandardWebhooks, error) {
	w := &StandardWebhooks{keys: map[string][][]byte{}, seen: map[string]time.Time{}}
	for name, list := range secrets {
		if len(list) == 0 {
			return nil, fmt.Errorf("webhook %s: no secret", name)
		}
		for i, s := range list {
			key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
			if err != nil {
				return nil, fmt.Errorf("webhook %s: secret %d is not whsec_ followed by base64", name, i+1)
			}
			if len(key) < minWebhookSecret {
				return nil, fmt.Errorf("webhook %s: secret %d has %d bytes, fewer than %d", name, i+1, len(key), minWebhookSecret)
			}
			w.keys[name] = append(w.keys[name], key)
		}
	}
	return w, nil
}

func (w *StandardWebhooks) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Verify checks a delivery of hook name over its exact body; see
// StandardWebhooks. The error is the 401's text: it says which check
// failed and repeats nothing the sender sent.
func (w *StandardWebhooks) Verify(name string, r *http.Request, body []byte) error {
	keys, ok := w.keys[name]
	if !ok {
		return fmt.Errorf("webhook %s has no secret configured", name)
	}
	id := r.Header.Get("webhook-id")
	ts := r.Header.Get("webhook-timestamp")
	sigs := r.Header.Get("webhook-signature")
	for _, h := range []struct{ name, v string }{{"webhook-id", id}, {"webhook-timestamp", ts}, {"webhook-signature", sigs}} {
		if h.v == "" {
			return fmt.Errorf("webhook %s: no %s header (Standard Webhooks)", name, h.name)
		}
	}
	if len(id) > maxWebhookID {
		return fmt.Errorf("webhook %s: webhook-id is longer than %d bytes", name, maxWebhookID)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook %s: webhook-timestamp is not Unix seconds", name)
	}
	now := w.now()
	off := now.Unix() - secs
	if off < 0 {
		off = -off
	}
	switch {
	case off >= 1e9 || off < 0:
		// Milliseconds, most likely; a Duration would overflow anyway.
		return fmt.Errorf("webhook %s: webhook-timestamp is decades off the service's clock: it must be Unix seconds", name)
	case time.Duration(off)*time.Second > WebhookTolerance:
		return fmt.Errorf("webhook %s: webhook-timestamp is %s off the service's clock (at most %s)", name, time.Duration(off)*time.Second, WebhookTolerance)
	}
	if !signedBy(keys, id, ts, body, sigs) {
		return fmt.Errorf("webhook %s: no v1 signature in webhook-signature matches the body with the hook's secrets", name)
	}
	// Only a signed message is remembered, so that nobody without the
	// secret can fill the store.
	return w.remember(name, id, ts, now)
}

// signedBy reports whether one of the v1 signatures is the HMAC-SHA256 of
// "id.ts.body" under one of keys, compared in constant time.
func signedBy(keys [][]byte, id, ts string, body []byte, header string) bool {
	var given [][]byte
	for _, s := range strings.Fields(header) {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue // another scheme (v1a: asymmetric) or noise
		}
		if b, err := base64.StdEncoding.DecodeString(sig); err == nil {
			given = append(given, b)
		}
	}
	ok := false
	for _, key := range keys {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id))
		m.Write([]byte{'.'})
		m.Write([]byte(ts))
		m.Write([]byte{'.'})
		m.Write(body)
		want := m.Sum(nil)
		for _, g := range given {
			// Every pair is compared, so the time taken does not say which
			// key or signature came close.
			ok = subtle.ConstantTimeCompare(g, want) == 1 || ok
		}
	}
	return ok
}

// remember records a verified message, refusing one already seen; it
// forgets what is older than the tolerance window (such a message is
// refused by its timestamp anyway).
func (w *StandardWebhooks) remember(name, id, ts string, now time.Time) error {
	key := name + "\x00" + id + "\x00" + ts
	limit := w.MaxSeen
	if limit <= 0 {
		limit = DefaultMaxSeenWebhooks
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.seen[key]; dup {
		return fmt.Errorf("webhook %s: this message (webhook-id and webhook-timestamp) was already received: a replay", name)
	}
	if len(w.seen) >= limit {
		for k, at := range w.seen {
			if now.Sub(at) > 2*WebhookTolerance {
				delete(w.seen, k)
			}
		}
		if len(w.seen) >= limit {
			return errors.New("webhook " + name + ": too many webhooks in the last minutes to tell a replay; try again later")
		}
	}
	w.seen[key] = now
	return nil
}
