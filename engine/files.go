package engine

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// FileKind is what a file given to `revoke validate` holds.
type FileKind int

// File kinds, recognised by Recognize.
const (
	// KindUnknown is YAML of no known shape: validate warns about it.
	KindUnknown FileKind = iota
	KindRunbook
	KindEnvironment
	KindRunbookTest
	KindPolicy
	KindPolicyTest
	// KindFacts is a `revoke plan --facts` file: a top-level subject.
	KindFacts
	// KindSandboxSeed is a sandbox seed: top-level tenant and users.
	KindSandboxSeed
)

// String names the kind for messages: "runbook", "policy test".
func (k FileKind) String() string {
	switch k {
	case KindRunbook:
		return "runbook"
	case KindEnvironment:
		return "environment"
	case KindRunbookTest:
		return "runbook test"
	case KindPolicy:
		return "policy"
	case KindPolicyTest:
		return "policy test"
	case KindFacts:
		return "facts"
	case KindSandboxSeed:
		return "sandbox seed"
	}
	return "unknown"
}

// Recognize says what a file holds, by its name and shape: .rego is a
// policy (_test.rego a policy test), *_test.yaml a runbook test, YAML with
// a top-level steps a runbook, with a top-level kind an environment (a bad
// kind is then the environment decoder's error, at its line, not a
// reason to ignore the file), with a top-level subject a facts file, with
// top-level tenant and users a sandbox seed; anything else is KindUnknown.
// A kind beside an apiVersion is a Kubernetes-style manifest, not
// revoke's: KindUnknown.
//
// A runbook with a syntax error must still be recognised, or validate would
// only warn about it and CI would pass: when the YAML does not parse, the
// top-level keys are looked for line by line instead (and Load reports a
// file of no shape that does not parse as an error, see SyntaxLints).
func Recognize(path string, data []byte) FileKind {
	base := strings.ToLower(filepath.Base(path))
	ext := filepath.Ext(base)
	switch {
	case ext == ".rego" && strings.HasSuffix(base, "_test.rego"):
		return KindPolicyTest
	case ext == ".rego":
		return KindPolicy
	case (ext == ".yaml" || ext == ".yml") && strings.HasSuffix(strings.TrimSuffix(base, ext), "_test"):
		return KindRunbookTest
	}
	d := &nodeDecoder{file: path}
	root := d.parse(data)
	if root == nil {
		if text, err := DecodeText(data); err == nil {
			return recognizeLines(text)
		}
		return KindUnknown
	}
	kind := KindUnknown
	keys := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i].Value
		keys[k] = true
		if k == "steps" {
			return KindRunbook
		}
	}
	switch {
	case keys["kind"] && !keys["apiVersion"]:
		kind = KindEnvironment
	case keys["subject"]:
		kind = KindFacts
	case keys["tenant"] && keys["users"]:
		kind = KindSandboxSeed
	}
	return kind
}

// recognizeRunbookLine and recognizeEnvLine find top-level keys in a file
// that does not parse: a key at column 1, as block-style YAML writes it.
var (
	recognizeRunbookLine = regexp.MustCompile(`^["']?steps["']?\s*:`)
	recognizeEnvLine     = regexp.MustCompile(`^["']?kind["']?\s*:`)
	recognizeK8sLine     = regexp.MustCompile(`^["']?apiVersion["']?\s*:`)
)

func recognizeLines(data []byte) FileKind {
	env, k8s := false, false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, MaxFileSize)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		switch {
		case recognizeRunbookLine.MatchString(line):
			return KindRunbook
		case recognizeEnvLine.MatchString(line):
			env = true
		case recognizeK8sLine.MatchString(line):
			k8s = true
		}
	}
	if env && !k8s {
		return KindEnvironment
	}
	return KindUnknown
}

// syntaxCodes are the Lint codes of a file that cannot be read as YAML at
// all, as opposed to YAML of a shape revoke does not know.
var syntaxCodes = []string{"yaml", "encoding", "too-large"}

// SyntaxLints returns the errors that make a file unreadable as YAML (or
// JSON, which is YAML): a syntax error, a bad encoding, a file over the
// limit. Load reports them for a file Recognize could not place: a
// runbook written in flow style or JSON with a missing bracket has no
// recognisable top-level key, and must fail CI rather than be ignored
// with a warning.
func SyntaxLints(file string, data []byte) Lints {
	d := &nodeDecoder{file: file}
	d.parse(data)
	var out Lints
	for _, l := range d.lints {
		if l.Level == Error && slices.Contains(syntaxCodes, l.Code) {
			out = append(out, l)
		}
	}
	return out
}

// collectExts are the extensions CollectFiles picks up in a directory.
var collectExts = []string{".yaml", ".yml", ".rego", ".json"}

// CollectFiles expands the paths `revoke validate` is given: a directory
// becomes its .yaml, .yml, .rego and .json files, recursively and sorted,
// skipping hidden files and directories and testdata (fixtures that are
// broken on purpose); a file is kept as given, whatever its name. Each path
// appears once.
func CollectFiles(paths []string) ([]string, error) {
	out, _, err := collectFiles(paths)
	return out, err
}

// collectFiles is CollectFiles that also returns the directories among
// paths that hold no file it picks up, so Load can warn about them without
// walking them twice.
func collectFiles(paths []string) (out, empty []string, err error) {
	seen := map[string]bool{}
	add := func(p string) {
		if key := filepath.Clean(p); !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return nil, nil, err // a *PathError: "stat PATH: no such file or directory"
		}
		if !info.IsDir() {
			add(root)
			continue
		}
		// WalkDir does not follow a root that is a link to a directory;
		// a trailing separator makes the system resolve it.
		walkRoot := root
		if li, err := os.Lstat(root); err == nil && li.Mode()&fs.ModeSymlink != 0 {
			walkRoot = root + string(filepath.Separator)
		}
		var found []string
		err = filepath.WalkDir(walkRoot, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p == walkRoot {
				return nil // given explicitly, even if hidden or testdata
			}
			name := de.Name()
			if de.IsDir() {
				if strings.HasPrefix(name, ".") || name == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			// Regular files and links to them; never a device or a pipe,
			// which would block the read.
			if !strings.HasPrefix(name, ".") && (de.Type().IsRegular() || de.Type()&fs.ModeSymlink != 0) &&
				slices.Contains(collectExts, strings.ToLower(filepath.Ext(name))) {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err // WalkDir's errors are *PathErrors naming the path
		}
		if len(found) == 0 {
			empty = append(empty, root)
		}
		slices.Sort(found)
		for _, p := range found {
			add(p)
		}
	}
	return out, empty, nil
}
