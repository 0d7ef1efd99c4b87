# Certificates of t/70-headers.t (sourced by ../mkpki.sh inside OUTDIR).
# multisan: several SANs of several types, a URI with a ';' and a ','.
client inter multisan "/O=Lab/OU=dev/OU=ops/CN=multi" \
    "email:m1@lab.example,email:m2@lab.example,DNS:a.lab.example,DNS:b.lab.example,URI:spiffe://lab.example/ns/x/sa/y,URI:https://lab.example/a;b%2Cc,IP:10.9.8.7"
# bigsan: 300 DNS names, so san:dns is more than a header may carry
big=""
i=0
while [ $i -lt 300 ]; do
    big="${big}${big:+,}DNS:host-number-$i.big.lab.example"
    i=$((i + 1))
done
client inter bigsan "/O=Lab/CN=big" "$big"
# alice's certificate followed by the issuing CA: a client that sends its
# chain (RFC 9440 Client-Cert-Chain)
cat alice.crt inter.crt > alice-chain.crt
