//go:build !race

package simtest

// Race is set when the race detector is on: it slows the store's SQL many
// times over, so tests run fewer sessions then.
const Race = false
