package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BulkManifest is what ties a bulk run's runs together, in
// <state_dir>/bulks/BULK_ID.json: the runbook and request every subject
// was run with, and each subject's run id, chosen before any run starts,
// so that `revoke resume BULK_ID` finds every subject again after a crash:
// those with a journal are resumed, those without one are started.
type BulkManifest struct {
	BulkID  string    `json:"bulk_id"`
	Created time.Time `json:"created"`
	// Runbook is the runbook's name; File its file when it was given by
	// path ("" for a built-in or one found in a runbooks directory).
	Runbook string  `json:"runbook"`
	File    string  `json:"file,omitempty"`
	Request Request `json:"request"`
	// Subjects are in the order of the users file.
	Subjects []BulkEntry `json:"subjects"`
}

// BulkEntry is one subject of a bulk.
type BulkEntry struct {
	// Line is the subject's line in the users file (1-based, the header
	// counted in a CSV).
	Line int `json:"line"`
	// Ref is the reference as given.
	Ref string `json:"ref"`
	// RunID is the run's id; its journal exists once the run started.
	RunID string `json:"run_id"`
}

// BulkPath returns where a bulk's manifest lives under a state directory;
// a bulk id has the syntax of a run id.
func BulkPath(stateDir, bulkID string) (string, error) {
	if _, err := RunPath(stateDir, bulkID); err != nil {
		return "", errors.New(strings.Replace(err.Error(), "is not a run id", "is not a bulk id", 1))
	}
	return filepath.Join(stateDir, "bulks", bulkID+".json"), nil
}

// IsBulk reports whether id names a bulk in the state directory.
func IsBulk(stateDir, id string) bool {
	p, err := BulkPath(stateDir, id)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// WriteBulkManifest writes m (folder 0700, file 0600), replacing the file
// whole (a temporary file renamed over it), so that a crash leaves the old
// manifest or the new one, never half of one.
func WriteBulkManifest(stateDir string, m *BulkManifest) error {
	p, err := BulkPath(stateDir, m.BulkID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("bulk manifest: %w", err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("bulk manifest: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), m.BulkID+".*.tmp")
	if err != nil {
		return fmt.Errorf("bulk manifest: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("bulk manifest: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("bulk manifest: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("bulk manifest: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("bulk manifest: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("bulk manifest: %w", err)
	}
	return nil
}

// ReadBulkManifest reads a bulk's manifest.
func ReadBulkManifest(stateDir, bulkID string) (*BulkManifest, error) {
	p, err := BulkPath(stateDir, bulkID)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no bulk %s in %s", bulkID, stateDir)
	}
	if err != nil {
		return nil, fmt.Errorf("bulk manifest: %w", err)
	}
	var m BulkManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("bulk manifest %s: %w", p, err)
	}
	if m.BulkID != bulkID {
		return nil, fmt.Errorf("bulk manifest %s names bulk %q", p, m.BulkID)
	}
	return &m, nil
}
