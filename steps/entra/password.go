package entra

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// Password alphabets. The symbols are a subset of those Entra ID accepts,
// leaving out the space and quotes that break copy-paste and shells.
const (
	lowerChars  = "abcdefghijklmnopqrstuvwxyz"
	upperChars  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digitChars  = "0123456789"
	symbolChars = "!#$%&()*+,-./:;<=>?@[]^_{|}~"
	// maxPasswordLength is Entra ID's limit.
	maxPasswordLength = 256
)

// generatePassword returns a password of length characters from
// crypto/rand holding at least one lower-case letter, upper-case letter,
// digit and symbol, so it meets Entra ID's complexity rule (three of the
// four) with one to spare. Every character is drawn uniformly; the four
// guaranteed ones sit at random positions.
func generatePassword(length int) (string, error) {
	classes := []string{lowerChars, upperChars, digitChars, symbolChars}
	if length < len(classes) || length > maxPasswordLength {
		return "", fmt.Errorf("password length %d is outside %d–%d", length, len(classes), maxPasswordLength)
	}
	all := lowerChars + upperChars + digitChars + symbolChars
	b := make([]byte, length)
	for i := range b {
		from := all
		if i < len(classes) {
			from = classes[i]
		}
		n, err := randIndex(len(from))
		if err != nil {
			return "", err
		}
		b[i] = from[n]
	}
	// Fisher–Yates, so the guaranteed characters are not always first.
	for i := len(b) - 1; i > 0; i-- {
		j, err := randIndex(i + 1)
		if err != nil {
			return "", err
		}
		b[i], b[j] = b[j], b[i]
	}
	return string(b), nil
}

// randIndex returns a uniform integer in [0, n) from crypto/rand.
func randIndex(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, fmt.Errorf("random password: %w", err)
	}
	return int(v.Int64()), nil
}
