#!/usr/bin/env bash
# Gatehouse build entry point.
#
#   ./build.sh deps    install what is missing (apt-get when root, else print the command)
#   ./build.sh build   build bin/gatehouse, bin/gatehouse-demo and bin/gatehouse-load
#   ./build.sh test    deps, npm ci for the interop suite, start a real
#                      redis-server on a free loopback port,
#                      go vet, go test (race detector, integration tests), the
#                      libxml2 shim under AddressSanitizer, short fuzz runs; stops
#                      what it started; exits with the tests' status
#   ./build.sh bench   deps, build; the kernel benchmarks (each as a multiple of
#                      a bare signature verify, same run), then gatehouse-load
#                      bench (Gatehouse against a bare reverse proxy, same run:
#                      closed loop, then open loop at half the gateway's maximum)
#   ./build.sh soak    deps, build; gatehouse-load soak: a gateway process held 10
#                      minutes at half its maximum (holder-of-key path, Redis), its
#                      resident set reported; fails on more than 10% growth
#   ./build.sh run     deps, build, demo PKI if absent, start the demo backends, the
#                      enforcement point (conf/demo/enforcement.xml) and Gatehouse on
#                      conf/demo/gatehouse.xml, print how to call it
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD

# Debian packages the build, the tests and the demo need.
# The interop suite (interop/) adds its peers: Java with Apache WSS4J 1.6 and
# Santuario, node with npm (node-soap and xml-crypto come from
# interop/node/package-lock.json), and lasso.
APT_PACKAGES=(gcc libc6-dev pkg-config libxml2-dev redis-server redis-tools xmlsec1 python3 python3-zeep python3-xmlsec python3-lxml python3-pysaml2 curl ca-certificates
	default-jdk-headless libwss4j-java libxml-security-java libcommons-logging-java libcommons-codec-java libslf4j-java
	nodejs npm python3-lasso)

# A package here counts as present when its command is on PATH, whatever
# installed it: a NodeSource nodejs bundles npm and conflicts with Debian's.
declare -A PACKAGE_COMMANDS=([nodejs]=node [npm]=npm)

log() { printf '==> %s\n' "$*" >&2; }

deps() {
	local missing=()
	for p in "${APT_PACKAGES[@]}"; do
		[[ -n ${PACKAGE_COMMANDS[$p]:-} ]] && command -v "${PACKAGE_COMMANDS[$p]}" >/dev/null && continue
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if ((${#missing[@]})); then
		if [[ $(id -u) -eq 0 ]]; then
			log "installing: ${missing[*]}"
			DEBIAN_FRONTEND=noninteractive apt-get update -qq
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
		else
			echo "missing Debian packages; run:" >&2
			echo "  sudo apt-get install -y ${missing[*]}" >&2
			exit 1
		fi
	fi
	if ! command -v go >/dev/null; then
		echo "Go is not installed (need Go 1.26 or later): https://go.dev/doc/install" >&2
		exit 1
	fi
	pkg-config --exists libxml-2.0 || { echo "pkg-config cannot find libxml-2.0" >&2; exit 1; }
}

build() {
	log "building bin/gatehouse, bin/gatehouse-demo, bin/gatehouse-load"
	mkdir -p bin
	go build -o bin/gatehouse ./gateway/cmd/gatehouse
	go build -o bin/gatehouse-demo ./gateway/cmd/gatehouse-demo
	go build -o bin/gatehouse-load ./gateway/cmd/gatehouse-load
}

# start_redis starts a throw-away redis-server on a free loopback port and
# sets REDIS_PID and REDIS_ADDR. Ports are tried at random until one binds.
start_redis() {
	REDIS_DIR=$(mktemp -d)
	local port
	for _ in $(seq 1 30); do
		port=$((20000 + RANDOM % 40000))
		redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
			--dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log" &
		REDIS_PID=$!
		for _ in $(seq 1 50); do
			if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
				REDIS_ADDR=127.0.0.1:$port
				log "redis-server $(redis-server --version | awk '{print $3}') on $REDIS_ADDR (pid $REDIS_PID)"
				return 0
			fi
			kill -0 "$REDIS_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$REDIS_PID" 2>/dev/null || true
		wait "$REDIS_PID" 2>/dev/null || true
	done
	echo "could not start redis-server on a free port; log:" >&2
	cat "$REDIS_DIR/redis.log" >&2 || true
	return 1
}

stop_redis() {
	if [[ -n ${REDIS_PID:-} ]]; then
		kill "$REDIS_PID" 2>/dev/null || true
		wait "$REDIS_PID" 2>/dev/null || true
	fi
	[[ -n ${REDIS_DIR:-} ]] && rm -rf "$REDIS_DIR"
	return 0
}

# node_interop installs the npm packages of the interop suite exactly as
# interop/node/package-lock.json pins them (npm ci: the cache first, the
# registry for what it lacks), bounded in time.
node_interop() {
	log "npm ci in interop/node (node-soap, xml-crypto, pinned by package-lock.json)"
	(cd interop/node && timeout 300 npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
}

# realworld_wsdls fetches WSDLs that other projects publish in their
# packages, for the interop suite (they are never copied into this
# repository): Debian libkdsoap-doc (the BLZService WSDL of KDSoap's
# examples, SOAP 1.1 and 1.2 ports), Debian python3-oslo.vmware (VMware's
# storage policy API, a WSDL in three files with four schemas) and npm
# strong-soap (the StockQuote WSDL of its examples). The versions are
# pinned; the files stay in $GATEHOUSE_CACHE (default ~/.cache/gatehouse).
realworld_wsdls() {
	local dir=${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}/realworld-wsdl
	mkdir -p "$dir"
	local spec name
	for spec in libkdsoap-doc=1.9.1+dfsg-5 python3-oslo.vmware=4.0.1-3; do
		name=${spec%%=*}
		[[ -d $dir/$name ]] && continue
		log "fetching $spec (apt-get download: WSDLs for the interop suite)"
		if ! (cd "$dir" && apt-get download -qq "$spec" 2>/dev/null); then
			[[ $(id -u) -eq 0 ]] && DEBIAN_FRONTEND=noninteractive apt-get update -qq
			(cd "$dir" && apt-get download -qq "$spec")
		fi
		dpkg-deb -x "$dir/${name}_"*.deb "$dir/$name.tmp" && mv "$dir/$name.tmp" "$dir/$name"
	done
	if [[ ! -d $dir/strong-soap ]]; then
		log "fetching strong-soap@5.0.10 (npm pack: WSDLs for the interop suite)"
		(cd "$dir" && timeout 120 npm pack --silent strong-soap@5.0.10 >/dev/null &&
			mkdir -p strong-soap.tmp && tar xzf strong-soap-5.0.10.tgz -C strong-soap.tmp && mv strong-soap.tmp strong-soap)
	fi
	export GATEHOUSE_REALWORLD_WSDL=$dir
}

# promtool checks the alert rules and dashboard queries (conf/monitoring).
# It is taken out of Debian's prometheus package without installing it (the
# package would start a Prometheus on :9090, the demo's admin port).
promtool_bin() {
	command -v promtool >/dev/null && return
	local dir=${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}/prometheus
	if [[ ! -x $dir/usr/bin/promtool ]]; then
		log "fetching prometheus (apt-get download: promtool for conf/monitoring)"
		mkdir -p "$dir.deb"
		if ! (cd "$dir.deb" && apt-get download -qq prometheus 2>/dev/null); then
			[[ $(id -u) -eq 0 ]] && DEBIAN_FRONTEND=noninteractive apt-get update -qq
			(cd "$dir.deb" && apt-get download -qq prometheus)
		fi
		rm -rf "$dir.tmp" && dpkg-deb -x "$dir.deb"/prometheus_*.deb "$dir.tmp" && rm -rf "$dir" && mv "$dir.tmp" "$dir"
	fi
	export PATH=$dir/usr/bin:$PATH
}

test_all() {
	deps
	node_interop
	realworld_wsdls
	promtool_bin
	trap stop_redis EXIT
	start_redis
	export GATEHOUSE_TEST_REDIS_ADDR=$REDIS_ADDR
	log "go vet"
	go vet ./...
	log "go test (race detector)"
	local status=0
	# The interop suite runs on its own afterwards: its JVMs and node
	# processes would otherwise compete for the CPUs with the timing-bound
	# tests of the other packages.
	go test -race -count=1 -timeout 20m $(go list ./... | grep -v '/interop$') || status=$?
	log "go test ./interop (WSS4J, node-soap, xml-crypto, lasso, xmlsec1)"
	go test -count=1 -timeout 10m ./interop || status=$?
	if ((status == 0)); then
		log "AddressSanitizer over the libxml2 shim (leaks, overflows)"
		go test -asan -count=1 ./schemas || status=$?
	fi
	if ((status == 0)); then
		log "fuzzing the parser and the WS-Security verifier briefly (15s each)"
		go test -run='^$' -fuzz='^FuzzParse$' -fuzztime=15s ./soap || status=$?
		go test -run='^$' -fuzz='^FuzzVerify$' -fuzztime=15s ./soap/wssec || status=$?
	fi
	return $status
}

run_demo() {
	deps
	build
	local demo=conf/demo
	bin/gatehouse-demo pki -dir "$demo/pki"
	mkdir -p "$demo/run"
	bin/gatehouse check-config "$demo/gatehouse.xml"
	bin/gatehouse check-config "$demo/enforcement.xml"
	bin/gatehouse-demo backend -listen 127.0.0.1:8081 -racf-key "$demo/pki/racf-cicsprod.key" 2>"$demo/run/backend.log" &
	DEMO_PIDS=($!)
	trap 'kill "${DEMO_PIDS[@]}" 2>/dev/null || true' EXIT
	# The second Gatehouse: the enforcement point in front of the demo mainframe.
	# No load balancer in front of the demo: no shutdown delay (-shutdown-delay).
	bin/gatehouse serve -config "$demo/enforcement.xml" -shutdown-delay 0 2>"$demo/run/enforcement.log" &
	DEMO_PIDS+=($!)
	for _ in $(seq 1 100); do
		curl -fs http://127.0.0.1:9091/readyz >/dev/null 2>&1 && break
		kill -0 "${DEMO_PIDS[1]}" 2>/dev/null || { cat "$demo/run/enforcement.log" >&2; exit 1; }
		sleep 0.1
	done
	cat <<EOF

Gatehouse demo: edge listener https://localhost:8443 (mTLS), admin http://127.0.0.1:9090;
enforcement point for the mainframe https://localhost:8444, admin http://127.0.0.1:9091
Call the accounts service through Gatehouse (from $ROOT):

  curl --cert $demo/pki/consumer.crt --key $demo/pki/consumer.key --cacert $demo/pki/ca.crt \\
       -H 'Content-Type: text/xml; charset=utf-8' -H 'SOAPAction: "urn:gatehouse:demo:accounts:GetBalance"' \\
       --data-binary @$demo/requests/get-balance-11.xml https://localhost:8443/services/accounts

Try also: requests/get-balance-12.xml (SOAP 1.2: -H 'Content-Type: application/soap+xml'),
requests/xxe.xml (refused with a SOAP fault), or the untrusted certificate (TLS handshake refused).

With a SAML token from the built-in STS (the teller's password is in $demo/pki/teller.secret):

  bin/gatehouse token -audience urn:gatehouse:demo:accounts-secure -user teller \\
       -password-file $demo/pki/teller.secret > /tmp/token.xml
  bin/gatehouse call -url https://localhost:8443/services/accounts-secure -token /tmp/token.xml
  bin/gatehouse call -url https://localhost:8443/services/accounts-secure -token /tmp/token.xml   # replay: refused

The composite OpenAccount (customer register, then KYC and the mainframe in parallel,
the mainframe behind the enforcement point):

  bin/gatehouse token -audience urn:gatehouse:demo:onboarding -user teller \\
       -password-file $demo/pki/teller.secret > /tmp/onboarding.xml
  bin/gatehouse call -url https://localhost:8443/services/onboarding -token /tmp/onboarding.xml \
       -file $demo/requests/open-account-1001.xml
  (customer 6666 fails KYC: a fresh token, requests/open-account-6666.xml; the account is closed again)

Audit records: stdout and $demo/run/audit.log (edge), $demo/run/enforcement-audit.log
(enforcement point). Metrics: curl http://127.0.0.1:9090/metrics
Stop with Ctrl-C.

EOF
	bin/gatehouse serve -config "$demo/gatehouse.xml" -shutdown-delay 0
}

bench() {
	deps
	build
	log "kernel benchmarks (x-verify: a multiple of one bare signature verification, same run)"
	go test -run='^$' -bench='BenchmarkVerify$|BenchmarkVerifyEnveloped|BenchmarkVerifyAssertion|BenchmarkVerifyReused|BenchmarkParse|BenchmarkValidateEnvelope$|BenchmarkRedisRequest' -benchtime=2s \
		./soap ./soap/wssec ./samlsts ./schemas ./gateway/store
	log "end to end: Gatehouse against a bare reverse proxy (A B A B A B)"
	bin/gatehouse-load bench
}

soak() {
	deps
	build
	bin/gatehouse-load soak -path hok -d 10m
}

case ${1:-} in
deps) deps ;;
bench) bench ;;
soak) soak ;;
build) deps && build ;;
test) test_all ;;
run) run_demo ;;
*)
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
	exit 2
	;;
esac
