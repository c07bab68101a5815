/* tls.c - TLS client on BearSSL: a non-blocking pump between a socket and
 * the engine's plaintext buffers, plus the trust-anchor store. Depends on
 * base/ and BearSSL.
 *
 * The engine never allocates: a tls_t holds the client context, the X.509
 * "minimal" validator and the full-duplex I/O buffer in one block. Every
 * operation is a loop over br_ssl_engine_current_state(): records waiting
 * to go out are written first, then the operation does its own part
 * (handshake, plaintext in or out), reading records from the socket when
 * the engine asks for them. A socket that would block ends the loop with
 * TLS_WANT_READ or TLS_WANT_WRITE, and tls_wants() tells the caller what
 * to poll for.
 *
 * Trust anchors come from one PEM bundle, chosen in this order:
 *   1. the ca_file argument (it replaces the system bundle, so a private
 *      CA cannot be mixed up with public ones by accident);
 *   2. the SSL_CERT_FILE environment variable, if set and non-empty;
 *   3. the first bundle that exists among the Debian/Ubuntu, Alpine/macOS,
 *      RHEL and SUSE paths below.
 * Each file is parsed once per process and kept (anchors must outlive
 * every connection that points at them, so they are never freed). */
#include "tls.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/buf.h"
#include "../base/util.h"
#include "loop.h"

#define TLS_MAX_CA_FILE (8u << 20) /* largest PEM bundle read */
#define TLS_MAX_CA_FILES 8         /* distinct bundles cached per process */
#define TLS_MAX_CERT_DER 65536     /* one DER certificate from a bundle */
#define TLS_ERRLEN 160

static const char *const tls_default_bundles[] = {
	"/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Arch */
	"/etc/ssl/cert.pem",                  /* Alpine, macOS, OpenBSD */
	"/etc/pki/tls/certs/ca-bundle.crt",   /* RHEL, Fedora, CentOS */
	"/etc/ssl/ca-bundle.pem",             /* SUSE */
};

struct tls {
	br_ssl_client_context cc;
	br_x509_minimal_context xc;
	int fd;
	int want;          /* LOOP_* the last WANT_* result waits for */
	bool hs_done;
	bool ip_name;      /* server_name is an IP literal (no IP SANs here) */
	char err[TLS_ERRLEN];
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

/* ---- trust anchors ---- */

struct ta_store {
	char *path;
	br_x509_trust_anchor *ta;
	size_t n;
};

static struct ta_store ta_cache[TLS_MAX_CA_FILES];

static void append_buf(void *ctx, const void *p, size_t n)
{
	buf_t *b = ctx;
	/* A runaway object is cut short here; the decoder then fails on it. */
	if (b->len + n <= TLS_MAX_CERT_DER)
		buf_append(b, p, n);
	else
		b->len = TLS_MAX_CERT_DER + 1;
}

static unsigned char *dup_bytes(const unsigned char *p, size_t n)
{
	unsigned char *q = xmalloc(n ? n : 1);
	memcpy(q, p, n);
	return q;
}

/* Decodes one DER certificate into an anchor. The decoder's key points
 * into its own context, so the key bytes are copied out. */
static bool der_to_anchor(const buf_t *der, br_x509_trust_anchor *ta)
{
	br_x509_decoder_context dc;
	buf_t dn;
	br_x509_pkey *pk;

	if (der->len > TLS_MAX_CERT_DER)
		return false;
	buf_init(&dn);
	br_x509_decoder_init(&dc, append_buf, &dn);
	br_x509_decoder_push(&dc, der->p, der->len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || dn.len > TLS_MAX_CERT_DER) {
		buf_free(&dn);
		return false;
	}
	memset(ta, 0, sizeof *ta);
	ta->dn.data = dup_bytes((const unsigned char *)dn.p, dn.len);
	ta->dn.len = dn.len;
	buf_free(&dn);
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	} else {
		free(ta->dn.data);
		return false;
	}
	return true;
}

static int read_file(const char *path, buf_t *out, char *err, size_t errcap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		snprintf(err, errcap, "cannot open CA file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)TLS_MAX_CA_FILE) {
		snprintf(err, errcap, "CA file %s is not a regular file of at most %u bytes", path,
				TLS_MAX_CA_FILE);
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n;
		buf_reserve(out, 65536);
		n = read(fd, out->p + out->len, out->cap - out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errcap, "cannot read CA file %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		if (out->len > TLS_MAX_CA_FILE) {
			snprintf(err, errcap, "CA file %s is too large", path);
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

/* Parses every CERTIFICATE object of a PEM file. Objects that do not
 * decode (unknown key types, damaged entries) are skipped, as one bad
 * entry must not make a whole system bundle useless. */
static int load_pem(const char *path, struct ta_store *st, char *err, size_t errcap)
{
	br_pem_decoder_context pc;
	buf_t file, der;
	size_t off = 0, cap = 0;
	bool in_cert = false;

	buf_init(&file);
	if (read_file(path, &file, err, errcap) < 0) {
		buf_free(&file);
		return -1;
	}
	/* The decoder reports an object's end only once it sees the line
	 * end after the END marker; a final newline makes that certain. */
	buf_putc(&file, '\n');
	buf_init(&der);
	br_pem_decoder_init(&pc);
	while (off < file.len) {
		off += br_pem_decoder_push(&pc, file.p + off, file.len - off);
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			in_cert = strcmp(br_pem_decoder_name(&pc), "CERTIFICATE") == 0 ||
				strcmp(br_pem_decoder_name(&pc), "X509 CERTIFICATE") == 0;
			buf_reset(&der);
			br_pem_decoder_setdest(&pc, in_cert ? append_buf : NULL, &der);
			break;
		case BR_PEM_END_OBJ:
			if (in_cert) {
				if (st->n == cap) {
					cap = cap ? cap * 2 : 64;
					st->ta = xrealloc(st->ta, cap * sizeof *st->ta);
				}
				if (der_to_anchor(&der, &st->ta[st->n]))
					st->n++;
			}
			in_cert = false;
			break;
		case BR_PEM_ERROR:
			in_cert = false;
			break;
		default:
			break;
		}
	}
	buf_free(&der);
	buf_free(&file);
	if (st->n == 0) {
		snprintf(err, errcap, "no usable certificates in CA file %s", path);
		return -1;
	}
	return 0;
}

static const char *pick_bundle(const char *ca_file, bool *from_env, char *err, size_t errcap)
{
	const char *env = getenv("SSL_CERT_FILE");
	size_t i;

	*from_env = false;
	if (ca_file && *ca_file)
		return ca_file;
	if (env && *env) {
		*from_env = true;
		return env;
	}
	for (i = 0; i < sizeof tls_default_bundles / sizeof tls_default_bundles[0]; i++)
		if (access(tls_default_bundles[i], R_OK) == 0)
			return tls_default_bundles[i];
	snprintf(err, errcap, "no CA bundle found (set SSL_CERT_FILE)");
	return NULL;
}

static const struct ta_store *get_anchors(const char *ca_file, char *err, size_t errcap)
{
	bool from_env;
	const char *path = pick_bundle(ca_file, &from_env, err, errcap);
	struct ta_store st = {0};
	size_t i;

	if (!path)
		return NULL;
	for (i = 0; i < TLS_MAX_CA_FILES && ta_cache[i].path; i++)
		if (strcmp(ta_cache[i].path, path) == 0)
			return &ta_cache[i];
	if (i == TLS_MAX_CA_FILES) {
		snprintf(err, errcap, "too many distinct CA files in one process");
		return NULL;
	}
	if (load_pem(path, &st, err, errcap) < 0) {
		free(st.ta); /* it failed because it holds no anchor */
		if (from_env && strlen(err) + 16 < errcap) {
			memmove(err + 15, err, strlen(err) + 1);
			memcpy(err, "SSL_CERT_FILE: ", 15);
		}
		return NULL;
	}
	st.path = xstrdup(path);
	ta_cache[i] = st;
	return &ta_cache[i];
}

int tls_anchors_load(const char *ca_file, size_t *count, char *err, size_t errcap)
{
	const struct ta_store *st = get_anchors(ca_file, err, errcap);

	if (!st)
		return -1;
	if (count)
		*count = st->n;
	return 0;
}

/* ---- errors ---- */

static const char *alert_text(int alert)
{
	switch (alert) {
	case 40: return "handshake failure";
	case 42: case 43: case 44: case 45: case 46: case 48:
		return "server rejected the handshake (certificate alert)";
	case 47: return "server rejected a handshake parameter";
	case 70: return "unsupported protocol version";
	case 71: return "insufficient security (server wants stronger ciphers)";
	case 80: return "server internal error";
	case 112: return "server does not know this name (SNI)";
	default: return NULL;
	}
}

static void describe(const tls_t *t, int e, char *out, size_t cap)
{
	const char *s = NULL;

	if (e >= BR_ERR_RECV_FATAL_ALERT && e < BR_ERR_SEND_FATAL_ALERT) {
		s = alert_text(e - BR_ERR_RECV_FATAL_ALERT);
		if (s)
			snprintf(out, cap, "%s", s);
		else
			snprintf(out, cap, "handshake failure (server alert %d)", e - BR_ERR_RECV_FATAL_ALERT);
		return;
	}
	if (e >= BR_ERR_SEND_FATAL_ALERT) {
		snprintf(out, cap, "handshake failure (sent alert %d)", e - BR_ERR_SEND_FATAL_ALERT);
		return;
	}
	switch (e) {
	case BR_ERR_X509_NOT_TRUSTED: s = "certificate not trusted"; break;
	case BR_ERR_X509_BAD_SERVER_NAME:
		s = t && t->ip_name ? "certificate name mismatch (IP address names cannot be verified)"
				: "certificate name mismatch";
		break;
	case BR_ERR_X509_EXPIRED: s = "certificate expired or not yet valid"; break;
	case BR_ERR_X509_TIME_UNKNOWN: s = "certificate validity unknown (no clock)"; break;
	case BR_ERR_X509_NOT_CA: s = "certificate issuer is not a CA"; break;
	case BR_ERR_X509_BAD_SIGNATURE: s = "certificate signature invalid"; break;
	case BR_ERR_X509_WEAK_PUBLIC_KEY: s = "certificate key too weak"; break;
	case BR_ERR_X509_WRONG_KEY_TYPE: s = "certificate key type not supported"; break;
	case BR_ERR_X509_UNSUPPORTED: s = "certificate uses an unsupported algorithm"; break;
	case BR_ERR_X509_EMPTY_CHAIN: s = "server sent no certificate"; break;
	case BR_ERR_X509_CRITICAL_EXTENSION: s = "certificate has an unknown critical extension"; break;
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE: s = "certificate key usage forbids TLS"; break;
	case BR_ERR_X509_DN_MISMATCH: s = "certificate chain is broken (issuer mismatch)"; break;
	case BR_ERR_X509_LIMIT_EXCEEDED: s = "certificate chain too long"; break;
	/* also what a plain-text server's answer looks like to the engine */
	case BR_ERR_UNSUPPORTED_VERSION: s = "unsupported protocol version (or not a TLS server)"; break;
	case BR_ERR_BAD_VERSION: s = "unsupported protocol version"; break;
	case BR_ERR_BAD_CIPHER_SUITE: s = "no common cipher suite"; break;
	case BR_ERR_NO_RANDOM: s = "no random source"; break;
	case BR_ERR_BAD_MAC: s = "bad record MAC"; break;
	case BR_ERR_BAD_SIGNATURE:
	case BR_ERR_INVALID_ALGORITHM: s = "bad server key exchange signature"; break;
	case BR_ERR_WRONG_KEY_USAGE: s = "server key usage forbids this cipher suite"; break;
	case BR_ERR_IO: s = "I/O error"; break;
	default: break;
	}
	if (s)
		snprintf(out, cap, "%s", s);
	else if (e >= BR_ERR_X509_INVALID_VALUE && e <= BR_ERR_X509_NOT_TRUSTED)
		snprintf(out, cap, "malformed certificate (error %d)", e);
	else
		snprintf(out, cap, "handshake failure (error %d)", e);
}

/* msg NULL: t->err already says what happened. */
static int fail(tls_t *t, const char *msg)
{
	if (msg && !t->err[0])
		snprintf(t->err, sizeof t->err, "%s", msg);
	t->want = 0;
	return TLS_ERROR;
}

/* The engine closed: a clean close_notify, or a sticky error. */
static int closed(tls_t *t)
{
	int e = br_ssl_engine_last_error(&t->cc.eng);

	t->want = 0;
	if (e == BR_ERR_OK)
		return t->hs_done ? TLS_CLOSED : fail(t, "connection closed during handshake");
	if (!t->err[0])
		describe(t, e, t->err, sizeof t->err);
	return TLS_ERROR;
}

/* ---- socket side of the pump ---- */

/* Writes pending records. 1: progress, 0: would block, -1: error. */
static int send_records(tls_t *t)
{
	size_t len;
	unsigned char *p = br_ssl_engine_sendrec_buf(&t->cc.eng, &len);
	ssize_t n;

	if (!p)
		return 1;
	do
		n = send(t->fd, p, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		snprintf(t->err, sizeof t->err, "send: %s", n < 0 ? strerror(errno) : "no progress");
		return -1;
	}
	br_ssl_engine_sendrec_ack(&t->cc.eng, (size_t)n);
	return 1;
}

/* Reads records. 1: progress, 0: would block, -1: error, -2: EOF. */
static int recv_records(tls_t *t)
{
	size_t len;
	unsigned char *p = br_ssl_engine_recvrec_buf(&t->cc.eng, &len);
	ssize_t n;

	if (!p)
		return 1;
	do
		n = recv(t->fd, p, len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n < 0) {
		snprintf(t->err, sizeof t->err, "recv: %s", strerror(errno));
		return -1;
	}
	if (n == 0)
		return -2;
	br_ssl_engine_recvrec_ack(&t->cc.eng, (size_t)n);
	return 1;
}

/* ---- public API ---- */

/* BearSSL matches DNS names only, so an IP literal can never match; the
 * error message says so instead of a bare "name mismatch". */
static bool is_ip_literal(const char *s)
{
	return strchr(s, ':') != NULL || strspn(s, "0123456789.") == strlen(s);
}

/* The client profile: TLS 1.2 with ECDHE key exchange and AEAD suites
 * only (ChaCha20-Poly1305, AES-GCM), which every current server offers.
 * Leaving out CBC, 3DES, static-RSA key exchange and the pre-1.2 PRFs
 * keeps their code out of the binary (about 24 KB). */
static const uint16_t client_suites[] = {
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};

static void client_profile(br_ssl_client_context *cc, br_x509_minimal_context *xc,
		const br_x509_trust_anchor *ta, size_t n)
{
	static const br_hash_class *const hashes[] = {
		&br_sha1_vtable, &br_sha224_vtable, &br_sha256_vtable,
		&br_sha384_vtable, &br_sha512_vtable,
	};
	br_ssl_client_zero(cc);
	br_ssl_engine_set_versions(&cc->eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(&cc->eng, client_suites,
		sizeof client_suites / sizeof client_suites[0]);
	br_x509_minimal_init(xc, &br_sha256_vtable, ta, n);
	for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++) {
		int id = (int)((hashes[i]->desc >> BR_HASHDESC_ID_OFF) & BR_HASHDESC_ID_MASK);
		br_x509_minimal_set_hash(xc, id, hashes[i]);
		br_ssl_engine_set_hash(&cc->eng, id, hashes[i]);
	}
	br_x509_minimal_set_rsa(xc, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(xc, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default());
	br_ssl_engine_set_x509(&cc->eng, &xc->vtable);
	br_ssl_engine_set_prf_sha256(&cc->eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(&cc->eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_rsavrfy(&cc->eng);
	br_ssl_engine_set_default_ecdsa(&cc->eng);
	br_ssl_engine_set_default_ec(&cc->eng);
	br_ssl_engine_set_default_aes_gcm(&cc->eng);
	br_ssl_engine_set_default_chapol(&cc->eng);
}

tls_t *tls_client_new(int fd, const char *server_name, const char *ca_file, char *err, size_t errcap)
{
	const struct ta_store *st = get_anchors(ca_file, err, errcap);
	unsigned char seed[32];
	tls_t *t;

	if (!st)
		return NULL;
	t = xcalloc(1, sizeof *t);
	t->fd = fd;
	t->ip_name = server_name && is_ip_literal(server_name);
	/* TLS 1.0 and 1.1 are deprecated (RFC 8996): 1.2 only. */
	client_profile(&t->cc, &t->xc, st->ta, st->n);
	br_ssl_engine_set_buffer(&t->cc.eng, t->iobuf, sizeof t->iobuf, 1);
	/* br_ssl_client_reset() seeds the engine's DRBG with
	 * br_prng_seeder_system() (/dev/urandom, RDRAND); getrandom(2) is
	 * mixed in first so a container without /dev still gets entropy. */
	if (util_random(seed, sizeof seed) == 0)
		br_ssl_engine_inject_entropy(&t->cc.eng, seed, sizeof seed);
	memset(seed, 0, sizeof seed);
	if (!br_ssl_client_reset(&t->cc, server_name, 0)) {
		describe(t, br_ssl_engine_last_error(&t->cc.eng), err, errcap);
		free(t);
		return NULL;
	}
	return t;
}

int tls_handshake(tls_t *t)
{
	for (;;) {
		unsigned st = br_ssl_engine_current_state(&t->cc.eng);
		int r;

		if (st & BR_SSL_CLOSED)
			return closed(t);
		if (st & BR_SSL_SENDREC) {
			r = send_records(t);
			if (r < 0)
				return fail(t, NULL);
			if (r == 0) {
				t->want = LOOP_WRITE;
				return TLS_WANT_WRITE;
			}
			continue;
		}
		/* The engine accepts or delivers application data only once the
		 * handshake is over. */
		if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) {
			t->hs_done = true;
			t->want = 0;
			return TLS_OK;
		}
		if (st & BR_SSL_RECVREC) {
			r = recv_records(t);
			if (r == -2)
				return fail(t, "connection closed during handshake");
			if (r < 0)
				return fail(t, NULL);
			if (r == 0) {
				t->want = LOOP_READ;
				return TLS_WANT_READ;
			}
			continue;
		}
		return fail(t, "engine stalled");
	}
}

ssize_t tls_read(tls_t *t, void *buf, size_t n)
{
	for (;;) {
		unsigned st = br_ssl_engine_current_state(&t->cc.eng);
		size_t len;
		unsigned char *p;
		int r;

		if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))
			t->hs_done = true;

		if (st & BR_SSL_RECVAPP) {
			p = br_ssl_engine_recvapp_buf(&t->cc.eng, &len);
			if (len > n)
				len = n;
			if (len == 0)
				return 0;
			memcpy(buf, p, len);
			br_ssl_engine_recvapp_ack(&t->cc.eng, len);
			t->want = 0;
			return (ssize_t)len;
		}
		if (st & BR_SSL_CLOSED)
			return closed(t);
		if (st & BR_SSL_SENDREC) {
			r = send_records(t);
			if (r < 0)
				return fail(t, NULL);
			if (r == 1)
				continue;
			/* Blocked on output: still try to read, as the peer may be
			 * waiting for us to read before it reads in turn. */
			if (!(st & BR_SSL_RECVREC)) {
				t->want = LOOP_WRITE;
				return TLS_WANT_WRITE;
			}
		}
		if (st & BR_SSL_RECVREC) {
			r = recv_records(t);
			if (r == -2) {
				/* TCP EOF without close_notify. Many servers end
				 * that way; HTTP framing detects a truncated body. */
				t->want = 0;
				return t->hs_done ? TLS_CLOSED : fail(t, "connection closed during handshake");
			}
			if (r < 0)
				return fail(t, NULL);
			if (r == 1)
				continue;
			t->want = LOOP_READ | ((st & BR_SSL_SENDREC) ? LOOP_WRITE : 0);
			return TLS_WANT_READ;
		}
		return fail(t, "engine stalled");
	}
}

ssize_t tls_write(tls_t *t, const void *buf, size_t n)
{
	size_t done = 0;

	for (;;) {
		unsigned st = br_ssl_engine_current_state(&t->cc.eng);
		size_t len;
		unsigned char *p;
		int r;

		if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))
			t->hs_done = true;

		if (st & BR_SSL_CLOSED)
			return done ? (ssize_t)done : closed(t);
		if (st & BR_SSL_SENDREC) {
			r = send_records(t);
			if (r < 0)
				return done ? (ssize_t)done : fail(t, NULL);
			if (r == 1)
				continue;
			/* The bytes already taken sit in a record the engine will
			 * send later; tls_wants() reports LOOP_WRITE meanwhile. */
			t->want = LOOP_WRITE;
			return done ? (ssize_t)done : TLS_WANT_WRITE;
		}
		if (done == n && done > 0)
			return (ssize_t)done;
		if (st & BR_SSL_SENDAPP) {
			p = br_ssl_engine_sendapp_buf(&t->cc.eng, &len);
			if (len > n - done)
				len = n - done;
			if (len == 0)
				return 0;
			memcpy(p, (const char *)buf + done, len);
			br_ssl_engine_sendapp_ack(&t->cc.eng, len);
			done += len;
			/* One record per call, as write(2) would send it now. */
			br_ssl_engine_flush(&t->cc.eng, 0);
			continue;
		}
		if (done)
			return (ssize_t)done;
		/* No room for plaintext: the engine wants input first (a
		 * handshake message, or unread application data). */
		if (st & BR_SSL_RECVAPP) {
			t->want = 0;
			return TLS_WANT_READ;
		}
		if (st & BR_SSL_RECVREC) {
			r = recv_records(t);
			if (r == -2)
				return fail(t, "connection closed by peer");
			if (r < 0)
				return fail(t, NULL);
			if (r == 1)
				continue;
			t->want = LOOP_READ;
			return TLS_WANT_READ;
		}
		return fail(t, "engine stalled");
	}
}

int tls_wants(const tls_t *t)
{
	unsigned st = br_ssl_engine_current_state(&t->cc.eng);
	int ev = t->want;

	if (st & BR_SSL_CLOSED)
		return 0;
	if (st & BR_SSL_SENDREC)
		ev |= LOOP_WRITE;
	return ev;
}

bool tls_pending(const tls_t *t)
{
	return (br_ssl_engine_current_state(&t->cc.eng) & BR_SSL_RECVAPP) != 0;
}

const char *tls_error(const tls_t *t)
{
	return t->err[0] ? t->err : "no error";
}

void tls_free(tls_t *t)
{
	if (!t)
		return;
	/* Best effort: queue close_notify and push what the socket takes
	 * without blocking. A peer that stopped reading does not hold us. */
	if (!(br_ssl_engine_current_state(&t->cc.eng) & BR_SSL_CLOSED) && t->hs_done) {
		int i;
		br_ssl_engine_close(&t->cc.eng);
		for (i = 0; i < 4; i++) {
			if (!(br_ssl_engine_current_state(&t->cc.eng) & BR_SSL_SENDREC))
				break;
			if (send_records(t) <= 0)
				break;
		}
	}
	/* The context held session keys. */
	explicit_bzero(t, sizeof *t);
	free(t);
}
