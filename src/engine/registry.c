/* registry: process types (registration, refresh from the store), features, plug-ins. */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine_internal.h"

static const type_entry *find_type(engine *e, const char *name) {
        const type_entry *found = NULL;
        pthread_rwlock_rdlock(&e->reg.types_lock);
        for (type_entry *t = e->reg.types; t; t = t->next)
                if (!t->retired && !strcmp(t->t->name, name)) {
                        found = t;
                        break;
                }
        pthread_rwlock_unlock(&e->reg.types_lock);
        return found;
}

void registry_features_off_free(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* Reloads which features are disabled (a change may come from another node). */
int registry_features_refresh(engine *e, store *st, sked_err *err) {
        json_t *list = NULL;
        int r = store_features_list(st, &list, err);
        if (r < 0)
                return r;
        char **off = calloc(json_array_size(list) + 1, sizeof *off);
        size_t n = 0, i;
        json_t *f;
        json_array_foreach(list, i, f) {
                if (off && !json_is_true(json_object_get(f, "enabled")))
                        off[n++] = strdup(json_string_value(json_object_get(f, "name")));
        }
        json_decref(list);
        if (!off)
                return err_set(err, -ENOMEM, "out of memory");
        pthread_rwlock_wrlock(&e->reg.types_lock);
        char **old = e->reg.features_off;
        size_t nold = e->reg.nfeatures_off;
        e->reg.features_off = off;
        e->reg.nfeatures_off = n;
        pthread_rwlock_unlock(&e->reg.types_lock);
        registry_features_off_free(old, nold);
        return 0;
}

bool engine_type_off(engine *e, const type_entry *t) {
        if (!t || !t->t->feature)
                return false;
        bool off = false;
        pthread_rwlock_rdlock(&e->reg.types_lock);
        for (size_t i = 0; i < e->reg.nfeatures_off && !off; i++)
                off = !strcmp(e->reg.features_off[i], t->t->feature);
        pthread_rwlock_unlock(&e->reg.types_lock);
        return off;
}

bool engine_type_hidden(engine *e, const char *name) {
        return name && engine_type_off(e, find_type(e, name));
}

int engine_feature_set(engine *e, store *st, const char *name, bool enabled, const char *note, json_t **ret,
                       sked_err *err) {
        if (!name || !ptype_name_valid(name))
                return err_field(err, -EINVAL, "name", "expected a feature name like \"billing\" ([a-z][a-z0-9_.-]*)");
        if (note && strlen(note) > 1000)
                return err_field(err, -EINVAL, "note", "longer than 1000 characters");
        int64_t changed = 0;
        int r = store_begin(st, err);
        if (r == 0)
                r = store_feature_set(st, name, enabled, note, engine_now(e), &changed, err);
        if (r == 0)
                r = store_notify(st, err);
        r = store_end(st, r, err);
        if (r == 0)
                r = registry_features_refresh(e, st, err);
        if (r < 0)
                return r;
        engine_changed(e, st);
        json_t *list = NULL;
        if ((r = store_features_list(st, &list, err)) < 0)
                return r;
        size_t i;
        json_t *f;
        *ret = NULL;
        json_array_foreach(list, i, f) {
                if (!strcmp(json_string_value(json_object_get(f, "name")), name))
                        *ret = json_incref(f);
        }
        json_decref(list);
        if (*ret)
                json_object_set_new(*ret, "series_changed", json_integer(changed));
        return *ret ? 0 : err_set(err, -ENOMEM, "out of memory");
}

/* Brings the registry in line with the store: on a shared database other nodes
 * register and change types.  Entries are replaced, never edited; a plug-in
 * handler bound on this node stays bound. */
int registry_types_refresh(engine *e, store *st, sked_err *err) {
        json_t *defs = NULL;
        int r = store_type_list(st, &defs, err);
        if (r < 0)
                return r;
        size_t i;
        json_t *d;
        json_array_foreach(defs, i, d) {
                const char *name = json_string_value(json_object_get(d, "name"));
                const type_entry *old = name ? find_type(e, name) : NULL;
                if (!name || (old && json_equal(old->t->json, d)))
                        continue;
                ptype *t = NULL;
                sked_err e2 = {0};
                if (ptype_from_json(d, &t, &e2) < 0)
                        continue;
                type_entry *te = calloc(1, sizeof *te);
                if (!te) {
                        ptype_free(t);
                        break;
                }
                te->t = t;
                pthread_rwlock_wrlock(&e->reg.types_lock);
                for (type_entry *o = e->reg.types; o; o = o->next)
                        if (!o->retired && !strcmp(o->t->name, name)) {
                                o->retired = true;
                                te->fn = o->fn;
                                te->userdata = o->userdata;
                        }
                te->next = e->reg.types;
                e->reg.types = te;
                pthread_rwlock_unlock(&e->reg.types_lock);
                metrics_type_known(e, name);
        }
        /* deleted (DELETE /api/v1/types/{name}, maybe on another node): retired here too.
         * Only on the loop thread, whose connection sees its own turn's registrations
         * (another thread's would not, and would retire a type registered a moment ago). */
        pthread_rwlock_wrlock(&e->reg.types_lock);
        for (type_entry *o = writes_on_loop_thread(e) ? e->reg.types : NULL; o; o = o->next) {
                bool stored = false;
                json_array_foreach(defs, i, d) {
                        const char *name = json_string_value(json_object_get(d, "name"));
                        if (name && !strcmp(name, o->t->name))
                                stored = true;
                }
                if (!stored)
                        o->retired = true;
        }
        pthread_rwlock_unlock(&e->reg.types_lock);
        json_decref(defs);
        return registry_features_refresh(e, st, err);
}

const type_entry *engine_type_find(engine *e, const char *name) {
        const type_entry *found = find_type(e, name);
        if (!found && e->postgres && name) {
                /* registered by another node a moment ago? */
                store *st;
                sked_err err = {0};
                if (engine_thread_store(e, &st, &err) == 0 && registry_types_refresh(e, st, &err) == 0)
                        found = find_type(e, name);
        }
        return found;
}

json_t *engine_type_json(engine *e, const char *name) {
        const type_entry *t = engine_type_find(e, name);
        return t ? json_deep_copy(t->t->json) : NULL;
}

int registry_background_series(engine *e, store *st, const ptype *t, bool *ret_created, sked_err *err) {
        *ret_created = false;
        /* the definition is checked whether or not the series exists: a type whose
         * series could not be created is refused, never stored (a deleted series
         * would then fail every poller init) */
        json_t *in = json_deep_copy(t->series);
        json_object_set_new(in, "type", json_string(t->name));
        json_object_set_new(in, "title", json_string(t->title));
        json_object_set_new(in, "background", json_true());
        series_row row = {0}, cur = {0};
        int r = in ? series_build_row(e, in, true, &row, err) : err_set(err, -ENOMEM, "out of memory");
        json_decref(in);
        if (r < 0) {
                series_row_clear(&row);
                return err_prefix(err, "series");
        }
        /* an existing series stays as it is (admins may have edited it) */
        r = store_series_find_background(st, t->name, &cur, err);
        series_row_clear(&cur);
        if (r == -ENOENT && (r = engine_series_insert(e, st, &row, err)) == 0)
                *ret_created = true;
        series_row_clear(&row);
        return r;
}

/* A type registration as a write of the loop: validated by the caller. */
typedef struct register_ctx {
        ptype *t; /* taken by the registry on success */
        sked_handler fn;
        void *userdata;
} register_ctx;

static int register_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        register_ctx *c = ctx;
        ptype *t = c->t;
        char *text = json_dumps(t->json, JSON_COMPACT | JSON_SORT_KEYS);
        int r = text ? store_type_put(st, t->name, t->background, t->feature, text, engine_now(e), err)
                     : err_set(err, -ENOMEM, "out of memory");
        free(text);
        if (r < 0)
                return r;
        type_entry *te = calloc(1, sizeof *te);
        if (!te)
                return err_set(err, -ENOMEM, "out of memory");
        te->t = t;
        te->fn = c->fn;
        te->userdata = c->userdata;
        /* published before its background series is created (which looks the type up) */
        size_t nold = 0;
        type_entry *old[8];
        pthread_rwlock_wrlock(&e->reg.types_lock);
        for (type_entry *o = e->reg.types; o; o = o->next)
                if (!o->retired && !strcmp(o->t->name, t->name)) {
                        o->retired = true;
                        if (nold < sizeof old / sizeof old[0])
                                old[nold++] = o;
                }
        te->next = e->reg.types;
        e->reg.types = te;
        pthread_rwlock_unlock(&e->reg.types_lock);
        metrics_type_known(e, t->name);
        c->t = NULL;
        if (t->background) {
                bool created;
                if ((r = registry_background_series(e, st, t, &created, err)) < 0) {
                        /* the savepoint rolls the type back: so does the registry */
                        pthread_rwlock_wrlock(&e->reg.types_lock);
                        te->retired = true;
                        for (size_t i = 0; i < nold; i++)
                                old[i]->retired = false;
                        pthread_rwlock_unlock(&e->reg.types_lock);
                        return r;
                }
        }
        *ret_reply = json_deep_copy(t->json);
        engine_changed(e, st);
        return 0;
}

int engine_type_register(engine *e, json_t *def, sked_handler fn, void *userdata, json_t **ret_def, sked_err *err) {
        ptype *t = NULL;
        int r = ptype_from_json(def, &t, err);
        if (r < 0)
                return r;
        if (handler_of(t)->in_process && !fn) {
                /* a plug-in type registered through the API has no code behind it */
                const type_entry *old = engine_type_find(e, t->name);
                if (!old || !old->fn) {
                        ptype_free(t);
                        return err_field(err, -EINVAL, "handler",
                                         "a plugin handler can only be registered by a loaded plug-in; "
                                         "use {\"command\": [...]} for an external program");
                }
                fn = old->fn;
                userdata = old->userdata;
        }
        register_ctx c = {.t = t, .fn = fn, .userdata = userdata};
        json_t *reply = NULL;
        r = engine_write(e, register_apply, &c, &reply, err);
        ptype_free(c.t); /* NULL once the registry took it */
        if (r < 0)
                return r;
        if (ret_def)
                *ret_def = reply;
        else
                json_decref(reply);
        return 0;
}

/* A forced delete removes at most this many series in one request: each is a
 * retraction and a few deletes in the loop's turn. */
#define TYPE_DELETE_SERIES_MAX 10000

typedef struct delete_ctx {
        const char *name, *by;
        bool force;
        int64_t series, cancelled, stopping; /* out */
} delete_ctx;

static int delete_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        delete_ctx *c = ctx;
        (void) ret_reply;
        if (!find_type(e, c->name))
                return err_field(err, -ENOENT, "name", "\"%s\": no such process type", c->name);
        int64_t nseries = 0, nruns = 0;
        int r = store_type_usage(st, c->name, &nseries, &nruns, err);
        if (r < 0)
                return r;
        if (!c->force && (nseries || nruns))
                return err_field(err, -EEXIST, "force",
                                 "type \"%s\" has %lld series and %lld unfinished run(s): delete or wait for them, "
                                 "or force (?force=true) to delete its series and cancel its runs",
                                 c->name, (long long) nseries, (long long) nruns);
        if (nseries > TYPE_DELETE_SERIES_MAX)
                return err_field(err, -EEXIST, "force",
                                 "type \"%s\" has %lld series: a forced delete takes at most %d; delete some "
                                 "first",
                                 c->name, (long long) nseries, TYPE_DELETE_SERIES_MAX);
        int64_t *ids = NULL;
        size_t n = 0;
        if ((r = store_type_series(st, c->name, TYPE_DELETE_SERIES_MAX, &ids, &n, err)) < 0)
                return r;
        for (size_t i = 0; i < n && r == 0; i++)
                if ((r = engine_series_retract(e, st, ids[i], err)) == 0)
                        r = store_series_delete(st, ids[i], false, err);
        free(ids);
        ids = NULL;
        n = 0;
        if (r == 0)
                r = store_type_cancel_active(st, c->name, engine_now(e), c->by, "its type was deleted",
                                             RUN_CANCELLED_TEXT, &c->cancelled, &ids, &n, err);
        if (r == 0 && n)
                r = engine_cancel_later(e, ids, n, RUN_CANCEL_REQUEST);
        free(ids);
        if (r == 0)
                r = store_type_delete(st, c->name, err);
        if (r < 0)
                return r;
        c->series = (int64_t) nseries;
        c->stopping = (int64_t) n;
        pthread_rwlock_wrlock(&e->reg.types_lock);
        for (type_entry *o = e->reg.types; o; o = o->next)
                if (!strcmp(o->t->name, c->name))
                        o->retired = true;
        pthread_rwlock_unlock(&e->reg.types_lock);
        engine_changed(e, st);
        return 0;
}

int engine_type_delete(engine *e, const char *name, bool force, const char *by, json_t **ret, sked_err *err) {
        delete_ctx c = {.name = name, .by = by, .force = force};
        int r = engine_write(e, delete_apply, &c, NULL, err);
        if (r < 0)
                return r;
        *ret = json_pack("{s:s, s:I, s:I, s:I}", "name", name, "series_deleted", (json_int_t) c.series,
                         "runs_cancelled", (json_int_t) c.cancelled, "runs_stopping", (json_int_t) c.stopping);
        return *ret ? 0 : err_set(err, -ENOMEM, "out of memory");
}

int engine_load_plugin(engine *e, const char *path, sked_err *err) {
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return err_field(err, -ENOENT, "plugin", "%s: %s", path, dlerror());
        int (*init)(sked *) = (int (*)(sked *)) dlsym(h, "sked_plugin_init");
        if (!init) {
                dlclose(h);
                return err_field(err, -EINVAL, "plugin", "%s: does not export sked_plugin_init", path);
        }
        /* the public handle of an engine is the engine itself (see sked.c) */
        int r = init((sked *) e);
        if (r < 0) {
                dlclose(h);
                return err_field(err, r, "plugin", "%s: sked_plugin_init failed (%s)", path, strerror(-r));
        }
        void **p = realloc(e->reg.plugins, (e->reg.nplugins + 1) * sizeof *p);
        if (p) {
                e->reg.plugins = p;
                e->reg.plugins[e->reg.nplugins++] = h;
        }
        return 0;
}
