# What bench/run.sh and bench/directory.sh share (sourced, bash): the
# server's processes from its pid file, free ports, loadgen, and the
# callgrind instruction counts per keep-alive request.
#
# The caller sets: RUN (its scratch directory), PIDFILE, CONF (httpd.conf),
# HTTPD, PORT, PKI, CURL (an array: curl with the CA and --resolve),
# PATHS (array), REQUIRE (associative: path -> what it requires; a
# module path has "mtls-" or "MTLS" in it), CG_CERT (the client
# certificate's name in PKI), FWD_PORT (empty: no forwarded-certificate
# vhost to count through), and the functions say, die and url_path.

server_pid() {
    local pid
    [ -s "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

# The processes that serve requests (with ServerLimit 1: one child).
server_children() {
    local pid
    pid=$(server_pid) || return 1
    ps --ppid "$pid" -o pid= 2>/dev/null | tr -d ' ' | grep . | sort -n
}

stop_server() {
    local pid i
    pid=$(server_pid) || { rm -f "$PIDFILE"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "bench: httpd (pid $pid) still running after 10s, sending KILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
}
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
    local p i
    for i in $(seq 1 50); do
        p=$((20000 + RANDOM % 12000))
        port_in_use "$p" || { printf '%s\n' "$p"; return 0; }
    done
    return 1
}

# build_loadgen OUT: compile bench/loadgen.c
build_loadgen() {
    cc -O2 -Wall -o "$1" "$(dirname "${BASH_SOURCE[0]}")/loadgen.c" -lssl -lcrypto -lpthread
}

# ---------------------------------------------------------------- callgrind

CG_FEW=50     # keep-alive requests in the first measurement of a path
CG_MANY=350   # ... and in the second: instr/req = (second - first) / 300
# new:PATH items (when CG_NEW lists paths): a new TLS connection per
# request (one curl each, no session reuse), so the figure includes the
# full handshake and whatever the module does once per connection.
CG_NEW_FEW=10
CG_NEW_MANY=50
CG_NEW=()

# The forwarded-certificate items counted besides PATHS (when HAProxy's
# vhost is configured): fwd1:PATH with alice's certificate in Client-Cert
# on every request, as HAProxy sends it; fwdN:PATH with CG_FWD_CERTS
# distinct ones in turn (all seen before counting), as from many clients.
CG_FWD_CERTS=350
declare -A CG_LABEL=(
    [fwd1:/granted/]="all granted, 1 forwarded certificate"
    [fwd1:/group/]="mtls-group admins, 1 forwarded certificate"
    [fwdN:/granted/]="all granted, $CG_FWD_CERTS forwarded certificates"
    [fwdN:/group/]="mtls-group admins, $CG_FWD_CERTS forwarded certificates"
)

# cg_requests PATH N: N GETs of PATH on one keep-alive connection (one curl,
# many URLs); fails (and says why in skipped) unless all are 200.  PATH may
# be fwd1:P or fwdN:P: plain HTTP to the forwarded-certificate vhost, from
# 127.0.0.1 (a trusted proxy there), with a Client-Cert header per request.
cg_requests() {
    local p=$1 n=$2 cg="$RUN/callgrind" i
    case "$p" in
    fwd1:*|fwdN:*)
        awk -v n="$n" -v many="${p%%:*}" -v k="$CG_FWD_CERTS" -v one="$CG_ALICE" \
            -v url="http://127.0.0.1:$FWD_PORT$(url_path "${p#*:}")" '
            { line[NR] = $0 }
            END { for (i = 0; i < n; i++) {
                      h = many == "fwdN" ? line[i % k + 1] : "Client-Cert: " one
                      # (next resets every option: each URL has its own)
                      printf "%sheader = \"%s\"\nurl = \"%s\"\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code} %%{num_connects}\\\\n\"\n",
                          (i ? "next\n" : ""), h, url } }' \
            "$RUN/proxy-certs.txt" >"$cg/urls"
        curl -sS --max-time 60 -K "$cg/urls" >"$cg/curl.out" 2>&1 || true
        ;;
    new:*)
        : >"$cg/curl.out"
        for ((i = 0; i < n; i++)); do
            "${CURL[@]}" --http1.1 --cert "$PKI/$CG_CERT.crt" --key "$PKI/$CG_CERT.key" \
                -o /dev/null -w '%{http_code} 1\n' \
                "https://localhost:$PORT$(url_path "${p#new:}")" >>"$cg/curl.out" 2>&1 || true
        done
        ;;
    *)
        for ((i = 0; i < n; i++)); do
            printf 'url = "https://localhost:%s%s"\noutput = "/dev/null"\n' "$PORT" "$(url_path "$p")"
        done >"$cg/urls"
        # --http1.1: the server offers h2 now (for the HTTP/2 row); these counts
        # are per HTTP/1.1 keep-alive request, as the timings' loadgen sends
        "${CURL[@]}" --http1.1 --cert "$PKI/$CG_CERT.crt" --key "$PKI/$CG_CERT.key" \
            -w '%{http_code} %{num_connects}\n' -K "$cg/urls" >"$cg/curl.out" 2>&1 || true
        ;;
    esac
    if [ "$(grep -c '^200 ' "$cg/curl.out" || true)" != "$n" ]; then
        echo "requests to $p under valgrind failed:" \
            "$(sort "$cg/curl.out" | uniq -c | awk 'NR <= 3' | tr '\n' ' ')" >"$cg/skipped"
        return 1
    fi
    if [ "${p#new:}" = "$p" ] && [ "$(awk '{ s += $2 } END { print s }' "$cg/curl.out")" != 1 ]; then
        echo "note: curl opened more than one connection for $p: its figures include handshakes" \
            >>"$cg/notes"
    fi
}

# callgrind_count: httpd -X (one process) under callgrind, the same
# configuration. Per path: warm up, then twice (counters zeroed, one curl
# sending CG_FEW, then CG_MANY, requests on one keep-alive connection, dump).
# The difference of the two dumps is the cost of CG_MANY - CG_FEW requests,
# without the handshake and connection set-up (in both). Writes
# "path instr/req" lines to $RUN/callgrind/instr.txt and the module's
# costliest functions per path that uses it to functions.txt. Not fatal: a
# failure is reported and the timings stand on their own.
callgrind_count() {
    local cg="$RUN/callgrind" pid='' i p n dumps=0 up=''
    rm -rf "$cg"
    mkdir -p "$cg"
    : >"$cg/instr.txt"
    : >"$cg/functions.txt"
    if [ "$CALLGRIND" = 0 ]; then
        echo "skipped (BENCH_CALLGRIND=0)" >"$cg/skipped"
        return 0
    fi
    if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null ||
       ! command -v callgrind_annotate >/dev/null; then
        echo "valgrind is not installed (apt-get install valgrind)" >"$cg/skipped"
        return 0
    fi
    say "bench: counting httpd's instructions per keep-alive request with callgrind (httpd -X)"
    # Same configuration, one process, no user switch (callgrind writes its
    # profile as the user that starts it), its own pid file, log and cache.
    sed -e '/^User /d' -e '/^Group /d' \
        -e "s|^PidFile .*|PidFile \"$cg/httpd.pid\"|" \
        -e "s|^ErrorLog .*|ErrorLog \"$cg/error.log\"|" \
        -e "s|shmcb:$RUN/ssl_scache|shmcb:$cg/ssl_scache|" "$CONF" >"$cg/httpd.conf"
    valgrind --tool=callgrind --callgrind-out-file="$cg/callgrind.out" \
        --dump-instr=no ${BENCH_CG_OPTS:-} "$HTTPD" -X -f "$cg/httpd.conf" >"$cg/valgrind.log" 2>&1 &
    pid=$!
    cg_stop() {
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    }
    for i in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || break
        if "${CURL[@]}" -o /dev/null --cert "$PKI/$CG_CERT.crt" --key "$PKI/$CG_CERT.key" \
               "https://localhost:$PORT/granted/" 2>/dev/null; then
            up=1
            break
        fi
        sleep 0.2
    done
    if [ -z "$up" ]; then
        echo "httpd did not start under valgrind (see ${cg#"$REPO"/}/valgrind.log, error.log)" >"$cg/skipped"
        cg_stop
        return 0
    fi
    # Warm up every path first (first-use costs: lazy symbol binding, pool
    # growth, file loads; every forwarded certificate seen once), then
    # measure each: zero, CG_FEW requests, dump; zero, CG_MANY requests, dump.
    local items=("${PATHS[@]}")
    if [ -n "$FWD_PORT" ] && [ -s "$RUN/proxy-certs.txt" ] &&
       [ "$(wc -l <"$RUN/proxy-certs.txt")" -ge "$CG_FWD_CERTS" ]; then
        CG_ALICE=$(openssl x509 -in "$PKI/alice.crt" -outform DER | base64 -w0)
        CG_ALICE=":$CG_ALICE:"
        items+=(fwd1:/granted/ fwd1:/group/ fwdN:/granted/ fwdN:/group/)
    fi
    for p in "${CG_NEW[@]}"; do items+=("new:$p"); done
    for p in "${items[@]}"; do
        case "$p" in fwdN:*) n=$CG_FWD_CERTS ;; new:*) n=3 ;; *) n=20 ;; esac
        cg_requests "$p" "$n" || { cg_stop; return 0; }
    done
    # cg_dump P: dump the counters (zeroing them) as the next numbered
    # file, and wait until it is written.
    cg_dump() {
        dumps=$((dumps + 1))
        callgrind_control --dump="$dumps" "$pid" >"$cg/control.out" 2>&1 || true
        for i in $(seq 1 150); do
            [ -s "$cg/callgrind.out.$dumps" ] && break
            sleep 0.1
        done
        if [ ! -s "$cg/callgrind.out.$dumps" ]; then
            echo "callgrind wrote no dump for $1 ($(cat "$cg/control.out"))" >"$cg/skipped"
            return 1
        fi
    }
    local counts got want cpid cin cout batch word
    for p in "${items[@]}"; do
        case "$p" in
        fwd*|new:*)
            # A new connection per curl: the plain-HTTP connect of the
            # fwd items costs little; new: items count the handshake.
            counts="$CG_FEW $CG_MANY"
            [ "${p#new:}" = "$p" ] || counts="$CG_NEW_FEW $CG_NEW_MANY"
            for n in $counts; do
                callgrind_control --zero "$pid" >"$cg/control.out" 2>&1 || true
                cg_requests "$p" "$n" || { cg_stop; return 0; }
                cg_dump "$p" || { cg_stop; return 0; }
            done
            ;;
        *)
            # One TLS connection for both counts (bench/cgclient.pl waits
            # between its batches): neither has a handshake in it.
            coproc CGC { perl "$BENCH/cgclient.pl" "$PORT" "$(url_path "$p")" \
                             "$PKI/$CG_CERT.crt" "$PKI/$CG_CERT.key" "$PKI/ca.crt" \
                             20 "$CG_FEW" "$CG_MANY" 2>"$cg/cgclient.err"; }
            cpid=$CGC_PID cin=${CGC[0]} cout=${CGC[1]}
            batch=0
            for want in 20 "$CG_FEW" "$CG_MANY"; do
                got=''
                read -r -t 120 word got <&"$cin" || true
                if [ "$got" != "$want" ]; then
                    echo "requests to $p under valgrind failed: ${got:-none} of $want" \
                         "answered 200 ($(cat "$cg/cgclient.err"))" >"$cg/skipped"
                    kill "$cpid" 2>/dev/null || true
                    cg_stop
                    return 0
                fi
                # (the first batch warms the connection up: not counted)
                if [ $((batch++)) -gt 0 ] && ! cg_dump "$p"; then
                    kill "$cpid" 2>/dev/null || true
                    cg_stop
                    return 0
                fi
                callgrind_control --zero "$pid" >"$cg/control.out" 2>&1 || true
                echo go >&"$cout"
            done
            wait "$cpid" 2>/dev/null || true
            ;;
        esac
    done
    cg_stop

    i=0
    local few many total
    for p in "${items[@]}"; do
        few="$cg/callgrind.out.$((i + 1))" many="$cg/callgrind.out.$((i + 2))"
        i=$((i + 2))
        n=$((CG_MANY - CG_FEW))
        [ "${p#new:}" = "$p" ] || n=$((CG_NEW_MANY - CG_NEW_FEW))
        # "summary:" is the dump's total; "totals:" can also count events
        # from before the counters were zeroed.
        total=$(awk -v n="$n" '/^summary:/ { s[FILENAME] = $2 }
                END { for (f in s) if (f ~ /\.[0-9]+$/) v[++k] = s[f]
                      if (k == 2) printf "%.0f", (v[1] > v[2] ? v[1] - v[2] : v[2] - v[1]) / n }' \
                "$few" "$many" 2>/dev/null || true)
        if [ -z "$total" ]; then
            echo "unreadable callgrind dumps for $p" >"$cg/skipped"
            : >"$cg/instr.txt"
            return 0
        fi
        printf '%s %s\n' "$p" "$total" >>"$cg/instr.txt"
        case "${REQUIRE[${p#new:}]:-${CG_LABEL[$p]}}" in *MTLS*|mtls-*) ;; *) continue ;; esac
        # Inclusive cost per request of the module's functions (and of
        # ap_ssl_var_lookup, through which it asks mod_ssl), second dump
        # minus first.
        {
            printf '%s\n' "$p"
            { callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$few" 2>/dev/null |
                  sed 's/^/A /'
              callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$many" 2>/dev/null |
                  sed 's/^/B /'
            } | awk -v n="$n" '
                # "A 1,234 (5.6%)  file.c:function [object]"
                $0 ~ /mod_mtls_authz\.so\]$/ || $0 ~ /:ap_ssl_var_lookup \[/ {
                    line = $0; sub(/\([^)]*\)/, "", line); split(line, f, " ")
                    v = f[2]; gsub(",", "", v); fn = f[3]; sub(/^.*:/, "", fn)
                    if (v !~ /^[0-9]+$/) next
                    if (!(fn in seen)) { seen[fn] = 1; order[++k] = fn }
                    if ($1 == "A") a[fn] += v; else b[fn] += v }
                END { for (i = 1; i <= k; i++) { fn = order[i]; d = (b[fn] - a[fn]) / n
                          if (d >= 50) printf "%d %s\n", d, fn } }' |
                sort -rn | awk '++shown <= 8 { printf "    %7d  %s\n", $1, $2 }' || true
        } >>"$cg/functions.txt"
    done
}
