//go:build !unix

package main

import "errors"

// openSyslog: there is no local syslog here.
func openSyslog() (lineWriter, func() error, error) {
	return nil, nil, errors.New("there is no syslog on this system")
}
