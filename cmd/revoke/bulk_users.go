package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/revoke-dev/revoke/steps"
)

// bulkUser is one line of a users file.
type bulkUser struct {
	line int
	ref  string
}

// maxUsersFile bounds what a users file may hold (a million references is
// far beyond any bulk revoke is built for).
const maxUsersFile = 64 << 20

// readUsersFile reads the subjects of `revoke run --users FILE`: one
// reference a line (blank lines and lines starting with # ignored), or a
// CSV with a user column (a file named *.csv, or whose first line is a
// header naming user). "-" reads stdin. Every reference must parse
// (steps.ParseRef), and none may repeat: one run per person.
func readUsersFile(name string, stdin io.Reader) ([]bulkUser, error) {
	var (
		b   []byte
		err error
	)
	if name == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, maxUsersFile+1))
		name = "stdin"
	} else {
		b, err = steps.ReadFile(name, maxUsersFile)
	}
	if err != nil {
		return nil, usageErrorf("--users: %v", err)
	}
	if len(b) > maxUsersFile {
		return nil, usageErrorf("--users %s: larger than %d MiB", name, maxUsersFile>>20)
	}
	var users []bulkUser
	if isCSV(name, b) {
		users, err = csvUsers(name, b)
	} else {
		users = lineUsers(b)
	}
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, usageErrorf("--users %s: no users in it (one reference a line, or a CSV with a user column; blank lines and # comments are ignored)", name)
	}
	var problems []string
	seen := map[string]int{}
	for _, u := range users {
		if _, err := steps.ParseRef(u.ref); err != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: %v", name, u.line, err))
			continue
		}
		key := strings.ToLower(u.ref)
		if first, ok := seen[key]; ok {
			problems = append(problems, fmt.Sprintf("%s:%d: %s repeats line %d: one run per person, so list each person once", name, u.line, termSafe(u.ref), first))
			continue
		}
		seen[key] = u.line
	}
	if len(problems) > 0 {
		const most = 10
		more := ""
		if len(problems) > most {
			more = fmt.Sprintf("\n… and %d more", len(problems)-most)
			problems = problems[:most]
		}
		return nil, usageErrorf("--users: nothing was run:\n%s%s", strings.Join(problems, "\n"), more)
	}
	return users, nil
}

// isCSV: a .csv file, or one whose first meaningful line is a CSV header
// with a user column. A plain line may hold commas (a DN does), so commas
// alone do not make a CSV.
func isCSV(name string, b []byte) bool {
	if strings.HasSuffix(strings.ToLower(name), ".csv") {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		rec, err := csv.NewReader(strings.NewReader(t)).Read()
		return err == nil && len(rec) > 1 && userColumn(rec) >= 0
	}
	return false
}

// userColumn is the index of the header's user column, or -1.
func userColumn(header []string) int {
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF")), "user") {
			return i
		}
	}
	return -1
}

func lineUsers(b []byte) []bulkUser {
	var users []bulkUser
	for i, line := range strings.Split(string(bytes.TrimPrefix(b, []byte("\uFEFF"))), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		users = append(users, bulkUser{line: i + 1, ref: t})
	}
	return users
}

func csvUsers(name string, b []byte) ([]bulkUser, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, usageErrorf("--users %s: %v", name, err)
	}
	col := userColumn(header)
	if col < 0 {
		line, _ := r.FieldPos(0)
		return nil, usageErrorf("--users %s:%d: the CSV header has no user column (it has %s)", name, line, termSafe(strings.Join(header, ", ")))
	}
	var users []bulkUser
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return users, nil
		}
		if err != nil {
			return nil, usageErrorf("--users %s: %v", name, err)
		}
		line, _ := r.FieldPos(0)
		if col >= len(rec) || strings.TrimSpace(rec[col]) == "" {
			if strings.TrimSpace(strings.Join(rec, "")) == "" {
				continue // a blank record
			}
			return nil, usageErrorf("--users %s:%d: no user in this row", name, line)
		}
		users = append(users, bulkUser{line: line, ref: strings.TrimSpace(rec[col])})
	}
}
