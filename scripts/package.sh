#!/usr/bin/env bash
# Packages of mod_mtls_authz, made from this tree (called by Makefile.apxs).
#
#   scripts/package.sh version         check VERSION's form, print it
#   scripts/package.sh version-check   VERSION = debian/changelog = RPM spec
#   scripts/package.sh deb             dist/deb/libapache2-mod-mtls-authz_*.deb
#   scripts/package.sh rpm-check       rpmspec -P, rpmbuild -bs (dist/rpm/),
#                                      and a binary rpmbuild with this
#                                      machine's apxs where rpmbuild exists
#
# The version has one home, VERSION.  debian/changelog must carry a version
# of its own (it is the package's history), and so does the spec's
# Version: line; version-check makes a build fail when they disagree, so
# bumping VERSION without a changelog entry cannot ship.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DIST="$REPO/dist"
DEB_PKG=libapache2-mod-mtls-authz
SPEC=mod_mtls_authz.spec

die() { printf 'package: %s\n' "$*" >&2; exit 1; }

version() {
    local v
    [ -r VERSION ] || die "VERSION is missing"
    v=$(tr -d '\n' <VERSION)
    # Upstream versions as both dpkg and rpm order them: no '-' (dpkg's
    # revision separator), no '~' or '+' (rpm reads them differently).
    [[ "$v" =~ ^[0-9]+(\.[0-9]+)+$ ]] ||
        die "VERSION holds '$v': expected numbers and dots (1.2.3), one line"
    [ "$(wc -l <VERSION)" = 1 ] || die "VERSION must be one line"
    printf '%s\n' "$v"
}

# The upstream part of the newest debian/changelog entry (epoch and
# Debian revision removed).
changelog_version() {
    local head v
    head=$(head -n 1 debian/changelog)
    [[ "$head" =~ ^$DEB_PKG\ \(([^\)]+)\)\  ]] ||
        die "debian/changelog: first line is not '$DEB_PKG (VERSION-REVISION) ...': $head"
    v=${BASH_REMATCH[1]}
    v=${v#*:}
    printf '%s\n' "${v%-*}"
}

spec_version() {
    local n
    n=$(grep -cE '^Version:' "$SPEC") || true
    [ "$n" = 1 ] || die "$SPEC: expected one Version: line, found $n"
    sed -nE 's/^Version:[[:space:]]*([^[:space:]]+).*/\1/p' "$SPEC"
}

version_check() {
    local v c s bad=0
    v=$(version)
    c=$(changelog_version)
    s=$(spec_version)
    if [ "$c" != "$v" ]; then
        echo "package: debian/changelog is at $c but VERSION says $v:" \
             "add a changelog entry (dch -v $v-1)" >&2
        bad=1
    fi
    if [ "$s" != "$v" ]; then
        echo "package: $SPEC has Version: $s but VERSION says $v:" \
             "update Version: and add a %changelog entry" >&2
        bad=1
    fi
    [ "$bad" = 0 ] || exit 1
    echo "version-check: VERSION, debian/changelog and $SPEC agree on $v"
}

# copy_tree DEST: the source files (tracked and new, not ignored ones) into
# DEST, so packages are built from what is in the tree and never from
# build output, test state or earlier packages lying around.
copy_tree() {
    local dest=$1
    mkdir -p "$dest"
    if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "$REPO" ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
            tar -C "$REPO" --null -T - -cf - | tar -C "$dest" -xf -
    else
        # a release tarball: no git, nothing built in it yet but dist/
        tar -C "$REPO" --exclude=./dist --exclude=./.libs --exclude=./t/build \
            -cf - . | tar -C "$dest" -xf -
    fi
}

# build_depends_check SO: every library the module links (but libc) comes
# with a -dev package named in debian/control's Build-Depends, so a clean
# machine with only those installed can build it.  Catches a new -lfoo in
# Makefile.apxs that the packaging was not told about.
build_depends_check() {
    local so=$1 libdir needed lib real dev link pkg bad=0
    libdir=$(dirname "$(realpath -s "$(gcc -print-file-name=libc.so)")")
    needed=$(LC_ALL=C readelf -d "$so" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]$/\1/p')
    for lib in $needed; do
        case "$lib" in libc.so.*) continue ;; esac
        # the link-time name (libldap.so for libldap-2.5.so.0): the .so
        # symlink that leads to the same file
        real=$(readlink -f "$libdir/$lib")
        dev=''
        for link in "$libdir"/*.so; do
            [ -L "$link" ] && [ "$(readlink -f "$link")" = "$real" ] && { dev=$link; break; }
        done
        pkg=''
        [ -z "$dev" ] || pkg=$(dpkg -S "$dev" 2>/dev/null | sed -n '1s/:.*//p')
        if [ -z "$pkg" ]; then
            echo "package: the module links $lib, but no installed package has its .so link in $libdir" >&2
            bad=1
        elif ! sed -n '/^Build-Depends:/,/^[A-Z]/p' debian/control | grep -qE "(^|[ ,])$pkg([ ,(]|\$)"; then
            echo "package: the module links $lib (from $pkg): add $pkg to Build-Depends in" \
                 "debian/control, and its -devel package to BuildRequires in $SPEC" >&2
            bad=1
        fi
    done
    [ "$bad" = 0 ] || exit 1
    echo "package: Build-Depends cover what the module links:" $(printf '%s\n' $needed | grep -v '^libc\.so')
}

deb() {
    local v rev build src
    version_check
    v=$(version)
    command -v dpkg-buildpackage >/dev/null ||
        die "dpkg-buildpackage not found: apt-get install dpkg-dev debhelper (or make -f Makefile.apxs deps)"
    local unmet
    unmet=$(dpkg-checkbuilddeps 2>&1) ||
        die "${unmet#dpkg-checkbuilddeps: error: }: apt-get install them (or make -f Makefile.apxs deps)"
    rev=$(head -n 1 debian/changelog | sed -E 's/^[^(]*\(([^)]+)\).*/\1/')
    rev=${rev#*:}
    build="$DIST/deb/build"
    src="$build/$DEB_PKG-$v"
    rm -rf "$build"
    copy_tree "$src"
    echo "package: building $DEB_PKG $rev in ${src#"$REPO"/}"
    (cd "$src" && dpkg-buildpackage -us -uc -b) >"$build/build.log" 2>&1 || {
        tail -n 40 "$build/build.log" >&2
        die "dpkg-buildpackage failed (whole log: ${build#"$REPO"/}/build.log)"
    }
    build_depends_check "$src/.libs/mod_mtls_authz.so"
    rm -f "$DIST/deb/${DEB_PKG}"_* "$DIST/deb/${DEB_PKG}-dbgsym"_*
    find "$build" -maxdepth 1 -type f \( -name '*.deb' -o -name '*.ddeb' \
         -o -name '*.changes' -o -name '*.buildinfo' \) -exec mv -t "$DIST/deb/" {} +
    mv "$build/build.log" "$DIST/deb/build.log"
    rm -rf "$build"
    local debs=("$DIST/deb/${DEB_PKG}_${rev}_"*.deb)
    [ -f "${debs[0]}" ] || die "dpkg-buildpackage made no ${DEB_PKG}_${rev}_*.deb"
    echo "package: ${debs[0]#"$REPO"/}"
}

rpm_check() {
    local v top tarball name
    version_check
    v=$(version)
    command -v rpmbuild >/dev/null && command -v rpmspec >/dev/null ||
        die "rpmbuild/rpmspec not found (Debian: apt-get install rpm)"
    top="$DIST/rpm"
    name="mod_mtls_authz-$v"
    rm -rf "$top"
    mkdir -p "$top/SOURCES" "$top/SPECS"
    copy_tree "$top/tree/$name"
    tarball="$top/SOURCES/$name.tar.gz"
    tar -C "$top/tree" --owner=0 --group=0 --sort=name -czf "$tarball" "$name"
    cp "$SPEC" "$top/SPECS/"

    echo "rpm-check: rpmspec -P $SPEC"
    rpmspec -P "$top/SPECS/$SPEC" >"$top/spec.parsed" 2>"$top/rpmspec.err" || {
        cat "$top/rpmspec.err" >&2; die "rpmspec -P failed"; }
    # The spec's own fallbacks must give Fedora's paths on a machine
    # without httpd-devel's macros (this one).
    local want
    for want in '/usr/lib64/httpd/modules/mod_mtls_authz.so' \
                '/etc/httpd/conf.modules.d/10-mtls_authz.conf' \
                '/etc/httpd/conf.d/mtls_authz.conf'; do
        grep -qF "$want" "$top/spec.parsed" ||
            die "rpmspec -P: $want is not in the parsed spec ($top/spec.parsed)"
    done
    echo "rpm-check: rpmbuild -bs"
    rpmbuild --define "_topdir $top" -bs "$top/SPECS/$SPEC" >"$top/srpm.log" 2>&1 || {
        cat "$top/srpm.log" >&2; die "rpmbuild -bs failed"; }
    local srpm
    srpm=$(sed -nE 's/^Wrote: (.*\.src\.rpm)$/\1/p' "$top/srpm.log")
    [ -f "$srpm" ] || die "rpmbuild -bs wrote no .src.rpm ($top/srpm.log)"
    echo "rpm-check: ${srpm#"$REPO"/}"
    rpm -qpl "$srpm" >"$top/srpm.files"
    grep -qxF "$name.tar.gz" "$top/srpm.files" ||
        die "$srpm does not hold $name.tar.gz"

    # As far as a Debian machine goes: the binary build with Debian's apxs
    # (no httpd-devel here, hence --nodeps), then the file list Fedora
    # would install.
    if command -v apxs >/dev/null; then
        echo "rpm-check: rpmbuild -bb --nodeps (this machine's apxs)"
        rpmbuild --define "_topdir $top" --define "_httpd_apxs $(command -v apxs)" \
                 --define 'debug_package %{nil}' --nodeps \
                 -bb "$top/SPECS/$SPEC" >"$top/rpm.log" 2>&1 || {
            tail -n 40 "$top/rpm.log" >&2; die "rpmbuild -bb failed ($top/rpm.log)"; }
        local rpmf
        rpmf=$(sed -nE 's/^Wrote: (.*\.rpm)$/\1/p' "$top/rpm.log" | head -n 1)
        [ -f "$rpmf" ] || die "rpmbuild -bb wrote no .rpm ($top/rpm.log)"
        rpm -qpl "$rpmf" >"$top/rpm.files"
        for want in '/usr/lib64/httpd/modules/mod_mtls_authz.so' \
                    '/etc/httpd/conf.modules.d/10-mtls_authz.conf' \
                    '/etc/httpd/conf.d/mtls_authz.conf'; do
            grep -qxF "$want" "$top/rpm.files" || die "$rpmf lacks $want"
        done
        echo "rpm-check: ${rpmf#"$REPO"/} ($(wc -l <"$top/rpm.files") files)"
    fi
    rm -rf "$top/tree" "$top/BUILD" "$top/BUILDROOT"
    echo "rpm-check: passed"
}

case "${1:-}" in
    version)       version ;;
    version-check) version_check ;;
    deb)           deb ;;
    rpm-check)     rpm_check ;;
    *) echo "usage: $0 version|version-check|deb|rpm-check" >&2; exit 2 ;;
esac
