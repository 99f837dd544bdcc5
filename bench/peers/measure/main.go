// Command measure reads what the sandbox logged while one tool contained
// one user (`revoke sandbox --log FILE`, JSON lines, the part of the log
// written while the tool ran) and prints, for each tool, the time from its
// first request to its last containment write, its request count and the
// round trips that time is worth; then the ratio of the first tool's time
// to the second's. scripts/bench runs it on revoke's and its peer's share
// of one sandbox's log, so both are timed by the same clock.
//
//	go run ./bench/peers/measure -latency 50ms revoke=revoke.jsonl peer=peer.jsonl
//
// The log stamps an entry when the request was answered, that is after
// the sandbox's latency: the first request started one latency before its
// entry's time. A containment write is an answered (2xx) PATCH of a user
// or device setting accountEnabled=false, a POST revokeSignInSessions, or
// an LDAP modify of an AD account's userAccountControl.
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// entry is the part of a sandbox.Entry measure reads.
type entry struct {
	Time     time.Time `json:"time"`
	Protocol string    `json:"protocol"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	Status   int       `json:"status"`
	Detail   string    `json:"detail"`
}

// result is one tool's measure.
type result struct {
	name        string
	containment time.Duration
	// requests counts those answered up to the last containment write;
	// total, all in the tool's share of the log (read-backs, the
	// residual inventory after containment). A $batch counts as the
	// requests it carries.
	requests, total int
	writes          int
	// rounds are the containment times of every round, in order, when
	// this is their median.
	rounds []time.Duration
}

func main() {
	latency := flag.Duration("latency", 0, "the sandbox's latency on every request (its --latency)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: measure -latency 50ms NAME=LOG [NAME=LOG…]")
		os.Exit(2)
	}
	// Several logs of one name are rounds of the same measure.
	var names []string
	rounds := map[string][]result{}
	for _, arg := range flag.Args() {
		name, file, ok := strings.Cut(arg, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "measure: %q is not NAME=LOG\n", arg)
			os.Exit(2)
		}
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "measure:", err)
			os.Exit(1)
		}
		r, err := measure(name, f, *latency)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "measure: %s: %v\n", file, err)
			os.Exit(1)
		}
		if _, seen := rounds[name]; !seen {
			names = append(names, name)
		}
		rounds[name] = append(rounds[name], r)
	}
	var results []result
	for _, name := range names {
		results = append(results, median(rounds[name]))
	}
	fmt.Print(report(results, *latency))
}

// median is the round with the median containment time (the lower one of
// an even count), with every round's time for the report.
func median(rs []result) result {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b result) int { return cmp.Compare(a.containment, b.containment) })
	m := sorted[(len(sorted)-1)/2]
	for _, r := range rs {
		m.rounds = append(m.rounds, r.containment)
	}
	return m
}

// isContainmentWrite reports whether e is one of the containment steps'
// writes: an account or a device disabled, or the sessions revoked.
func isContainmentWrite(e entry) bool {
	if e.Protocol == "ldap" {
		// An AD account disabled: its userAccountControl written
		// (LDAP result 0, success).
		return e.Method == "modify" && e.Status == 0 && strings.Contains(e.Detail, "userAccountControl")
	}
	if e.Protocol != "graph" || e.Status < 200 || e.Status > 299 {
		return false
	}
	path := strings.SplitN(e.Path, "?", 2)[0]
	switch {
	case e.Method == "PATCH" && (strings.HasPrefix(path, "/v1.0/users/") || strings.HasPrefix(path, "/v1.0/devices/")):
		return strings.Contains(e.Detail, "accountEnabled=false")
	case e.Method == "POST" && strings.HasSuffix(path, "/revokeSignInSessions"):
		return true
	}
	return false
}

// measure reads one tool's share of the log.
func measure(name string, r io.Reader, latency time.Duration) (result, error) {
	res := result{name: name}
	var first, last time.Time
	var times []time.Time
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return res, err
		}
		if e.Protocol == "graph" && strings.HasSuffix(strings.SplitN(e.Path, "?", 2)[0], "/$batch") {
			// Its items are logged, and counted, on their own.
			continue
		}
		res.total++
		times = append(times, e.Time)
		if first.IsZero() || e.Time.Before(first) {
			first = e.Time
		}
		if isContainmentWrite(e) {
			res.writes++
			if e.Time.After(last) {
				last = e.Time
			}
		}
	}
	if err := sc.Err(); err != nil {
		return res, err
	}
	if res.writes == 0 {
		return res, errors.New("no containment write in the log")
	}
	for _, t := range times {
		if !t.After(last) {
			res.requests++
		}
	}
	res.containment = last.Sub(first.Add(-latency))
	return res, nil
}

// report renders the results, and the first's ratio to the second.
func report(rs []result, latency time.Duration) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%-8s first request to containment %7.1f ms", r.name, ms(r.containment))
		if latency > 0 {
			fmt.Fprintf(&b, " (%.1f round trips of %s)", float64(r.containment)/float64(latency), latency)
		}
		fmt.Fprintf(&b, ", %d requests up to it (%d in all), %d containment writes", r.requests, r.total, r.writes)
		if len(r.rounds) > 1 {
			all := make([]string, len(r.rounds))
			for i, d := range r.rounds {
				all[i] = fmt.Sprintf("%.0f", ms(d))
			}
			fmt.Fprintf(&b, "; median of %d rounds (%s ms)", len(r.rounds), strings.Join(all, ", "))
		}
		b.WriteString("\n")
	}
	if len(rs) > 1 {
		fmt.Fprintf(&b, "%s / %s: %.2f×\n", rs[0].name, rs[1].name, float64(rs[0].containment)/float64(rs[1].containment))
	}
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
