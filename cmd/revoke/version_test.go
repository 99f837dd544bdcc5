package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionLine(t *testing.T) {
	stamp := func(version string, settings ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/revoke-dev/revoke", Version: version}}
		for i := 0; i+1 < len(settings); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return info
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name   string
		ldflag string
		info   *debug.BuildInfo
		want   string
	}{
		{"no build info at all", "", nil, "revoke devel"},
		{"go run: no version, no commit", "", stamp(""), "revoke devel"},
		{"go build outside a checkout", "", stamp("(devel)"), "revoke devel"},
		{"go install of a tagged module", "", stamp("v1.4.0"), "revoke v1.4.0"},
		{"go build in a clean checkout names the commit and its time", "",
			stamp("v0.0.0-20261207001149-0123456789ab", "vcs", "git", "vcs.revision", rev, "vcs.time", "2026-12-07T00:11:49Z", "vcs.modified", "false"),
			"revoke v0.0.0-20261207001149-0123456789ab (commit " + rev + ", 2026-12-07T00:11:49Z)"},
		{"a work tree with uncommitted changes says so", "",
			stamp("(devel)", "vcs.revision", rev, "vcs.time", "2026-12-07T00:11:49Z", "vcs.modified", "true"),
			"revoke devel (commit " + rev + ", modified, 2026-12-07T00:11:49Z)"},
		{"the release's -ldflags version wins over the module's", "v2.0.0",
			stamp("(devel)", "vcs.revision", rev), "revoke v2.0.0 (commit " + rev + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionLine(tt.ldflag, tt.info); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// `revoke version` and `revoke --version` print the same line, made from
// this binary's own build info, on stdout.
func TestVersionCommand(t *testing.T) {
	info, _ := debug.ReadBuildInfo()
	want := versionLine("", info) + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout, stderr, code := runCLI(t, args...)
		if code != 0 || stdout != want || stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 0, stdout %q", args, code, stdout, stderr, want)
		}
	}
	// A test binary carries no module version and no VCS stamp.
	if want != "revoke devel\n" {
		t.Errorf("test binary's version line %q, want %q", want, "revoke devel\n")
	}
	if _, stderr, code := runCLI(t, "version", "extra"); code != 2 || stderr != "revoke: version takes no arguments\n" {
		t.Errorf("version extra: exit %d, stderr %q", code, stderr)
	}
}
