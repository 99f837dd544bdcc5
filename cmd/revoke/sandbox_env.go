package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// envFile is one file `revoke sandbox --write-env` writes: the environment,
// a secret or the CA.
type envFile struct {
	name string
	data []byte
	mode os.FileMode
}

// writeEnvFiles puts files into dir without ever writing through a link or
// into a file revoke did not create. dir is made (0700) when missing and
// must otherwise be a real directory, not a symbolic link; a name that is a
// symbolic link is refused before anything is written, so a planted link
// cannot send a secret elsewhere. Each file is written to a new file
// created exclusively beside it (O_EXCL never follows a link) with its
// mode set on that file alone, then renamed into place: an existing file
// of that name, or whatever a race planted there, is replaced, never
// opened, so its content and mode (and those of its other hard links) stay
// as they were.
func writeEnvFiles(dir string, files []envFile) error {
	fi, err := os.Lstat(dir)
	switch {
	case os.IsNotExist(err):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	case err != nil:
		return err
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("--write-env: %s is a symbolic link: give the directory itself", dir)
	case !fi.IsDir():
		return fmt.Errorf("--write-env: %s is not a directory", dir)
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if fi, err := os.Lstat(path); err == nil && (fi.Mode()&os.ModeSymlink != 0 || !fi.Mode().IsRegular()) {
			return fmt.Errorf("--write-env: %s is not a regular file (a link?): refusing to write through it; remove it first", path)
		}
	}
	for _, f := range files {
		if err := replaceFile(dir, f); err != nil {
			return fmt.Errorf("--write-env: %w", err)
		}
	}
	return nil
}

// replaceFile writes f into a fresh file in dir and renames it over f.name.
func replaceFile(dir string, f envFile) error {
	tmp, err := os.CreateTemp(dir, "."+f.name+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	// Chmod on the descriptor changes only the file just created, whatever
	// the umask made of CreateTemp's 0600.
	if err := tmp.Chmod(f.mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(f.data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, f.name))
}
