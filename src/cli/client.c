#include "cli/client.h"

#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"

struct client {
        CURL *curl;
        char *base; /* without trailing '/' */
        char *auth; /* "Authorization: Bearer ..." or NULL */
        char token_hint[PATH_MAX + 64];
        long timeout_s;
        strbuf resp;
        bool too_big;
        char errbuf[CURL_ERROR_SIZE];
        struct sse *sse; /* client_stream: the event parser, NULL for other requests */
};

/* client_stream's parser of text/event-stream (the WHATWG HTML "server-sent
 * events" rules: lines of field: value, an empty line dispatches). */
struct sse {
        client_sse_fn fn;
        void *ud;
        const char *last_event_id; /* sent as Last-Event-ID; NULL: none */
        bool opened, stopped, error_status;
        strbuf line, data;
        char event[64];
        char id[32];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Reads the first line of path, or returns NULL. */
static char *read_token_file(const char *path) {
        char buf[256];
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *line = fgets(buf, sizeof buf, f);
        fclose(f);
        if (!line)
                return NULL;
        buf[strcspn(buf, "\r\n")] = '\0';
        return buf[0] ? strdup(buf) : NULL;
}

int client_new(const char *url, const char *token, const char *data_dir, client **ret, sked_err *err) {
        client *c = NULL;
        char *tok = NULL;
        int r;

        pthread_once(&curl_once, curl_init);
        if (curl_init_result != CURLE_OK)
                return err_set(err, -EIO, "cannot initialise libcurl: %s", curl_easy_strerror(curl_init_result));
        if (!url)
                url = getenv("SKED_URL");
        if (!url || !*url)
                url = CLIENT_DEFAULT_URL;
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
                return err_field(err, -EINVAL, "url", "\"%s\": expected http://host:port or https://host:port", url);
        c = calloc(1, sizeof *c);
        if (!c)
                return err_set(err, -ENOMEM, "out of memory");
        c->timeout_s = 60;
        c->base = strdup(url);
        if (!c->base)
                goto nomem;
        for (size_t n = strlen(c->base); n > 0 && c->base[n - 1] == '/'; n--)
                c->base[n - 1] = '\0';

        if (token) {
                snprintf(c->token_hint, sizeof c->token_hint, "check the token given");
        } else if ((token = getenv("SKED_TOKEN")) && *token) {
                snprintf(c->token_hint, sizeof c->token_hint, "check SKED_TOKEN");
        } else {
                char path[PATH_MAX];
                if (!data_dir)
                        data_dir = getenv("SKED_DATA_DIR");
                if (!data_dir || !*data_dir)
                        data_dir = "./var";
                snprintf(path, sizeof path, "%s/admin.token", data_dir);
                tok = read_token_file(path);
                token = tok;
                if (tok)
                        snprintf(c->token_hint, sizeof c->token_hint, "check the token in %s", path);
                else
                        snprintf(c->token_hint, sizeof c->token_hint,
                                 "no token: cannot read %s; set SKED_TOKEN or SKED_DATA_DIR", path);
        }
        if (token) {
                size_t n = strlen("Authorization: Bearer ") + strlen(token) + 1;
                c->auth = malloc(n);
                if (!c->auth)
                        goto nomem;
                snprintf(c->auth, n, "Authorization: Bearer %s", token);
        }

        c->curl = curl_easy_init();
        if (!c->curl) {
                r = err_set(err, -EIO, "cannot initialise libcurl");
                goto fail;
        }
        free(tok);
        *ret = c;
        return 0;
nomem:
        r = err_set(err, -ENOMEM, "out of memory");
fail:
        free(tok);
        client_free(c);
        return r;
}

void client_free(client *c) {
        if (!c)
                return;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        if (c->auth) {
                memset(c->auth, 0, strlen(c->auth));
                free(c->auth);
        }
        free(c->base);
        strbuf_free(&c->resp);
        free(c);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata) {
        client *c = userdata;
        size_t n = size * nmemb;
        if (n > CLIENT_MAX_RESPONSE - c->resp.len) {
                c->too_big = true;
                return 0; /* makes curl fail with CURLE_WRITE_ERROR */
        }
        if (strbuf_append(&c->resp, ptr, n) < 0)
                return 0;
        return n;
}

static int sse_line(struct sse *p, const char *line, size_t n) {
        if (n == 0) {
                if (p->data.len || p->event[0]) {
                        int stop = p->fn(p->ud, p->id, p->event[0] ? p->event : "message",
                                         strbuf_str(&p->data) ? strbuf_str(&p->data) : "");
                        strbuf_reset(&p->data);
                        p->event[0] = '\0';
                        if (stop)
                                return 1;
                }
                return 0;
        }
        if (line[0] == ':')
                return 0; /* a comment: the heartbeat */
        size_t k = strcspn(line, ":");
        const char *v = k < n ? line + k + 1 : line + n;
        if (*v == ' ')
                v++;
        size_t vn = (size_t) (line + n - v);
        if (k == 4 && !strncmp(line, "data", 4)) {
                if (p->data.len)
                        strbuf_putc(&p->data, '\n');
                strbuf_append(&p->data, v, vn);
        } else if (k == 5 && !strncmp(line, "event", 5)) {
                snprintf(p->event, sizeof p->event, "%.*s", (int) vn, v);
        } else if (k == 2 && !strncmp(line, "id", 2) && vn < sizeof p->id) {
                snprintf(p->id, sizeof p->id, "%.*s", (int) vn, v);
        }
        return 0;
}

static size_t on_sse(char *ptr, size_t size, size_t nmemb, void *userdata) {
        client *c = userdata;
        struct sse *p = c->sse;
        size_t n = size * nmemb;
        long status = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 300) { /* a refusal: its problem document, as any reply */
                p->error_status = true;
                return on_data(ptr, size, nmemb, userdata);
        }
        if (!p->opened) {
                p->opened = true;
                if (p->fn(p->ud, NULL, NULL, NULL)) {
                        p->stopped = true;
                        return 0;
                }
        }
        for (size_t i = 0; i < n; i++) {
                if (ptr[i] != '\n') {
                        if (ptr[i] != '\r' && (p->line.len > (1u << 20) || strbuf_putc(&p->line, ptr[i]) < 0))
                                return 0; /* a line over 1 MiB: not sked's stream */
                        continue;
                }
                int stop = sse_line(p, p->line.data ? p->line.data : "", p->line.len);
                strbuf_reset(&p->line);
                if (stop) {
                        p->stopped = true;
                        return 0;
                }
        }
        return n;
}

static int errno_for_status(long status) {
        switch (status) {
        case 400:
        case 422:
                return -EINVAL;
        case 401:
        case 403:
                return -EACCES;
        case 404:
                return -ENOENT;
        case 409:
        case 412:
                return -EBUSY;
        case 413:
                return -EFBIG;
        default:
                return status >= 500 ? -EIO : -EPROTO;
        }
}

static int add_header(struct curl_slist **l, const char *h) {
        struct curl_slist *n = curl_slist_append(*l, h);
        if (!n)
                return -ENOMEM;
        *l = n;
        return 0;
}

/* Performs the request; the reply body is left in c->resp. */
static int perform(client *c, const char *method, const char *path, const char *body, bool json, long *ret_status,
                   sked_err *err) {
        struct curl_slist *hdrs = NULL;
        strbuf url = STRBUF_INIT;
        CURLcode cc;
        long status = 0;
        int r = 0;

        strbuf_reset(&c->resp);
        c->too_big = false;
        c->errbuf[0] = '\0';
        if (strbuf_printf(&url, "%s%s%s", c->base, path[0] == '/' ? "" : "/", path) < 0) {
                r = err_set(err, -ENOMEM, "out of memory");
                goto out;
        }
        char last_id[64] = "";
        if (c->sse && c->sse->last_event_id)
                snprintf(last_id, sizeof last_id, "Last-Event-ID: %.40s", c->sse->last_event_id);
        if (add_header(&hdrs, c->sse ? "Accept: text/event-stream, application/problem+json"
                              : json ? "Accept: application/json, application/problem+json"
                                     : "Accept: */*") < 0 ||
            (last_id[0] && add_header(&hdrs, last_id) < 0) ||
            (body && add_header(&hdrs, "Content-Type: application/json") < 0) || add_header(&hdrs, "Expect:") < 0 ||
            (c->auth && add_header(&hdrs, c->auth) < 0)) {
                r = err_set(err, -ENOMEM, "out of memory");
                goto out;
        }

        CURL *e = c->curl;
        curl_easy_reset(e); /* keeps the connection cache: keep-alive survives */
        curl_easy_setopt(e, CURLOPT_URL, strbuf_str(&url));
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        const char *ca = getenv("SKED_CACERT"); /* a private CA's certificate (sked serve --tls-cert) */
        if (ca && *ca)
                curl_easy_setopt(e, CURLOPT_CAINFO, ca);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 5L);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
        if (c->sse) {
                /* no end to wait for; a connection silent for a minute (heartbeats are
                 * every 15 s by default) is dead */
                curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
                curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
                curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_sse);
        } else {
                curl_easy_setopt(e, CURLOPT_TIMEOUT, c->timeout_s);
                curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) CLIENT_MAX_RESPONSE);
                curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
        }
        curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "sked-cli");
        if (body) {
                curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
                if (strcmp(method, "POST") != 0)
                        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        } else if (strcmp(method, "HEAD") == 0) {
                curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        } else if (strcmp(method, "GET") != 0) {
                curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        }

        cc = curl_easy_perform(e);
        if (cc == CURLE_WRITE_ERROR && c->sse && c->sse->stopped)
                cc = CURLE_OK; /* the caller's callback stopped it */
        if (cc != CURLE_OK) {
                long os_errno = 0;
                if (c->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
                        r = err_set(err, -EFBIG, "reply from %s%s exceeds %zu MiB", c->base, path,
                                    CLIENT_MAX_RESPONSE >> 20);
                        goto out;
                }
                curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
                const char *why =
                        os_errno ? strerror((int) os_errno) : (c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
                if (cc == CURLE_OPERATION_TIMEDOUT)
                        r = err_set(err, -ETIMEDOUT, "sked at %s did not answer %s %s within %ld s", c->base, method,
                                    path, c->timeout_s);
                else if (cc == CURLE_PEER_FAILED_VERIFICATION)
                        r = err_set(err, -EIO,
                                    "cannot trust sked at %s: %s (a private CA or self-signed certificate: "
                                    "set SKED_CACERT to its PEM file)",
                                    c->base, why);
                else
                        r = err_set(err, cc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO,
                                    "cannot reach sked at %s: %s (is 'sked serve' running?)", c->base, why);
                goto out;
        }
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        *ret_status = status;
out:
        curl_slist_free_all(hdrs);
        strbuf_free(&url);
        return r;
}

/* Sets err for an error status from the reply in c->resp (parsed as doc if JSON). */
static void status_error(client *c, long status, json_t *doc, sked_err *err) {
        const char *detail = json_string_value(json_object_get(doc, "detail"));
        const char *field = json_string_value(json_object_get(doc, "field"));
        int code = errno_for_status(status);
        char hint[sizeof c->token_hint + 8] = "";

        if (status == 401)
                snprintf(hint, sizeof hint, " (%s)", c->token_hint);
        if (detail && field && !strncmp(detail, field, strlen(field))) {
                /* the server's detail already names the field: keep the field, don't repeat it */
                err_set(err, code, "%s%s", detail, hint);
                if (err)
                        snprintf(err->field, sizeof err->field, "%s", field);
        } else if (detail) {
                err_field(err, code, field, "%s%s", detail, hint);
        } else
                err_set(err, code, "HTTP %ld%s%.200s%s", status, c->resp.len ? ": " : "",
                        c->resp.len ? strbuf_str(&c->resp) : "", hint);
}

int client_request(client *c, const char *method, const char *path, json_t *body, long *ret_status, json_t **ret_json,
                   sked_err *err) {
        char *text = NULL;
        json_t *doc = NULL;
        long status = 0;
        int r;

        if (body) {
                text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
                if (!text)
                        return err_set(err, -ENOMEM, "out of memory");
        }
        r = perform(c, method, path, text, true, &status, err);
        free(text);
        if (r < 0)
                return r;
        if (c->resp.len > 0)
                doc = json_loadb(c->resp.data, c->resp.len, JSON_DECODE_ANY, NULL);
        if (status >= 400)
                status_error(c, status, doc, err);
        *ret_status = status;
        if (ret_json)
                *ret_json = doc;
        else
                json_decref(doc);
        return 0;
}

int client_request_text(client *c, const char *method, const char *path, long *ret_status, char **ret_body,
                        sked_err *err) {
        long status = 0;
        int r = perform(c, method, path, NULL, false, &status, err);
        if (r < 0)
                return r;
        if (status >= 400) {
                json_t *doc = json_loadb(c->resp.data ? c->resp.data : "", c->resp.len, JSON_DECODE_ANY, NULL);
                status_error(c, status, doc, err);
                json_decref(doc);
        }
        char *text = strbuf_steal(&c->resp);
        if (!text)
                return err_set(err, -ENOMEM, "out of memory");
        *ret_status = status;
        *ret_body = text;
        return 0;
}

int client_stream(client *c, const char *path, const char *last_event_id, client_sse_fn fn, void *ud, long *ret_status,
                  bool *ret_stopped, sked_err *err) {
        struct sse p = {.fn = fn, .ud = ud, .last_event_id = last_event_id};
        long status = 0;
        c->sse = &p;
        int r = perform(c, "GET", path, NULL, true, &status, err);
        c->sse = NULL;
        strbuf_free(&p.line);
        strbuf_free(&p.data);
        if (r < 0)
                return r;
        if (status >= 300) {
                json_t *doc = json_loadb(c->resp.data ? c->resp.data : "", c->resp.len, JSON_DECODE_ANY, NULL);
                status_error(c, status, doc, err);
                json_decref(doc);
        }
        *ret_status = status;
        *ret_stopped = p.stopped;
        return 0;
}

int client_query(strbuf *q, const char *name, const char *value) {
        char *esc = curl_easy_escape(NULL, value, 0);
        if (!esc)
                return -ENOMEM;
        int r = strbuf_printf(q, "%c%s=%s", q->len && strchr(strbuf_str(q), '?') ? '&' : '?', name, esc);
        curl_free(esc);
        return r < 0 ? -ENOMEM : 0;
}
