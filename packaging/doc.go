// Package packaging holds the Debian package's files (nfpm.yaml, the
// systemd unit, maintainer scripts; `make package` builds
// out/lvsconsole_<version>_amd64.deb) and its tests: TestPackageInstall
// installs the package into a throwaway root on this host and runs the
// service as its unit says; TestPackageInGuest runs the packaged binary
// the same way on the qemu guest's real IPVS.
package packaging
