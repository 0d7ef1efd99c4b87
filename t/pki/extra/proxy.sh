# Certificates of the forwarded-certificate tests (t/70-proxy.t):
# proxyhop is the client certificate HAProxy presents on its own TLS hop
# to Apache, pinned with MTLSTrustedProxy cert:sha256:...
client inter proxyhop "/O=Lab/CN=haproxy" "DNS:proxy.lab.example"
