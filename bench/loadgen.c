/*
 * loadgen: an HTTPS load generator that presents a client certificate and
 * compares several paths of one server side by side.
 *
 * wrk and ab cannot send a client certificate, so bench/run.sh uses this.
 *
 *   loadgen -p PORT -c CERT -k KEY -C CA -m ka|new -P /a/,/b/,/c/ ...
 *
 * -t THREADS client threads (default 2) each run one request at a time:
 *
 *   -m ka    keep-alive: every thread keeps one TLS connection per path and
 *            sends "GET PATH HTTP/1.1" on it again and again (a connection
 *            is re-opened only if the server closes it; that handshake is
 *            not timed).
 *   -H FILE  adds one line of FILE (e.g. "Client-Cert: :...:") to each
 *            request, the lines taken in turn: many clients behind one
 *            proxy connection.
 *   -m new   a new TCP + TLS connection per request: a full handshake every
 *            time (client session cache off, no tickets, no resumption),
 *            "Connection: close".
 *
 * Side by side, interleaved: the run is cut into slots of -T milliseconds;
 * in each slot all threads work on one path, and every group of NPATHS
 * consecutive slots visits each path once, in a random order. Slow drifts
 * of the machine (other processes, frequency, the hypervisor) then hit every
 * path alike. The slots are grouped into -r rounds for the caller to see the
 * spread. A -w second warm-up (same schedule, not counted) comes first.
 *
 * Figures per round and path, one line each:
 *
 *   round=R path=P ok=N non200=N errors=N busy_ns=B slot_ns=S srv_ns=V
 *
 *   ok/non200  complete responses (status line, headers, Content-Length
 *              bytes of body) with status 200 / another status
 *   errors     connections or requests that failed
 *   busy_ns    time the threads spent in those requests, summed over the
 *              threads (from sending the request, or from connect() with
 *              -m new, to the last byte of the response); req/s of the path
 *              is then THREADS * ok / busy (Little's law: no loss at slot
 *              boundaries)
 *   slot_ns    wall time of this path's slots
 *   srv_ns     CPU time the server processes given with -x used during
 *              this path's slots (from /proc/PID/task/TID/schedstat, ns)
 *
 * and a last line:
 *
 *   total seconds=S threads=N self_cpu_ns=C srv_cpu_ns=V machine_busy_ns=M
 *         machine_ns=T first_status=N
 *
 * (machine_*: /proc/stat user+nice+system and all CPU time during the
 * measured part; with self and server CPU it tells how much of the machine
 * other processes took.) Exit status 0 when the run finished, 1 on a setup
 * error or when no connection could be made; the caller decides what
 * non200/errors mean.
 *
 * Build: cc -O2 -o loadgen loadgen.c -lssl -lcrypto -lpthread
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_PATHS   16
#define MAX_THREADS 32
#define MAX_ROUNDS  64
#define MAX_PIDS    16

static const char *o_host = "127.0.0.1";
static int o_port = 443;
static const char *o_sni = "localhost";
static const char *o_cert, *o_key, *o_ca;
static int o_new;               /* 0 keep-alive, 1 new connection per request */
static int o_threads = 2;
static double o_duration = 30.0, o_warmup = 1.0;
static int o_rounds = 9;
static int o_slot_ms = 100;
static unsigned o_seed = 1;

static const char *paths[MAX_PATHS];
static int npaths;
static int srv_pids[MAX_PIDS];
static int nsrv_pids;

static SSL_CTX *ctx;
/* -L N: a population of N client certificates (-c/-k are printf patterns
 * with one %d); each new connection presents the next one. */
static int o_population;
static SSL_CTX **pop_ctx;
static atomic_uint pop_next;
static char request[MAX_PATHS][1024];
static size_t request_len[MAX_PATHS];
/* -H FILE: one header line per request, taken in turn (each thread starts
 * at its own offset), e.g. a forwarded certificate per simulated client. */
static char **hdr_lines;
static size_t nhdr_lines;

/* The schedule: slot k runs path sched_path[k]; counted slots start at
 * slot_first_counted. current_slot is what the threads follow. */
static int *sched_path;
static int nslots, slot_first_counted, slots_per_round;
static atomic_int current_slot;
static atomic_int stopping;
static atomic_int fatal;

struct cell {                   /* one round x one path, one thread */
    uint64_t ok, non200, errors, busy_ns;
};

struct worker {
    pthread_t tid;
    int index;
    struct cell cells[MAX_ROUNDS][MAX_PATHS];
    int first_status;
    char first_error[160];
    unsigned src_next;          /* source-address rotation (see open_tcp) */
    int src_rotate;
    size_t hdr_next;            /* next -H line */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = { (time_t)(t / 1000000000u), (long)(t % 1000000000u) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void note_error(struct worker *w, const char *what)
{
    if (!w->first_error[0]) {
        unsigned long e = ERR_peek_last_error();
        char ebuf[96] = "";
        if (e)
            ERR_error_string_n(e, ebuf, sizeof ebuf);
        snprintf(w->first_error, sizeof w->first_error, "%s%s%s%s%s",
                 what, errno ? ": " : "", errno ? strerror(errno) : "",
                 ebuf[0] ? " / " : "", ebuf);
    }
    ERR_clear_error();
}

/*
 * A new connection per request leaves one TIME_WAIT socket behind each
 * time; tens of thousands of them can exhaust the ephemeral ports of one
 * source address. All of 127.0.0.0/8 is loopback, so -m new spreads its
 * connections over 127.0.<thread+1>.<1..250> (falling back to the default
 * source address if the kernel refuses).
 */
static int open_tcp(struct worker *w)
{
    struct sockaddr_in sa;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    if (o_new && w->src_rotate && strncmp(o_host, "127.", 4) == 0) {
        struct sockaddr_in src;
        memset(&src, 0, sizeof src);
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl((127u << 24) | ((unsigned)(w->index + 1) << 8)
                                    | (1 + w->src_next++ % 250));
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0)
            w->src_rotate = 0;  /* keep this socket unbound, stop trying */
    }

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o_port);
    if (inet_pton(AF_INET, o_host, &sa.sin_addr) != 1) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static SSL *open_tls(struct worker *w)
{
    errno = 0;
    int fd = open_tcp(w);
    if (fd < 0) {
        note_error(w, "connect");
        return NULL;
    }
    SSL *ssl = SSL_new(o_population
                       ? pop_ctx[atomic_fetch_add(&pop_next, 1) % (unsigned)o_population]
                       : ctx);
    if (!ssl) {
        close(fd);
        note_error(w, "SSL_new");
        return NULL;
    }
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, o_sni);
    errno = 0;
    if (SSL_connect(ssl) != 1) {
        note_error(w, "TLS handshake");
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    return ssl;
}

static void close_tls(SSL *ssl, int clean)
{
    int fd = SSL_get_fd(ssl);
    if (clean)
        SSL_shutdown(ssl);      /* send close_notify, do not wait for theirs */
    SSL_free(ssl);
    close(fd);
}

static int write_all(SSL *ssl, const char *p, size_t n)
{
    while (n > 0) {
        int r = SSL_write(ssl, p, (int)n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* What was read but not consumed stays for the next response on the same
 * connection (there should be none: no pipelining). */
struct rbuf {
    char data[16 * 1024];
    size_t len;
};

/*
 * Read one response. Returns the status code (> 0) and sets *keep to
 * whether the connection can carry another request; -1 on error or EOF.
 */
static int read_response(SSL *ssl, struct rbuf *b, int *keep)
{
    char *end = NULL;
    for (;;) {
        if (b->len) {
            end = memmem(b->data, b->len, "\r\n\r\n", 4);
            if (end)
                break;
        }
        if (b->len >= sizeof b->data - 1)
            return -1;          /* header too large */
        int r = SSL_read(ssl, b->data + b->len, (int)(sizeof b->data - 1 - b->len));
        if (r <= 0)
            return -1;
        b->len += (size_t)r;
    }
    size_t hlen = (size_t)(end - b->data) + 4;
    b->data[b->len] = '\0';

    int status = 0;
    if (sscanf(b->data, "HTTP/1.%*d %d", &status) != 1 || status < 100)
        return -1;

    long clen = -1;
    *keep = 1;
    char *line = strstr(b->data, "\r\n");
    while (line && line < end) {
        line += 2;
        if (!strncasecmp(line, "Content-Length:", 15))
            clen = strtol(line + 15, NULL, 10);
        else if (!strncasecmp(line, "Connection:", 11)) {
            const char *v = line + 11;
            while (*v == ' ' || *v == '\t')
                v++;
            if (!strncasecmp(v, "close", 5))
                *keep = 0;
        }
        else if (!strncasecmp(line, "Transfer-Encoding:", 18))
            return -1;          /* not expected for a static file */
        line = strstr(line, "\r\n");
    }
    if (clen < 0)
        return -1;

    size_t need = hlen + (size_t)clen;
    if (need > sizeof b->data)
        return -1;              /* the benchmark serves a tiny file */
    while (b->len < need) {
        int r = SSL_read(ssl, b->data + b->len, (int)(sizeof b->data - b->len));
        if (r <= 0)
            return -1;
        b->len += (size_t)r;
    }
    memmove(b->data, b->data + need, b->len - need);
    b->len -= need;
    return status;
}

static struct cell *cell_for(struct worker *w, int slot, int pi)
{
    if (slot < slot_first_counted)
        return NULL;            /* warm-up */
    int round = (slot - slot_first_counted) / slots_per_round;
    if (round >= o_rounds)
        round = o_rounds - 1;
    return &w->cells[round][pi];
}

struct conn {
    SSL *ssl;
    struct rbuf buf;
};

static void *run(void *arg)
{
    struct worker *w = arg;
    struct conn *conns = calloc((size_t)npaths, sizeof *conns);
    int failures_in_a_row = 0;

    if (!conns) {
        atomic_store(&fatal, 1);
        return NULL;
    }
    while (!atomic_load(&stopping)) {
        int slot = atomic_load(&current_slot);
        int pi = sched_path[slot];
        struct conn *c = &conns[pi];
        uint64_t t0 = 0;

        if (o_new)
            t0 = now_ns();      /* the handshake is part of the request */
        if (!c->ssl) {
            c->buf.len = 0;
            c->ssl = open_tls(w);
            if (!c->ssl) {
                struct cell *cl = cell_for(w, slot, pi);
                if (cl && !atomic_load(&stopping))
                    cl->errors++;
                if (++failures_in_a_row >= 50) {
                    atomic_store(&fatal, 1);
                    break;
                }
                usleep(10000);
                continue;
            }
        }
        if (!o_new)
            t0 = now_ns();

        int keep = 0, status, werr;
        if (nhdr_lines) {
            /* the request line and Host as prepared, then this request's
             * header line, then the rest */
            const char *line = hdr_lines[w->hdr_next++ % nhdr_lines];
            size_t head = strstr(request[pi], "User-Agent:") - request[pi];
            werr = write_all(c->ssl, request[pi], head) != 0 ||
                   write_all(c->ssl, line, strlen(line)) != 0 ||
                   write_all(c->ssl, "\r\n", 2) != 0 ||
                   write_all(c->ssl, request[pi] + head,
                             request_len[pi] - head) != 0;
        }
        else {
            werr = write_all(c->ssl, request[pi], request_len[pi]) != 0;
        }
        if (werr ||
            (status = read_response(c->ssl, &c->buf, &keep)) < 0) {
            if (atomic_load(&stopping))
                break;
            note_error(w, "request/response");
            struct cell *cl = cell_for(w, slot, pi);
            if (cl)
                cl->errors++;
            close_tls(c->ssl, 0);
            c->ssl = NULL;
            if (++failures_in_a_row >= 50) {
                atomic_store(&fatal, 1);
                break;
            }
            continue;
        }
        if (o_new || !keep) {
            close_tls(c->ssl, 1);
            c->ssl = NULL;
        }
        uint64_t t1 = now_ns();
        failures_in_a_row = 0;

        /* A request that ends after the run stops is not counted. */
        struct cell *cl = cell_for(w, slot, pi);
        if (cl && !atomic_load(&stopping)) {
            cl->busy_ns += t1 - t0;
            if (status == 200)
                cl->ok++;
            else {
                cl->non200++;
                if (!w->first_status)
                    w->first_status = status;
            }
        }
    }
    for (int i = 0; i < npaths; i++)
        if (conns[i].ssl)
            close_tls(conns[i].ssl, 1);
    free(conns);
    return NULL;
}

/* CPU time (ns) used so far by all threads of the server processes. */
static uint64_t server_cpu_ns(void)
{
    uint64_t sum = 0;
    for (int i = 0; i < nsrv_pids; i++) {
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%d/task", srv_pids[i]);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9')
                continue;
            char file[512];
            snprintf(file, sizeof file, "%s/%s/schedstat", dir, e->d_name);
            FILE *f = fopen(file, "r");
            if (!f)
                continue;
            unsigned long long ns;
            if (fscanf(f, "%llu", &ns) == 1)
                sum += ns;
            fclose(f);
        }
        closedir(d);
    }
    return sum;
}

/* /proc/stat: busy (user+nice+system) and total CPU time, in ns. */
static void machine_cpu_ns(uint64_t *busy, uint64_t *total)
{
    unsigned long long v[10] = {0};
    *busy = *total = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
               &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
        double tick = 1e9 / (double)sysconf(_SC_CLK_TCK);
        *busy = (uint64_t)((v[0] + v[1] + v[2]) * tick);
        for (int i = 0; i < 8; i++)
            *total += (uint64_t)(v[i] * tick);
    }
    fclose(f);
}

static uint64_t self_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_utime.tv_sec * 1000000000u + (uint64_t)ru.ru_utime.tv_usec * 1000u
         + (uint64_t)ru.ru_stime.tv_sec * 1000000000u + (uint64_t)ru.ru_stime.tv_usec * 1000u;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen -p PORT -c CERT -k KEY -C CA -m ka|new -P PATH[,PATH...]\n"
            "               [-h 127.0.0.1] [-s SNI] [-t THREADS] [-d SECONDS]\n"
            "               [-w WARMUP_SECONDS] [-r ROUNDS] [-T SLOT_MS]\n"
            "               [-x SERVER_PID]... [-z SEED] [-L POPULATION]\n"
            "               [-H HEADER_LINES_FILE]\n"
            "  -L N: -c and -k are patterns with one %%d (0..N-1); each new\n"
            "        connection presents the next certificate\n");
    exit(2);
}

static void add_paths(char *list)
{
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        if (npaths == MAX_PATHS)
            usage();
        paths[npaths++] = tok;
    }
}

static int load_header_lines(const char *file)
{
    FILE *f = fopen(file, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (!f) {
        perror(file);
        return -1;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (!n)
            continue;
        hdr_lines = realloc(hdr_lines, (nhdr_lines + 1) * sizeof *hdr_lines);
        if (!hdr_lines || !(hdr_lines[nhdr_lines++] = strdup(line))) {
            fclose(f);
            return -1;
        }
    }
    free(line);
    fclose(f);
    if (!nhdr_lines) {
        fprintf(stderr, "loadgen: %s has no header lines\n", file);
        return -1;
    }
    return 0;
}

/* Per-round, per-path accumulators filled by the main thread. */
static uint64_t slot_ns[MAX_ROUNDS][MAX_PATHS], srv_ns[MAX_ROUNDS][MAX_PATHS];

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "h:p:s:P:c:k:C:m:t:d:w:r:T:x:z:L:H:")) != -1) {
        switch (c) {
        case 'h': o_host = optarg; break;
        case 'p': o_port = atoi(optarg); break;
        case 's': o_sni = optarg; break;
        case 'P': add_paths(optarg); break;
        case 'c': o_cert = optarg; break;
        case 'k': o_key = optarg; break;
        case 'C': o_ca = optarg; break;
        case 'm':
            if (!strcmp(optarg, "ka")) o_new = 0;
            else if (!strcmp(optarg, "new")) o_new = 1;
            else usage();
            break;
        case 't': o_threads = atoi(optarg); break;
        case 'd': o_duration = atof(optarg); break;
        case 'w': o_warmup = atof(optarg); break;
        case 'r': o_rounds = atoi(optarg); break;
        case 'T': o_slot_ms = atoi(optarg); break;
        case 'x':
            if (nsrv_pids == MAX_PIDS)
                usage();
            srv_pids[nsrv_pids++] = atoi(optarg);
            break;
        case 'z': o_seed = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'L': o_population = atoi(optarg); break;
        case 'H': if (load_header_lines(optarg) != 0) return 1; break;
        default: usage();
        }
    }
    if (!o_cert || !o_key || !o_ca || o_port <= 0 || !npaths ||
        o_threads <= 0 || o_threads > MAX_THREADS || o_duration <= 0 ||
        o_warmup < 0 || o_rounds <= 0 || o_rounds > MAX_ROUNDS || o_slot_ms <= 0)
        usage();

    signal(SIGPIPE, SIG_IGN);

    if (o_population < 0 || (o_population && !o_new))
        usage();
    if (o_population)
        pop_ctx = calloc((size_t)o_population, sizeof *pop_ctx);
    for (int i = 0; i < (o_population ? o_population : 1); i++) {
        char cert[512], key[512];
        snprintf(cert, sizeof cert, o_cert, i);
        snprintf(key, sizeof key, o_key, i);
        ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx ||
            SSL_CTX_use_certificate_chain_file(ctx, o_population ? cert : o_cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, o_population ? key : o_key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1 ||
            SSL_CTX_load_verify_locations(ctx, o_ca, NULL) != 1) {
            fprintf(stderr, "loadgen: cannot load the client certificate, key or CA\n");
            ERR_print_errors_fp(stderr);
            return 1;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        /* No resumption of any kind: every -m new connection is a full
         * handshake with the client certificate sent and verified. */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
        if (o_population)
            pop_ctx[i] = ctx;
    }

    for (int i = 0; i < npaths; i++)
        request_len[i] = (size_t)snprintf(request[i], sizeof request[i],
                                          "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                                          "User-Agent: mtls-bench-loadgen\r\n"
                                          "Connection: %s\r\n\r\n",
                                          paths[i], o_sni, o_port,
                                          o_new ? "close" : "keep-alive");

    /* The schedule: warm-up slots, then counted slots in whole groups of
     * npaths (each path once per group, shuffled), whole groups per round. */
    int warm_groups = (int)(o_warmup * 1000 / o_slot_ms / npaths + 0.999);
    int groups_per_round = (int)(o_duration * 1000 / o_slot_ms / npaths / o_rounds + 0.5);
    if (groups_per_round < 1)
        groups_per_round = 1;
    slots_per_round = groups_per_round * npaths;
    slot_first_counted = warm_groups * npaths;
    nslots = slot_first_counted + o_rounds * slots_per_round;
    sched_path = malloc((size_t)nslots * sizeof *sched_path);
    if (!sched_path)
        return 1;
    srand(o_seed);
    for (int g = 0; g < nslots / npaths; g++) {
        int *p = sched_path + g * npaths;
        for (int i = 0; i < npaths; i++)
            p[i] = i;
        for (int i = npaths - 1; i > 0; i--) {
            int j = rand() % (i + 1), t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
    }

    struct worker *ws = calloc((size_t)o_threads, sizeof *ws);
    if (!ws)
        return 1;
    atomic_store(&current_slot, 0);
    for (int i = 0; i < o_threads; i++) {
        ws[i].index = i;
        ws[i].src_rotate = 1;
        ws[i].hdr_next = (size_t)i * 7919;   /* threads interleave the lines */
        if (pthread_create(&ws[i].tid, NULL, run, &ws[i]) != 0) {
            perror("pthread_create");
            return 1;
        }
    }

    uint64_t slot_len = (uint64_t)o_slot_ms * 1000000u;
    uint64_t t = now_ns(), t_start = 0;
    uint64_t srv_prev = 0, self0 = 0, srv0 = 0, mbusy0 = 0, mtotal0 = 0;
    for (int s = 0; s < nslots && !atomic_load(&fatal); s++) {
        if (s == slot_first_counted) {
            t_start = t;
            srv_prev = srv0 = server_cpu_ns();
            self0 = self_cpu_ns();
            machine_cpu_ns(&mbusy0, &mtotal0);
        }
        atomic_store(&current_slot, s);
        uint64_t end = t + slot_len;
        sleep_until(end);
        uint64_t t_end = now_ns();
        if (s >= slot_first_counted) {
            int round = (s - slot_first_counted) / slots_per_round;
            int pi = sched_path[s];
            uint64_t srv = server_cpu_ns();
            slot_ns[round][pi] += t_end - t;
            srv_ns[round][pi] += srv - srv_prev;
            srv_prev = srv;
        }
        t = t_end;
    }
    atomic_store(&stopping, 1);
    uint64_t t_stop = now_ns();
    uint64_t self1 = self_cpu_ns(), srv1 = server_cpu_ns(), mbusy1, mtotal1;
    machine_cpu_ns(&mbusy1, &mtotal1);

    int first_status = 0;
    const char *first_error = NULL;
    uint64_t errors = 0;
    for (int i = 0; i < o_threads; i++) {
        pthread_join(ws[i].tid, NULL);
        if (!first_status)
            first_status = ws[i].first_status;
        if (!first_error && ws[i].first_error[0])
            first_error = ws[i].first_error;
    }
    for (int r = 0; r < o_rounds; r++)
        for (int pi = 0; pi < npaths; pi++) {
            struct cell sum = {0};
            for (int i = 0; i < o_threads; i++) {
                sum.ok += ws[i].cells[r][pi].ok;
                sum.non200 += ws[i].cells[r][pi].non200;
                sum.errors += ws[i].cells[r][pi].errors;
                sum.busy_ns += ws[i].cells[r][pi].busy_ns;
            }
            errors += sum.errors;
            printf("round=%d path=%s ok=%llu non200=%llu errors=%llu busy_ns=%llu"
                   " slot_ns=%llu srv_ns=%llu\n", r + 1, paths[pi],
                   (unsigned long long)sum.ok, (unsigned long long)sum.non200,
                   (unsigned long long)sum.errors, (unsigned long long)sum.busy_ns,
                   (unsigned long long)slot_ns[r][pi], (unsigned long long)srv_ns[r][pi]);
        }
    printf("total seconds=%.3f threads=%d self_cpu_ns=%llu srv_cpu_ns=%llu"
           " machine_busy_ns=%llu machine_ns=%llu first_status=%d\n",
           t_start ? (t_stop - t_start) / 1e9 : 0.0, o_threads,
           (unsigned long long)(self1 - self0), (unsigned long long)(srv1 - srv0),
           (unsigned long long)(mbusy1 - mbusy0), (unsigned long long)(mtotal1 - mtotal0),
           first_status);
    if (first_error)
        fprintf(stderr, "loadgen: first error (of %llu): %s\n",
                (unsigned long long)errors, first_error);
    if (atomic_load(&fatal)) {
        fprintf(stderr, "loadgen: gave up after repeated failures\n");
        return 1;
    }
    SSL_CTX_free(ctx);
    free(ws);
    free(sched_path);
    return 0;
}
