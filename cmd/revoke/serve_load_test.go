package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/serve"
)

// loadSubjects is how many people the load test contains, and
// loadRequests how many requests ask for it, from loadCallers callers.
const (
	loadSubjects = 50
	loadRequests = 200
	loadCallers  = 10
)

// containRunbook is a short containment runbook for the load test: both
// sign-in blocks, then the sessions (Identity Protection's one request a
// second would measure the sandbox's throttle, not the service).
const containRunbook = `version: 1
name: contain
title: Contain
scenario: compromised
steps:
  - id: disable-ad-account
    uses: ad.disable_account
  - id: disable-entra-user
    uses: entra.disable_user
  - id: revoke-sessions
    uses: entra.revoke_sessions
    needs: [disable-ad-account, disable-entra-user]
`

// loadSeed is the default seed with n more synced users like Adele:
// user00@contoso.test … with AD accounts in OU=Staff.
func loadSeed(n int) *sandbox.Seed {
	seed := sandbox.DefaultSeed()
	var base sandbox.SeedUser
	for _, u := range seed.Users {
		if u.UserPrincipalName == "adele@contoso.test" {
			base = u
		}
	}
	for i := range n {
		u := base
		u.ID = fmt.Sprintf("7a000000-0000-4000-8000-%012d", i)
		u.UserPrincipalName = fmt.Sprintf("user%02d@contoso.test", i)
		u.DisplayName = fmt.Sprintf("Load User %02d", i)
		u.AuthMethods = nil
		u.InboxRules = nil
		ad := *base.AD
		ad.DN = fmt.Sprintf("CN=Load User %02d,OU=Staff,DC=contoso,DC=test", i)
		ad.SAMAccountName = fmt.Sprintf("user%02d", i)
		ad.GivenName, ad.Surname = "Load", fmt.Sprintf("User %02d", i)
		ad.Password = fmt.Sprintf("Sandbox-Only-Load-%02d!", i)
		ad.ObjectSID = ""
		u.AD = &ad
		seed.Users = append(seed.Users, u)
	}
	return seed
}

// TestServeLoad: 200 requests for 50 distinct people from 10 callers at
// once, each person asked for four times in a row (a SOAR retrying, and
// two playbooks on one incident): exactly 50 runs, each person disabled
// exactly once, and the latency of POST /v1/runs reported
// (docs/benchmarks.md).
func TestServeLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("200 requests and 50 runs")
	}
	e := newE2E(t, loadSeed(loadSubjects), sandbox.Options{})
	dir := filepath.Join(e.dir, "runbooks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "contain.yaml"), []byte(containRunbook), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, e, "--runbooks", dir)

	// The requests in subject order: each person's four arrive together,
	// taken by four of the ten callers.
	work := make(chan int, loadRequests)
	for i := range loadRequests {
		work <- i / (loadRequests / loadSubjects)
	}
	close(work)
	var mu sync.Mutex
	var latencies []time.Duration
	runOf := map[int]map[string]bool{}
	var failures []string
	var wg sync.WaitGroup
	start := time.Now()
	for c := range loadCallers {
		wg.Go(func() {
			auth := fmt.Sprintf("Test caller%02d Revoke.Run", c)
			for subj := range work {
				body := map[string]any{"runbook": "contain", "user": fmt.Sprintf("user%02d@contoso.test", subj), "reason": "load test"}
				t0 := time.Now()
				code, b := s.doNoFatal(http.MethodPost, "/v1/runs", auth, body)
				d := time.Since(t0)
				mu.Lock()
				latencies = append(latencies, d)
				var ref serve.RunRef
				if code != http.StatusAccepted || json.Unmarshal(b, &ref) != nil {
					failures = append(failures, fmt.Sprintf("user%02d: %d %s", subj, code, b))
				} else {
					if runOf[subj] == nil {
						runOf[subj] = map[string]bool{}
					}
					runOf[subj][ref.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	posted := time.Since(start)
	if len(failures) > 0 {
		t.Fatalf("%d requests failed:\n%v", len(failures), failures)
	}
	for subj := range loadSubjects {
		if len(runOf[subj]) != 1 {
			t.Errorf("user%02d got runs %v, want one", subj, runOf[subj])
		}
	}
	// One listing a second until every run ended: polling each run would
	// spend the reader's rate.
	var list struct{ Runs []serve.RunView }
	for deadline := time.Now().Add(2 * time.Minute); ; {
		code, b := s.do(t, http.MethodGet, "/v1/runs?runbook=contain&limit=500", reader, nil)
		if err := json.Unmarshal(b, &list); code != http.StatusOK || err != nil {
			t.Fatalf("list: %d %s", code, b)
		}
		if !slices.ContainsFunc(list.Runs, func(v serve.RunView) bool {
			return v.Status == serve.StatusQueued || v.Status == serve.StatusRunning
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("runs still going after 2 minutes")
		}
		time.Sleep(time.Second)
	}
	if len(list.Runs) != loadSubjects {
		t.Errorf("%d runs listed, want %d", len(list.Runs), loadSubjects)
	}
	for _, v := range list.Runs {
		if v.Status != serve.StatusCompleted || !v.Contained {
			t.Errorf("run %s for %s: %s %s", v.ID, v.User, v.Status, v.Outcome)
		}
	}
	all := time.Since(start)
	if got := e.runIDs(t); len(got) != loadSubjects {
		t.Errorf("%d journals, want %d", len(got), loadSubjects)
	}
	entries := e.tenant.Log().Entries()
	for i := range loadSubjects {
		id := fmt.Sprintf("7a000000-0000-4000-8000-%012d", i)
		if n := count(entries, func(en sandbox.Entry) bool {
			return en.Method == "PATCH" && en.Path == "/v1.0/users/"+id && en.Detail == "accountEnabled=false"
		}); n != 1 {
			t.Errorf("user%02d disabled %d times, want once", i, n)
		}
	}
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[int(p*float64(len(latencies)-1))] }
	t.Logf("POST /v1/runs: %d requests from %d callers in %v: p50 %v, p90 %v, p99 %v, max %v; all %d runs contained %v after the first request",
		len(latencies), loadCallers, posted.Round(time.Millisecond), pct(0.5).Round(time.Microsecond), pct(0.9).Round(time.Microsecond),
		pct(0.99).Round(time.Microsecond), latencies[len(latencies)-1].Round(time.Microsecond), len(list.Runs), all.Round(time.Millisecond))
}

// doNoFatal is do for other goroutines than the test's: it reports a
// transport error as status 0.
func (s *service) doNoFatal(method, path, auth string, body any) (int, []byte) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, []byte(err.Error())
	}
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(raw))
	if err != nil {
		return 0, []byte(err.Error())
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	var b []byte
	b, err = io.ReadAll(resp.Body)
	if err != nil {
		return 0, []byte(err.Error())
	}
	return resp.StatusCode, b
}
