/* expr: the Lua sandbox, JSON <-> Lua, `${ ... }` templates; see expr.h. */
#include "wf/expr.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "model/duration.h"
#include "sched/tz.h"

#define HOOK_EVERY 1000 /* instructions between two looks at the budget */

struct wf_lua {
        lua_State *L;
        size_t used;  /* bytes held by the state */
        size_t limit; /* 0: none (set-up, compiling); else the evaluation's ceiling */
        long steps_left;
        bool over; /* the budget ran out: every instruction fails from now on */
        const wf_scope *sc;
        int env_mt; /* registry: the metatable of each evaluation's environment */
        int base;   /* registry: the safe globals */
};

static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
        wf_lua *w = ud;
        size_t old = ptr ? osize : 0; /* without ptr, osize is the kind of object */
        if (nsize == 0) {
                w->used -= old;
                free(ptr);
                return NULL;
        }
        if (w->limit && nsize > old && w->used + (nsize - old) > w->limit)
                return NULL; /* Lua collects garbage and tries again before it gives up */
        void *p = realloc(ptr, nsize);
        if (!p)
                return NULL;
        w->used = w->used - old + nsize;
        return p;
}

static wf_lua *of(lua_State *L) {
        void *ud;
        lua_getallocf(L, &ud);
        return ud;
}

static void budget_hook(lua_State *L, lua_Debug *ar) {
        (void) ar;
        wf_lua *w = of(L);
        w->steps_left -= HOOK_EVERY;
        if (w->over || w->steps_left < 0) {
                /* from now on every instruction fails: a caught error cannot go on */
                w->over = true;
                lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
                luaL_error(L, "instruction budget exceeded (%d steps)", WF_EXPR_STEPS);
        }
}

/* ---- JSON -> Lua (inside a protected call: errors are Lua errors) ---- */

typedef struct conv {
        size_t items, bytes;
} conv;

static void push_json(lua_State *L, const json_t *v, int depth, conv *c) {
        if (depth > WF_JSON_DEPTH)
                luaL_error(L, "value nested deeper than %d levels", WF_JSON_DEPTH);
        if (++c->items > WF_JSON_ITEMS)
                luaL_error(L, "value with more than %d items", WF_JSON_ITEMS);
        luaL_checkstack(L, 4, "value too deep");
        switch (json_typeof(v)) {
        case JSON_OBJECT: {
                lua_createtable(L, 0, (int) json_object_size(v));
                const char *k;
                json_t *x;
                json_object_foreach((json_t *) v, k, x) {
                        if (json_is_null(x))
                                continue;
                        lua_pushstring(L, k);
                        push_json(L, x, depth + 1, c);
                        lua_rawset(L, -3);
                }
                return;
        }
        case JSON_ARRAY: {
                lua_createtable(L, (int) json_array_size(v), 0);
                size_t i;
                json_t *x;
                json_array_foreach(v, i, x) {
                        push_json(L, x, depth + 1, c);
                        lua_rawseti(L, -2, (lua_Integer) i + 1);
                }
                return;
        }
        case JSON_STRING:
                c->bytes += json_string_length(v);
                if (c->bytes > WF_JSON_BYTES)
                        luaL_error(L, "value with more than %d bytes of text", WF_JSON_BYTES);
                lua_pushlstring(L, json_string_value(v), json_string_length(v));
                return;
        case JSON_INTEGER:
                lua_pushinteger(L, (lua_Integer) json_integer_value(v));
                return;
        case JSON_REAL:
                lua_pushnumber(L, json_real_value(v));
                return;
        case JSON_TRUE:
                lua_pushboolean(L, 1);
                return;
        case JSON_FALSE:
                lua_pushboolean(L, 0);
                return;
        case JSON_NULL:
                lua_pushnil(L);
                return;
        }
        lua_pushnil(L);
}

/* ---- Lua -> JSON (outside any protected call: no Lua errors allowed) ---- */

static json_t *to_json(lua_State *L, int idx, int depth, conv *c, sked_err *err);

static json_t *table_to_json(lua_State *L, int idx, int depth, conv *c, sked_err *err) {
        /* a sequence 1..n is an array; string keys make an object; {} is an object */
        size_t n = 0, strings = 0;
        lua_Integer max = 0;
        bool other = false;
        if (!lua_checkstack(L, 4)) {
                err_set(err, -EINVAL, "value too deep");
                return NULL;
        }
        lua_pushnil(L);
        while (lua_next(L, idx)) {
                n++;
                if (lua_type(L, -2) == LUA_TSTRING)
                        strings++;
                else if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1)
                        max = lua_tointeger(L, -2) > max ? lua_tointeger(L, -2) : max;
                else
                        other = true;
                lua_pop(L, 1);
                if (n > WF_JSON_ITEMS) {
                        lua_pop(L, 1);
                        break;
                }
        }
        if (n > WF_JSON_ITEMS || (c->items += n) > WF_JSON_ITEMS) {
                err_set(err, -EINVAL, "value with more than %d items", WF_JSON_ITEMS);
                return NULL;
        }
        bool array = n > 0 && strings == 0 && !other && (size_t) max == n;
        if (!array && (other || (strings != n))) {
                err_set(err, -EINVAL,
                        "a table whose keys are neither a sequence 1..n nor all strings has no JSON form");
                return NULL;
        }
        json_t *out = array ? json_array() : json_object();
        if (!out) {
                err_set(err, -ENOMEM, "out of memory");
                return NULL;
        }
        if (array) {
                for (lua_Integer i = 1; i <= max; i++) {
                        lua_rawgeti(L, idx, i);
                        json_t *x = to_json(L, lua_gettop(L), depth + 1, c, err);
                        lua_pop(L, 1);
                        if (!x || json_array_append_new(out, x) < 0) {
                                json_decref(out);
                                return NULL;
                        }
                }
                return out;
        }
        lua_pushnil(L);
        while (lua_next(L, idx)) {
                size_t klen;
                const char *k = lua_tolstring(L, -2, &klen); /* a string already: no conversion */
                json_t *x = to_json(L, lua_gettop(L), depth + 1, c, err);
                if (!x || memchr(k, '\0', klen) || json_object_setn_new(out, k, klen, x) < 0) {
                        if (x && !err->code)
                                err_set(err, -EINVAL, "a key that is not valid UTF-8 text has no JSON form");
                        lua_pop(L, 2);
                        json_decref(out);
                        return NULL;
                }
                lua_pop(L, 1);
        }
        return out;
}

static json_t *to_json(lua_State *L, int idx, int depth, conv *c, sked_err *err) {
        if (depth > WF_JSON_DEPTH) {
                err_set(err, -EINVAL, "value nested deeper than %d levels (a table that holds itself?)", WF_JSON_DEPTH);
                return NULL;
        }
        if (++c->items > WF_JSON_ITEMS) {
                err_set(err, -EINVAL, "value with more than %d items", WF_JSON_ITEMS);
                return NULL;
        }
        json_t *v = NULL;
        switch (lua_type(L, idx)) {
        case LUA_TNIL:
                return json_null();
        case LUA_TBOOLEAN:
                return json_boolean(lua_toboolean(L, idx));
        case LUA_TNUMBER:
                if (lua_isinteger(L, idx))
                        return json_integer((json_int_t) lua_tointeger(L, idx));
                if (!isfinite(lua_tonumber(L, idx))) {
                        err_set(err, -EINVAL, "%s has no JSON form", isnan(lua_tonumber(L, idx)) ? "NaN" : "infinity");
                        return NULL;
                }
                return json_real(lua_tonumber(L, idx));
        case LUA_TSTRING: {
                size_t len;
                const char *s = lua_tolstring(L, idx, &len);
                if ((c->bytes += len) > WF_JSON_BYTES) {
                        err_set(err, -EINVAL, "value with more than %d bytes of text", WF_JSON_BYTES);
                        return NULL;
                }
                if (!(v = json_stringn(s, len)))
                        err_set(err, -EINVAL, "a string that is not valid UTF-8 has no JSON form");
                return v;
        }
        case LUA_TTABLE:
                return table_to_json(L, idx, depth, c, err);
        default:
                err_set(err, -EINVAL, "a %s has no JSON form", lua_typename(L, lua_type(L, idx)));
                return NULL;
        }
}

/* ---- the environment ---- */

/* __index of an evaluation's environment: input, vars and steps from the scope
 * (converted once, then kept in the environment), the rest from the safe globals */
static int env_index(lua_State *L) {
        wf_lua *w = of(L);
        const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
        const json_t *v = NULL;
        bool scoped = false;
        if (k && w->sc) {
                if (!strcmp(k, "input"))
                        v = w->sc->input, scoped = true;
                else if (!strcmp(k, "vars"))
                        v = w->sc->vars, scoped = true;
                else if (!strcmp(k, "steps"))
                        v = w->sc->steps, scoped = true;
        }
        if (scoped) {
                conv c = {0};
                if (v)
                        push_json(L, v, 0, &c);
                else
                        lua_newtable(L);
                lua_pushvalue(L, 2);
                lua_pushvalue(L, -2);
                lua_rawset(L, 1);
                return 1;
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, w->base);
        lua_pushvalue(L, 2);
        lua_rawget(L, -2);
        return 1;
}

static int readonly(lua_State *L) {
        return luaL_error(L, "the standard library is read-only");
}

/* Replaces the table at the top with a read-only proxy of it. */
static void make_proxy(lua_State *L) {
        lua_newtable(L);          /* lib proxy */
        lua_createtable(L, 0, 3); /* lib proxy mt */
        lua_pushvalue(L, -3);     /* lib proxy mt lib */
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, readonly);
        lua_setfield(L, -2, "__newindex");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_setmetatable(L, -2); /* lib proxy */
        lua_remove(L, -2);
}

/* ---- time helpers ---- */

static int l_time_now(lua_State *L) {
        wf_lua *w = of(L);
        lua_pushinteger(L, w->sc ? w->sc->now : time_now_real());
        return 1;
}

static const tz_zone *check_zone(lua_State *L, int arg) {
        const char *name = luaL_checkstring(L, arg);
        const tz_zone *z;
        sked_err err = {0};
        if (tz_load(name, &z, &err) < 0)
                luaL_error(L, "%s", err.msg);
        return z;
}

static int l_time_iso(lua_State *L) {
        char buf[40];
        time_format_utc_us((sked_time) luaL_checkinteger(L, 1), buf, sizeof buf);
        lua_pushstring(L, buf);
        return 1;
}

static int l_time_parse(lua_State *L) {
        sked_time t;
        const char *s = luaL_checkstring(L, 1);
        if (time_parse_utc(s, &t) < 0)
                return luaL_error(L, "time.parse: \"%s\": expected YYYY-MM-DDTHH:MM:SSZ", s);
        lua_pushinteger(L, t);
        return 1;
}

static int l_time_duration(lua_State *L) {
        int64_t ms;
        sked_err err = {0};
        const char *s = luaL_checkstring(L, 1);
        if (duration_parse(s, &ms, &err) < 0 || ms > INT64_MAX / 1000)
                return luaL_error(L, "time.duration: \"%s\": %s", s, err.msg[0] ? err.msg : "out of range");
        lua_pushinteger(L, ms * 1000);
        return 1;
}

/* time.wall(instant, zone) (also time["local"]: `local` is a keyword) -> {year, month, day, hour, min, sec, wday (1 =
 * Monday), offset (seconds east), zone, text} */
static int l_time_local(lua_State *L) {
        sked_time t = (sked_time) luaL_checkinteger(L, 1);
        const tz_zone *z = check_zone(L, 2);
        int64_t local;
        int32_t off;
        tz_local(z, t, &local, &off);
        civil c;
        civil_from_seconds(local, &c);
        int wd = civil_weekday(civil_floor_div(local, 86400));
        char text[64], offs[16];
        civil_format(&c, text, sizeof text);
        tz_format_offset(off, offs, sizeof offs);
        strncat(text, offs, sizeof text - strlen(text) - 1);
        lua_createtable(L, 0, 10);
        const struct {
                const char *k;
                lua_Integer v;
        } f[] = {{"year", c.year},  {"month", c.month},         {"day", c.day}, {"hour", c.hour}, {"min", c.minute},
                 {"sec", c.second}, {"wday", wd == 0 ? 7 : wd}, {"offset", off}};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
                lua_pushinteger(L, f[i].v);
                lua_setfield(L, -2, f[i].k);
        }
        lua_pushstring(L, tz_name(z));
        lua_setfield(L, -2, "zone");
        lua_pushstring(L, text);
        lua_setfield(L, -2, "text");
        return 1;
}

/* time.at(zone, year, month, day [, hour, min, sec]) -> the instant of that wall time
 * (a time in a gap: the offset before it; a repeated time: its first instant) */
static int l_time_at(lua_State *L) {
        const tz_zone *z = check_zone(L, 1);
        civil c = {
                .year = (int) luaL_checkinteger(L, 2),
                .month = (int) luaL_checkinteger(L, 3),
                .day = (int) luaL_checkinteger(L, 4),
                .hour = (int) luaL_optinteger(L, 5, 0),
                .minute = (int) luaL_optinteger(L, 6, 0),
                .second = (int) luaL_optinteger(L, 7, 0),
        };
        if (!civil_valid(&c))
                return luaL_error(L, "time.at: not a valid date and time");
        sked_time at[2];
        if (tz_resolve(z, civil_to_seconds(&c), TZ_GAP_SHIFT, TZ_REPEAT_FIRST, at) < 1)
                return luaL_error(L, "time.at: the wall time does not exist in %s", tz_name(z));
        lua_pushinteger(L, at[0]);
        return 1;
}

static int setup(lua_State *L) {
        wf_lua *w = lua_touserdata(L, 1);
        /* the libraries we keep; base's functions are picked one by one */
        luaL_requiref(L, "_G", luaopen_base, 1);
        lua_pop(L, 1);
        static const struct {
                const char *name;
                lua_CFunction open;
        } libs[] = {
                {"string", luaopen_string}, {"table", luaopen_table}, {"math", luaopen_math}, {"utf8", luaopen_utf8}};
        for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
                luaL_requiref(L, libs[i].name, libs[i].open, 0);
                lua_pop(L, 1);
        }
        /* string.dump would turn a function into bytecode; strings' metatable
         * reaches this table, so remove it here, not in a copy */
        lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        lua_getfield(L, -1, "string");
        lua_pushnil(L);
        lua_setfield(L, -2, "dump");
        lua_pop(L, 2);

        lua_newtable(L); /* base */
        static const char *const keep[] = {"assert",   "error",    "ipairs", "next",     "pairs", "select",
                                           "tonumber", "tostring", "type",   "rawequal", "rawlen"};
        lua_pushglobaltable(L);
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
                lua_getfield(L, -1, keep[i]);
                lua_setfield(L, -3, keep[i]);
        }
        lua_pop(L, 1);
        lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
                lua_getfield(L, -1, libs[i].name);
                make_proxy(L);
                lua_setfield(L, -3, libs[i].name);
        }
        lua_pop(L, 1);
        static const luaL_Reg timelib[] = {
                {"now", l_time_now},    {"iso", l_time_iso},     {"parse", l_time_parse}, {"duration", l_time_duration},
                {"wall", l_time_local}, {"local", l_time_local}, {"at", l_time_at},       {NULL, NULL}};
        luaL_newlib(L, timelib);
        make_proxy(L);
        lua_setfield(L, -2, "time");
        w->base = luaL_ref(L, LUA_REGISTRYINDEX);

        lua_createtable(L, 0, 2); /* the environments' metatable */
        lua_pushcfunction(L, env_index);
        lua_setfield(L, -2, "__index");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        w->env_mt = luaL_ref(L, LUA_REGISTRYINDEX);
        return 0;
}

int wf_lua_new(wf_lua **ret, sked_err *err) {
        wf_lua *w = calloc(1, sizeof *w);
        if (!w)
                return err_set(err, -ENOMEM, "out of memory");
        w->L = lua_newstate(sandbox_alloc, w);
        if (!w->L) {
                free(w);
                return err_set(err, -ENOMEM, "out of memory");
        }
        lua_pushcfunction(w->L, setup);
        lua_pushlightuserdata(w->L, w);
        if (lua_pcall(w->L, 1, 0, 0) != LUA_OK) {
                wf_lua_free(w);
                return err_set(err, -ENOMEM, "out of memory setting up Lua");
        }
        *ret = w;
        return 0;
}

void wf_lua_free(wf_lua *w) {
        if (!w)
                return;
        if (w->L)
                lua_close(w->L);
        free(w);
}

size_t wf_lua_memory(const wf_lua *w) {
        return w->used;
}

int wf_lua_compile(wf_lua *w, const char *text, const char *field, int *ret, sked_err *err) {
        size_t len = strlen(text);
        if (len > WF_EXPR_TEXT_MAX)
                return err_field(err, -EINVAL, field, "expression longer than %d bytes", WF_EXPR_TEXT_MAX);
        if (strspn(text, " \t\r\n") == len)
                return err_field(err, -EINVAL, field, "empty expression");
        char *src = malloc(len + 16);
        if (!src)
                return err_set(err, -ENOMEM, "out of memory");
        /* a newline before the parenthesis: a trailing comment cannot swallow it */
        int n = snprintf(src, len + 16, "return (%s\n)", text);
        lua_State *L = w->L;
        w->limit = w->used + WF_EXPR_MEM;
        int lr = luaL_loadbufferx(L, src, (size_t) n, "=expr", "t");
        w->limit = 0;
        free(src);
        if (lr != LUA_OK) {
                int r = lr == LUA_ERRMEM ? err_field(err, -ENOMEM, field, "out of memory compiling")
                                         : err_field(err, -EINVAL, field, "%s", lua_tostring(L, -1));
                lua_pop(L, 1);
                return r;
        }
        *ret = luaL_ref(L, LUA_REGISTRYINDEX);
        return 0;
}

/* Runs h; on success its value is on the stack's top. */
static int run(wf_lua *w, int h, const wf_scope *sc, const char *field, sked_err *err) {
        lua_State *L = w->L;
        lua_rawgeti(L, LUA_REGISTRYINDEX, h);
        lua_newtable(L); /* a fresh environment for each evaluation */
        lua_rawgeti(L, LUA_REGISTRYINDEX, w->env_mt);
        lua_setmetatable(L, -2);
        if (!lua_setupvalue(L, -2, 1)) { /* the chunk's _ENV */
                lua_pop(L, 2);
                return err_field(err, -EINVAL, field, "expression without an environment");
        }
        w->sc = sc;
        w->over = false;
        w->steps_left = WF_EXPR_STEPS;
        w->limit = w->used + WF_EXPR_MEM;
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, HOOK_EVERY);
        int pr = lua_pcall(L, 0, 1, 0);
        lua_sethook(L, NULL, 0, 0);
        w->sc = NULL;
        int r = 0;
        if (pr == LUA_ERRMEM) {
                r = err_field(err, -EINVAL, field, "memory limit exceeded (%d MiB)", WF_EXPR_MEM >> 20);
                lua_pop(L, 1);
        } else if (pr != LUA_OK) {
                const char *m = lua_tostring(L, -1);
                r = err_field(err, -EINVAL, field, "%s", m ? m : "error with a non-string value");
                lua_pop(L, 1);
        }
        if (r == 0 && w->used > w->limit)
                r = err_field(err, -EINVAL, field, "memory limit exceeded (%d MiB)", WF_EXPR_MEM >> 20);
        w->limit = 0;
        if (r < 0)
                lua_gc(L, LUA_GCCOLLECT); /* drop what a failed evaluation held */
        else if (w->used > 4u * 1024 * 1024)
                lua_gc(L, LUA_GCSTEP, 0);
        return r;
}

int wf_lua_eval(wf_lua *w, int h, const wf_scope *sc, const char *field, json_t **ret, sked_err *err) {
        int r = run(w, h, sc, field, err);
        if (r < 0)
                return r;
        conv c = {0};
        json_t *v = to_json(w->L, lua_gettop(w->L), 0, &c, err);
        lua_pop(w->L, 1);
        if (!v)
                return err_prefix(err, field);
        *ret = v;
        return 0;
}

int wf_lua_truth(wf_lua *w, int h, const wf_scope *sc, const char *field, bool *ret, sked_err *err) {
        int r = run(w, h, sc, field, err);
        if (r < 0)
                return r;
        *ret = lua_toboolean(w->L, -1);
        lua_pop(w->L, 1);
        return 0;
}

/* ---- templates ---- */

enum tmpl_kind { T_LIT, T_EXPR, T_TEXT, T_OBJ, T_ARR };

typedef struct tmpl_part {
        char *text; /* a literal part, or NULL */
        int h;      /* an expression */
} tmpl_part;

struct wf_tmpl {
        enum tmpl_kind kind;
        json_t *lit; /* T_LIT */
        int h;       /* T_EXPR */
        size_t n;    /* parts (T_TEXT), members (T_OBJ, T_ARR) */
        tmpl_part *parts;
        char **keys;
        wf_tmpl **kids;
};

void wf_tmpl_free(wf_tmpl *t) {
        if (!t)
                return;
        json_decref(t->lit);
        for (size_t i = 0; i < t->n; i++) {
                if (t->parts)
                        free(t->parts[i].text);
                if (t->keys)
                        free(t->keys[i]);
                if (t->kids)
                        wf_tmpl_free(t->kids[i]);
        }
        free(t->parts);
        free(t->keys);
        free(t->kids);
        free(t);
}

bool wf_tmpl_dynamic(const wf_tmpl *t) {
        return t->kind != T_LIT;
}

/* The end of the `${ ... }` that starts at s[0] ('$'): the index of its '}', or
 * -1.  Braces nest; Lua's quoted strings and [[ ]] are skipped. */
static long closing(const char *s) {
        int depth = 0;
        for (long i = 2; s[i]; i++) {
                char ch = s[i];
                if (ch == '"' || ch == '\'') {
                        for (i++; s[i] && s[i] != ch; i++)
                                if (s[i] == '\\' && s[i + 1])
                                        i++;
                        if (!s[i])
                                return -1;
                } else if (ch == '[' && s[i + 1] == '[') {
                        const char *e = strstr(s + i + 2, "]]");
                        if (!e)
                                return -1;
                        i = e - s + 1;
                } else if (ch == '{') {
                        depth++;
                } else if (ch == '}') {
                        if (depth == 0)
                                return i;
                        depth--;
                }
        }
        return -1;
}

static int compile_string(wf_lua *w, const char *s, const char *field, wf_tmpl *t, sked_err *err) {
        const char *first = strstr(s, "${");
        if (!first) {
                t->kind = T_LIT;
                t->lit = json_string(s);
                return t->lit ? 0 : err_set(err, -ENOMEM, "out of memory");
        }
        /* only "${ ... }" (blanks around allowed): the value keeps its type */
        size_t lead = strspn(s, " \t\r\n");
        if (s + lead == first) {
                long end = closing(first);
                if (end >= 0 && first[end + 1 + strspn(first + end + 1, " \t\r\n")] == '\0') {
                        char *expr = strndup(first + 2, (size_t) end - 2);
                        if (!expr)
                                return err_set(err, -ENOMEM, "out of memory");
                        int r = wf_lua_compile(w, expr, field, &t->h, err);
                        free(expr);
                        t->kind = T_EXPR;
                        return r;
                }
        }
        t->kind = T_TEXT;
        for (const char *p = s; *p;) {
                const char *d = strstr(p, "${");
                tmpl_part *np = realloc(t->parts, (t->n + 2) * sizeof *np);
                if (!np)
                        return err_set(err, -ENOMEM, "out of memory");
                t->parts = np;
                if (d != p) {
                        size_t len = d ? (size_t) (d - p) : strlen(p);
                        t->parts[t->n++] = (tmpl_part){.text = strndup(p, len)};
                        p += len;
                        if (!d)
                                break;
                }
                long end = closing(d);
                if (end < 0)
                        return err_field(err, -EINVAL, field, "\"${\" without its closing \"}\"");
                char *expr = strndup(d + 2, (size_t) end - 2);
                if (!expr)
                        return err_set(err, -ENOMEM, "out of memory");
                int h, r = wf_lua_compile(w, expr, field, &h, err);
                free(expr);
                if (r < 0)
                        return r;
                t->parts[t->n++] = (tmpl_part){.h = h};
                p = d + end + 1;
        }
        return 0;
}

static int compile(wf_lua *w, const json_t *v, const char *field, int depth, wf_tmpl **ret, sked_err *err) {
        if (depth > WF_JSON_DEPTH)
                return err_field(err, -EINVAL, field, "nested deeper than %d levels", WF_JSON_DEPTH);
        wf_tmpl *t = calloc(1, sizeof *t);
        if (!t)
                return err_set(err, -ENOMEM, "out of memory");
        int r = 0;
        char sub[256];
        if (json_is_string(v)) {
                r = compile_string(w, json_string_value(v), field, t, err);
        } else if (json_is_object(v) || json_is_array(v)) {
                bool obj = json_is_object(v);
                size_t n = obj ? json_object_size(v) : json_array_size(v);
                t->kind = obj ? T_OBJ : T_ARR;
                t->kids = calloc(n ? n : 1, sizeof *t->kids);
                t->keys = obj ? calloc(n ? n : 1, sizeof *t->keys) : NULL;
                if (!t->kids || (obj && !t->keys))
                        r = err_set(err, -ENOMEM, "out of memory");
                bool dynamic = false;
                if (obj) {
                        const char *k;
                        json_t *x;
                        json_object_foreach((json_t *) v, k, x) {
                                if (r < 0)
                                        break;
                                snprintf(sub, sizeof sub, "%s.%s", field, k);
                                t->keys[t->n] = strdup(k);
                                r = compile(w, x, sub, depth + 1, &t->kids[t->n], err);
                                t->n++;
                                if (r == 0)
                                        dynamic |= wf_tmpl_dynamic(t->kids[t->n - 1]);
                        }
                } else {
                        size_t i;
                        json_t *x;
                        json_array_foreach(v, i, x) {
                                if (r < 0)
                                        break;
                                snprintf(sub, sizeof sub, "%s[%zu]", field, i);
                                r = compile(w, x, sub, depth + 1, &t->kids[t->n], err);
                                t->n++;
                                if (r == 0)
                                        dynamic |= wf_tmpl_dynamic(t->kids[t->n - 1]);
                        }
                }
                if (r == 0 && !dynamic) {
                        /* nothing to evaluate below: one literal */
                        for (size_t i = 0; i < t->n; i++) {
                                wf_tmpl_free(t->kids[i]);
                                if (t->keys)
                                        free(t->keys[i]);
                        }
                        free(t->kids);
                        free(t->keys);
                        t->kids = NULL;
                        t->keys = NULL;
                        t->n = 0;
                        t->kind = T_LIT;
                        t->lit = json_deep_copy(v);
                }
        } else {
                t->kind = T_LIT;
                t->lit = json_copy((json_t *) v);
        }
        if (r == 0 && t->kind == T_LIT && !t->lit)
                r = err_set(err, -ENOMEM, "out of memory");
        if (r < 0) {
                wf_tmpl_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

int wf_tmpl_compile(wf_lua *w, const json_t *v, const char *field, wf_tmpl **ret, sked_err *err) {
        return compile(w, v, field, 0, ret, err);
}

static int eval(wf_lua *w, const wf_tmpl *t, const wf_scope *sc, const char *field, json_t **ret, sked_err *err) {
        int r = 0;
        switch (t->kind) {
        case T_LIT:
                *ret = json_incref(t->lit);
                return 0;
        case T_EXPR:
                return wf_lua_eval(w, t->h, sc, field, ret, err);
        case T_TEXT: {
                size_t cap = 64, len = 0;
                char *s = malloc(cap);
                if (!s)
                        return err_set(err, -ENOMEM, "out of memory");
                for (size_t i = 0; i < t->n && r == 0; i++) {
                        json_t *v = NULL;
                        char *owned = NULL;
                        const char *piece = t->parts[i].text;
                        if (!piece) {
                                if ((r = wf_lua_eval(w, t->parts[i].h, sc, field, &v, err)) < 0)
                                        break;
                                if (json_is_string(v))
                                        piece = json_string_value(v);
                                else if (json_is_null(v))
                                        piece = "";
                                else
                                        piece = owned = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                        }
                        size_t pl = piece ? strlen(piece) : 0;
                        if (len + pl + 1 > WF_JSON_BYTES) {
                                r = err_field(err, -EINVAL, field, "text longer than %d bytes", WF_JSON_BYTES);
                        } else if (len + pl + 1 > cap) {
                                while (len + pl + 1 > cap)
                                        cap *= 2;
                                char *ns = realloc(s, cap);
                                if (!ns)
                                        r = err_set(err, -ENOMEM, "out of memory");
                                else
                                        s = ns;
                        }
                        if (r == 0 && pl) {
                                memcpy(s + len, piece, pl);
                                len += pl;
                        }
                        free(owned);
                        json_decref(v);
                }
                if (r == 0) {
                        s[len] = '\0';
                        if (!(*ret = json_stringn(s, len)))
                                r = err_field(err, -EINVAL, field, "text that is not valid UTF-8");
                }
                free(s);
                return r;
        }
        case T_OBJ:
        case T_ARR: {
                json_t *out = t->kind == T_OBJ ? json_object() : json_array();
                char sub[256];
                for (size_t i = 0; i < t->n && r == 0; i++) {
                        json_t *v;
                        if (t->kind == T_OBJ)
                                snprintf(sub, sizeof sub, "%s.%s", field, t->keys[i]);
                        else
                                snprintf(sub, sizeof sub, "%s[%zu]", field, i);
                        if ((r = eval(w, t->kids[i], sc, sub, &v, err)) < 0)
                                break;
                        if (t->kind == T_OBJ)
                                json_object_set_new(out, t->keys[i], v);
                        else
                                json_array_append_new(out, v);
                }
                if (r < 0) {
                        json_decref(out);
                        return r;
                }
                *ret = out;
                return 0;
        }
        }
        return err_set(err, -EINVAL, "bad template");
}

int wf_tmpl_eval(wf_lua *w, const wf_tmpl *t, const wf_scope *sc, const char *field, json_t **ret, sked_err *err) {
        return eval(w, t, sc, field, ret, err);
}
