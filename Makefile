# lvsconsole. `make run` starts the console on :3636 with its database under
# ./data (HTTPS, with a self-signed certificate made beside the database;
# `make run LISTEN=127.0.0.1:3636` for plain HTTP on loopback); `make test`
# runs every test the project has.

GO      ?= go
BIN     := bin/lvsconsole
DB      ?= data/lvsconsole.db
LISTEN  ?= :3636
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)
# Fuzzing for a number of inputs rather than a time: a time limit that runs
# out while the fuzzing workers are busy makes go test report "context
# deadline exceeded" as a failure on a loaded machine.
FUZZTIME ?= 400000x

export CGO_ENABLED := 1

CHROMIUM := /usr/bin/chromium
OUT      := $(CURDIR)/out

.PHONY: all build run test check-tools browser netns-tools vet cross fmt-check generate generate-check unit test-user fuzz bench clean package package-tools package-check

all: build

build: check-tools
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lvsconsole

run: build
	mkdir -p $(dir $(DB))
	./$(BIN) serve -db $(DB) -listen $(LISTEN)

# Every test: formatting, vet (also for macOS and Windows), generated code
# up to date, unit and integration tests (race detector on; every test must
# run: LVSCONSOLE_TEST_ALL=1), the same as an ordinary user, and a short run
# of every fuzzer.
test: check-tools browser netns-tools guest package-check fmt-check vet cross generate-check unit test-user fuzz

check-tools:
	@command -v $(GO) >/dev/null || { echo "make: go is not installed (see README)"; exit 1; }
	@command -v gcc >/dev/null || { echo "make: gcc is not installed: go-sqlite3 needs cgo (apt-get install gcc)"; exit 1; }
	@# PAM logins (internal/pamauth) build against Linux-PAM's headers.
	@if [ ! -f /usr/include/security/pam_appl.h ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "make: installing libpam0g-dev for PAM logins"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpam0g-dev >/dev/null; \
		else echo "make: PAM logins need Linux-PAM's headers: run 'apt-get install libpam0g-dev' as root"; exit 1; fi; \
	fi

# The browser tests drive Debian's chromium: install it when it is missing
# and we are root, else stop and say so (never skip them).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "make: installing chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "make: the browser tests need $(CHROMIUM): run 'apt-get install chromium' as root"; exit 1; \
		fi; \
	fi
	@test -x $(CHROMIUM) || { echo "make: $(CHROMIUM) is still missing"; exit 1; }

# The failover and health check tests build networks of namespaces: they
# need root, iproute2 and nftables (to cut a heartbeat path); the
# keepalived export is checked with Debian's keepalived (-t only, never
# started as a daemon); the SSH load monitor's tests run Debian's sshd
# (openssh-server) in a namespace; lvs/bgp's router is Debian's BIRD
# (bird2), and FRR (frr) for the README's FRR configuration, run by the
# tests in a namespace. Install what
# is missing when we are root, else stop and say so (never skip them).
netns-tools:
	@if [ "$$(id -u)" != 0 ]; then echo "make: the tests create network namespaces: run make test as root"; exit 1; fi
	@need=""; command -v ip >/dev/null || need="$$need iproute2"; command -v nft >/dev/null || need="$$need nftables"; \
	command -v keepalived >/dev/null || need="$$need keepalived"; \
	command -v sshd >/dev/null || need="$$need openssh-server"; \
	for t in rpcbind:rpcbind rpc.rstatd:rstatd rwhod:rwhod; do command -v $${t%%:*} >/dev/null || need="$$need $${t#*:}"; done; \
	command -v bird >/dev/null && command -v birdc >/dev/null || need="$$need bird2"; \
	command -v vtysh >/dev/null || need="$$need frr"; \
	if [ -n "$$need" ]; then \
		if command -v apt-get >/dev/null; then \
			echo "make: installing$$need for the network namespace tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; \
		else echo "make: the tests need$$need"; exit 1; fi; \
	fi
	@command -v ip >/dev/null && command -v nft >/dev/null && command -v keepalived >/dev/null || { echo "make: ip, nft or keepalived is still missing"; exit 1; }
	@command -v sshd >/dev/null || { echo "make: sshd (openssh-server, for lvs/load/sshload's tests) is still missing"; exit 1; }
	@command -v rpcbind >/dev/null && command -v rpc.rstatd >/dev/null && command -v rwhod >/dev/null || { echo "make: rpcbind, rpc.rstatd or rwhod is still missing (load monitor tests)"; exit 1; }
	@command -v bird >/dev/null && command -v birdc >/dev/null || { echo "make: bird or birdc (bird2, the router of lvs/bgp's tests) is still missing"; exit 1; }
	@command -v vtysh >/dev/null || { echo "make: vtysh (frr, the router of lvs/bgp's TestRouterECMPFRR) is still missing"; exit 1; }

# A live lab (README, "Try it: make demo"): the qemu guest runs the console
# with a virtual server, two real servers and steady traffic; the console is
# forwarded to http://127.0.0.1:$(DEMO_PORT). Ctrl-C stops it.
DEMO_PORT ?= 3636
.PHONY: demo
# Built, then run (not go run, which exits 1 on the Ctrl-C that ends it).
demo: check-tools guest
	$(GO) build -o $(OUT)/demo ./lvs/guest/internal/demo
	$(OUT)/demo -port $(DEMO_PORT)

# Debian's kernel (which has IPVS, unlike this machine's) and the tools for
# the qemu guest that lvs/guest boots in tests; quick when already there.
.PHONY: guest
guest:
	bash lvs/guest/prepare.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The console, store and configuration build off Linux too; what needs
# Linux says so at run time (errors.ErrUnsupported). Without cgo, as there
# is no macOS or Windows C toolchain here: go-sqlite3 then builds as a stub
# that fails at Open. (A Mac with Xcode builds it with cgo, as here.)
cross:
	CGO_ENABLED=0 GOOS=darwin $(GO) build ./...
	CGO_ENABLED=0 GOOS=darwin $(GO) vet ./...
	CGO_ENABLED=0 GOOS=windows $(GO) build ./...
	CGO_ENABLED=0 GOOS=windows $(GO) vet ./...

generate:
	$(GO) tool templ generate -path web
	$(GO) generate ./...

# Generated files are committed: regenerating must change nothing.
generate-check: generate
	@if [ -d .git ] && [ -n "$$(git status --porcelain -- '*_templ.go')" ]; then \
		echo "generated files are stale or uncommitted: run 'make generate' and commit"; git status --porcelain -- '*_templ.go'; exit 1; fi

# Screenshots of the browser tests are kept under out/_artifacts. Every
# test must run here: one whose need is not met fails (internal/testenv).
unit:
	mkdir -p $(OUT)
	LVSCONSOLE_TEST_ALL=1 $(GO) test -race -count=1 -timeout 30m -artifacts -outputdir=$(OUT) ./...

# go test ./... as an ordinary user (nobody, when run as root): the
# privileged tests skip and say so, everything else must pass. See
# internal/testenv/testuser.sh.
test-user:
	bash internal/testenv/testuser.sh -count=1 ./...

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./lvs/lvscf/
	$(GO) test -run='^$$' -fuzz='^FuzzQuote$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./lvs/lvscf/
	$(GO) test -run='^$$' -fuzz='^FuzzSplitArgs$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./lvs/config/
	$(GO) test -run='^$$' -fuzz='^FuzzUnmarshal$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./lvs/pulse/
	$(GO) test -run='^$$' -fuzz='^FuzzForms$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./handlers/
	$(GO) test -run='^$$' -fuzz='^FuzzAPIJSON$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./handlers/
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./lvs/load/agent/
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./lvs/load/rwho/

# Host benchmarks, then the real-kernel ones inside the qemu guest; as
# make test, they fail rather than skip when something they need is missing.
bench: export LVSCONSOLE_TEST_ALL := 1
bench: guest
	$(GO) test -run='^$$' -bench=. -benchmem ./store/ ./lvs/lvscf/ ./lvs/ipvs/ ./lvs/engine/
	$(GO) test -run='^$$' -bench='^Benchmark(TenThousand|SetKeep)' -benchtime=1x ./lvs/health/
	$(GO) test -run='^$$' -bench=. -benchmem ./lvs/check/
	$(GO) test -run='^$$' -bench='^BenchmarkFailover' -benchtime=1x ./lvs/failover/
	LVSCONSOLE_LOAD_TIME=2m $(GO) test -timeout 30m -run='^$$' -bench=FalseFailover -benchtime=1x ./lvs/failover/
	$(GO) test -run='^$$' -bench=SendInterval -benchtime=1000x ./lvs/pulse/
	$(GO) test -run='^$$' -bench=StartHearsPeer -benchtime=20x ./lvs/pulse/
	$(GO) test -run='^$$' -bench=Dashboard1000x10 -benchtime=100x ./handlers/
	$(GO) test -run='^$$' -bench=ControlChecks10000x10 -benchtime=20x ./handlers/
	$(GO) test -run='^$$' -bench='Serve1000x10|Serve10000x10' -benchtime=1x ./cmd/lvsconsole/
	$(GO) test -run='^$$' -bench=PAMUnix -benchtime=5x ./internal/pamauth/
	$(GO) test -run='^$$' -bench=. -benchmem ./lvs/load/agent/
	$(GO) test -run='^$$' -bench='LoadSSHD|OpenSSHClient' -benchtime=20x ./lvs/load/sshload/
	LVSCONSOLE_GUEST_BENCH=3x $(GO) test -count=1 -timeout 30m -run '^TestEngineInGuest$$' -v ./lvs/engine/ | grep -E 'Benchmark|ok|FAIL'
	# c20web (issue 20): every console page at 10,000 x 10, p99 and the process's RSS.
	$(GO) test -run='^$$' -bench=Console10000x10 -benchtime=50x -count=3 ./handlers/
	# c20health (issue 20): 100,000 real servers every 10 s, syn check and the monitor alone
	$(GO) test -run='^$$' -bench='^BenchmarkHundredThousandChecks' -benchtime=1x -timeout 20m ./lvs/health/
	# c20store (issue 20): one edit, imports, exports and the pair's sync at 10,000 x 10
	$(GO) test -run='^$$' -bench='OneWeight10000x10|ApplyDraft10000x10|Adopt10000x10' -benchtime=20x -benchmem ./store/
	$(GO) test -run='^$$' -bench='WeightChange10000x10|EditToKernel10000x10|ChecksConfigure10000x10|HealthChange10000x10' -benchtime=20x -benchmem ./lvs/engine/
	$(GO) test -run='^$$' -bench='Import.*10000x10|Export.*10000x10|Replace10000x10' -benchtime=3x -benchmem ./store/
	$(GO) test -run='^$$' -bench='Sync.*10000x10' -benchtime=3x -benchmem ./lvs/failover/
	$(GO) test -run='^$$' -bench='FalseFailoverImport10000x10' -benchtime=1x -timeout 20m ./lvs/failover/
	# c20eng (issue 20): the kernel at 10,000 x 10, programming and reading
	# back against ipvsadm -R and -Sn in the same guest boot, ratio and target.
	$(GO) test -run='^$$' -bench='10000x10' -benchmem ./lvs/ipvs/
	LVSCONSOLE_GUEST_BENCH=3x LVSCONSOLE_GUEST_BENCH_ONLY='KernelRead10000x10|KernelRefresh10000x10|KernelProgram10000x10|KernelProgramFresh10000x10' $(GO) test -count=1 -timeout 70m -run '^TestEngineInGuest$$' -v ./lvs/engine/ | grep -E 'Benchmark|ok|FAIL'

# The Debian package, out/lvsconsole_<version>_amd64.deb, made by nfpm
# (a tool of go.mod) from packaging/: the binary as `make build` makes it,
# plus -s -w (no symbol tables: lintian, and 30% of the size) and the
# hardening Debian expects (PIE, bind now, SQLite's C fortified); linker
# comments stripped. See packaging/nfpm.yaml.
DEB_VERSION ?= $(shell sh packaging/version.sh)
DEB_CFLAGS  := -g -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong
DEB         := $(OUT)/lvsconsole_$(DEB_VERSION)_amd64.deb

package: check-tools
	rm -rf $(OUT)/package && mkdir -p $(OUT)/package
	CGO_CFLAGS='$(DEB_CFLAGS)' $(GO) build -trimpath -buildmode=pie \
		-ldflags '$(LDFLAGS) -s -w -extldflags "-Wl,-z,relro,-z,now"' -o $(OUT)/package/lvsconsole ./cmd/lvsconsole
	objcopy --remove-section=.comment $(OUT)/package/lvsconsole
	sh packaging/manpage.sh $(OUT)/package/lvsconsole $(DEB_VERSION) | gzip -9n >$(OUT)/package/lvsconsole.1.gz
	sed '1s/^lvsconsole ([^)]*)/lvsconsole ($(DEB_VERSION))/' packaging/changelog | gzip -9n >$(OUT)/package/changelog.gz
	rm -f $(OUT)/lvsconsole_*_amd64.deb
	LVSCONSOLE_DEB_VERSION='$(DEB_VERSION)' $(GO) tool nfpm package -f packaging/nfpm.yaml -p deb -t $(DEB)
	@echo "make: $(DEB): $$(stat -c %s $(DEB)) bytes, installed $$(dpkg-deb -f $(DEB) Installed-Size) KiB"

# lintian, systemd-analyze and dpkg for the package's checks, adduser for
# its postinst in TestPackageInstall: installed when missing and root.
package-tools:
	@need=""; command -v lintian >/dev/null || need="$$need lintian"; \
	command -v systemd-analyze >/dev/null || need="$$need systemd"; \
	command -v adduser >/dev/null || need="$$need adduser"; \
	command -v dpkg-deb >/dev/null || need="$$need dpkg"; \
	if [ -n "$$need" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "make: installing$$need for the package checks"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; \
		else echo "make: the package checks need$$need: run 'apt-get install$$need' as root"; exit 1; fi; \
	fi
	@command -v lintian >/dev/null && command -v systemd-analyze >/dev/null && command -v adduser >/dev/null || { echo "make: lintian, systemd-analyze or adduser is still missing"; exit 1; }

# The package and its unit: lintian with no error or warning (but those
# packaging/lintian.supp lists, with why), systemd-analyze verify clean,
# and the unit's exposure (systemd-analyze security) at most
# EXPOSURE_MAX. TestPackageInstall (make unit) installs and removes it.
EXPOSURE_MAX ?= 2.5
package-check: package package-tools
	sh packaging/check.sh $(DEB) $(EXPOSURE_MAX)

clean:
	rm -rf bin out
