package main

import (
	"strings"
	"testing"
	"time"
)

func TestIsContainmentWrite(t *testing.T) {
	tests := []struct {
		name string
		e    entry
		want bool
	}{
		{"user disabled", entry{Protocol: "graph", Method: "PATCH", Path: "/v1.0/users/u1", Status: 204, Detail: "accountEnabled=false"}, true},
		{"device disabled", entry{Protocol: "graph", Method: "PATCH", Path: "/v1.0/devices/d1", Status: 204, Detail: "accountEnabled=false"}, true},
		{"sessions revoked", entry{Protocol: "graph", Method: "POST", Path: "/v1.0/users/u1/revokeSignInSessions", Status: 200}, true},
		{"AD account disabled", entry{Protocol: "ldap", Method: "modify", Path: "CN=A,DC=x", Status: 0, Detail: "delete userAccountControl, add userAccountControl"}, true},
		{"a password reset", entry{Protocol: "graph", Method: "PATCH", Path: "/v1.0/users/u1", Status: 204, Detail: "passwordProfile"}, false},
		{"an AD password reset", entry{Protocol: "ldap", Method: "modify", Path: "CN=A,DC=x", Status: 0, Detail: "replace unicodePwd"}, false},
		{"a refused disable", entry{Protocol: "graph", Method: "PATCH", Path: "/v1.0/users/u1", Status: 403, Detail: "accountEnabled=false"}, false},
		{"a refused AD modify", entry{Protocol: "ldap", Method: "modify", Path: "CN=A,DC=x", Status: 19, Detail: "delete userAccountControl, add userAccountControl"}, false},
		{"a read", entry{Protocol: "graph", Method: "GET", Path: "/v1.0/users/u1?$select=accountEnabled", Status: 200}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isContainmentWrite(tt.e); got != tt.want {
				t.Errorf("isContainmentWrite = %v, want %v", got, tt.want)
			}
		})
	}
}

// The time runs from one latency before the first entry (its request's
// start) to the last containment write's entry; requests are counted up
// to it and in all.
func TestMeasure(t *testing.T) {
	log := `{"time":"2026-12-07T03:00:00.100Z","protocol":"graph","method":"POST","path":"/t/oauth2/v2.0/token","status":200}
{"time":"2026-12-07T03:00:00.150Z","protocol":"graph","method":"PATCH","path":"/v1.0/users/u1","status":204,"detail":"accountEnabled=false"}
{"time":"2026-12-07T03:00:00.200Z","protocol":"graph","method":"POST","path":"/v1.0/users/u1/revokeSignInSessions","status":200}

{"time":"2026-12-07T03:00:00.250Z","protocol":"graph","method":"GET","path":"/v1.0/users/u1","status":200}
`
	r, err := measure("revoke", strings.NewReader(log), 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.containment != 150*time.Millisecond || r.requests != 3 || r.total != 4 || r.writes != 2 {
		t.Errorf("got %+v", r)
	}
	peer, err := measure("peer", strings.NewReader(strings.Replace(log, "00.200Z", "00.350Z", 1)), 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	got := report([]result{median([]result{r}), median([]result{peer, peer, r})}, 50*time.Millisecond)
	want := "revoke   first request to containment   150.0 ms (3.0 round trips of 50ms), 3 requests up to it (4 in all), 2 containment writes\n" +
		"peer     first request to containment   300.0 ms (6.0 round trips of 50ms), 4 requests up to it (4 in all), 2 containment writes; median of 3 rounds (300, 300, 150 ms)\n" +
		"revoke / peer: 0.50×\n"
	if got != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}
	if _, err := measure("x", strings.NewReader(`{"time":"2026-12-07T03:00:00Z","protocol":"graph","method":"GET","path":"/v1.0/users/u1","status":200}`), 0); err == nil ||
		err.Error() != "no containment write in the log" {
		t.Errorf("a log without a containment write: %v", err)
	}
}
