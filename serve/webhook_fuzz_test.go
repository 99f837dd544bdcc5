package serve

import (
	"bytes"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzWebhookVerify feeds untrusted headers and bodies to the Standard
// Webhooks check: it must never panic, and never accept a message it did
// not see signed with the hook's secret (none of the fuzzer's inputs is).
func FuzzWebhookVerify(f *testing.F) {
	f.Add("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "1733540000", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"user":"miriam@contoso.test"}`))
	f.Add("", "", "", []byte{})
	f.Add("id", "-1", "v1,,v2,x v1,====", []byte("\x00\xff"))
	now := time.Unix(1733540000, 0)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		w, err := NewStandardWebhooks(map[string][]string{"hr": {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}})
		if err != nil {
			t.Fatal(err)
		}
		w.Now = func() time.Time { return now }
		r := httptest.NewRequest("POST", "/v1/hooks/hr", bytes.NewReader(body))
		r.Header.Set("webhook-id", id)
		r.Header.Set("webhook-timestamp", ts)
		r.Header.Set("webhook-signature", sig)
		if err := w.Verify("hr", r, body); err == nil && id != "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W" {
			t.Errorf("accepted an unsigned message: id %q ts %q sig %q", id, ts, sig)
		}
	})
}
