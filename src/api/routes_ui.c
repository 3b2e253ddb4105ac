/* routes_ui: the web UI's files (see routes_ui.h). */
#include "api/routes_ui.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/assets.h"

const ui_asset *routes_ui_find(const char *name) {
        for (size_t i = 0; i < ui_assets_len; i++)
                if (!strcmp(ui_assets[i].name, name))
                        return &ui_assets[i];
        return NULL;
}

/* One coding of an Accept-Encoding list ("gzip;q=0.5"): its name is want (or "*")
 * and its q is not zero. */
static bool coding_takes(const char *p, size_t n, const char *want) {
        size_t name = 0;
        while (name < n && p[name] != ';' && p[name] != ' ' && p[name] != '\t')
                name++;
        if (!((name == strlen(want) && !strncasecmp(p, want, name)) || (name == 1 && p[0] == '*')))
                return false;
        for (size_t i = name; i + 1 < n; i++) {
                if ((p[i] == 'q' || p[i] == 'Q') && p[i + 1] == '=') {
                        const char *v = p + i + 2;
                        size_t left = n - i - 2;
                        /* q=0, q=0., q=0.0, q=0.00, q=0.000: refused */
                        if (left == 0 || v[0] != '0')
                                return true;
                        for (size_t k = 1; k < left; k++)
                                if (v[k] != '.' && v[k] != '0' && v[k] != ' ')
                                        return true;
                        return false;
                }
        }
        return true;
}

bool routes_ui_takes_gzip(const char *ae) {
        if (!ae)
                return false;
        for (const char *p = ae; *p;) {
                p += strspn(p, " \t,");
                size_t n = strcspn(p, ",");
                if (n && coding_takes(p, n, "gzip"))
                        return true;
                p += n;
        }
        return false;
}

static void reply_asset(http_req *req, const ui_asset *a) {
        http_add_header(req, "Vary", "Accept-Encoding");
        const char *cache = a->immutable ? "public, max-age=31536000, immutable" : NULL;
        if (a->gz && routes_ui_takes_gzip(http_header(req, "Accept-Encoding"))) {
                http_add_header(req, "Content-Encoding", "gzip");
                http_reply_static(req, a->content_type, a->gz, a->gz_len, a->etag_gz, cache);
                return;
        }
        http_reply_static(req, a->content_type, a->data, a->len, a->etag, cache);
}

static int h_index(http_req *req, void *ud) {
        (void) ud;
        const ui_asset *a = routes_ui_find("index.html");
        if (!a)
                return -1;
        reply_asset(req, a);
        return 0;
}

static int h_asset(http_req *req, void *ud) {
        (void) ud;
        const char *name = http_param(req, "file");
        /* index.html is the page at /; a name is looked up, never opened, so "..",
         * "%2e%2e" or "a%2fb" simply name nothing */
        const ui_asset *a = name && strcmp(name, "index.html") ? routes_ui_find(name) : NULL;
        if (!a) {
                http_reply_problem(req, 404, "file", "no such file of the web UI");
                return 0;
        }
        reply_asset(req, a);
        return 0;
}

static const http_route_def routes[] = {
        {"GET", "/", HTTP_PUBLIC, h_index, .args = NULL},
        {"GET", "/ui/{file}", HTTP_PUBLIC, h_asset, .args = NULL},
};

int routes_ui_register(http_server *s, api_ctx *ctx, sked_err *err) {
        return api_route_table(s, routes, sizeof routes / sizeof routes[0], ctx, err);
}
