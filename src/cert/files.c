/* SPDX-License-Identifier: MIT */
/* gossip-cert's files: keys and certificates written atomically in their final modes, and read. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "cert/cert.h"
#include "core/util.h"

#define MAX_FILE_SIZE (1024 * 1024) /* larger is no key or certificate of ours */
#define TEMP_TRIES 16

char *
cert_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

/* The directory part of path, "." when it has none (malloc'd). */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* -1, saying so, when path exists (--force not given). */
int
cert_refuse_existing(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0) {
		warnx("%s exists; use --force to replace it", path);
		return -1;
	}
	if (errno != ENOENT) {
		warn("cannot check %s", path);
		return -1;
	}
	return 0;
}

/* mkdir -p dir, the directories it creates with mode 0755. */
int
cert_make_dirs(const char *dir)
{
	char *p = xstrdup(dir);
	struct stat st;
	int r = 0;

	for (char *s = p + 1; r == 0; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		/* Exactly 0755 whatever the umask: the daemons' user must reach its files. */
		if (mkdir(p, 0755) == 0 ? chmod(p, 0755) < 0 : errno != EEXIST) {
			warn("cannot create the directory %s", p);
			r = -1;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	if (r == 0 && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
		warnx("%s is not a directory", dir);
		r = -1;
	}
	free(p);
	return r;
}

/*
 * Creates the temporary file ".NAME.XXXXXXXXXXXX.tmp" beside path with O_EXCL and the
 * mode given, so that it is never readable by more than the mode allows.
 */
static int
open_temp(struct cert_staged *s, const char *path, mode_t mode)
{
	char *dir = dir_of(path);
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	int error = 0;

	*s = (struct cert_staged){.path = xstrdup(path), .fd = -1, .mode = mode};
	for (int i = 0; i < TEMP_TRIES && s->fd < 0; i++) {
		unsigned char r[6];
		char hex[2 * sizeof(r) + 1];

		if (RAND_bytes(r, sizeof(r)) != 1) {
			cert_ssl_error("cannot make a temporary file name");
			break;
		}
		free(s->tmp);
		s->tmp = cert_asprintf("%s/.%s.%s.tmp", dir, base, hex_encode(r, sizeof(r), hex));
		s->fd = open(s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		error = errno;
		if (s->fd < 0 && error != EEXIST)
			break;
	}
	free(dir);
	if (s->fd >= 0)
		return 0;
	free(s->tmp);
	s->tmp = NULL;
	if (error)
		warnx("cannot create %s: %s", path, strerror(error));
	return -1;
}

/* Writes the PEM text in bio to the temporary file, then fsync()s and closes it. */
static int
write_pem(struct cert_staged *s, BIO *bio)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	size_t off = 0;

	while (n > 0 && off < (size_t)n) {
		ssize_t w = write(s->fd, data + off, (size_t)n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			warn("cannot write %s", s->path);
			return -1;
		}
		off += (size_t)w;
	}
	if (fsync(s->fd) < 0) {
		warn("cannot write %s", s->path);
		return -1;
	}
	if (close(s->fd) < 0) {
		s->fd = -1;
		warn("cannot write %s", s->path);
		return -1;
	}
	s->fd = -1;
	return 0;
}

/*
 * The private key, in PKCS#8 PEM, in a temporary file of mode 0600; of mode 0640 and
 * the group given once it belongs to that group (group is -1 for none, or when the
 * chown() is not allowed). The PEM text is held in memory cleared when freed.
 */
int
cert_stage_key(struct cert_staged *s, const char *path, EVP_PKEY *key, gid_t group)
{
	BIO *bio;
	int r = -1;

	if (open_temp(s, path, 0600) < 0)
		return -1;
	if (group != (gid_t)-1 && fchown(s->fd, (uid_t)-1, group) == 0)
		s->mode = 0640;
	/* Exactly the mode, whatever the umask; group read only once the group is right. */
	if (fchmod(s->fd, s->mode) < 0) {
		warn("cannot set the mode of %s", path);
		return -1;
	}
	bio = BIO_new(BIO_s_secmem());
	if (!bio || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1)
		cert_ssl_error("cannot encode the private key for %s", path);
	else
		r = write_pem(s, bio);
	BIO_free(bio);
	return r;
}

/* The certificate, in PEM, in a temporary file of mode 0644. */
int
cert_stage_cert(struct cert_staged *s, const char *path, X509 *x)
{
	BIO *bio;
	int r = -1;

	if (open_temp(s, path, 0644) < 0)
		return -1;
	if (fchmod(s->fd, s->mode) < 0) {
		warn("cannot set the mode of %s", path);
		return -1;
	}
	bio = BIO_new(BIO_s_mem());
	if (!bio || PEM_write_bio_X509(bio, x) != 1)
		cert_ssl_error("cannot encode the certificate for %s", path);
	else
		r = write_pem(s, bio);
	BIO_free(bio);
	return r;
}

/* Renames the temporary file into place; without replace, never over an existing file. */
int
cert_commit(struct cert_staged *s, bool replace)
{
	int r;

	if (replace) {
		r = rename(s->tmp, s->path);
	} else {
		r = renameat2(AT_FDCWD, s->tmp, AT_FDCWD, s->path, RENAME_NOREPLACE);
		/* Filesystems without RENAME_NOREPLACE: link() does not replace either. */
		if (r < 0 && (errno == EINVAL || errno == ENOSYS) &&
		    (r = link(s->tmp, s->path)) == 0)
			unlink(s->tmp);
	}
	if (r < 0) {
		if (errno == EEXIST)
			warnx("%s exists; use --force to replace it", s->path);
		else
			warn("cannot rename %s to %s", s->tmp, s->path);
		return -1;
	}
	free(s->tmp);
	s->tmp = NULL;
	return 0;
}

/* Removes what was not committed, and frees. */
void
cert_discard(struct cert_staged *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->tmp)
		unlink(s->tmp);
	free(s->tmp);
	free(s->path);
	*s = (struct cert_staged){.fd = -1};
}

/* fsync() of the directory holding path, so that the renames are on disk. */
int
cert_sync_dir(const char *path)
{
	char *dir = dir_of(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0 || fsync(fd) < 0) {
		warn("cannot sync the directory %s", dir);
		r = -1;
	}
	if (fd >= 0)
		close(fd);
	free(dir);
	return r;
}

/* The whole file (at most MAX_FILE_SIZE bytes) into *data, malloc'd; -1 after reporting. */
static int
read_file(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		warn("cannot open %s", path);
		return -1;
	}
	*data = xmalloc(MAX_FILE_SIZE + 1);
	n = fread(*data, 1, MAX_FILE_SIZE + 1, f);
	if (ferror(f) || n > MAX_FILE_SIZE) {
		if (ferror(f))
			warn("cannot read %s", path);
		else
			warnx("%s is too large for a key or certificate", path);
		fclose(f);
		OPENSSL_clear_free(*data, MAX_FILE_SIZE + 1);
		*data = NULL;
		return -1;
	}
	fclose(f);
	*len = n;
	return 0;
}

/* Never asks for a passphrase: an encrypted key fails to load. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

EVP_PKEY *
cert_load_key(const char *path)
{
	EVP_PKEY *key = NULL;
	size_t len;
	char *data;
	BIO *bio;

	if (read_file(path, &data, &len) < 0)
		return NULL;
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio)
		key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!key)
		cert_ssl_error("cannot read a private key from %s", path);
	BIO_free(bio);
	OPENSSL_clear_free(data, MAX_FILE_SIZE + 1);
	return key;
}

/* A certificate in PEM, or in DER when the file has no PEM header. */
X509 *
cert_load_cert(const char *path)
{
	X509 *x = NULL;
	size_t len;
	char *data;
	BIO *bio;

	if (read_file(path, &data, &len) < 0)
		return NULL;
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio && memmem(data, len, "-----BEGIN", 10))
		x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	else if (bio)
		x = d2i_X509_bio(bio, NULL);
	if (!x)
		cert_ssl_error("cannot read a certificate from %s", path);
	BIO_free(bio);
	free(data);
	return x;
}
