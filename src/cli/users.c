/* sked user, sked token: accounts and their API tokens (docs/security.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/common.h"

static const char user_usage[] =
        "usage: sked user [list] [--json]\n"
        "       sked user add NAME --role admin|operator|viewer [--display-name TEXT] [--tz ZONE] [--password-stdin]\n"
        "       sked user set NAME [--role ROLE] [--display-name TEXT] [--tz ZONE]\n"
        "       sked user passwd NAME [--password-stdin] [--current]\n"
        "       sked user disable NAME\n"
        "       sked user enable NAME\n"
        "       sked user totp enrol|confirm|disable|recovery-codes NAME\n"
        "       sked user totp-require [ROLE...] [--none]\n"
        "       sked user grants NAME [--type TYPE]... [--feature FEATURE]... [--none]\n";

static int user_list(const cli_noun *n, int argc, char **argv);
static int user_add(const cli_noun *n, int argc, char **argv);
static int user_passwd(const cli_noun *n, int argc, char **argv);
static int user_switch(const cli_noun *n, int argc, char **argv);
static int user_grants(const cli_noun *n, int argc, char **argv);
static int user_totp(const cli_noun *n, int argc, char **argv);
static int user_totp_require(const cli_noun *n, int argc, char **argv);

static const cli_verb user_verbs[] = {
        {"list", 0, 0, VERB_DEFAULT, user_list, NULL},
        {"add", 1, 1, 0, user_add, "one user NAME"},
        {"set", 1, 1, 0, user_add, "one user NAME"},
        {"passwd", 1, 1, 0, user_passwd, "one user NAME"},
        {"disable", 1, 1, 0, user_switch, "one user NAME"},
        {"enable", 1, 1, 0, user_switch, "one user NAME"},
        {"totp", 2, 2, 0, user_totp, "enrol, confirm, disable or recovery-codes, and one user NAME"},
        {"totp-require", 0, 3, 0, user_totp_require,
         "the roles (admin, operator, viewer) that must have a second factor"},
        {"grants", 1, 1, 0, user_grants, "one user NAME"},
};

static const cli_noun user_noun = {"user", user_usage, user_verbs, sizeof user_verbs / sizeof user_verbs[0]};

static const cli_verb *verb_of(const cli_verb *v, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (!strcmp(v[i].name, name))
                        return &v[i];
        return &v[0];
}

static int user_list(const cli_noun *n, int argc, char **argv) {
        static const char *const h[] = {"NAME", "ROLE", "DISPLAY NAME", "TZ", "DISABLED", "MUST CHANGE"};
        static const char *const k[] = {"name", "role", "display_name", "tz", "disabled", "must_change_password"};
        cli_common c = {0};
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &user_verbs[0], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        return cli_list(&c, "/api/v1/users", h, k, 6, NULL);
}

/* One line of stdin, or a prompt without echo on a terminal; NULL at EOF. */
static char *read_secret(const char *prompt, char *buf, size_t len) {
        bool tty = isatty(STDIN_FILENO);
        struct termios old, quiet;
        if (tty) {
                fprintf(stderr, "%s", prompt);
                tcgetattr(STDIN_FILENO, &old);
                quiet = old;
                quiet.c_lflag &= ~(tcflag_t) ECHO;
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
        char *s = fgets(buf, (int) len, stdin);
        if (tty) {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
                fprintf(stderr, "\n");
        }
        if (s)
                s[strcspn(s, "\r\n")] = '\0';
        return s;
}

enum { O_ROLE = 1, O_DISPLAY, O_TZ, O_PWSTDIN, O_CURRENT, O_USER, O_EXPIRES, O_ALL, O_REVOKED, O_NONE };

typedef struct user_opts {
        const char *role, *display, *tz, *user, *expires;
        bool pw_stdin, current, all, revoked, none;
} user_opts;

static int on_user_opt(int opt, const char *arg, void *ud) {
        user_opts *o = ud;
        switch (opt) {
        case O_ROLE:
                o->role = arg;
                break;
        case O_DISPLAY:
                o->display = arg;
                break;
        case O_TZ:
                o->tz = arg;
                break;
        case O_PWSTDIN:
                o->pw_stdin = true;
                break;
        case O_CURRENT:
                o->current = true;
                break;
        case O_USER:
                o->user = arg;
                break;
        case O_EXPIRES:
                o->expires = arg;
                break;
        case O_ALL:
                o->all = true;
                break;
        case O_REVOKED:
                o->revoked = true;
                break;
        case O_NONE:
                o->none = true;
                break;
        }
        return 0;
}

static void print_user(const cli_common *c, json_t *reply, const char *what) {
        if (c->json)
                cli_print_json(reply);
        else
                printf("user %s %s (%s)\n", json_string_value(json_object_get(reply, "name")), what,
                       json_string_value(json_object_get(reply, "role")));
}

/* add and set */
static int user_add(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {{"role", required_argument, NULL, O_ROLE},
                                             {"display-name", required_argument, NULL, O_DISPLAY},
                                             {"tz", required_argument, NULL, O_TZ},
                                             {"password-stdin", no_argument, NULL, O_PWSTDIN},
                                             {0}};
        const cli_verb *v = verb_of(user_verbs, sizeof user_verbs / sizeof user_verbs[0], argv[0]);
        bool add = !strcmp(v->name, "add");
        cli_common c = {0};
        user_opts o = {0};
        char **args, path[160], pw[512];
        int nargs, r;
        if ((r = cli_parse_opts(n, v, argc, argv, opts, on_user_opt, &o, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if (add && !o.role) {
                fprintf(stderr, "sked user add: --role is required (admin, operator or viewer)\n");
                return CLI_USAGE;
        }
        if (!add && o.pw_stdin) {
                fprintf(stderr, "sked user set: --password-stdin: use sked user passwd\n");
                return CLI_USAGE;
        }
        json_t *body = json_object(), *reply = NULL;
        if (add)
                json_object_set_new(body, "name", json_string(args[0]));
        if (o.role)
                json_object_set_new(body, "role", json_string(o.role));
        if (o.display)
                json_object_set_new(body, "display_name", json_string(o.display));
        if (o.tz)
                json_object_set_new(body, "tz", json_string(o.tz));
        if (o.pw_stdin || (add && isatty(STDIN_FILENO))) {
                if (!read_secret("password: ", pw, sizeof pw)) {
                        fprintf(stderr, "sked user add: no password on stdin\n");
                        json_decref(body);
                        return CLI_USAGE;
                }
                json_object_set_new(body, "password", json_string(pw));
                memset(pw, 0, sizeof pw);
        }
        if (add) {
                r = cli_call(&c, "POST", "/api/v1/users", body, &reply);
        } else {
                snprintf(path, sizeof path, "/api/v1/users/%s", args[0]);
                r = cli_call(&c, "PATCH", path, body, &reply);
        }
        if (r == 0)
                print_user(&c, reply, add ? "added" : "changed");
        json_decref(body);
        json_decref(reply);
        return r;
}

static int user_passwd(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"password-stdin", no_argument, NULL, O_PWSTDIN}, {"current", no_argument, NULL, O_CURRENT}, {0}};
        cli_common c = {0};
        user_opts o = {0};
        char **args, path[160], pw[512], cur[512];
        int nargs, r;
        if ((r = cli_parse_opts(n, &user_verbs[3], argc, argv, opts, on_user_opt, &o, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        json_t *body = json_object(), *reply = NULL;
        if (o.current) {
                if (!read_secret("current password: ", cur, sizeof cur)) {
                        fprintf(stderr, "sked user passwd: no current password on stdin\n");
                        json_decref(body);
                        return CLI_USAGE;
                }
                json_object_set_new(body, "current_password", json_string(cur));
                memset(cur, 0, sizeof cur);
        }
        if (!read_secret("new password: ", pw, sizeof pw)) {
                fprintf(stderr, "sked user passwd: no password on stdin\n");
                json_decref(body);
                return CLI_USAGE;
        }
        json_object_set_new(body, "password", json_string(pw));
        memset(pw, 0, sizeof pw);
        snprintf(path, sizeof path, "/api/v1/users/%s/password", args[0]);
        r = cli_call(&c, "POST", path, body, &reply);
        if (r == 0)
                print_user(&c, reply, "has a new password");
        json_decref(body);
        json_decref(reply);
        return r;
}

static int user_switch(const cli_noun *n, int argc, char **argv) {
        const cli_verb *v = verb_of(user_verbs, sizeof user_verbs / sizeof user_verbs[0], argv[0]);
        cli_common c = {0};
        char **args, path[160];
        int nargs, r;
        if ((r = cli_parse_opts(n, v, argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        snprintf(path, sizeof path, "/api/v1/users/%s/%s", args[0], v->name);
        json_t *reply = NULL;
        r = cli_call(&c, "POST", path, NULL, &reply);
        if (r == 0)
                print_user(&c, reply, !strcmp(v->name, "disable") ? "disabled (its tokens revoked)" : "enabled");
        json_decref(reply);
        return r;
}

/* sked user grants NAME: shows them; with --type/--feature (repeatable) or --none,
 * replaces them (PUT /api/v1/users/{name}/grants). */
enum { G_TYPE = 1, G_FEATURE, G_NONE };

typedef struct grant_args {
        json_t *types, *features;
        bool set;
} grant_args;

static int on_grant_opt(int opt, const char *arg, void *ud) {
        grant_args *g = ud;
        g->set = true;
        if (opt != G_NONE)
                json_array_append_new(opt == G_TYPE ? g->types : g->features, json_string(arg));
        return 0;
}

static void print_names(const char *what, json_t *a) {
        size_t i;
        json_t *x;
        printf("%s:", what);
        json_array_foreach(a, i, x) {
                printf(" %s", json_string_value(x));
        }
        printf("%s\n", json_array_size(a) ? "" : " none");
}

static int user_grants(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {{"type", required_argument, NULL, G_TYPE},
                                             {"feature", required_argument, NULL, G_FEATURE},
                                             {"none", no_argument, NULL, G_NONE},
                                             {0}};
        const cli_verb *v = verb_of(user_verbs, sizeof user_verbs / sizeof user_verbs[0], "grants");
        grant_args g = {.types = json_array(), .features = json_array()};
        cli_common c = {0};
        char **args, path[160];
        int nargs, r;
        if ((r = cli_parse_opts(n, v, argc, argv, opts, on_grant_opt, &g, &c, &args, &nargs)) != 0) {
                json_decref(g.types);
                json_decref(g.features);
                return cli_exit(r);
        }
        snprintf(path, sizeof path, "/api/v1/users/%s/grants", args[0]);
        json_t *body = g.set ? json_pack("{s:o, s:o}", "types", g.types, "features", g.features) : NULL, *reply = NULL;
        if (!g.set) {
                json_decref(g.types);
                json_decref(g.features);
        }
        r = cli_call(&c, g.set ? "PUT" : "GET", path, body, &reply);
        if (r == 0 && c.json) {
                cli_print_json(reply);
        } else if (r == 0) {
                printf("user %s may change, beside their own series, every series of\n", args[0]);
                print_names("  types", json_object_get(reply, "types"));
                print_names("  features", json_object_get(reply, "features"));
        }
        json_decref(body);
        json_decref(reply);
        return r;
}

/* Reads a secret (prompted on a terminal, else a line of stdin) into body[member]:
 * false (and says so) when there is none. */
static bool secret_member(json_t *body, const char *member, const char *prompt) {
        char buf[512];
        if (!read_secret(prompt, buf, sizeof buf)) {
                fprintf(stderr, "sked user totp: no %s on stdin\n", prompt);
                return false;
        }
        json_object_set_new(body, member, json_string(buf));
        memset(buf, 0, sizeof buf);
        return true;
}

/* True when stdin has a line to read (not at its end). */
static bool peek_line(void) {
        int ch = getc(stdin);
        if (ch == EOF)
                return false;
        ungetc(ch, stdin);
        return true;
}

/* sked user totp ACTION NAME: the second factor of one's own account (an admin's
 * disable of another's needs nothing more).  Secrets are read from the terminal
 * without echo, or one per line of stdin: the current password, then the code. */
static int user_totp(const cli_noun *n, int argc, char **argv) {
        static const char *const actions[] = {"enrol", "confirm", "disable", "recovery-codes"};
        cli_common c = {0};
        char **args, path[200];
        int nargs, r, a = -1;
        if ((r = cli_parse_opts(n, &user_verbs[6], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        for (int i = 0; i < 4; i++)
                if (!strcmp(args[0], actions[i]))
                        a = i;
        if (a < 0) {
                fprintf(stderr, "sked user totp: \"%s\": expected enrol, confirm, disable or recovery-codes\n%s",
                        args[0], user_usage);
                return CLI_USAGE;
        }
        json_t *body = json_object(), *reply = NULL;
        bool ok = true;
        if (a == 2 && !isatty(STDIN_FILENO) && !peek_line()) {
                /* an admin removing another's second factor: nothing to give */
                json_decref(body);
                body = NULL;
        } else {
                if (a != 1)
                        ok = secret_member(body, "current_password", "current password: ");
                if (ok && a != 0)
                        ok = secret_member(body, "code", a == 1 ? "code: " : "code (or a recovery code): ");
        }
        if (!ok) {
                json_decref(body);
                return CLI_USAGE;
        }
        snprintf(path, sizeof path, "/api/v1/users/%s/totp%s%s", args[1], a ? "/" : "", a ? actions[a] : "");
        r = cli_call(&c, "POST", path, body, &reply);
        json_decref(body);
        if (r == 0 && c.json) {
                cli_print_json(reply);
        } else if (r == 0 && a == 0) {
                printf("secret: %s\nuri: %s\n", json_string_value(json_object_get(reply, "secret")),
                       json_string_value(json_object_get(reply, "uri")));
                fprintf(stderr,
                        "add it to an authenticator app (it is shown this once), then: sked user totp confirm %s\n",
                        args[1]);
        } else if (r == 0 && a == 2) {
                printf("second factor of %s removed\n", args[1]);
        } else if (r == 0) {
                size_t i;
                json_t *x;
                json_array_foreach(json_object_get(reply, "recovery_codes"), i, x) {
                        printf("%s\n", json_string_value(x));
                }
                fprintf(stderr, "recovery codes of %s: each logs in once instead of a code; shown this once\n",
                        args[1]);
        }
        json_decref(reply);
        return r;
}

/* sked user totp-require [ROLE...] [--none]: shows or sets the roles whose web
 * sessions must have a second factor. */
static int user_totp_require(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {{"none", no_argument, NULL, O_NONE}, {0}};
        cli_common c = {0};
        user_opts o = {0};
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &user_verbs[7], argc, argv, opts, on_user_opt, &o, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if (o.none && nargs > 0) {
                fprintf(stderr, "sked user totp-require: --none or roles, not both\n");
                return CLI_USAGE;
        }
        json_t *reply = NULL;
        if (o.none || nargs > 0) {
                json_t *roles = json_array();
                for (int i = 0; i < nargs; i++)
                        json_array_append_new(roles, json_string(args[i]));
                json_t *body = json_pack("{s:o}", "required_roles", roles);
                r = cli_call(&c, "PUT", "/api/v1/totp-policy", body, &reply);
                json_decref(body);
        } else {
                r = cli_call(&c, "GET", "/api/v1/totp-policy", NULL, &reply);
        }
        if (r == 0 && c.json) {
                cli_print_json(reply);
        } else if (r == 0) {
                json_t *roles = json_object_get(reply, "required_roles");
                size_t i;
                json_t *x;
                printf("second factor required of: %s", json_array_size(roles) ? "" : "nobody");
                json_array_foreach(roles, i, x) {
                        printf("%s%s", i ? ", " : "", json_string_value(x));
                }
                printf("\n");
        }
        json_decref(reply);
        return r;
}

int cli_user(int argc, char **argv) {
        return cli_noun_run(&user_noun, argc, argv);
}

/* ---- tokens ---- */

static const char token_usage[] = "usage: sked token [list] [--all] [--revoked] [--json]\n"
                                  "       sked token create NAME [--user USER] [--expires YYYY-MM-DDTHH:MM:SSZ]\n"
                                  "       sked token revoke ID\n";

static int token_list(const cli_noun *n, int argc, char **argv);
static int token_create(const cli_noun *n, int argc, char **argv);
static int token_revoke(const cli_noun *n, int argc, char **argv);

static const cli_verb token_verbs[] = {
        {"list", 0, 0, VERB_DEFAULT, token_list, NULL},
        {"create", 1, 1, 0, token_create, "one token NAME (what it is for)"},
        {"revoke", 1, 1, 0, token_revoke, "one token ID"},
};

static const cli_noun token_noun = {"token", token_usage, token_verbs, sizeof token_verbs / sizeof token_verbs[0]};

static int token_list(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"all", no_argument, NULL, O_ALL}, {"revoked", no_argument, NULL, O_REVOKED}, {0}};
        static const char *const h[] = {"ID", "USER", "NAME", "CREATED", "EXPIRES", "LAST USED", "REVOKED"};
        static const char *const k[] = {"id", "user", "name", "created_at", "expires_at", "last_used_at", "revoked_at"};
        cli_common c = {0};
        user_opts o = {0};
        char **args, path[80];
        int nargs, r;
        if ((r = cli_parse_opts(n, &token_verbs[0], argc, argv, opts, on_user_opt, &o, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        snprintf(path, sizeof path, "/api/v1/tokens%s%s%s", o.all || o.revoked ? "?" : "", o.all ? "all=true" : "",
                 o.revoked ? (o.all ? "&revoked=true" : "revoked=true") : "");
        return cli_list(&c, path, h, k, 7, NULL);
}

static int token_create(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"user", required_argument, NULL, O_USER}, {"expires", required_argument, NULL, O_EXPIRES}, {0}};
        cli_common c = {0};
        user_opts o = {0};
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &token_verbs[1], argc, argv, opts, on_user_opt, &o, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        json_t *body = json_pack("{s:s}", "name", args[0]), *reply = NULL;
        if (o.user)
                json_object_set_new(body, "user", json_string(o.user));
        if (o.expires)
                json_object_set_new(body, "expires_at", json_string(o.expires));
        r = cli_call(&c, "POST", "/api/v1/tokens", body, &reply);
        if (r == 0) {
                if (c.json) {
                        cli_print_json(reply);
                } else {
                        printf("%s\n", json_string_value(json_object_get(reply, "token")));
                        fprintf(stderr,
                                "token %lld of user %s created; it is shown this once (the server keeps only its "
                                "hash)\n",
                                (long long) json_integer_value(json_object_get(reply, "id")),
                                json_string_value(json_object_get(reply, "user")));
                }
        }
        json_decref(body);
        json_decref(reply);
        return r;
}

static int token_revoke(const cli_noun *n, int argc, char **argv) {
        cli_common c = {0};
        char **args, path[80];
        int nargs, r;
        if ((r = cli_parse_opts(n, &token_verbs[2], argc, argv, NULL, NULL, NULL, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        if (cli_id_path(path, sizeof path, "/api/v1/tokens/%s", args[0]) < 0)
                return CLI_USAGE;
        r = cli_call(&c, "DELETE", path, NULL, NULL);
        if (r == 0 && !c.json)
                printf("token %s revoked\n", args[0]);
        else if (r == 0)
                printf("{}\n");
        return r;
}

int cli_token(int argc, char **argv) {
        return cli_noun_run(&token_noun, argc, argv);
}

/* ---- the audit log ---- */

static const char audit_usage[] = "usage: sked audit [list] [--actor USER] [--path PREFIX] [--method METHOD]\n"
                                  "                  [--since INSTANT] [--until INSTANT] [--before ID] [--limit N] "
                                  "[--json]\n";

static int audit_list(const cli_noun *n, int argc, char **argv);

static const cli_verb audit_verbs[] = {
        {"list", 0, 0, VERB_DEFAULT, audit_list, NULL},
};

static const cli_noun audit_noun = {"audit", audit_usage, audit_verbs, 1};

enum { A_ACTOR = 1, A_PATH, A_METHOD, A_SINCE, A_UNTIL, A_BEFORE, A_LIMIT };

typedef struct audit_args {
        const char *v[A_LIMIT + 1];
} audit_args;

static int on_audit_opt(int opt, const char *arg, void *ud) {
        audit_args *a = ud;
        if (opt >= A_ACTOR && opt <= A_LIMIT)
                a->v[opt] = arg;
        return 0;
}

static int audit_list(const cli_noun *n, int argc, char **argv) {
        static const struct option opts[] = {
                {"actor", required_argument, NULL, A_ACTOR},   {"path", required_argument, NULL, A_PATH},
                {"method", required_argument, NULL, A_METHOD}, {"since", required_argument, NULL, A_SINCE},
                {"until", required_argument, NULL, A_UNTIL},   {"before", required_argument, NULL, A_BEFORE},
                {"limit", required_argument, NULL, A_LIMIT},   {0}};
        static const char *const names[] = {NULL, "actor", "path", "method", "since", "until", "before", "limit"};
        static const char *const h[] = {"ID", "AT", "ACTOR", "VIA", "FROM", "METHOD", "PATH", "CHANGE"};
        static const char *const k[] = {"id", "at", "actor", "via", "addr", "method", "path", "change"};
        audit_args a = {0};
        cli_common c = {0};
        strbuf q = STRBUF_INIT;
        char **args;
        int nargs, r;
        if ((r = cli_parse_opts(n, &audit_verbs[0], argc, argv, opts, on_audit_opt, &a, &c, &args, &nargs)) != 0)
                return cli_exit(r);
        strbuf_printf(&q, "/api/v1/audit?limit=%s", a.v[A_LIMIT] ? a.v[A_LIMIT] : "50");
        for (int i = A_ACTOR; i < A_LIMIT; i++)
                if (a.v[i])
                        client_query(&q, names[i], a.v[i]);
        if (q.oom) {
                fprintf(stderr, "sked: out of memory\n");
                strbuf_free(&q);
                return CLI_FAILED;
        }
        cli_list_opts lo = {.more = "--before", .fit = cli_terminal_width()};
        r = cli_list(&c, strbuf_str(&q), h, k, 8, &lo);
        strbuf_free(&q);
        return r;
}

int cli_audit(int argc, char **argv) {
        return cli_noun_run(&audit_noun, argc, argv);
}
