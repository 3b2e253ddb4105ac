/* engine: the loop (poller, dispatcher, single writer) and the worker pool. */
#include <dlfcn.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "engine/engine_internal.h"
#include "engine/run.h"
#include "engine/runlog.h"

#define PURGE_EVERY_US (60 * SKED_USEC)
#define PURGE_BATCH 1000       /* finished runs purged per type per turn */
#define RECOVER_EVERY_US (2 * SKED_USEC)
#define HEARTBEAT_EVERY_US (1 * SKED_USEC)
#define MAX_SLEEP_US (5 * SKED_USEC)
#define AHEAD_MAX 65536         /* runs claimed ahead of their time, at most */

static sked_time real_clock(void *ud) {
        (void) ud;
        return time_now_real();
}

/* With a shared database, instants come from the database's clock: the local clock
 * plus an offset the loop measures every few seconds. */
sked_time engine_now(engine *e) {
        sked_time t = e->cfg.clock(e->cfg.clock_userdata);
        return e->cfg.clock == real_clock ? t + atomic_load(&e->clock_offset) : t;
}

static void sync_clock(engine *e) {
        sked_time db_now, before = time_now_real(), after;
        sked_err err = {0};
        if (!e->postgres || e->cfg.clock != real_clock || store_db_now(e->st, &db_now, &err) < 0)
                return;
        after = time_now_real();
        atomic_store(&e->clock_offset, db_now - (before + after) / 2);
}

const char *engine_node(const engine *e) {
        return e->node;
}

static void store_key_destroy(void *p) {
        /* connections are owned by the engine's list; nothing to do per thread */
        (void) p;
}

static int features_refresh(engine *e, store *st, sked_err *err);

int engine_new(const engine_config *cfg, engine **ret, sked_err *err) {
        engine *e = calloc(1, sizeof *e);
        if (!e)
                return err_set(err, -ENOMEM, "out of memory");
        e->cfg = *cfg;
        if (!e->cfg.clock)
                e->cfg.clock = real_clock;
        if (!e->cfg.workers)
                e->cfg.workers = 4;
        if (e->cfg.workers > 1024)
                e->cfg.workers = 1024;
        if (!e->cfg.lease_ms)
                e->cfg.lease_ms = 30000;
        if (!e->cfg.late_after_ms)
                e->cfg.late_after_ms = 60000;
        if (!e->cfg.lookahead_ms)
                e->cfg.lookahead_ms = cfg->clock ? -1 : 2000;
        e->ahead = e->cfg.lookahead_ms > 0 ? e->cfg.lookahead_ms * 1000 : 0;
        e->scache.free_value = series_plan_free;
        char host[64] = "localhost";
        gethostname(host, sizeof host - 1);
        e->node = strdup(cfg->node ? cfg->node : host);
        e->handler_us = 5000; /* unknown yet: a middling look-ahead until runs finish */
        e->store_uri = strdup(cfg->store_uri);
        pthread_mutex_init(&e->lock, NULL);
        pthread_mutex_init(&e->conns_lock, NULL);
        pthread_cond_init(&e->loop_cv, NULL);
        pthread_cond_init(&e->work_cv, NULL);
        pthread_cond_init(&e->ckpt_cv, NULL);
        pthread_mutex_init(&e->ckpt_pass, NULL);
        pthread_cond_init(&e->idle_cv, NULL);
        pthread_cond_init(&e->commit_cv, NULL);
        pthread_rwlock_init(&e->types_lock, NULL);
        pthread_key_create(&e->store_key, store_key_destroy);
        pthread_mutex_init(&e->plans_lock, NULL);
        e->api_plans.free_value = series_plan_free;
        int r = store_open(e->store_uri, &e->st, err);
        if (r < 0) {
                engine_free(e);
                return r;
        }
        e->postgres = store_is_postgres(e->st);
        sync_clock(e);
        /* load stored types; plug-in types get their handlers when the plug-in registers */
        json_t *defs = NULL;
        if ((r = store_type_list(e->st, &defs, err)) < 0) {
                engine_free(e);
                return r;
        }
        size_t i;
        json_t *d;
        json_array_foreach(defs, i, d) {
                ptype *t = NULL;
                sked_err e2 = {0};
                if (ptype_from_json(d, &t, &e2) < 0) {
                        log_warning("stored type %s no longer validates: %s",
                                    json_string_value(json_object_get(d, "name")), e2.msg);
                        continue;
                }
                type_entry *te = calloc(1, sizeof *te);
                te->t = t;
                te->next = e->types;
                e->types = te;
        }
        json_decref(defs);
        /* which features are off: their runs wait, their types are hidden */
        if ((r = features_refresh(e, e->st, err)) < 0) {
                engine_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

int engine_thread_store(engine *e, store **ret, sked_err *err) {
        store *s = pthread_getspecific(e->store_key);
        if (s) {
                *ret = s;
                return 0;
        }
        int r = store_open(e->store_uri, &s, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&e->conns_lock);
        store **p = realloc(e->conns, (e->nconns + 1) * sizeof *p);
        if (p) {
                e->conns = p;
                e->conns[e->nconns++] = s;
        }
        pthread_mutex_unlock(&e->conns_lock);
        if (!p) {
                store_close(s);
                return err_set(err, -ENOMEM, "out of memory");
        }
        pthread_setspecific(e->store_key, s);
        *ret = s;
        return 0;
}

void engine_wake(engine *e) {
        pthread_mutex_lock(&e->lock);
        e->wake = true;
        pthread_cond_signal(&e->loop_cv);
        pthread_mutex_unlock(&e->lock);
}

int engine_insert_runs(engine *e, store *st, const char *type, char *const *texts, size_t n, sked_time now,
                       int64_t *ids, sked_err *err) {
        int r = 0;
        for (size_t i = 0; i < n && r == 0; i++) {
                run_row run = {.type = (char *) type, .trigger = "manual", .params = texts[i], .attempt = 1,
                               .queued_at = now, .not_before = now};
                r = store_run_insert(st, &run, err);
                ids[i] = run.id;
                free(run.idem_key);
        }
        if (r == 0)
                r = store_notify(st, err); /* other nodes' workers may take them */
        (void) e;
        return r;
}

int engine_submit_runs(engine *e, enqueue_req *req) {
        pthread_mutex_lock(&e->lock);
        if (!e->started || e->draining || e->stopping) {
                pthread_mutex_unlock(&e->lock);
                return -ESHUTDOWN;
        }
        req->next = NULL;
        if (e->enq_tail)
                e->enq_tail->next = req;
        else
                e->enq_head = req;
        e->enq_tail = req;
        e->wake = true;
        pthread_cond_signal(&e->loop_cv);
        while (!req->done)
                pthread_cond_wait(&e->commit_cv, &e->lock);
        pthread_mutex_unlock(&e->lock);
        return req->result;
}

/* Answers the enqueue requests of a turn (committed: r == 0). */
static void enqueue_done(engine *e, enqueue_req *reqs, int r, const sked_err *err) {
        if (!reqs)
                return;
        pthread_mutex_lock(&e->lock);
        for (enqueue_req *q = reqs, *nx; q; q = nx) {
                nx = q->next;
                q->result = r;
                if (r < 0 && err)
                        q->err = *err;
                q->done = true;
        }
        pthread_cond_broadcast(&e->commit_cv);
        pthread_mutex_unlock(&e->lock);
}

void engine_changed(engine *e, store *st) {
        sked_err ignore = {0};
        store_notify(st, &ignore); /* best effort: the other nodes look again within 5 s anyway */
        engine_wake(e);
}

void engine_post(engine *e, event *ev) {
        pthread_mutex_lock(&e->lock);
        if (e->ev_tail)
                e->ev_tail->next = ev;
        else
                e->ev_head = ev;
        e->ev_tail = ev;
        e->wake = true;
        pthread_cond_signal(&e->loop_cv);
        pthread_mutex_unlock(&e->lock);
}

/* ---- types ---- */

static const type_entry *find_type(engine *e, const char *name) {
        const type_entry *found = NULL;
        pthread_rwlock_rdlock(&e->types_lock);
        for (type_entry *t = e->types; t; t = t->next)
                if (!t->retired && !strcmp(t->t->name, name)) {
                        found = t;
                        break;
                }
        pthread_rwlock_unlock(&e->types_lock);
        return found;
}

static void features_off_free(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* Reloads which features are disabled (a change may come from another node). */
static int features_refresh(engine *e, store *st, sked_err *err) {
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
        pthread_rwlock_wrlock(&e->types_lock);
        char **old = e->features_off;
        size_t nold = e->nfeatures_off;
        e->features_off = off;
        e->nfeatures_off = n;
        pthread_rwlock_unlock(&e->types_lock);
        features_off_free(old, nold);
        return 0;
}

bool engine_type_off(engine *e, const type_entry *t) {
        if (!t || !t->t->feature)
                return false;
        bool off = false;
        pthread_rwlock_rdlock(&e->types_lock);
        for (size_t i = 0; i < e->nfeatures_off && !off; i++)
                off = !strcmp(e->features_off[i], t->t->feature);
        pthread_rwlock_unlock(&e->types_lock);
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
                r = features_refresh(e, st, err);
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
static int types_refresh(engine *e, store *st, sked_err *err) {
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
                pthread_rwlock_wrlock(&e->types_lock);
                for (type_entry *o = e->types; o; o = o->next)
                        if (!o->retired && !strcmp(o->t->name, name)) {
                                o->retired = true;
                                te->fn = o->fn;
                                te->userdata = o->userdata;
                        }
                te->next = e->types;
                e->types = te;
                pthread_rwlock_unlock(&e->types_lock);
        }
        json_decref(defs);
        return features_refresh(e, st, err);
}

const type_entry *engine_type_find(engine *e, const char *name) {
        const type_entry *found = find_type(e, name);
        if (!found && e->postgres && name) {
                /* registered by another node a moment ago? */
                store *st;
                sked_err err = {0};
                if (engine_thread_store(e, &st, &err) == 0 && types_refresh(e, st, &err) == 0)
                        found = find_type(e, name);
        }
        return found;
}

json_t *engine_type_json(engine *e, const char *name) {
        const type_entry *t = engine_type_find(e, name);
        return t ? json_deep_copy(t->t->json) : NULL;
}

static int register_background_series(engine *e, store *st, const ptype *t, bool *ret_created,
                                      sked_err *err) {
        series_row cur = {0};
        int r = store_series_find_background(st, t->name, &cur, err);
        series_row_clear(&cur);
        *ret_created = false;
        if (r == 0 || r != -ENOENT)
                return r;
        json_t *in = json_deep_copy(t->series);
        json_object_set_new(in, "type", json_string(t->name));
        json_object_set_new(in, "title", json_string(t->title));
        json_object_set_new(in, "background", json_true());
        series_row row = {0};
        r = series_create(e, st, in, true, &row, err);
        json_decref(in);
        series_row_clear(&row);
        if (r < 0)
                return err_prefix(err, "series");
        *ret_created = true;
        return 0;
}

int engine_type_register(engine *e, json_t *def, sked_handler fn, void *userdata, json_t **ret_def,
                         sked_err *err) {
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
        store *st;
        if ((r = engine_thread_store(e, &st, err)) < 0) {
                ptype_free(t);
                return r;
        }
        char *text = json_dumps(t->json, JSON_COMPACT | JSON_SORT_KEYS);
        if ((r = store_begin(st, err)) < 0)
                goto fail;
        if ((r = store_type_put(st, t->name, t->background, t->feature, text, engine_now(e), err)) < 0) {
                store_rollback(st);
                goto fail;
        }
        if ((r = store_commit(st, err)) < 0)
                goto fail;

        type_entry *te = calloc(1, sizeof *te);
        te->t = t;
        te->fn = fn;
        te->userdata = userdata;
        pthread_rwlock_wrlock(&e->types_lock);
        for (type_entry *o = e->types; o; o = o->next)
                if (!o->retired && !strcmp(o->t->name, t->name))
                        o->retired = true;
        te->next = e->types;
        e->types = te;
        pthread_rwlock_unlock(&e->types_lock);
        t = NULL;

        if (te->t->background) {
                bool created;
                if ((r = register_background_series(e, st, te->t, &created, err)) < 0)
                        goto fail;
        }
        if (ret_def)
                *ret_def = json_deep_copy(te->t->json);
        free(text);
        engine_changed(e, st);
        return 0;
fail:
        free(text);
        ptype_free(t);
        return r;
}

int engine_poller_init(engine *e, int *ret_registered, sked_err *err) {
        store *st;
        int r = engine_thread_store(e, &st, err), n = 0;
        if (r < 0)
                return r;
        pthread_rwlock_rdlock(&e->types_lock);
        size_t count = 0;
        for (type_entry *t = e->types; t; t = t->next)
                count++;
        const ptype **list = calloc(count + 1, sizeof *list);
        count = 0;
        for (type_entry *t = e->types; t; t = t->next)
                if (!t->retired && t->t->background)
                        list[count++] = t->t;
        pthread_rwlock_unlock(&e->types_lock);
        for (size_t i = 0; i < count && r >= 0; i++) {
                bool created = false;
                r = register_background_series(e, st, list[i], &created, err);
                n += created;
        }
        free(list);
        if (r < 0)
                return r;
        pthread_mutex_lock(&e->lock);
        e->health.initialized_at = engine_now(e);
        pthread_mutex_unlock(&e->lock);
        engine_wake(e);
        if (ret_registered)
                *ret_registered = n;
        return 0;
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
        void **p = realloc(e->plugins, (e->nplugins + 1) * sizeof *p);
        if (p) {
                e->plugins = p;
                e->plugins[e->nplugins++] = h;
        }
        return 0;
}

/* ---- the loop ---- */

static int64_t backoff_us(const ptype *t, int64_t attempt) {
        double b = (double) t->retry.initial_backoff_ms;
        for (int64_t i = 1; i < attempt && b < (double) t->retry.max_backoff_ms; i++)
                b *= t->retry.multiplier;
        if (b > (double) t->retry.max_backoff_ms)
                b = (double) t->retry.max_backoff_ms;
        return (int64_t) b * 1000;
}

/* Queues the next attempt of `run` (retry after failure or recovery after a lost lease). */
static int requeue(engine *e, const run_row *run, const char *trigger, sked_time not_before, sked_time now,
                   int64_t *ret_id, sked_err *err) {
        run_row next = {
                .series_id = run->series_id,
                .has_nominal = run->has_nominal,
                .nominal = run->nominal,
                .type = run->type,
                .trigger = (char *) trigger,
                .params = run->params,
                .query = run->query,
                .attempt = run->attempt + 1,
                .queued_at = now,
                .not_before = not_before,
                .idem_key = run_next_idem_key(run), /* one-off runs keep their first key */
        };
        int r = store_run_insert(e->st, &next, err);
        free(next.idem_key);
        if (r == 0)
                r = store_notify(e->st, err);
        if (r == 0)
                *ret_id = next.id;
        return r;
}

static int max_attempts_of(engine *e, const char *type) {
        const type_entry *t = engine_type_find(e, type);
        return t ? t->t->retry.max_attempts : 1;
}

static int finish_job(engine *e, job *j, const event *ev, sked_time now, sked_err *err) {
        if (ev->outcome == OUT_UNSTARTED)
                return store_run_release(e->st, j->run.id, e->node, err);
        if (ev->outcome == OUT_RETRACTED)
                return 0;
        run_finish f = {
                .has_exit = ev->has_exit,
                .exit_code = ev->exit_code,
                .error = ev->text,
                .finished_at = now,
                .progress = j->progress,
                .n_info = j->n_info,
                .n_warning = j->n_warning,
                .n_error = j->n_error,
                .n_results = j->n_results,
        };
        int max = j->type ? j->type->t->retry.max_attempts : 1;
        bool again = false;
        const char *trigger = "retry";
        sked_time not_before = now;
        switch (ev->outcome) {
        case OUT_OK:
                f.state = "succeeded";
                f.progress = 100;
                break;
        case OUT_FAIL:
                f.state = "failed";
                break;
        case OUT_RETRY:
                f.state = "failed";
                again = j->run.attempt < max && j->type;
                if (again)
                        not_before = now + backoff_us(j->type->t, j->run.attempt);
                break;
        case OUT_LOST:
                /* interrupted by shutdown: the work was not finished, so it runs again,
                 * within the same bound as crash recovery */
                f.state = "lost";
                again = j->run.attempt < max + 5;
                trigger = "recovery";
                break;
        case OUT_UNSTARTED: /* released above */
        case OUT_RETRACTED:
                break;
        }
        if (atomic_load(&j->superseded) && ev->outcome != OUT_OK) {
                /* cancel_other: a newer occurrence of the series replaced it */
                f.state = "cancelled";
                f.error = "cancelled: superseded by a newer occurrence of its series (overlap policy cancel_other)";
                again = false;
        }
        runlog_end(j, ev, f.state, again);
        /* finish first, and only a run that is still ours: if this node lost its lease
         * and the poller recovered the run elsewhere, that attempt is the live one */
        int r = store_run_finish(e->st, j->run.id, &f, 0, err);
        if (r == -ESTALE) {
                log_warning("run %lld ended here after it was recovered elsewhere; its outcome (%s) is not recorded",
                            (long long) j->run.id, f.state);
                return 0;
        }
        if (r == 0 && j->type && j->type->t->concurrency > 0)
                r = store_notify(e->st, err); /* room for another run of this type, on any node */
        if (r < 0 || !again)
                return r;
        int64_t next = 0;
        if ((r = requeue(e, &j->run, trigger, not_before, now, &next, err)) < 0)
                return r;
        return store_run_set_next(e->st, j->run.id, next, err);
}

/* The inflight list is written by the loop only, under e->lock so that other
 * threads (status, stop, wait_idle) may read it. */
static void inflight_remove(engine *e, job *j) {
        pthread_mutex_lock(&e->lock);
        size_t i = j->inflight_ix;
        if (i < e->ninflight && e->inflight[i] == j) {
                job *last = e->inflight[--e->ninflight];
                e->inflight[i] = last;
                last->inflight_ix = i;
        }
        pthread_mutex_unlock(&e->lock);
}

static int inflight_add(engine *e, job *j) {
        int r = 0;
        pthread_mutex_lock(&e->lock);
        if (e->ninflight == e->capinflight) {
                size_t cap = e->capinflight ? e->capinflight * 2 : 16;
                job **p = realloc(e->inflight, cap * sizeof *p);
                if (p) {
                        e->inflight = p;
                        e->capinflight = cap;
                } else {
                        r = -ENOMEM;
                }
        }
        if (r == 0) {
                j->inflight_ix = e->ninflight;
                e->inflight[e->ninflight++] = j;
        }
        pthread_mutex_unlock(&e->lock);
        return r;
}

static void event_free(event *ev) {
        free(ev->text);
        free(ev->key);
        free(ev->status);
        free(ev->data);
        free(ev);
}

static int apply_events(engine *e, event *ev, sked_time now, sked_err *err) {
        static const char *levels[] = {"info", "warning", "error"};
        int r = 0;
        for (; ev && r >= 0; ev = ev->next) {
                switch (ev->kind) {
                case EV_MESSAGE:
                        r = store_message_add(e->st, ev->j->run.id, ev->seq, ev->at,
                                              levels[ev->level < 0 || ev->level > 2 ? 0 : ev->level], ev->text,
                                              err);
                        break;
                case EV_RESULT:
                        r = store_result_add(e->st, ev->j->run.id, ev->seq, ev->at, ev->key, ev->status,
                                             ev->data, err);
                        break;
                case EV_PROGRESS:
                        /* several in one turn: the last one is what counts */
                        if (!ev->next || ev->next->kind != EV_PROGRESS || ev->next->j != ev->j)
                                r = store_run_progress(e->st, ev->j->run.id, ev->level, err);
                        break;
                case EV_FINISH:
                        if (ev->outcome != OUT_UNSTARTED && ev->outcome != OUT_RETRACTED)
                                e->handler_us = 0.9 * e->handler_us + 0.1 * (double) ev->duration_us;
                        r = finish_job(e, ev->j, ev, now, err);
                        break;
                }
        }
        return r;
}

/* Whether one more run of type t may start.  The count comes from the database
 * (runs of every node; our own claims of this turn are already marked running
 * there), under a per-type lock held to the end of the transaction, so the limit
 * holds across nodes. */
static int type_has_room(engine *e, const type_entry *t, bool *ret, sked_err *err) {
        *ret = true;
        if (!t || t->t->concurrency <= 0)
                return 0;
        int64_t running = 0;
        int r = store_lock_type(e->st, t->t->name, err);
        if (r == 0)
                r = store_running_count(e->st, t->t->name, &running, err);
        if (r < 0)
                return r;
        *ret = running < t->t->concurrency;
        return 0;
}

/* Claims ready runs for idle workers; the jobs are handed out after the commit. */
/* Claims ready runs for the workers, some ahead of them, so that a worker finishing a
 * run finds the next one at once instead of waiting for the next turn, and one turn
 * (one flush) covers many runs.  How far ahead follows how long handlers take: deep
 * for sub-millisecond handlers (throughput), shallow for slow ones (a run should not
 * wait here while another node's workers are idle).  The leases of runs waiting here
 * are renewed like those running. */
static size_t claim_ahead(const engine *e) {
        if (e->handler_us < 1000)
                return 64;
        if (e->handler_us < 20000)
                return 8;
        return 1;
}

/* One claim: what was taken, in start order. */
typedef struct claim_state {
        job *head, **tail;
        size_t seen, taken;
        sked_time now, lease;
} claim_state;

/* Claims ready runs with not_before <= horizon after `last` in (not_before, id)
 * order, up to *slots of them.  Runs of a type at its concurrency limit are passed
 * over, page after page (a bounded number), so that a backlog of one type does not
 * hide the others. */
static int claim_pass(engine *e, claim_state *c, sked_time horizon, run_row *last, size_t *slots, sked_err *err) {
        int r = 0;
        for (int page = 0; page < 8 && *slots && r >= 0; page++) {
                run_row *rows = NULL;
                size_t n = 0;
                size_t want = *slots * 4 + 16;
                int limit = (int) (want < 4096 ? want : 4096);
                if ((r = store_runs_ready(e->st, horizon, last->id ? last : NULL, limit, &rows, &n, err)) < 0)
                        break;
                c->seen += n;
                if (n) {
                        last->not_before = rows[n - 1].not_before;
                        last->id = rows[n - 1].id;
                }
                for (size_t i = 0; i < n && *slots && r >= 0; i++) {
                        const type_entry *t = engine_type_find(e, rows[i].type);
                        sked_time start = rows[i].not_before > c->now ? rows[i].not_before : c->now;
                        if (start > c->now && t && t->t->concurrency > 0) {
                                if (!e->claim_wake || start < e->claim_wake)
                                        e->claim_wake = start; /* claimed when due */
                                continue;
                        }
                        bool room; /* (a disabled feature's runs were left out by the query) */
                        if ((r = type_has_room(e, t, &room, err)) < 0)
                                break;
                        if (!room)
                                continue;
                        if (rows[i].exclusive && rows[i].series_id) {
                                /* overlap policy: one run of the series at a time */
                                int64_t queued = 0, running = 0;
                                bool locked = false;
                                if ((r = store_lock_series(e->st, rows[i].series_id, &locked, err)) < 0)
                                        break;
                                if (!locked)
                                        continue; /* another node is claiming one of this series */
                                if ((r = store_series_active(e->st, rows[i].series_id, &queued, &running, err)) < 0)
                                        break;
                                if (running)
                                        continue;
                        }
                        if ((r = store_run_start(e->st, rows[i].id, e->node, start, c->lease, err)) == -ESTALE) {
                                r = 0;
                                continue;
                        }
                        if (r < 0)
                                break;
                        job *j = calloc(1, sizeof *j);
                        if (!j) {
                                r = err_set(err, -ENOMEM, "out of memory");
                                break;
                        }
                        j->e = e;
                        j->run = rows[i];
                        memset(&rows[i], 0, sizeof rows[i]);
                        j->run.started_at = j->start_at = start;
                        j->lease_until = c->lease;
                        j->type = t;
                        j->seq = 1;
                        if (inflight_add(e, j) < 0) {
                                job_free(j);
                                r = err_set(err, -ENOMEM, "out of memory");
                                break;
                        }
                        *c->tail = j;
                        c->tail = &j->next;
                        (*slots)--;
                        c->taken++;
                }
                run_rows_free(rows, n);
                if (n < (size_t) limit)
                        break;
        }
        return r;
}

/* How many runs due now the workers can take before the claims of the next turn
 * reach them: claim_ahead() each, or as many as they run in a turn's time when
 * turns are long.  (A loaded poller: at 1,000,000 series a turn takes about a
 * second, and when it falls behind, the runs it fires are already due; claimed 512
 * a turn, they piled up and it never caught up.) */
static size_t claim_depth(const engine *e) {
        double per_worker = (double) e->turn_us / (e->handler_us > 1 ? e->handler_us : 1);
        if (per_worker < (double) claim_ahead(e))
                per_worker = (double) claim_ahead(e);
        double depth = per_worker * e->nworkers;
        return depth < AHEAD_MAX ? (size_t) depth : AHEAD_MAX;
}

/* Claimed runs that hold a worker's place now: those running, and those waiting in
 * the work list that are due (the list is in start order).  Runs claimed ahead for
 * later do not: they must not keep the runs due now from being claimed.  Counted up
 * to `limit`. */
static size_t claimed_due(engine *e, sked_time now, size_t limit) {
        pthread_mutex_lock(&e->lock);
        size_t n = e->nbusy;
        for (const job *j = e->work_head; j && n < limit && j->start_at <= now; j = j->next)
                n++;
        pthread_mutex_unlock(&e->lock);
        return n;
}

/* Runs due within the look-ahead (e->ahead) are claimed too, in a second pass, and
 * handed to the workers to start at their not_before: the claim's writes and its
 * commit are then done before the run's time, not after it.  Except for types with
 * a concurrency limit: a run claimed ahead would count as running while it waits. */
static int claim(engine *e, sked_time now, job **ret_head, sked_err *err) {
        size_t cap = claim_depth(e), due = claimed_due(e, now, cap);
        size_t free_slots = cap > due ? cap - due : 0;
        /* runs due later within the look-ahead: as many as are due (bounded) */
        size_t ahead_slots = e->ahead && AHEAD_MAX > e->ninflight ? AHEAD_MAX - e->ninflight : 0;
        e->claim_blocked = false;
        e->claim_wake = 0;
        claim_state c = {.now = now, .lease = now + e->cfg.lease_ms * 1000};
        c.tail = &c.head;
        run_row last = {0};
        int r = claim_pass(e, &c, now, &last, &free_slots, err);
        if (r == 0 && ahead_slots) {
                last = (run_row){.not_before = now, .id = INT64_MAX}; /* after everything due now */
                r = claim_pass(e, &c, now + e->ahead, &last, &ahead_slots, err);
        }
        /* ready runs, none of them allowed now: wake for a finished run, not for these */
        e->claim_blocked = c.seen > 0 && c.taken == 0;
        *ret_head = c.head;
        return r;
}

static int recover_expired(engine *e, sked_time now, sked_time before, sked_err *err) {
        run_row *rows = NULL;
        size_t n = 0;
        int r = store_runs_expired(e->st, before, &rows, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                bool ours = false;
                for (size_t k = 0; k < e->ninflight; k++)
                        if (e->inflight[k]->run.id == rows[i].id)
                                ours = true;
                if (ours)
                        continue;
                /* a lost run is retried whatever the retry policy, within a hard bound */
                bool again = rows[i].attempt < max_attempts_of(e, rows[i].type) + 5;
                run_finish f = {.state = "lost", .finished_at = now,
                                .error = again ? "interrupted: its node stopped renewing the lease (crash?); "
                                                 "queued again as a new attempt"
                                               : "interrupted too many times; not retried"};
                /* only if it is still running with an expired lease: never recover twice */
                r = store_run_finish(e->st, rows[i].id, &f, before == SKED_TIME_MAX ? 0 : before, err);
                if (r == -ESTALE) {
                        r = 0;
                        continue;
                }
                int64_t next = 0;
                if (r >= 0 && again && (r = requeue(e, &rows[i], "recovery", now, now, &next, err)) >= 0)
                        r = store_run_set_next(e->st, rows[i].id, next, err);
                if (r >= 0)
                        log_warning("run %lld (%s) was interrupted; recovered as attempt %lld", (long long) rows[i].id,
                                    rows[i].type, (long long) rows[i].attempt + 1);
        }
        run_rows_free(rows, n);
        return r;
}

/* In-process handlers cannot be killed: past their type's timeout they are asked
 * to stop (sked_run_cancelled turns true) and their run fails as timed out.
 * Command handlers enforce their own timeout. */
static void expire_plugin_runs(engine *e, sked_time now) {
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < e->ninflight; i++) {
                job *j = e->inflight[i];
                sked_time began = atomic_load(&j->began);
                if (j->type && handler_of(j->type->t)->timeout == HANDLER_TIMEOUT_COOPERATIVE &&
                    j->type->t->timeout_ms > 0 && !j->timed_out && began &&
                    now - began > j->type->t->timeout_ms * 1000) {
                        j->timed_out = 1;
                        j->cancel = 1;
                }
        }
        pthread_mutex_unlock(&e->lock);
}

int engine_cancel_later(engine *e, const int64_t *run_ids, size_t n) {
        if (e->ncancel + n > e->capcancel) {
                size_t cap = (e->ncancel + n) * 2 + 8;
                int64_t *p = realloc(e->cancel_ids, cap * sizeof *p);
                if (!p)
                        return -ENOMEM;
                e->cancel_ids = p;
                e->capcancel = cap;
        }
        memcpy(e->cancel_ids + e->ncancel, run_ids, n * sizeof *run_ids);
        e->ncancel += n;
        return 0;
}

void engine_cancel_flush(engine *e, bool committed) {
        if (committed && e->ncancel)
                engine_cancel_local(e, e->cancel_ids, e->ncancel);
        e->ncancel = 0;
}

void engine_cancel_local(engine *e, const int64_t *run_ids, size_t n) {
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < e->ninflight; i++)
                for (size_t k = 0; k < n; k++)
                        if (e->inflight[i]->run.id == run_ids[k]) {
                                atomic_store(&e->inflight[i]->superseded, 1);
                                e->inflight[i]->cancel = 1;
                        }
        pthread_mutex_unlock(&e->lock);
}

/* A turn rolled back: what it renewed is not on disk; all is renewed next turn. */
static void leases_unknown(engine *e) {
        for (size_t i = 0; i < e->ninflight; i++)
                e->inflight[i]->lease_until = 0;
        e->last_renew = 0;
}

/* Every lease_ms/3, the leases with less than 2.5 periods left are renewed.  Those
 * written within the last half period, mostly claims, are left as they are: at
 * 1,000,000 series tens of thousands of runs are claimed ahead, and renewing each
 * every period was a write per run.  A renewal that is rolled back is forgotten
 * (leases_unknown). */
static int renew_leases(engine *e, sked_time now, sked_err *err) {
        if (!e->ninflight)
                return 0;
        int64_t *ids = malloc(e->ninflight * sizeof *ids);
        bool *cancel = calloc(e->ninflight, sizeof *cancel);
        if (!ids || !cancel) {
                free(ids);
                free(cancel);
                return err_set(err, -ENOMEM, "out of memory");
        }
        sked_time lease = now + e->cfg.lease_ms * 1000, soon = now + e->cfg.lease_ms * 1000 * 5 / 6;
        size_t n = 0;
        for (size_t i = 0; i < e->ninflight; i++)
                if (e->inflight[i]->lease_until < soon) {
                        e->inflight[i]->lease_until = lease;
                        ids[n++] = e->inflight[i]->run.id;
                }
        int r = n ? store_runs_renew(e->st, ids, n, lease, cancel, err) : 0;
        /* another node's cancel_other asked for some of ours to stop */
        size_t k = 0;
        for (size_t i = 0; r == 0 && i < n; i++)
                if (cancel[i])
                        ids[k++] = ids[i];
        if (r == 0 && k)
                engine_cancel_local(e, ids, k);
        free(ids);
        free(cancel);
        return r;
}

/* Retention: each type's finished runs older than its retention go, with their
 * messages and results, a bounded batch per type and turn. */
static int purge(engine *e, sked_time now, sked_err *err) {
        purge_counts c = {0};
        int r = 0;
        pthread_rwlock_rdlock(&e->types_lock);
        size_t n = 0;
        for (type_entry *t = e->types; t; t = t->next)
                n += !t->retired;
        const type_entry **list = calloc(n + 1, sizeof *list);
        n = 0;
        for (type_entry *t = e->types; list && t; t = t->next)
                if (!t->retired)
                        list[n++] = t;
        pthread_rwlock_unlock(&e->types_lock);
        if (!list)
                return err_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n && r >= 0; i++)
                r = store_purge(e->st, list[i]->t->name, now - list[i]->t->retention_ms * 1000, PURGE_BATCH, &c, err);
        free(list);
        if (r < 0)
                return r;
        e->health.purged_runs += c.runs;
        e->health.purged_messages += c.messages;
        e->health.purged_results += c.results;
        e->health.last_purge_at = now;
        if (c.runs || c.occurrences)
                log_info("retention: purged %lld runs, %lld messages, %lld results, %lld occurrence records",
                         (long long) c.runs, (long long) c.messages, (long long) c.results,
                         (long long) c.occurrences);
        return 0;
}

/* One turn of the loop; returns when it wants to run next (an instant). */
/* Hands claimed jobs (in start order) to the workers: the work list stays in
 * start order, so that a job claimed ahead of its time does not hold up those due
 * now.  Called with e->lock held. */
static void work_merge(engine *e, job *claimed) {
        if (!claimed)
                return; /* (most turns: the list may hold tens of thousands of jobs) */
        job *last = claimed;
        while (last->next)
                last = last->next;
        /* the merge below takes the work list's job first on equal starts */
        if (e->work_tail && e->work_tail->start_at > last->start_at)
                last = e->work_tail;
        job *head = NULL, **tail = &head, *a = e->work_head, *b = claimed;
        while (a && b) {
                job **take = b->start_at < a->start_at ? &b : &a;
                job *j = *take;
                *take = j->next;
                *tail = j;
                tail = &j->next;
        }
        *tail = a ? a : b;
        e->work_head = head;
        e->work_tail = last;
}

/* The WAL in frames (a page and its 24-byte header) past which the loop finishes
 * the checkpointer's work: once the checkpointer is close (WAL_GAP), or when the
 * WAL is too big (WAL_MAX) whatever the cost.  Left to grow, a WAL of gigabytes
 * made every page read search its index and every frame written a new block of
 * the file (measured at 1,000,000 series: 5 GB in a minute, and twice the CPU per
 * occurrence); even at 32,000 frames the poller needed 86 instead of 56 µs per
 * occurrence, and fell behind. */
#define WAL_RESTART 12000 /* about 47 MB, under journal_size_limit (64 MB) */
#define WAL_GAP 2048
#define WAL_MAX 24000

/* After a commit, with e->lock held.  (The checkpointer's figures are from before
 * the loop's last commits: what the loop copies here is those commits' pages.) */
static void wal_restart(engine *e) {
        if (!e->ckpt_started || e->wal_frames < WAL_RESTART ||
            (e->wal_frames - e->wal_copied > WAL_GAP && e->wal_frames < WAL_MAX) ||
            time_mono_usec() < e->wal_retry_at)
                return;
        pthread_mutex_unlock(&e->lock);
        int64_t frames = 0, copied = 0;
        sked_err err = {0};
        /* the only writer: nothing is added meanwhile, so it copies all unless a
         * reader holds old pages (then the next try).  After the checkpointer's pass,
         * not beside it: that one (SQLite's checkpoint lock) made this one give up at
         * once, and behind a WAL of 100,000 frames the checkpointer is always in a
         * pass: the WAL then never started again (measured: 370,000 frames in 20 s). */
        pthread_mutex_lock(&e->ckpt_pass);
        int r = store_checkpoint(e->st, &frames, &copied, &err);
        pthread_mutex_unlock(&e->ckpt_pass);
        pthread_mutex_lock(&e->lock);
        if (r < 0)
                log_warning("checkpoint: %s", err.msg);
        if (r == 0 && frames && copied == frames)
                e->wal_frames = e->wal_copied = 0;
        else /* a reader still uses old pages (a long API read?), or the checkpointer
              * was busy: not on every commit meanwhile, each costs an fsync */
                e->wal_retry_at = time_mono_usec() + 100000;
}

static int turn(engine *e, sked_time *ret_wake, sked_err *err) {
        event *events = NULL;
        enqueue_req *reqs = NULL;
        pthread_mutex_lock(&e->lock);
        bool draining = e->draining;
        pthread_mutex_unlock(&e->lock);

        if (e->postgres && (e->last_clock_sync == 0 || time_now_real() - e->last_clock_sync > 2 * SKED_USEC)) {
                sync_clock(e);
                types_refresh(e, e->st, err); /* best effort; an error shows in the turn below */
                e->last_clock_sync = time_now_real();
        }
        sked_time now = engine_now(e);
        int fired = 0;
        job *claimed = NULL;
        poller_health health_before = e->health; /* restored if the turn fails */
        bool role = false;
        int r = store_begin(e->st, err);
        if (r < 0)
                goto requeue_events;
        /* what workers reported up to now, including while BEGIN waited for the
         * write lock: a run that ended must not count as running (overlap policy) */
        pthread_mutex_lock(&e->lock);
        events = e->ev_head;
        e->ev_head = e->ev_tail = NULL;
        reqs = e->enq_head;
        e->enq_head = e->enq_tail = NULL;
        pthread_mutex_unlock(&e->lock);
        now = engine_now(e); /* BEGIN may have waited: fire what is due by now */
        /* after BEGIN: if BEGIN had to reconnect, the session (and its lock) is new */
        if ((r = store_poller_lease(e->st, &role, err)) < 0)
                goto rollback;
        if (role != e->poller_role && e->postgres)
                log_info("%s the poller role", role ? "took" : "lost");
        e->poller_role = role;
        if ((r = apply_events(e, events, now, err)) < 0)
                goto rollback;
        for (enqueue_req *q = reqs; q && r == 0; q = q->next)
                r = engine_insert_runs(e, e->st, q->type, q->texts, q->n, now, q->ids, err);
        if (r < 0)
                goto rollback;
        if (role && !draining && (r = engine_fire_due(e, now, &fired, err)) < 0)
                goto rollback;
        if (fired && (r = store_notify(e->st, err)) < 0) /* other nodes' workers may take them */
                goto rollback;
        if (role && (now - e->last_recover >= RECOVER_EVERY_US || now < e->last_recover)) {
                if ((r = recover_expired(e, now, now, err)) < 0)
                        goto rollback;
                e->last_recover = now;
        }
        expire_plugin_runs(e, now);
        if (now - e->last_renew >= e->cfg.lease_ms * 1000 / 3 || now < e->last_renew) {
                if ((r = renew_leases(e, now, err)) < 0)
                        goto rollback;
                e->last_renew = now;
        }
        if (!draining && (r = claim(e, now, &claimed, err)) < 0)
                goto rollback;
        sked_time next_due = 0, next_ready = 0;
        bool any_due = false, any_ready = false;
        if ((r = store_next_fire_at(e->st, now, e->ahead, &next_due, &any_due, err)) < 0 ||
            (r = store_next_ready_min(e->st, &next_ready, &any_ready, err)) < 0)
                goto rollback;
        if (now - e->last_heartbeat >= HEARTBEAT_EVERY_US || now < e->last_heartbeat) {
                node_row nr = {.started_at = e->started_at, .heartbeat_at = now, .workers = e->nworkers,
                               .running = (int64_t) e->ninflight, .pid = getpid()};
                snprintf(nr.name, sizeof nr.name, "%s", e->node);
                snprintf(nr.role, sizeof nr.role, "%s", role ? "poller" : "worker");
                snprintf(nr.version, sizeof nr.version, "%s", SKED_VERSION);
                if ((r = store_node_heartbeat(e->st, &nr, err)) < 0)
                        goto rollback;
        }
        if (role && (fired || now - e->last_heartbeat >= HEARTBEAT_EVERY_US || now < e->last_heartbeat)) {
                e->health.heartbeat_at = now;
                if (fired) {
                        e->health.last_fire_at = now;
                        e->health.last_batch = fired;
                        e->health.fired_total += fired;
                }
                /* when something is due (not when the poller looks) */
                e->health.next_due = next_due;
                e->health.has_next = any_due;
                if (e->ahead &&
                    (r = store_next_fire_at(e->st, now, 0, &e->health.next_due, &e->health.has_next, err)) < 0)
                        goto rollback;
                if ((r = store_poller_put(e->st, &e->health, err)) < 0)
                        goto rollback;
        }
        if (now - e->last_heartbeat >= HEARTBEAT_EVERY_US || now < e->last_heartbeat)
                e->last_heartbeat = now;
        if ((r = store_commit(e->st, err)) < 0)
                goto undo_claims;
        /* cancel_other: handlers are stopped once the decision is on disk */
        engine_cancel_flush(e, true);
        /* retention: its own transaction, so that a failing purge cannot hold up firing */
        if (role && !draining && (now - e->last_purge >= PURGE_EVERY_US || now < e->last_purge)) {
                sked_err perr = {0};
                poller_health before = e->health;
                int pr = store_begin(e->st, &perr);
                if (pr == 0 && (pr = purge(e, now, &perr)) == 0 && (pr = store_poller_put(e->st, &e->health, &perr)) == 0)
                        pr = store_commit(e->st, &perr);
                if (pr < 0) {
                        store_rollback(e->st);
                        e->health = before;
                        log_warning("retention: purge failed, retried in a minute: %s", perr.msg);
                }
                e->last_purge = now;
        }

        /* committed: events are done, enqueues acknowledged, claimed runs go to the workers */
        enqueue_done(e, reqs, 0, NULL);
        for (event *ev = events, *nx; ev; ev = nx) {
                nx = ev->next;
                if (ev->kind == EV_FINISH) {
                        inflight_remove(e, ev->j);
                        job_free(ev->j);
                }
                event_free(ev);
        }
        pthread_mutex_lock(&e->lock);
        e->commits++;
        pthread_cond_signal(&e->ckpt_cv);
        work_merge(e, claimed);
        if (claimed)
                pthread_cond_broadcast(&e->work_cv);
        wal_restart(e);
        e->idle = !(any_ready && next_ready <= now) && e->ninflight == 0 && !e->ev_head;
        e->turns++;
        if (e->idle || draining)
                pthread_cond_broadcast(&e->idle_cv);
        pthread_mutex_unlock(&e->lock);

        /* a node without the poller role looks for it every second, so that it takes
         * over promptly when the holder dies */
        sked_time wake = now + (role ? MAX_SLEEP_US : SKED_USEC);
        /* draining fires and claims nothing: due work must not wake it (it would spin) */
        if (role && !draining && any_due && next_due < wake)
                wake = next_due;
        /* ready runs are claimed `ahead` early (those passed over: when due) */
        size_t depth = claim_depth(e);
        bool room = claimed_due(e, now, depth) < depth ||
                    (next_ready > now && e->ahead && e->ninflight < AHEAD_MAX);
        if (!draining && !e->claim_blocked && any_ready && room && next_ready - e->ahead < wake)
                wake = next_ready - e->ahead;
        if (!draining && e->claim_wake && e->claim_wake < wake)
                wake = e->claim_wake;
        if (e->ninflight) {
                sked_time renew = e->last_renew + e->cfg.lease_ms * 1000 / 3;
                if (renew < wake)
                        wake = renew;
        }
        *ret_wake = wake;
        return 0;

rollback:
        store_rollback(e->st);
        e->health = health_before;
        leases_unknown(e);
undo_claims:
        engine_cancel_flush(e, false); /* nothing was decided */
        for (job *j = claimed, *nx; j; j = nx) {
                nx = j->next;
                inflight_remove(e, j);
                job_free(j);
        }
requeue_events:
        enqueue_done(e, reqs, r, err); /* nothing of theirs was written: the callers hear why */
        /* keep the events for the next turn: nothing a worker reported is dropped */
        if (events) {
                pthread_mutex_lock(&e->lock);
                event *last = events;
                while (last->next)
                        last = last->next;
                last->next = e->ev_head;
                e->ev_head = events;
                if (!e->ev_tail)
                        e->ev_tail = last;
                pthread_mutex_unlock(&e->lock);
        }
        *ret_wake = now + SKED_USEC;
        return r;
}

/* Once every worker has gone, runs claimed ahead that no worker took are released:
 * queued again as they were (for the next start, or another node).
 * Called with e->lock held. */
static void unlink_jobs(engine *e, const int64_t *ids, size_t n, enum run_outcome outcome) {
        job **link = &e->work_head, *last = NULL;
        while (*link) {
                job *j = *link;
                bool take = !ids;
                for (size_t i = 0; i < n && !take; i++)
                        take = ids[i] == j->run.id;
                if (!take) {
                        last = j;
                        link = &j->next;
                        continue;
                }
                *link = j->next;
                j->next = NULL;
                event *ev = calloc(1, sizeof *ev);
                if (!ev)
                        abort(); /* cannot record it: better a crash, recovered at the next start */
                ev->kind = EV_FINISH;
                ev->j = j;
                ev->outcome = outcome;
                if (e->ev_tail)
                        e->ev_tail->next = ev;
                else
                        e->ev_head = ev;
                e->ev_tail = ev;
        }
        e->work_tail = last;
}

static void release_unstarted(engine *e) {
        unlink_jobs(e, NULL, 0, OUT_UNSTARTED);
}

int engine_series_retract(engine *e, store *st, int64_t series_id, sked_err *err) {
        int64_t *ids = NULL;
        size_t n = 0;
        int r = store_series_retract(st, series_id, engine_now(e), &ids, &n, err);
        if (r == 0 && n) {
                pthread_mutex_lock(&e->lock);
                unlink_jobs(e, ids, n, OUT_RETRACTED);
                e->wake = true;
                pthread_cond_signal(&e->loop_cv);
                pthread_mutex_unlock(&e->lock);
        }
        free(ids);
        return r;
}

/* Waits on cv for `span` µs of real time, at most MAX_SLEEP_US (the injected clock
 * may not be real time: the caller looks at it again). */
static void wait_real(pthread_cond_t *cv, pthread_mutex_t *lock, int64_t span) {
        if (span > MAX_SLEEP_US)
                span = MAX_SLEEP_US;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (span % SKED_USEC) * 1000;
        ts.tv_sec += span / SKED_USEC + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(cv, lock, &ts);
}

static void *loop_main(void *arg) {
        engine *e = arg;
        for (;;) {
                sked_err err = {0};
                sked_time wake;
                int64_t t0 = time_mono_usec();
                int tr = turn(e, &wake, &err);
                e->turn_us = time_mono_usec() - t0;
                if (tr < 0) {
                        /* the store failed (e.g. the database is away): what the turn held is
                         * kept for the next one; look again in a second, not at once */
                        log_error("poller: %s (retrying in 1 s)", err.msg);
                        usleep(SKED_USEC);
                        pthread_mutex_lock(&e->lock);
                        bool give_up = e->stopping && time_mono_usec() - e->stopping_since > 10 * SKED_USEC;
                        pthread_mutex_unlock(&e->lock);
                        if (give_up) {
                                /* stopping, and the store still fails: what is in memory cannot be
                                 * written.  Its runs stay "running" in the store and are
                                 * recovered (next start, or another node after the lease). */
                                log_error("stopping without writing the last results: the store keeps failing");
                                pthread_mutex_lock(&e->lock);
                                enqueue_req *left = e->enq_head;
                                e->enq_head = e->enq_tail = NULL;
                                pthread_mutex_unlock(&e->lock);
                                sked_err why = {0};
                                err_set(&why, -ESHUTDOWN, "the engine is stopping and its store fails");
                                enqueue_done(e, left, -ESHUTDOWN, &why);
                                break;
                        }
                }
                pthread_mutex_lock(&e->lock);
                if (e->stopping && e->workers_alive == 0 && e->work_head)
                        release_unstarted(e);
                if (e->stopping && !e->ev_head && e->ninflight == 0) {
                        enqueue_req *left = e->enq_head;
                        e->enq_head = e->enq_tail = NULL;
                        pthread_mutex_unlock(&e->lock);
                        sked_err why = {0};
                        err_set(&why, -ESHUTDOWN, "the engine is stopping");
                        enqueue_done(e, left, -ESHUTDOWN, &why);
                        break;
                }
                if (!e->wake && !e->ev_head) {
                        sked_time now = engine_now(e);
                        if (wake > now) {
                                /* the injected clock may not be real time: sleep in real time for
                                 * the same span, at most MAX_SLEEP_US, and look again */
                                wait_real(&e->loop_cv, &e->lock, wake - now);
                        }
                }
                e->wake = false;
                pthread_mutex_unlock(&e->lock);
        }
        return NULL;
}

/* SQLite: copying the WAL back into the database (a checkpoint: writes and an
 * fsync of the database file) is done here, on its own connection and thread,
 * after the loop committed, at most every 100 ms (every 20 ms while behind),
 * instead of inside the loop's commits (SQLite's automatic checkpoint), where it
 * held up firing and claiming.  PASSIVE: it never blocks the loop.  But while the
 * loop writes without pause it never copies the whole WAL either, and the WAL
 * starts again from its beginning only after a checkpoint that did: the loop
 * finishes the job now and then (wal_restart). */
static void *checkpoint_main(void *arg) {
        engine *e = arg;
        store *st = NULL;
        sked_err err = {0};
        if (engine_thread_store(e, &st, &err) < 0)
                log_warning("checkpointer: %s (the WAL is checkpointed by commits instead)", err.msg);
        uint64_t seen = 0;
        pthread_mutex_lock(&e->lock);
        while (!e->stopping && st) {
                if (e->commits == seen) {
                        pthread_cond_wait(&e->ckpt_cv, &e->lock);
                        continue;
                }
                seen = e->commits;
                pthread_mutex_unlock(&e->lock);
                int64_t frames = 0, copied = 0;
                pthread_mutex_lock(&e->ckpt_pass);
                if (store_checkpoint(st, &frames, &copied, &err) < 0)
                        log_warning("checkpointer: %s", err.msg);
                pthread_mutex_unlock(&e->ckpt_pass);
                pthread_mutex_lock(&e->lock);
                if (frames) {
                        e->wal_frames = frames;
                        e->wal_copied = copied;
                }
                wait_real(&e->ckpt_cv, &e->lock, copied < frames ? 20000 : 100000);
        }
        pthread_mutex_unlock(&e->lock);
        return NULL;
}

static void *worker_main(void *arg) {
        engine *e = arg;
        pthread_mutex_lock(&e->lock);
        for (;;) {
                while (!e->work_head && !e->stopping)
                        pthread_cond_wait(&e->work_cv, &e->lock);
                if (!e->work_head)
                        break;
                job *j = e->work_head;
                sked_time wait = j->start_at - engine_now(e);
                if (wait > 0) {
                        /* claimed ahead: start on time.  Stopping, it is left for
                         * release_unstarted (queued again), not started early. */
                        if (e->stopping)
                                break;
                        wait_real(&e->work_cv, &e->lock, wait);
                        continue;
                }
                e->work_head = j->next;
                if (!e->work_head)
                        e->work_tail = NULL;
                j->next = NULL;
                e->nbusy++;
                pthread_mutex_unlock(&e->lock);
                runlog_start(j);
                job_run(j); /* posts EV_FINISH; the loop frees the job */
                pthread_mutex_lock(&e->lock);
                e->nbusy--;
        }
        e->workers_alive--;
        pthread_cond_broadcast(&e->idle_cv);
        pthread_mutex_unlock(&e->lock);
        return NULL;
}

static void listen_wake(void *ud) {
        engine_wake(ud);
}

int engine_start(engine *e, sked_err *err) {
        if (e->started)
                return 0;
        sked_time now = engine_now(e);
        e->started_at = now;
        memset(&e->health, 0, sizeof e->health);
        snprintf(e->health.node, sizeof e->health.node, "%s", e->node);
        e->health.started_at = now;
        poller_health old;
        sked_err ignore = {0};
        if (store_poller_get(e->st, &old, &ignore) == 0) {
                e->health.fired_total = old.fired_total;
                e->health.initialized_at = old.initialized_at;
                e->health.purged_runs = old.purged_runs;
                e->health.purged_messages = old.purged_messages;
                e->health.purged_results = old.purged_results;
                e->health.last_purge_at = old.last_purge_at;
        }
        /* SQLite: one sked serve per data directory (the daemon holds a lock), so every
         * run still marked running belongs to a process that is gone: recover them
         * now.  PostgreSQL: other nodes' runs are alive; the poller recovers what
         * outlives its lease. */
        int r;
        if (!e->postgres) {
                if ((r = store_begin(e->st, err)) < 0)
                        return r;
                if ((r = recover_expired(e, now, SKED_TIME_MAX, err)) < 0) {
                        store_rollback(e->st);
                        return r;
                }
                if ((r = store_commit(e->st, err)) < 0)
                        return r;
        }
        if ((r = db_listen_start(e->store_uri, STORE_NOTIFY_CHANNEL, listen_wake, e, &e->listener, err)) < 0)
                return r;
        pthread_t *workers = calloc(e->cfg.workers, sizeof *workers);
        if (!workers)
                return err_set(err, -ENOMEM, "out of memory");
        /* HTTP threads may already be serving: publish under the lock */
        pthread_mutex_lock(&e->lock);
        e->nworkers = e->cfg.workers;
        e->workers = workers;
        e->started = true;
        pthread_mutex_unlock(&e->lock);
        for (unsigned i = 0; i < e->nworkers; i++) {
                if (pthread_create(&e->workers[i], NULL, worker_main, e) != 0)
                        return err_set(err, -EAGAIN, "cannot start worker thread %u", i);
                pthread_mutex_lock(&e->lock);
                e->workers_alive++;
                pthread_mutex_unlock(&e->lock);
        }
        /* the poller's connection walks the series and runs indexes every second: a
         * million series need about 128 MB of them in memory, or each turn re-reads
         * (and spills) pages */
        if (!e->postgres && (r = store_cache_mb(e->st, 128, err)) < 0)
                return r;
        if (!e->postgres && store_autocheckpoint(e->st, false, err) == 0) {
                if (pthread_create(&e->ckpt_thread, NULL, checkpoint_main, e) == 0)
                        e->ckpt_started = true;
                else
                        store_autocheckpoint(e->st, true, err);
        }
        if (pthread_create(&e->loop_thread, NULL, loop_main, e) != 0)
                return err_set(err, -EAGAIN, "cannot start the poller thread");
        return 0;
}

int engine_wait_started(engine *e, int64_t timeout_ms) {
        int64_t deadline = time_mono_usec() + timeout_ms * 1000;
        for (;;) {
                pthread_mutex_lock(&e->lock);
                bool done = e->turns >= 1;
                pthread_mutex_unlock(&e->lock);
                if (done)
                        return 0;
                if (time_mono_usec() > deadline)
                        return -ETIMEDOUT;
                usleep(2000);
        }
}

int engine_wait_idle(engine *e, int64_t timeout_ms) {
        int64_t deadline = time_mono_usec() + timeout_ms * 1000;
        pthread_mutex_lock(&e->lock);
        uint64_t first = e->turns + 2; /* a whole turn that began after this call */
        pthread_mutex_unlock(&e->lock);
        for (;;) {
                engine_wake(e);
                pthread_mutex_lock(&e->lock);
                bool idle = e->turns >= first && e->idle && !e->ev_head && !e->work_head && e->ninflight == 0;
                pthread_mutex_unlock(&e->lock);
                if (idle)
                        return 0;
                if (time_mono_usec() > deadline)
                        return -ETIMEDOUT;
                usleep(10000);
        }
}

static void wait_until(engine *e, bool (*done)(engine *), int64_t ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&e->lock);
        while (!done(e))
                if (pthread_cond_timedwait(&e->idle_cv, &e->lock, &ts) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock(&e->lock);
}

static bool no_jobs(engine *e) {
        return e->ninflight == 0 && !e->work_head;
}

static bool no_workers(engine *e) {
        return e->workers_alive == 0;
}

void engine_stop(engine *e, int64_t grace_ms) {
        if (!e->started)
                return;
        pthread_mutex_lock(&e->lock);
        e->draining = true;
        release_unstarted(e); /* claimed ahead, never started: not now; they run again later */
        e->wake = true;
        pthread_cond_signal(&e->loop_cv);
        pthread_mutex_unlock(&e->lock);
        wait_until(e, no_jobs, grace_ms);
        /* past the grace: ask the rest to stop; they finish as "lost" and run again */
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < e->ninflight; i++)
                e->inflight[i]->cancel = 1;
        pthread_mutex_unlock(&e->lock);
        wait_until(e, no_jobs, 10000);
        pthread_mutex_lock(&e->lock);
        e->stopping = true;
        e->stopping_since = time_mono_usec();
        pthread_cond_broadcast(&e->work_cv);
        pthread_cond_signal(&e->loop_cv);
        pthread_cond_signal(&e->ckpt_cv);
        pthread_mutex_unlock(&e->lock);
        if (e->ckpt_started) {
                pthread_join(e->ckpt_thread, NULL);
                e->ckpt_started = false;
        }
        wait_until(e, no_workers, 5000);
        db_listen_stop(e->listener);
        e->listener = NULL;
        pthread_mutex_lock(&e->lock);
        bool all_out = e->workers_alive == 0;
        pthread_mutex_unlock(&e->lock);
        if (all_out) {
                for (unsigned i = 0; i < e->nworkers; i++)
                        pthread_join(e->workers[i], NULL);
                pthread_join(e->loop_thread, NULL);
                e->started = false;
        } else {
                /* a handler ignores cancellation: leave its thread; the run is recovered at the next start */
                log_warning("%u handler(s) did not stop; their runs will be recovered at the next start",
                            e->workers_alive);
                for (unsigned i = 0; i < e->nworkers; i++)
                        pthread_detach(e->workers[i]);
                pthread_detach(e->loop_thread);
        }
}

void engine_free(engine *e) {
        if (!e)
                return;
        if (e->started)
                return; /* threads still use it; the process is about to exit anyway */
        store_close(e->st);
        for (size_t i = 0; i < e->nconns; i++)
                store_close(e->conns[i]);
        free(e->conns);
        schedcache_clear(&e->scache);
        features_off_free(e->features_off, e->nfeatures_off);
        free(e->cancel_ids);
        for (type_entry *t = e->types, *nx; t; t = nx) {
                nx = t->next;
                ptype_free(t->t);
                free(t);
        }
        while (e->work_head) {
                job *j = e->work_head;
                e->work_head = j->next;
                job_free(j);
        }
        free(e->inflight);
        free(e->workers);
        free(e->plugins); /* plug-ins stay loaded: their code may still be referenced */
        pthread_key_delete(e->store_key);
        schedcache_clear(&e->api_plans);
        free(e->node);
        free(e->store_uri);
        free(e);
}

json_t *engine_poller_status(engine *e, store *st) {
        poller_health h;
        sked_err err = {0};
        json_t *o = json_object();
        if (store_poller_get(st, &h, &err) == 0) {
                char buf[32];
                json_object_set_new(o, "node", json_string(h.node));
                time_format_utc(h.started_at, buf, sizeof buf);
                json_object_set_new(o, "started_at", json_string(buf));
                time_format_utc(h.heartbeat_at, buf, sizeof buf);
                json_object_set_new(o, "heartbeat_at", json_string(buf));
                if (h.last_fire_at) {
                        time_format_utc(h.last_fire_at, buf, sizeof buf);
                        json_object_set_new(o, "last_fire_at", json_string(buf));
                }
                if (h.initialized_at) {
                        time_format_utc(h.initialized_at, buf, sizeof buf);
                        json_object_set_new(o, "initialized_at", json_string(buf));
                }
                if (h.has_next) {
                        time_format_utc(h.next_due, buf, sizeof buf);
                        json_object_set_new(o, "next_due", json_string(buf));
                }
                json_object_set_new(o, "fired_total", json_integer(h.fired_total));
                json_object_set_new(o, "last_batch", json_integer(h.last_batch));
                json_object_set_new(o, "purged_runs", json_integer(h.purged_runs));
                json_object_set_new(o, "purged_messages", json_integer(h.purged_messages));
                json_object_set_new(o, "purged_results", json_integer(h.purged_results));
                if (h.last_purge_at) {
                        time_format_utc(h.last_purge_at, buf, sizeof buf);
                        json_object_set_new(o, "last_purge_at", json_string(buf));
                }
                sked_time now = engine_now(e);
                int64_t age = (now - h.heartbeat_at) / 1000;
                json_object_set_new(o, "heartbeat_age_ms", json_integer(age));
                pthread_mutex_lock(&e->lock);
                bool started = e->started;
                pthread_mutex_unlock(&e->lock);
                json_object_set_new(o, "healthy", json_boolean(started && age < 10000));
        } else {
                json_object_set_new(o, "healthy", json_false());
                json_object_set_new(o, "detail", json_string(err.msg));
        }
        pthread_mutex_lock(&e->lock);
        json_object_set_new(o, "running", json_integer((json_int_t) e->ninflight));
        json_object_set_new(o, "workers", json_integer(e->cfg.workers));
        pthread_mutex_unlock(&e->lock);
        return o;
}
