// Package smoke holds a test that only makes sense inside the lvs/guest VM
// (build tag guest): it proves that a static Go test binary runs there, sees
// the IPVS table, and that its output reaches the host. guest_test.go builds
// and boots it.
package smoke
