package sandbox

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 30, 10, 17, 6, 0, time.UTC)

func TestRequestLog(t *testing.T) {
	var sink bytes.Buffer
	l := NewRequestLog(&sink)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Add(Entry{Time: testNow, Client: "c", Protocol: "ldap", Method: "modify", Path: "CN=x", Status: 0, Detail: "replace unicodePwd"})
		}()
	}
	wg.Wait()
	es := l.Entries()
	if len(es) != 50 {
		t.Fatalf("%d entries", len(es))
	}
	es[0].Client = "changed"
	if l.Entries()[0].Client != "c" {
		t.Error("Entries is not a copy")
	}
	lines := bytes.Split(bytes.TrimSpace(sink.Bytes()), []byte("\n"))
	var e Entry
	if len(lines) != 50 || json.Unmarshal(lines[0], &e) != nil || e.Detail != "replace unicodePwd" || !e.Time.Equal(testNow) {
		t.Errorf("sink: %d lines, first %s", len(lines), lines[0])
	}
	if string(lines[0]) != `{"time":"2026-11-30T10:17:06Z","client":"c","protocol":"ldap","method":"modify","path":"CN=x","status":0,"detail":"replace unicodePwd"}` {
		t.Errorf("line = %s", lines[0])
	}
	l.Reset()
	if len(l.Entries()) != 0 {
		t.Error("Reset kept entries")
	}
	var zero RequestLog // the zero value works, without a sink
	zero.Add(Entry{})
	if len(zero.Entries()) != 1 || zero.Entries()[0].Time.IsZero() {
		t.Error("zero RequestLog")
	}
}
