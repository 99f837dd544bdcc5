//go:build !unix

package steps

// openNonBlock is 0 where opening a file cannot block on a pipe the way
// it does on Unix; ReadFile's stat still refuses pipes and devices.
const openNonBlock = 0
