# Client certificates of the directory tests (t/70-directory.t); the
# entries behind them are made by t/services/slapd.sh.
client inter ldcert   "/O=Lab/OU=people/CN=ldcert"
client inter ldcert2  "/O=Lab/OU=people/CN=ldcert"
client inter ldmail   "/O=Lab/CN=Mail User" "email:mailuser@lab.example"
client inter ldad     "/O=Lab/CN=aduser"
client inter ldtwin   "/O=Lab/CN=twin" "email:twin@lab.example"
client inter ldinject "/O=Lab/CN=*)(uid=*" "email:*)(mail=*"
client inter ldmany   "/O=Lab/CN=many" "email:many@lab.example"
client inter ldnested "/O=Lab/CN=nested" "email:nested@lab.example"
client inter ldgone   "/O=Lab/CN=ldgone" "email:ldgone@lab.example"
client inter ldnone   "/O=Lab/CN=nobody" "email:nobody@lab.example"
client inter ldposix  "/O=Lab/CN=posix" "email:posix@lab.example"
