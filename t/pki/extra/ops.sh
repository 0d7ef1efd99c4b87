# Certificates and CRLs of the operations tests (t/70-crl.t, t/71-ocsp.t,
# t/72-metrics.t, t/73-whoami.t).  Sourced by mkpki.sh inside OUTDIR.
#
# crla, crlb: clients of inter that mod_ssl's own CRL (inter.crl, made
# before) does not list, so only MTLSCRL can refuse them.
#   crl-before.pem   inter's CRL listing `revoked` only
#   crl-after.pem    the same CA later: crlb revoked too
#   crl-stale.pem    like crl-after, but its nextUpdate passes 1 s after
#                    it was made (stale when the tests run)
#   crl-evil.pem     a CRL with inter's name listing crla, signed by the
#                    look-alike evil-inter: must be refused
#   ocspgood, ocsprev: clients for the OCSP responder (t/services/ocsp.sh,
#   which answers from inter's database); ocsprev is revoked there.
client inter crla "/O=Lab/OU=ops/CN=crl-a"
client inter crlb "/O=Lab/OU=ops/CN=crl-b"
client inter ocspgood "/O=Lab/CN=ocsp-good"
client inter ocsprev  "/O=Lab/CN=ocsp-revoked"
$OPENSSL ca -batch -config db/inter/ca.cnf -gencrl -out crl-before.pem 2>>db/crl.log
$OPENSSL ca -batch -config db/inter/ca.cnf -revoke crlb.crt 2>>db/revoke.log
$OPENSSL ca -batch -config db/inter/ca.cnf -revoke ocsprev.crt 2>>db/revoke.log
$OPENSSL ca -batch -config db/inter/ca.cnf -gencrl -out crl-after.pem 2>>db/crl.log
$OPENSSL ca -batch -config db/inter/ca.cnf -gencrl -crlsec 1 -out crl-stale.pem 2>>db/crl.log
$OPENSSL ca -batch -config db/evil-inter/ca.cnf -revoke crla.crt 2>>db/revoke.log
$OPENSSL ca -batch -config db/evil-inter/ca.cnf -gencrl -out crl-evil.pem 2>>db/crl.log
