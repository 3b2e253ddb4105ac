# bash completion for sked(1): commands, verbs, options, and from a server that
# answers (SKED_URL/SKED_TOKEN/SKED_DATA_DIR, or --url/--token/--data-dir on the
# line) the type names, series ids, feature names, workflow names and instance ids.  Installed as
# share/bash-completion/completions/sked; needs nothing but bash.

_sked_nouns="serve type series runs poller calendar features nodes workflow instance user token audit migrate preview version help"
_sked_common="--json --url --token --data-dir --color --wide --help"
_sked_serve_opts="--config --print-config --data-dir --listen --tls-cert --tls-key --workers --db --plugin --demo --grace
        --http-threads --max-connections --max-connections-per-ip --idle-timeout --lookahead --node --token-file
        --session-idle-timeout --session-lifetime --trusted-proxy --log-level --log-format --clock-file
        --events-max --events-max-per-ip --events-heartbeat --events-window --help"

# options that take a value (the next word)
_sked_valued=" --url --token --data-dir --color --type --series --state --tz --log-level --log-format --config
        --plugin --token-file --listen --tls-cert --tls-key --workers --db --grace --http-threads --lookahead --node --schedule --start
        --end --count --title --param --params --query --owner --policy --sleep --if-version --note --from --to
        --runs --limit --before --after --week --width --max-connections --max-connections-per-ip --idle-timeout
        --clock-file --input --workflow --status --data --reason --session-idle-timeout --session-lifetime
        --trusted-proxy --role --display-name --user --expires --actor --path --method --since --until --feature
        --reconnect --events-max --events-max-per-ip --events-heartbeat --events-window "

_sked_verbs() {
        case $1 in
        type) echo "list show register delete" ;;
        series) echo "list show create edit delete pause resume trigger occurrences occurrence results" ;;
        runs) echo "list show messages results enqueue cancel rerun retry follow watch" ;;
        poller) echo "status init" ;;
        features) echo "list enable disable" ;;
        nodes) echo "list" ;;
        workflow) echo "list show register start" ;;
        instance) echo "list show journal signal cancel pause resume" ;;
        user) echo "list add set passwd disable enable totp totp-require grants" ;;
        token) echo "list create revoke" ;;
        audit) echo "list" ;;
        esac
}

# the options of one verb (besides the common ones)
_sked_opts() {
        case "$1 $2" in
        "series list") echo "--type --after --all" ;;
        "series create" | "series edit")
                echo "--type --schedule --tz --start --end --count --title --param --params --query --owner
                      --disabled --policy --sleep --if-version" ;;
        "series delete") echo "--purge" ;;
        "series pause") echo "--note" ;;
        "series trigger") echo "--param" ;;
        "series occurrences") echo "--from --to --tz" ;;
        "series occurrence") echo "--start --off --on --param --params --note --reset" ;;
        "series results") echo "--runs" ;;
        "runs list") echo "--series --type --state --limit --before --after" ;;
        "runs messages" | "runs results") echo "--after --full" ;;
        "runs enqueue") echo "--type --param --count" ;;
        "runs cancel") echo "--reason" ;;
        "runs rerun") echo "--param" ;;
        "runs follow") echo "--reconnect" ;;
        "runs watch") echo "--series --type" ;;
        "type delete") echo "--force" ;;
        "features enable" | "features disable") echo "--note" ;;
        "workflow start") echo "--input" ;;
        "user add") echo "--role --display-name --tz --password-stdin" ;;
        "user set") echo "--role --display-name --tz" ;;
        "user passwd") echo "--password-stdin --current" ;;
        "user grants") echo "--type --feature --none" ;;
        "user totp-require") echo "--none" ;;
        "token list") echo "--all --revoked" ;;
        "token create") echo "--user --expires" ;;
        "audit list") echo "--actor --path --method --since --until --before --limit" ;;
        "instance list") echo "--workflow --status --limit --before" ;;
        "instance journal") echo "--after" ;;
        "instance signal") echo "--data" ;;
        "instance cancel") echo "--reason" ;;
        "calendar "*) echo "--week --tz --series --width" ;;
        "migrate "*) echo "--db --data-dir --to" ;;
        "preview "*) echo "--tz --start --from --count --json" ;;
        esac
}

# One column of a listing from the server, quietly: nothing when none answers.
_sked_ask() {
        local col=$1
        shift
        local t=()
        command -v timeout >/dev/null 2>&1 && t=(timeout 3)
        "${t[@]}" "${_sked_prog:-sked}" "$@" "${_sked_conn[@]}" --color=never --wide </dev/null 2>/dev/null |
                while read -r -a f; do
                        [ "${f[0]}" = NAME ] || [ "${f[0]}" = ID ] || [ "${f[0]#(more}" != "${f[0]}" ] ||
                                echo "${f[$col]}"
                done
}

_sked_zones() {
        local tab=/usr/share/zoneinfo/tzdata.zi
        echo UTC
        [ -r "$tab" ] && while read -r kind a b _; do
                case $kind in Z) echo "$a" ;; L) echo "$b" ;; esac
        done <"$tab"
}

_sked() {
        local cur=${COMP_WORDS[COMP_CWORD]} prev="" noun="" verb="" i w
        [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
        _sked_prog=${COMP_WORDS[0]}
        _sked_conn=()
        COMPREPLY=()
        # the noun, the verb, and the connection options already typed
        for ((i = 1; i < COMP_CWORD; i++)); do
                w=${COMP_WORDS[i]}
                case $w in
                --url | --token | --data-dir)
                        [ $((i + 1)) -lt "$COMP_CWORD" ] && _sked_conn+=("$w" "${COMP_WORDS[i + 1]}")
                        ((i++))
                        continue
                        ;;
                --url=* | --token=* | --data-dir=*) _sked_conn+=("$w"); continue ;;
                =) ((i++)); continue ;;
                -*)
                        [[ $_sked_valued == *" $w "* ]] && [ "${COMP_WORDS[i + 1]}" != "=" ] && ((i++))
                        continue
                        ;;
                esac
                if [ -z "$noun" ]; then
                        noun=$w
                elif [ -z "$verb" ] && [ -n "$(_sked_verbs "$noun")" ]; then
                        verb=$w
                fi
        done
        if [ -z "$noun" ]; then
                [[ $cur == -* ]] && COMPREPLY=($(compgen -W "--help --version" -- "$cur")) ||
                        COMPREPLY=($(compgen -W "$_sked_nouns" -- "$cur"))
                return 0
        fi

        # the value of the option before the cursor; readline splits "--tz=Eu" into
        # "--tz" "=" "Eu" (COMP_WORDBREAKS), and completes the part after "="
        if [ "$cur" = "=" ] && [[ $prev == --* ]]; then
                cur=""
        elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -gt 1 ]; then
                prev=${COMP_WORDS[COMP_CWORD - 2]}
        fi
        case $prev in
        --type) [ "$noun" != serve ] && COMPREPLY=($(compgen -W "$(_sked_ask 0 type list)" -- "$cur")); return 0 ;;
        --series) COMPREPLY=($(compgen -W "$(_sked_ask 0 series list --all)" -- "$cur")); return 0 ;;
        --state) COMPREPLY=($(compgen -W "queued running succeeded failed lost cancelled" -- "$cur")); return 0 ;;
        --status)
                COMPREPLY=($(compgen -W "queued running waiting paused succeeded failed canceled" -- "$cur"))
                return 0 ;;
        --workflow) COMPREPLY=($(compgen -W "$(_sked_ask 0 workflow list)" -- "$cur")); return 0 ;;
        --tz) COMPREPLY=($(compgen -W "$(_sked_zones)" -- "$cur")); return 0 ;;
        --log-level) COMPREPLY=($(compgen -W "debug info warning error" -- "$cur")); return 0 ;;
        --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return 0 ;;
        --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return 0 ;;
        --config | --plugin | --token-file | --clock-file | --tls-cert | --tls-key) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
        --data-dir) COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
        --url | --token | --listen | --workers | --db | --grace | --http-threads | --lookahead | --node | \
                --schedule | --start | --end | --count | --title | --param | --params | --query | --owner | \
                --policy | --sleep | --if-version | --note | --from | --to | --runs | --limit | --before | \
                --after | --week | --width | --max-connections | --max-connections-per-ip | --idle-timeout | \
                --input | --data | --reason | --session-idle-timeout | --session-lifetime | --trusted-proxy | \
                --display-name | --user | --expires | --actor | --path | --method | --since | --until | --feature | \
                --reconnect | --events-max | --events-max-per-ip | --events-heartbeat | --events-window)
                return 0 ;;
        --role) COMPREPLY=($(compgen -W "admin operator viewer" -- "$cur")); return 0 ;;
        esac
        if [[ $cur == --color=* ]]; then
                COMPREPLY=($(compgen -P --color= -W "auto always never" -- "${cur#--color=}"))
                return 0
        fi

        if [ "$noun" = serve ]; then
                COMPREPLY=($(compgen -W "$_sked_serve_opts" -- "$cur"))
                return 0
        fi
        local verbs
        verbs=$(_sked_verbs "$noun")
        if [ -n "$verbs" ] && [ -z "$verb" ] && [[ $cur != -* ]]; then
                COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
                return 0
        fi
        if [[ $cur == -* ]]; then
                local more=$_sked_common
                # `sked runs --state failed` is `sked runs list ...`
                [ -z "$verb" ] && case $noun in
                type | runs | features | nodes | workflow | instance | user | token | audit) verb=list ;;
                poller) verb=status ;;
                esac
                case $noun in migrate | preview | version | help) more="--help" ;; esac
                COMPREPLY=($(compgen -W "$(_sked_opts "$noun" "$verb") $more" -- "$cur"))
                return 0
        fi
        # the verb's argument: from the server when one answers
        case "$noun $verb" in
        "type show" | "type delete") COMPREPLY=($(compgen -W "$(_sked_ask 0 type list)" -- "$cur")) ;;
        "type register") COMPREPLY=($(compgen -f -- "$cur")) ;;
        "series show" | "series edit" | "series delete" | "series pause" | "series resume" | "series trigger" | \
                "series occurrences" | "series occurrence" | "series results")
                COMPREPLY=($(compgen -W "$(_sked_ask 0 series list --all)" -- "$cur")) ;;
        "features enable" | "features disable")
                COMPREPLY=($(compgen -W "$(_sked_ask 0 features list)" -- "$cur")) ;;
        "workflow show" | "workflow start") COMPREPLY=($(compgen -W "$(_sked_ask 0 workflow list)" -- "$cur")) ;;
        "workflow register") COMPREPLY=($(compgen -f -- "$cur")) ;;
        "instance show" | "instance journal" | "instance signal" | "instance cancel" | "instance pause" | \
                "instance resume")
                COMPREPLY=($(compgen -W "$(_sked_ask 0 instance list)" -- "$cur")) ;;
        "user totp")
                [ "$prev" = totp ] && COMPREPLY=($(compgen -W "enrol confirm disable recovery-codes" -- "$cur")) ||
                        COMPREPLY=($(compgen -W "$(_sked_ask 0 user list)" -- "$cur")) ;;
        "user totp-require") COMPREPLY=($(compgen -W "admin operator viewer" -- "$cur")) ;;
        esac
        return 0
}

complete -F _sked sked
