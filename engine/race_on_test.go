//go:build race

package engine

// raceEnabled: the race detector is on, under which sync.Pool drops a
// share of what is put back on purpose, so allocation counts that rely
// on a pool do not hold.
const raceEnabled = true
