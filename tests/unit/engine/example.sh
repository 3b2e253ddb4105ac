#!/bin/sh
# A sked command type in plain sh: reports how much input it got and how full the
# root file system is.  Side effects are keyed by SKED_IDEMPOTENCY_KEY, because a run
# may be delivered more than once.
set -eu

input=$(cat)    # the run as JSON; read it even if unused
echo "::info::run $SKED_RUN_ID (attempt $SKED_ATTEMPT) of $SKED_TYPE, nominal $SKED_NOMINAL"
echo "::info::got ${#input} bytes of input"
echo "::progress::50"

stamp="${TMPDIR:-/tmp}/sked-example-$(printf %s "$SKED_IDEMPOTENCY_KEY" | tr -c 'A-Za-z0-9' _)"
if [ -e "$stamp" ]; then
        echo "::warning::already done for $SKED_IDEMPOTENCY_KEY; not repeating the side effect"
else
        : > "$stamp"    # the side effect, done once per key
fi

used=$(df -P / | awk 'NR == 2 { sub("%", "", $5); print $5 }')
if [ -z "$used" ]; then
        echo "::error::df printed nothing usable"
        exit 1
fi
echo "::result::{\"key\":\"disk.root\",\"data\":{\"used_percent\":$used}}"
echo "::progress::100"
