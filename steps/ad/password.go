package ad

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"unicode/utf16"
	"unicode/utf8"
)

// Character classes of generated passwords. AD's complexity rule wants three
// of upper, lower, digit, symbol; revoke puts all four in every password so a
// stricter filter (or a third-party one) accepts it too. The symbols leave
// out quotes, the backslash and the space, which other tools mangle.
const (
	pwUpper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	pwLower  = "abcdefghijklmnopqrstuvwxyz"
	pwDigit  = "0123456789"
	pwSymbol = "!#$%&()*+,-./:;<=>?@[]^_{|}~"
	pwAll    = pwUpper + pwLower + pwDigit + pwSymbol
)

// newPassword returns a random password of length characters from
// crypto/rand with at least one character of each class and without avoid
// (the sAMAccountName, case-insensitively) as a substring, which AD's
// complexity rule refuses. The caller zeroes it after use.
func newPassword(length int, avoid string) ([]byte, error) {
	if length < 4 {
		return nil, errors.New("password length must be at least 4")
	}
	// AD checks the account name only when it is 3 characters or more.
	check := len(avoid) >= 3
	lowerAvoid := bytes.ToLower([]byte(avoid))
	for range 100 {
		pw := make([]byte, length)
		classes := []string{pwUpper, pwLower, pwDigit, pwSymbol}
		for i := range pw {
			set := pwAll
			if i < len(classes) {
				set = classes[i]
			}
			c, err := pick(set)
			if err != nil {
				return nil, err
			}
			pw[i] = c
		}
		// The four guaranteed classes sit at the front; a Fisher-Yates
		// shuffle spreads them.
		for i := len(pw) - 1; i > 0; i-- {
			j, err := randInt(i + 1)
			if err != nil {
				clear(pw)
				return nil, err
			}
			pw[i], pw[j] = pw[j], pw[i]
		}
		if !check {
			return pw, nil
		}
		lower := bytes.ToLower(pw)
		found := bytes.Contains(lower, lowerAvoid)
		clear(lower)
		if !found {
			return pw, nil
		}
		clear(pw)
	}
	return nil, errors.New("could not generate a password without the account name in 100 tries")
}

func pick(set string) (byte, error) {
	i, err := randInt(len(set))
	if err != nil {
		return 0, err
	}
	return set[i], nil
}

func randInt(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}

// unicodePwd encodes a password as AD's unicodePwd wants it: in double
// quotes, UTF-16 little-endian. The caller zeroes the result after use.
func unicodePwd(pw []byte) []byte {
	out := make([]byte, 0, (len(pw)+2)*2)
	put := func(r rune) {
		for _, u := range utf16.Encode([]rune{r}) {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	put('"')
	// Decoded from the bytes, not through a string, so that no copy of the
	// password is left that cannot be zeroed.
	for i := 0; i < len(pw); {
		r, n := utf8.DecodeRune(pw[i:])
		put(r)
		i += n
	}
	put('"')
	return out
}
