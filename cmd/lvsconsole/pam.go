package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/lvsconsole/lvsconsole/handlers"
	"github.com/lvsconsole/lvsconsole/internal/pamauth"
	"github.com/lvsconsole/lvsconsole/store"
)

// pamAuth is serve's -pam-service and -pam-roles: nil when PAM is off.
func pamAuth(service, roles string, log *slog.Logger) (handlers.SystemAuth, error) {
	switch {
	case service == "" && roles == "":
		return nil, nil
	case service == "":
		return nil, errors.New("-pam-roles needs -pam-service: the PAM service that checks the passwords (the package installs lvsconsole)")
	case roles == "":
		return nil, errors.New("-pam-service needs -pam-roles: which system groups are viewers, operators and admins (viewer=GROUP,operator=GROUP,admin=GROUP)")
	}
	groups, err := pamauth.ParseRoles(roles)
	if err != nil {
		return nil, err
	}
	a, err := pamauth.New(pamauth.Config{Service: service, Groups: groups})
	if err != nil {
		return nil, fmt.Errorf("-pam-service: %w", err)
	}
	var mapping []string
	for _, s := range store.Scopes() {
		if g, ok := groups[s]; ok {
			mapping = append(mapping, store.RoleName(s)+"="+g)
		}
	}
	log.Info("PAM logins on: system users who are not local console users log in through PAM", "service", service, "roles", strings.Join(mapping, ","))
	if missing := pamauth.MissingGroups(groups); len(missing) > 0 {
		// Not fatal: a directory (sssd, LDAP) may not answer yet at boot.
		log.Warn("-pam-roles names groups this system does not know (yet): nobody gets their role", "groups", strings.Join(missing, ","))
	}
	return a, nil
}
