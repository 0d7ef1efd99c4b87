# Shell helpers shared by demo/demo.sh, bench/run.sh, bench/directory.sh
# and scripts/deb-test.sh (sourced, bash).

# mtls_minipki DIR CA_SUBJECT DAYS SPEC...
# A throw-away CA in DIR (ca.crt, ca.key) and, for each SPEC
# "name|/O=.../CN=...|subjectAltName", NAME.crt and NAME.key with P-256
# keys.  The name "server" gets serverAuth and SAN localhost/127.0.0.1;
# every other name gets clientAuth and the SAN given.  Our own openssl
# config, so the system one cannot add or change extensions behind our
# back.  Returns non-zero with openssl's message on stderr.
mtls_minipki() {
    local dir=$1 ca_subj=$2 days=$3 spec name subj san
    shift 3
    local cnf="$dir/openssl.cnf" err="$dir/openssl.err"
    local newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)

    {
        printf '[ req ]\ndistinguished_name = req_dn\nprompt = no\n[ req_dn ]\n'
        printf '[ v3_ca ]\nbasicConstraints = critical, CA:TRUE, pathlen:0\n'
        printf 'keyUsage = critical, keyCertSign, cRLSign\n'
        printf 'subjectKeyIdentifier = hash\n'
        for spec in "$@"; do
            IFS='|' read -r name subj san <<<"$spec"
            printf '[ %s ]\nbasicConstraints = critical, CA:FALSE\n' "$name"
            printf 'subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n'
            if [ "$name" = server ]; then
                printf 'keyUsage = critical, digitalSignature, keyEncipherment\n'
                printf 'extendedKeyUsage = serverAuth\n'
                printf 'subjectAltName = DNS:localhost, IP:127.0.0.1\n'
            else
                printf 'keyUsage = critical, digitalSignature\n'
                printf 'extendedKeyUsage = clientAuth\n'
                [ -z "$san" ] || printf 'subjectAltName = %s\n' "$san"
            fi
        done
    } >"$cnf"
    openssl req -config "$cnf" -x509 "${newkey[@]}" -sha256 -days "$days" \
        -subj "$ca_subj" -extensions v3_ca \
        -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>"$err" || {
        echo "openssl: CA: $(cat "$err")" >&2; return 1; }
    for spec in "$@"; do
        IFS='|' read -r name subj san <<<"$spec"
        openssl req -config "$cnf" -new "${newkey[@]}" -subj "$subj" \
            -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>"$err" &&
        openssl x509 -req -in "$dir/$name.csr" -sha256 -days "$days" \
            -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
            -CAserial "$dir/ca.srl" -CAcreateserial \
            -extfile "$cnf" -extensions "$name" -out "$dir/$name.crt" 2>"$err" || {
            echo "openssl: $name: $(cat "$err")" >&2; return 1; }
        rm -f "$dir/$name.csr"
    done
    rm -f "$err"
}

# mtls_loadmodules HTTPD MODDIR NAME...
# LoadModule lines for the modules NAME (mod_NAME.so in MODDIR), skipping
# those compiled into HTTPD (Debian builds in log_config, for one).
mtls_loadmodules() {
    local httpd=$1 moddir=$2 m builtin
    shift 2
    builtin=$("$httpd" -l 2>/dev/null || true)
    for m in "$@"; do
        if grep -q "^ *mod_$m\.c\$" <<<"$builtin"; then
            printf '# mod_%s is compiled into %s\n' "$m" "$httpd"
        elif [ -f "$moddir/mod_$m.so" ]; then
            printf 'LoadModule %s_module %s/mod_%s.so\n' "$m" "$moddir" "$m"
        else
            echo "$moddir/mod_$m.so not found" >&2
            return 1
        fi
    done
}

# mtls_run_user DIR
# Who httpd serves as when started as root, in RUN_USER and RUN_GROUP
# (www-data, else nobody; both empty when not root).  Makes DIR 755 and
# fails when that user still cannot enter it (a checkout under /root, say):
# the pages must then live somewhere else.
mtls_run_user() {
    RUN_USER='' RUN_GROUP=''
    [ "$(id -u)" = 0 ] || return 0
    RUN_USER=www-data
    id "$RUN_USER" >/dev/null 2>&1 || RUN_USER=nobody
    RUN_GROUP=$(id -gn "$RUN_USER")
    chmod 755 "$1"
    runuser -u "$RUN_USER" -- test -x "$1" 2>/dev/null
}

# mtls_demo_pki DIR CA_SUBJECT DAYS
# The demo's certificates (the Debian package test's too), as
# mtls_minipki makes them: the server, alice (OU=admins) and bob
# (OU=staff), each with an e-mail SAN @demo.example.
mtls_demo_pki() {
    mtls_minipki "$1" "$2" "$3" \
        "server|/O=Demo/CN=localhost|" \
        "alice|/O=Demo/OU=admins/CN=alice|email:alice@demo.example" \
        "bob|/O=Demo/OU=staff/CN=bob|email:bob@demo.example"
}

# mtls_demo_rules [INDENT]
# The demo's rules for those certificates (the Debian package test's
# too), each line after INDENT: the user from the e-mail SAN, a group
# from each OU, /admin/ for the group admins.
mtls_demo_rules() {
    sed "s/^/${1:-}/" <<'EOF'
<Location "/">
    # alice@demo.example -> user "alice"; every OU -> a group
    MTLSUserFrom san:email ^(.+)@demo\.example$ $1
    MTLSGroupFrom subject:OU
    MTLSErrorDetail on
</Location>

<Location "/admin/">
    Require mtls-group admins
</Location>
EOF
}
