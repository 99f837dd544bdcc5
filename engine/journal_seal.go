package engine

// The journal's seal: RUN_ID.seal beside RUN_ID.jsonl records the number
// and SHA-256 of the last line written, so that what the hash chain cannot
// see — lines cut from the end, an edited last line — is found when the
// journal is read back.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// The seal file holds two fixed-size slots, each a line of text:
//
//	revoke-seal-1 seq=0000000012 line=<hex SHA-256 of line 12> sum=<8 hex>
//
// Line N is sealed in slot N%2, in place, and fsync'd. A crash while a slot
// is written tears that slot only (its sum no longer matches); the other
// slot still seals line N-1, which the journal is then exactly one line
// past — the state a crash between a line's fsync and its seal's leaves
// anyway, and accepted as such.
const (
	sealMagic = "revoke-seal-1"
	// sealSlotLen is the length of one slot: magic, " seq=" and ten
	// digits, " line=" and 64 hex digits, " sum=" and 8 hex digits, "\n".
	sealSlotLen = len(sealMagic) + 5 + 10 + 6 + 64 + 5 + 8 + 1
	// sealMaxSeq is the largest line number ten digits hold.
	sealMaxSeq = 9_999_999_999
)

// noLine stands for "no line yet" in the slot of line 0.
var noLine = strings.Repeat("0", 64)

// journalSeal is one slot: the number of the last line sealed and the hex
// SHA-256 of its bytes (noLine for line 0: nothing written yet).
type journalSeal struct {
	Seq  int
	Line string
}

// sealPath is where the seal of the journal at path lives.
func sealPath(journalPath string) string {
	return strings.TrimSuffix(journalPath, ".jsonl") + ".seal"
}

// formatSealSlot renders one slot.
func formatSealSlot(s journalSeal) []byte {
	line := s.Line
	if line == "" {
		line = noLine
	}
	body := fmt.Sprintf("%s seq=%010d line=%s", sealMagic, s.Seq, line)
	sum := sha256.Sum256([]byte(body))
	return fmt.Appendf(nil, "%s sum=%s\n", body, hex.EncodeToString(sum[:4]))
}

// parseSealSlot reads one slot; ok is false for a slot that is torn,
// unwritten or not a seal at all.
func parseSealSlot(b []byte) (journalSeal, bool) {
	if len(b) != sealSlotLen || b[len(b)-1] != '\n' {
		return journalSeal{}, false
	}
	body, sum, ok := strings.Cut(string(b[:len(b)-1]), " sum=")
	want := sha256.Sum256([]byte(body))
	if !ok || sum != hex.EncodeToString(want[:4]) {
		return journalSeal{}, false
	}
	fields := strings.Fields(body)
	if len(fields) != 3 || fields[0] != sealMagic {
		return journalSeal{}, false
	}
	seqText, ok1 := strings.CutPrefix(fields[1], "seq=")
	line, ok2 := strings.CutPrefix(fields[2], "line=")
	seq, err := strconv.Atoi(seqText)
	if !ok1 || !ok2 || err != nil || seq < 0 || len(line) != 64 {
		return journalSeal{}, false
	}
	if line == noLine {
		line = ""
	}
	return journalSeal{Seq: seq, Line: line}, true
}

// sealFile is what a Journal writes its seal to: an *os.File, or in tests
// a wrapper that simulates a crash.
type sealFile interface {
	io.WriterAt
	Sync() error
	Close() error
}

// writeSeal seals line seq (whose hex SHA-256 is line) in its slot and
// fsyncs it.
func writeSeal(f sealFile, seq int, line string) error {
	if seq > sealMaxSeq {
		return fmt.Errorf("line %d is past what a seal records", seq)
	}
	if _, err := f.WriteAt(formatSealSlot(journalSeal{Seq: seq, Line: line}), int64(seq%2*sealSlotLen)); err != nil {
		return err
	}
	return f.Sync()
}

// sealBoth rewrites both slots: line seq (whose hex SHA-256 is line) in its
// slot, line seq-1 (prev) in the other. A new journal (seq 0) and a
// reopened one start from this state, so that a slot torn later always
// leaves the previous line's seal behind.
func sealBoth(f sealFile, seq int, line, prev string) error {
	if seq > sealMaxSeq {
		return fmt.Errorf("line %d is past what a seal records", seq)
	}
	before := journalSeal{Seq: max(seq-1, 0), Line: prev}
	if seq == 0 {
		before.Line = ""
	}
	// The other slot first: until line seq's slot is written too, the seal
	// says at most "line seq-1", which the journal is within one line of.
	if _, err := f.WriteAt(formatSealSlot(before), int64((seq+1)%2*sealSlotLen)); err != nil {
		return err
	}
	if _, err := f.WriteAt(formatSealSlot(journalSeal{Seq: seq, Line: line}), int64(seq%2*sealSlotLen)); err != nil {
		return err
	}
	return f.Sync()
}

// errNoSeal: the journal has no seal file beside it.
var errNoSeal = errors.New("no seal")

// readSeal reads the seal of the journal at path: the valid slot with the
// highest line number. A missing or empty file is errNoSeal; a file with
// no valid slot is an error saying so.
func readSeal(journalPath string) (journalSeal, error) {
	data, err := os.ReadFile(sealPath(journalPath))
	// An empty seal is none: a forced resume creates the file when it
	// opens the journal but writes it only with its first line.
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(data) == 0 {
		return journalSeal{}, errNoSeal
	}
	if err != nil {
		return journalSeal{}, err
	}
	best, found := journalSeal{}, false
	for off := 0; off+sealSlotLen <= len(data) && off < 2*sealSlotLen; off += sealSlotLen {
		if s, ok := parseSealSlot(data[off : off+sealSlotLen]); ok && (!found || s.Seq > best.Seq) {
			best, found = s, true
		}
	}
	if !found {
		return journalSeal{}, fmt.Errorf("its seal %s holds no readable record", sealPath(journalPath))
	}
	return best, nil
}

// VerifySeal checks the journal against its seal, which records the last
// line written and its SHA-256. It reports lines cut from the end ("the
// journal ends at line 7, but its seal records line 9"), an edited last
// line, lines added past the seal, and a missing or unreadable seal. A
// journal exactly one line past its seal is what a crash between the
// line's fsync and the seal's leaves, and passes. See docs/execution.md for
// what the seal cannot detect.
func (l *JournalLog) VerifySeal() error {
	if errors.Is(l.sealErr, errNoSeal) {
		return fmt.Errorf("no seal beside the journal (%s): whether lines were cut from its end cannot be told", sealPath(l.Path))
	}
	if l.sealErr != nil {
		return l.sealErr
	}
	n, s := len(l.lines), l.seal
	switch {
	case s.Seq > n:
		return fmt.Errorf("the journal ends at line %d, but its seal records line %d: lines were cut from its end", n, s.Seq)
	case s.Seq < n-1:
		return fmt.Errorf("the journal goes on %d lines past line %d, the last its seal records: lines were added after it was sealed", n-s.Seq, s.Seq)
	case s.Seq >= 1 && digest(l.lines[s.Seq-1]) != s.Line:
		return fmt.Errorf("line %d is not the line its seal records: it was edited", s.Seq)
	}
	return nil
}

// Verify checks the hash chain (VerifyChain), then the seal (VerifySeal):
// nil means no line was edited, removed, added or cut from the end in ways
// these detect.
func (l *JournalLog) Verify() error {
	if err := l.VerifyChain(); err != nil {
		return err
	}
	return l.VerifySeal()
}

// SealedAt is the last line the seal records (0 without a readable seal).
func (l *JournalLog) SealedAt() int { return l.seal.Seq }
