//go:build !unix

package gateway

// fileLimit is unknown here: the connection limits assume one.
func fileLimit() uint64 { return 0 }
