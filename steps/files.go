package steps

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// MaxFileSize is the limit on every file revoke reads on a user's say-so:
// runbooks, policies, environments, facts, sandbox seeds, secret files,
// CA bundles and certificates. No real one comes close (a system CA
// bundle is about 200 KiB); a path pointing at a disk image must not fill
// memory.
const MaxFileSize = 1 << 20

// ReadFile reads a file revoke was pointed at, refusing what is not a
// regular file or is larger than limit bytes. Everything is checked before
// a byte is read: the path is stat'ed first, so a named pipe (which would
// block the open until someone writes to it), a device (/dev/zero never
// ends) or a directory is refused without being opened; the file is then
// opened non-blocking where the system allows and checked again through
// the open descriptor, in case the path was swapped in between; and at
// most limit+1 bytes are read, in case it grew. Its errors are of class
// Invalid and name the file and, for size, the limit: "ca.pem is larger
// than the 1 MiB limit". A symbolic link to a regular file is read.
func ReadFile(path string, limit int64) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, Classify(Invalid, err) // a *PathError naming the file
	}
	if err := checkFile(path, info, limit); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openNonBlock, 0)
	if err != nil {
		return nil, Classify(Invalid, err)
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, Classify(Invalid, err)
	}
	if err := checkFile(path, info, limit); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, Errorf(Invalid, "read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(path, limit)
	}
	return data, nil
}

// checkFile refuses what is not a regular file, or is larger than limit.
func checkFile(path string, info fs.FileInfo, limit int64) error {
	mode := info.Mode()
	var what string
	switch {
	case mode.IsRegular():
		if info.Size() > limit {
			return tooLarge(path, limit)
		}
		return nil
	case mode.IsDir():
		what = "a directory"
	case mode&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case mode&fs.ModeDevice != 0:
		what = "a device"
	case mode&fs.ModeSocket != 0:
		what = "a socket"
	default:
		return Errorf(Invalid, "%s is not a regular file", path)
	}
	return Errorf(Invalid, "%s is %s, not a regular file", path, what)
}

func tooLarge(path string, limit int64) error {
	return Errorf(Invalid, "%s is larger than the %s limit", path, SizeText(limit))
}

// SizeText writes a byte count for people: 1 MiB, 64 KiB, 1000 bytes.
func SizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
