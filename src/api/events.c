/* events: see events.h. */
#include "api/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "api/views.h"
#include "base/log.h"
#include "base/strbuf.h"

#define STALL_MIN_MS 10000
#define READ_BATCH 500 /* events per read of one stream; a stream behind reads again at once */

typedef struct ev_stream {
        TAILQ_ENTRY(ev_stream) link;
        http_stream *s;
        char addr[48];
        event_filter f;
        char type[256];
        unsigned kinds;
        int64_t cursor;        /* the last id looked at; -1: not placed yet (the head) */
        int64_t resume;        /* Last-Event-ID, or -1: checked against the window once */
        int64_t stalled_since; /* mono ms since its pending bytes stopped going down; 0: they move */
        size_t last_pending;
} ev_stream;

TAILQ_HEAD(ev_list, ev_stream);

struct events_hub {
        engine *e;
        events_config cfg;
        pthread_t thread;
        bool started;
        pthread_mutex_t lock;
        pthread_cond_t cv;
        bool kicked, stopping;
        struct ev_list pending; /* added, not yet taken by the thread (under lock) */
        struct ev_list live;    /* the thread's */
        unsigned n;             /* pending + live (under lock) */
};

static void kick(void *ud) {
        events_hub *h = ud;
        pthread_mutex_lock(&h->lock);
        h->kicked = true;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->lock);
}

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stream_free(ev_stream *v) {
        if (!v)
                return;
        http_stream_unref(v->s);
        free(v);
}

/* One event as SSE: its id (the resume point), its name and its data, one line. */
static int send_event(ev_stream *v, json_t *ev) {
        json_int_t id = json_integer_value(json_object_get(ev, "id"));
        const char *kind = json_string_value(json_object_get(ev, "event"));
        json_t *at = json_object_get(ev, "at");
        if (json_is_integer(at))
                view_set_instant(ev, "at", json_integer_value(at));
        char *data = json_dumps(ev, JSON_COMPACT);
        if (!data)
                return -ENOMEM;
        strbuf b = STRBUF_INIT;
        strbuf_printf(&b, "id: %lld\nevent: %s\ndata: %s\n\n", (long long) id, kind ? kind : "run", data);
        free(data);
        int r = b.oom ? -ENOMEM : http_stream_write(v->s, b.data, b.len);
        strbuf_free(&b);
        return r;
}

static unsigned kind_bit(const char *kind) {
        if (!kind)
                return 0;
        if (!strcmp(kind, "run"))
                return EVENTS_KIND_RUN;
        if (!strcmp(kind, "message"))
                return EVENTS_KIND_MESSAGE;
        if (!strcmp(kind, "result"))
                return EVENTS_KIND_RESULT;
        return EVENTS_KIND_PROGRESS;
}

/* Brings one stream up to `head`; < 0 when it must go (its client is gone or slow). */
static int stream_catch_up(events_hub *h, store *st, ev_stream *v, int64_t oldest, int64_t head, sked_err *err) {
        if (v->cursor < 0)
                v->cursor = head;
        if (v->resume >= 0) {
                /* events after Last-Event-ID were pruned (or it names none of this log):
                 * say so, and go on from now; the client reloads what it shows */
                int64_t last = v->resume;
                v->resume = -1;
                if ((oldest > 0 && last < oldest - 1) || last > head) {
                        char buf[160];
                        int n = snprintf(
                                buf, sizeof buf,
                                "event: gap\ndata: {\"last_event_id\":%lld,\"oldest\":%lld,\"newest\":%lld}\n\n",
                                (long long) last, (long long) oldest, (long long) head);
                        v->cursor = head;
                        return http_stream_write(v->s, buf, (size_t) n);
                }
                v->cursor = last;
        }
        while (v->cursor < head) {
                /* backpressure: a stream with half its limit pending waits for a later
                 * round (a resume far behind is fed as fast as it reads, not dropped) */
                if (http_stream_pending(v->s) > h->cfg.max_pending / 2)
                        return 0;
                json_t *evs = NULL;
                int r = store_events_read(st, v->cursor, head, &v->f, READ_BATCH, &evs, err);
                if (r < 0)
                        return r == -ENOMEM ? r : 1; /* the store: try again next round */
                size_t n = json_array_size(evs), i;
                json_t *ev;
                json_array_foreach(evs, i, ev) {
                        if ((v->kinds & kind_bit(json_string_value(json_object_get(ev, "event")))) &&
                            (r = send_event(v, ev)) < 0) {
                                json_decref(evs);
                                return r;
                        }
                        if (http_stream_pending(v->s) > h->cfg.max_pending / 2 && i + 1 < n) {
                                /* the rest of the batch waits: at most one event over half */
                                v->cursor = json_integer_value(json_object_get(ev, "id"));
                                json_decref(evs);
                                return 0;
                        }
                }
                /* fewer than a batch: nothing else of its filter up to head */
                v->cursor =
                        n == READ_BATCH ? json_integer_value(json_object_get(json_array_get(evs, n - 1), "id")) : head;
                json_decref(evs);
        }
        return 0;
}

/* A client that stops reading: its pending bytes stay above half the limit and do
 * not go down for a heartbeat interval, and at least STALL_MIN_MS.  Not less: Linux
 * reports a socket writable only once a third of its send buffer (up to 4 MiB) is
 * free, so a slow reader that does read (a Python client: 0.5 MB/s) can leave our
 * pending bytes unmoved for seconds.  -ENOBUFS: drop it. */
static int stream_stall(events_hub *h, ev_stream *v, int64_t now) {
        size_t pending = http_stream_pending(v->s);
        if (pending <= h->cfg.max_pending / 2 || pending < v->last_pending) {
                v->stalled_since = 0;
                v->last_pending = pending;
                return 0;
        }
        v->last_pending = pending;
        if (!v->stalled_since)
                v->stalled_since = now;
        int64_t limit = h->cfg.heartbeat_ms > STALL_MIN_MS ? h->cfg.heartbeat_ms : STALL_MIN_MS;
        return now - v->stalled_since > limit ? -ENOBUFS : 0;
}

static void *hub_main(void *arg) {
        events_hub *h = arg;
        store *st = NULL;
        int64_t next_beat = mono_ms() + h->cfg.heartbeat_ms;
        bool warned = false, behind = false;
        for (;;) {
                pthread_mutex_lock(&h->lock);
                int64_t now = mono_ms();
                if (!h->kicked && !h->stopping && now < next_beat) {
                        /* a stream behind (waiting for its client to read) looks again soon */
                        int64_t poll = behind ? 20 : h->cfg.poll_ms;
                        int64_t span = next_beat - now < poll ? next_beat - now : poll;
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        int64_t ns = ts.tv_nsec + (span % 1000) * 1000000;
                        ts.tv_sec += span / 1000 + ns / 1000000000;
                        ts.tv_nsec = ns % 1000000000;
                        pthread_cond_timedwait(&h->cv, &h->lock, &ts);
                }
                h->kicked = false;
                bool stopping = h->stopping;
                TAILQ_CONCAT(&h->live, &h->pending, link);
                pthread_mutex_unlock(&h->lock);
                if (stopping)
                        break;
                if (TAILQ_EMPTY(&h->live)) {
                        next_beat = mono_ms() + h->cfg.heartbeat_ms;
                        continue; /* no stream: no read of the store */
                }
                sked_err err = {0};
                int64_t oldest = 0, head = 0;
                int r = st ? 0 : engine_thread_store(h->e, &st, &err);
                if (r == 0)
                        r = store_events_bounds(st, &oldest, &head, &err);
                if (r < 0) {
                        if (!warned)
                                log_warning("events: %s (streams wait for the store)", err.msg);
                        warned = true;
                }
                bool beat = mono_ms() >= next_beat;
                behind = false;
                if (beat)
                        next_beat = mono_ms() + h->cfg.heartbeat_ms;
                for (ev_stream *v = TAILQ_FIRST(&h->live), *next; v; v = next) {
                        next = TAILQ_NEXT(v, link);
                        int sr = 0;
                        if (http_stream_gone(v->s))
                                sr = -EPIPE;
                        if (sr == 0 && r == 0) {
                                warned = false;
                                sr = stream_catch_up(h, st, v, oldest, head, &err);
                        }
                        if (sr >= 0)
                                sr = stream_stall(h, v, mono_ms());
                        if (sr >= 0 && beat && http_stream_pending(v->s) == 0)
                                sr = http_stream_write(v->s, ":\n\n", 3);
                        if (sr >= 0 && r == 0 && v->cursor < head)
                                behind = true;
                        if (sr < 0) {
                                if (sr == -ENOBUFS)
                                        log_info("events: dropped a stream of %s: it does not read", v->addr);
                                http_stream_end(v->s, true);
                                TAILQ_REMOVE(&h->live, v, link);
                                stream_free(v);
                                pthread_mutex_lock(&h->lock);
                                h->n--;
                                pthread_mutex_unlock(&h->lock);
                        }
                }
        }
        ev_stream *v;
        while ((v = TAILQ_FIRST(&h->live))) {
                TAILQ_REMOVE(&h->live, v, link);
                http_stream_end(v->s, false);
                stream_free(v);
        }
        pthread_mutex_lock(&h->lock);
        h->n = 0;
        pthread_mutex_unlock(&h->lock);
        return NULL;
}

int events_hub_new(engine *e, const events_config *cfg, events_hub **ret, sked_err *err) {
        events_hub *h = calloc(1, sizeof *h);
        if (!h)
                return err_set(err, -ENOMEM, "out of memory");
        h->e = e;
        h->cfg = cfg ? *cfg : (events_config){0};
        if (!h->cfg.max)
                h->cfg.max = 256;
        if (!h->cfg.max_per_ip)
                h->cfg.max_per_ip = 8;
        if (h->cfg.heartbeat_ms <= 0)
                h->cfg.heartbeat_ms = 15000;
        if (h->cfg.poll_ms <= 0)
                h->cfg.poll_ms = 500;
        if (!h->cfg.max_pending)
                h->cfg.max_pending = (size_t) 1 << 20;
        pthread_mutex_init(&h->lock, NULL);
        pthread_cond_init(&h->cv, NULL);
        TAILQ_INIT(&h->pending);
        TAILQ_INIT(&h->live);
        if (pthread_create(&h->thread, NULL, hub_main, h) != 0) {
                pthread_cond_destroy(&h->cv);
                pthread_mutex_destroy(&h->lock);
                free(h);
                return err_set(err, -EAGAIN, "events: cannot start a thread");
        }
        h->started = true;
        if (e)
                engine_on_commit(e, kick, h);
        *ret = h;
        return 0;
}

void events_hub_stop(events_hub *h) {
        if (!h || !h->started)
                return;
        pthread_mutex_lock(&h->lock);
        h->stopping = true;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL);
        h->started = false;
        ev_stream *v;
        while ((v = TAILQ_FIRST(&h->pending))) { /* added after the thread's last look */
                TAILQ_REMOVE(&h->pending, v, link);
                http_stream_end(v->s, false);
                stream_free(v);
        }
}

void events_hub_free(events_hub *h) {
        if (!h)
                return;
        events_hub_stop(h);
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->lock);
        free(h);
}

static unsigned count_addr(struct ev_list *l, const char *addr) {
        unsigned n = 0;
        ev_stream *v;
        TAILQ_FOREACH(v, l, link)
        n += !strcmp(v->addr, addr);
        return n;
}

int events_hub_add(events_hub *h, http_req *req, const event_filter *f, unsigned kinds, int64_t last_id,
                   sked_err *err) {
        const char *addr = http_client_addr(req);
        ev_stream *v = calloc(1, sizeof *v);
        if (!v)
                return err_set(err, -ENOMEM, "out of memory");
        snprintf(v->addr, sizeof v->addr, "%s", addr ? addr : "");
        if (f) {
                v->f = *f;
                if (f->type) {
                        snprintf(v->type, sizeof v->type, "%s", f->type);
                        v->f.type = v->type;
                }
        }
        v->kinds = kinds ? kinds : EVENTS_KIND_ALL;
        v->cursor = -1;
        v->resume = last_id;
        /* Placed at the log's head now, before the first line tells the client it is
         * in: every event committed after that has a larger id (docs/internals.md "Live
         * events").  Left for the hub's next round, as before, only when the store
         * cannot say (that round places it at its head). */
        store *st = NULL;
        int64_t oldest = 0, head = 0;
        sked_err ignore = {0};
        if (last_id < 0 && engine_thread_store(h->e, &st, &ignore) == 0 &&
            store_events_bounds(st, &oldest, &head, &ignore) == 0)
                v->cursor = head;
        int r = 0;
        pthread_mutex_lock(&h->lock);
        if (h->stopping || !h->started)
                r = err_set(err, -EBUSY, "the server is stopping");
        else if (h->n >= h->cfg.max)
                r = err_set(err, -EBUSY, "%u event streams are open, the most this server takes (--events-max)",
                            h->cfg.max);
        else if (count_addr(&h->pending, v->addr) + count_addr(&h->live, v->addr) >= h->cfg.max_per_ip)
                r = err_set(err, -EUSERS,
                            "%u event streams are open from %s, the most one address may have "
                            "(--events-max-per-ip)",
                            h->cfg.max_per_ip, v->addr);
        http_stream *s = NULL;
        if (r == 0 && (r = http_reply_stream(req, "text/event-stream", h->cfg.max_pending, &s)) < 0)
                err_set(err, r, "out of memory");
        if (r == 0) {
                /* headers and a first line go out at once: the client knows it is in */
                http_stream_write(s, "retry: 2000\n:\n\n", 15);
                v->s = s;
                TAILQ_INSERT_TAIL(&h->pending, v, link);
                h->n++;
                h->kicked = true;
                pthread_cond_signal(&h->cv);
        }
        pthread_mutex_unlock(&h->lock);
        if (r < 0) {
                free(v);
                return r;
        }
        return 0;
}
