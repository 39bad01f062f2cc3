//go:build unix

package main

import "log/syslog"

// openSyslog opens the local syslog socket (journald takes it too) for
// the audit trail: facility authpriv, as other login records.
func openSyslog() (lineWriter, func() error, error) {
	w, err := syslog.New(syslog.LOG_AUTHPRIV|syslog.LOG_INFO, "lvsconsole")
	if err != nil {
		return nil, nil, err
	}
	return w, w.Close, nil
}
