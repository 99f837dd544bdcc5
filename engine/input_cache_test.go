package engine

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// echoPolicy warns with every step of the runbook it is given, so a
// decision shows exactly which runbook it was made on.
const echoPolicy = `package revoke

warn contains sprintf("%s %s with=%v needs=%v tags=%v", [input.runbook.name, s.id, s.with, s.needs, s.tags]) if some s in input.runbook.steps
`

// A bulk run decides one runbook for many subjects: its value is built
// once. A runbook changed after a decision is decided on what it holds
// now, whatever was changed, in place or not.
func TestDecisionsFollowARunbookChangedAfterADecision(t *testing.T) {
	tests := []struct {
		name   string
		change func(rb *Runbook)
		want   []string
	}{
		{name: "nothing changed", change: func(*Runbook) {},
			want: []string{"r a with={\"keep\": [\"CN=X\"], \"times\": 2} needs=[] tags=[\"t\"]", "r b with={} needs=[\"a\"] tags=[]"}},
		{name: "a parameter changed in place", change: func(rb *Runbook) { rb.Steps[0].With["times"] = 3 },
			want: []string{"r a with={\"keep\": [\"CN=X\"], \"times\": 3} needs=[] tags=[\"t\"]", "r b with={} needs=[\"a\"] tags=[]"}},
		{name: "a list parameter changed in place", change: func(rb *Runbook) { rb.Steps[0].With["keep"].([]string)[0] = "CN=Y" },
			want: []string{"r a with={\"keep\": [\"CN=Y\"], \"times\": 2} needs=[] tags=[\"t\"]", "r b with={} needs=[\"a\"] tags=[]"}},
		{name: "a parameter added", change: func(rb *Runbook) { rb.Steps[1].With = steps.Values{"grace": time.Minute} },
			want: []string{"r a with={\"keep\": [\"CN=X\"], \"times\": 2} needs=[] tags=[\"t\"]", "r b with={\"grace\": \"1m0s\"} needs=[\"a\"] tags=[]"}},
		{name: "a need changed in place", change: func(rb *Runbook) { rb.Steps[1].Needs[0] = "c" },
			want: []string{"r a with={\"keep\": [\"CN=X\"], \"times\": 2} needs=[] tags=[\"t\"]", "r b with={} needs=[\"c\"] tags=[]"}},
		{name: "a tag changed in place", change: func(rb *Runbook) { rb.Steps[0].Tags[0] = "u" },
			want: []string{"r a with={\"keep\": [\"CN=X\"], \"times\": 2} needs=[] tags=[\"u\"]", "r b with={} needs=[\"a\"] tags=[]"}},
		{name: "a step renamed", change: func(rb *Runbook) { rb.Steps[1].ID = "c" },
			want: []string{"r a with={\"keep\": [\"CN=X\"], \"times\": 2} needs=[] tags=[\"t\"]", "r c with={} needs=[\"a\"] tags=[]"}},
		{name: "a step dropped", change: func(rb *Runbook) { rb.Steps = rb.Steps[:1] },
			want: []string{"r a with={\"keep\": [\"CN=X\"], \"times\": 2} needs=[] tags=[\"t\"]"}},
		{name: "the runbook renamed", change: func(rb *Runbook) { rb.Name = "s" },
			want: []string{"s a with={\"keep\": [\"CN=X\"], \"times\": 2} needs=[] tags=[\"t\"]", "s b with={} needs=[\"a\"] tags=[]"}},
	}
	p := mustPolicy(t, regoSources("echo.rego", echoPolicy))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb := &Runbook{Name: "r", Steps: []*StepDef{
				{ID: "a", Uses: "x.a", With: steps.Values{"times": 2, "keep": []string{"CN=X"}}, Tags: []string{"t"}},
				{ID: "b", Uses: "x.b", Needs: []string{"a"}},
			}}
			if _, err := p.decideFor(context.Background(), rb, contosoFacts, nil, Request{}, nil); err != nil {
				t.Fatal(err)
			}
			tt.change(rb)
			d, err := p.decideFor(context.Background(), rb, contosoFacts, nil, Request{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Warn, tt.want) {
				t.Errorf("warn %q\nwant %q", d.Warn, tt.want)
			}
		})
	}
}

func TestRunbookValueIsBuiltOncePerRunbook(t *testing.T) {
	var c atomic.Pointer[runbookCache]
	rb, other := policyTestRunbook(t), policyTestRunbook(t)
	first, _ := cachedRunbookValue(&c, rb)
	again, _ := cachedRunbookValue(&c, rb)
	if first != again {
		t.Error("the same runbook, unchanged, was built again")
	}
	if v, _ := cachedRunbookValue(&c, other); v == first {
		t.Error("another runbook got the first one's value")
	}
	// A parameter that is not a scalar or a list of strings cannot be
	// compared exactly: such a runbook is built every time.
	odd := &Runbook{Name: "odd", Steps: []*StepDef{{ID: "a", With: steps.Values{"m": map[string]any{"k": 1}}}}}
	v1, _ := cachedRunbookValue(&c, odd)
	v2, _ := cachedRunbookValue(&c, odd)
	if v1 == v2 {
		t.Error("a runbook with a map parameter was cached")
	}
}

// Subjects of a bulk run are decided at once: decisions on two runbooks
// from many goroutines, the cache changing hands between them all the
// while, each decided on its own runbook (run with -race).
func TestConcurrentDecisionsEachGetTheirRunbook(t *testing.T) {
	p := mustPolicy(t, regoSources("echo.rego", echoPolicy))
	runbooks := []*Runbook{
		{Name: "r", Steps: []*StepDef{{ID: "a", Uses: "x.a", With: steps.Values{"times": 2}}}},
		{Name: "s", Steps: []*StepDef{{ID: "b", Uses: "x.b", Needs: []string{"a"}}}},
	}
	want := [][]string{{"r a with={\"times\": 2} needs=[] tags=[]"}, {"s b with={} needs=[\"a\"] tags=[]"}}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				k := (g + i) % 2
				d, err := p.decideFor(context.Background(), runbooks[k], contosoFacts, &steps.Subject{Ref: "x"}, Request{}, nil)
				if err != nil {
					errs <- err
					return
				}
				if !reflect.DeepEqual(d.Warn, want[k]) {
					errs <- fmt.Errorf("runbook %s decided with warn %q", runbooks[k].Name, d.Warn)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// requestEchoPolicy warns with the request it is given, so a test can see
// what a decision was made on.
const requestEchoPolicy = `package revoke

warn contains sprintf("%v", [input.request])
`

// A bulk run decides every subject for one request: its part of the
// input is built once. Any other request, however little it differs, is
// decided on what it holds, and one decided before is built again.
func TestDecisionsFollowTheRequest(t *testing.T) {
	p := mustPolicy(t, regoSources("echo.rego", requestEchoPolicy))
	rb := &Runbook{Name: "r"}
	base := Request{RequestedBy: "soc", Reason: "INC-1"}
	var c atomic.Pointer[requestCache]
	cases := []struct {
		name   string
		req    Request
		want   string
		reused bool // the cached term is handed back
	}{
		{"the first decision builds it", base,
			`{"allow_protected": false, "reason": "INC-1", "requested_by": "soc"}`, false},
		{"the same request again reuses it", base,
			`{"allow_protected": false, "reason": "INC-1", "requested_by": "soc"}`, true},
		{"another reason", Request{RequestedBy: "soc", Reason: "INC-2"},
			`{"allow_protected": false, "reason": "INC-2", "requested_by": "soc"}`, false},
		{"a ticket added", Request{RequestedBy: "soc", Reason: "INC-2", Ticket: "T-1"},
			`{"allow_protected": false, "reason": "INC-2", "requested_by": "soc", "ticket": "T-1"}`, false},
		{"protection allowed", Request{RequestedBy: "soc", Reason: "INC-2", Ticket: "T-1", AllowProtected: true},
			`{"allow_protected": true, "reason": "INC-2", "requested_by": "soc", "ticket": "T-1"}`, false},
		{"an approver named", Request{RequestedBy: "soc", Reason: "INC-2", Ticket: "T-1", AllowProtected: true, ApprovedBy: "ciso"},
			`{"allow_protected": true, "approved_by": "ciso", "reason": "INC-2", "requested_by": "soc", "ticket": "T-1"}`, false},
		{"back to the first request", base,
			`{"allow_protected": false, "reason": "INC-1", "requested_by": "soc"}`, false},
	}
	var last *requestCache
	for _, tt := range cases {
		d, err := p.decideFor(context.Background(), rb, contosoFacts, nil, tt.req, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !reflect.DeepEqual(d.Warn, []string{tt.want}) {
			t.Errorf("%s: warn %q, want %q", tt.name, d.Warn, tt.want)
		}
		got := cachedRequestTerm(&c, tt.req)
		if got.Value.Compare(requestTerm(tt.req).Value) != 0 {
			t.Errorf("%s: cached term %v, want %v", tt.name, got, requestTerm(tt.req))
		}
		if reused := last != nil && got == last.value; reused != tt.reused {
			t.Errorf("%s: reused %v, want %v", tt.name, reused, tt.reused)
		}
		last = c.Load()
	}
}
