//go:build !unix

package main

// becomeDBOwner changes nothing: there is no root to stop being.
func becomeDBOwner(string) (string, error) { return "", nil }

func fileOwner(string) (int, bool) { return 0, false }
