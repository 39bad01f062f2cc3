//go:build !linux

package doctor

import (
	"context"
	"errors"
)

// System is this director's Facts: a director is Linux, so elsewhere
// every fact is missing and the checks say so.
type System struct {
	DB       string
	PeerOf   func(ctx context.Context) Peer
	ServeUID func() int
	Root     string
}

var errNeedsLinux = errors.New("a director is Linux")

func (s *System) IPVS(context.Context) IPVS     { return IPVS{Missing: true} }
func (s *System) Schedulers() ([]string, error) { return nil, errNeedsLinux }
func (s *System) Effective() (uint64, error)    { return 0, errNeedsLinux }
func (s *System) Forwarding(bool) (bool, error) { return false, errNeedsLinux }
func (s *System) Interfaces() ([]string, error) { return nil, errNeedsLinux }
func (s *System) RPFilter(string) (int, error)  { return 0, errNeedsLinux }
func (s *System) Clock() (Clock, error)         { return Clock{}, errNeedsLinux }
func (s *System) Peer(context.Context) Peer     { return Peer{} }
func (s *System) Database(context.Context) Database {
	return Database{Path: s.DB, ServeUID: -1, File: File{Err: errNeedsLinux}, Dir: File{Err: errNeedsLinux}}
}
