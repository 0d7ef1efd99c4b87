/* ECDSA signature twins: the other encodings of a certificate that
 * verify as well as the one presented (split from mtls_cert.c). */
#include <string.h>

#include <apr_strings.h>
#include <openssl/x509.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "mtls_cert.h"
#include "mtls_cert_twins.h"

/* The group orders of the named curves X.509 CAs sign with.  The leaf
 * does not say which curve its issuer's key is on, so a twin is made for
 * every order of about the signature's size: only the issuer's own one
 * verifies, and the others name no certificate anybody can present. */
static const char *const curve_orders[] = {
    /* P-256 */
    "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551",
    /* P-384 */
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
    "581A0DB248B0A77AECEC196ACCC52973",
    /* P-521 */
    "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
    "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
    /* P-224 */
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFF16A2E0B8F03E13DD29455C5C2A3D",
    /* P-192 */
    "FFFFFFFFFFFFFFFFFFFFFFFF99DEF836146BC9B1B4D22831",
    /* secp256k1 */
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
    /* brainpoolP256r1 */
    "A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7",
    /* brainpoolP384r1 */
    "8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7"
    "CF3AB6AF6B7FC3103B883202E9046565",
    /* brainpoolP512r1 */
    "AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330870"
    "553E5C414CA92619418661197FAC10471DB1D381085DDADDB58796829CA90069",
    NULL
};

/* DER length octets of @p n into @p out (room for 5); their count. */
static int der_len(unsigned char *out, size_t n)
{
    int k = 0, i;

    if (n < 0x80) {
        out[0] = (unsigned char)n;
        return 1;
    }
    while ((n >> (8 * k)) && k < 4) {
        k++;
    }
    out[0] = (unsigned char)(0x80 | k);
    for (i = 0; i < k; i++) {
        out[1 + i] = (unsigned char)(n >> (8 * (k - 1 - i)));
    }
    return 1 + k;
}

/* The DER of @p c with its signature value replaced by @p sig; NULL when
 * the DER does not end in the BIT STRING that holds @p old. */
static unsigned char *with_signature(apr_pool_t *p, const mtls_cert_t *c,
                                     const ASN1_BIT_STRING *old,
                                     const unsigned char *sig, int siglen,
                                     apr_size_t *outlen)
{
    const unsigned char *d = c->der;
    unsigned char hdr[6], bs[6], *out;
    long body_len;
    int tag, cls, h, oldbs, newbs, bodyhdr;
    apr_size_t keep, body;

    /* Outer SEQUENCE header, then tbs + algorithm kept as they are. */
    if (ASN1_get_object(&d, &body_len, &tag, &cls, (long)c->der_len) & 0x80
        || tag != V_ASN1_SEQUENCE) {
        return NULL;
    }
    bodyhdr = (int)(d - c->der);
    oldbs = 1 + der_len(bs, (size_t)old->length + 1) + 1 + old->length;
    if ((apr_size_t)bodyhdr + (apr_size_t)body_len != c->der_len
        || body_len < oldbs
        || c->der[c->der_len - old->length - 1] != 0
        || memcmp(c->der + c->der_len - old->length, old->data, old->length)
        || c->der[c->der_len - oldbs] != V_ASN1_BIT_STRING) {
        return NULL;
    }
    keep = (apr_size_t)body_len - oldbs;
    bs[0] = V_ASN1_BIT_STRING;
    newbs = 1 + der_len(bs + 1, (size_t)siglen + 1);
    body = keep + newbs + 1 + siglen;
    hdr[0] = V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED;
    h = 1 + der_len(hdr + 1, body);
    out = apr_palloc(p, h + body);
    memcpy(out, hdr, h);
    memcpy(out + h, c->der + bodyhdr, keep);
    memcpy(out + h + keep, bs, newbs);
    out[h + keep + newbs] = 0;   /* no unused bits */
    memcpy(out + h + keep + newbs + 1, sig, siglen);
    *outlen = h + body;
    return out;
}

/* An ECDSA signature (r, s) verifies as (r, n - s) too: the same
 * certificate in another encoding, with another sha256.  Note the sha256
 * of each such twin, so that a deny list can name the certificate by
 * any of them. */
void mtls_cert_ecdsa_twins(apr_pool_t *p, X509 *x, mtls_cert_t *c)
{
    const ASN1_BIT_STRING *sig = NULL;
    const X509_ALGOR *alg = NULL;
    const unsigned char *q;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG *es = NULL;
    BIGNUM *n = NULL, *flipped = NULL;
    int pknid = NID_undef, i;

    c->sha256_twins = apr_array_make(p, 2, sizeof(const char *));
    X509_get0_signature(&sig, &alg, x);
    if (!sig || !alg
        || !OBJ_find_sigid_algs(OBJ_obj2nid(alg->algorithm), NULL, &pknid)
        || pknid != NID_X9_62_id_ecPublicKey) {
        return;
    }
    q = sig->data;
    es = d2i_ECDSA_SIG(NULL, &q, sig->length);
    /* Anything but exact DER fails verification anyway. */
    if (!es || q != sig->data + sig->length) {
        goto leave;
    }
    ECDSA_SIG_get0(es, &r, &s);
    flipped = BN_new();
    for (i = 0; flipped && curve_orders[i]; i++) {
        ECDSA_SIG *twin;
        unsigned char *tder = NULL, *cder, md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        apr_size_t clen = 0;
        int tlen;

        /* r and s of a signature made on a curve are as long as its
         * order but for a chance of 2^-32 each: a far longer order is not
         * the issuer's curve (and the CA, not the client, chose r, s). */
        if (!BN_hex2bn(&n, curve_orders[i]) || BN_cmp(s, n) >= 0
            || BN_cmp(r, n) >= 0
            || BN_num_bits(n) - 32 > (BN_num_bits(r) > BN_num_bits(s)
                                      ? BN_num_bits(r) : BN_num_bits(s))
            || !BN_sub(flipped, n, s) || BN_is_zero(flipped)) {
            continue;
        }
        twin = ECDSA_SIG_new();
        if (!twin || !ECDSA_SIG_set0(twin, BN_dup(r), BN_dup(flipped))) {
            ECDSA_SIG_free(twin);
            continue;
        }
        tlen = i2d_ECDSA_SIG(twin, &tder);
        ECDSA_SIG_free(twin);
        cder = tlen > 0 ? with_signature(p, c, sig, tder, tlen, &clen) : NULL;
        OPENSSL_free(tder);
        if (cder && EVP_Digest(cder, clen, md, &mdlen, EVP_sha256(), NULL)) {
            APR_ARRAY_PUSH(c->sha256_twins, const char *) =
                mtls_hex_lower(p, md, mdlen);
        }
    }
leave:
    BN_free(n);
    BN_free(flipped);
    ECDSA_SIG_free(es);
}
