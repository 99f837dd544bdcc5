package steps

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", size)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	atLimit := write("at-limit", 100)
	overLimit := write("over-limit", 101)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(atLimit, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		size    int
		wantErr string
	}{
		{name: "a file at the limit is read whole", path: atLimit, size: 100},
		{name: "a link to a regular file is read", path: link, size: 100},
		{name: "a file one byte over the limit is refused, naming the file and the limit", path: overLimit,
			wantErr: overLimit + " is larger than the 100 bytes limit"},
		{name: "a directory is refused", path: dir, wantErr: dir + " is a directory, not a regular file"},
		{name: "a missing file says so", path: filepath.Join(dir, "nope"),
			wantErr: "stat " + filepath.Join(dir, "nope") + ": no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := ReadFile(tt.path, 100)
			if tt.wantErr == "" {
				if err != nil || len(data) != tt.size {
					t.Errorf("got %d bytes, %v; want %d bytes", len(data), err, tt.size)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if ClassOf(err) != Invalid || data != nil {
				t.Errorf("class %v, data %d bytes: want Invalid and none", ClassOf(err), len(data))
			}
		})
	}
	if _, err := ReadFile(filepath.Join(dir, "nope"), 100); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file's error %v does not match fs.ErrNotExist", err)
	}
}

func TestSizeText(t *testing.T) {
	for n, want := range map[int64]string{MaxFileSize: "1 MiB", 64 << 10: "64 KiB", 1000: "1000 bytes", 3 << 20: "3 MiB"} {
		if got := SizeText(n); got != want {
			t.Errorf("SizeText(%d) = %q, want %q", n, got, want)
		}
	}
}
