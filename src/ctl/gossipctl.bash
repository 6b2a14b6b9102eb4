# SPDX-License-Identifier: MIT
# bash completion for gossipctl(1), installed as
# /usr/share/bash-completion/completions/gossipctl.
#
# Commands and options are those "gossipctl --help" lists, so the completion
# follows the installed gossipctl; the PORT of -i/--instance is one of the
# control sockets peer-PORT.sock present where gossipctl looks for them.

# The lines of one section ("Commands:", "Options:") of gossipctl --help.
_gossipctl_help_section()
{
    "$1" --help 2>/dev/null | while IFS= read -r line; do
        case $line in
        "$2") on=1 ;;
        [![:space:]]*) on= ;;
        *) [[ -n $on ]] && printf '%s\n' "$line" ;;
        esac
    done
}

# The command names: the first word of each entry of "Commands:".
_gossipctl_commands()
{
    local line
    _gossipctl_help_section "$1" Commands: | while IFS= read -r line; do
        [[ $line =~ ^\ \ ([a-z][a-z-]*) ]] && printf '%s\n' "${BASH_REMATCH[1]}"
    done | sort -u
}

# The option names of "Options:": the words starting with '-' before the first other.
_gossipctl_options()
{
    local line word
    _gossipctl_help_section "$1" Options: | while IFS= read -r line; do
        for word in $line; do
            [[ $word == -* ]] || break
            printf '%s\n' "${word%,}"
        done
    done
}

# The ports of the control sockets in the runtime directories gossipctl searches:
# $RUNTIME_DIRECTORY (the first of the list), $GOSSIP_RUNTIME_DIR, /run/gossip,
# $XDG_RUNTIME_DIR/gossip and /tmp/gossip-UID.
_gossipctl_ports()
{
    local dir sock port
    for dir in "${RUNTIME_DIRECTORY%%:*}" "$GOSSIP_RUNTIME_DIR" /run/gossip \
        "${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/gossip}" "/tmp/gossip-$UID"; do
        [[ -n $dir && -d $dir ]] || continue
        for sock in "$dir"/peer-*.sock; do
            [[ -S $sock ]] || continue
            port=${sock##*/peer-}
            port=${port%.sock}
            [[ $port =~ ^[0-9]+$ ]] && printf '%s\n' "$port"
        done
    done | sort -un
}

_gossipctl()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local prog=${COMP_WORDS[0]} cmd= i word
    local commands
    COMPREPLY=()

    case $prev in
    -i | --instance)
        COMPREPLY=($(compgen -W "$(_gossipctl_ports)" -- "$cur"))
        return 0
        ;;
    -s | --socket)
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0
        ;;
    -t | --timeout | -n | --lines)
        return 0
        ;;
    esac

    # The command, if one was typed already (words after an option's argument skipped).
    commands=$(_gossipctl_commands "$prog")
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
        -i | --instance | -s | --socket | -t | --timeout) ((i++)) ;;
        -*) ;;
        *)
            if [[ $'\n'$commands$'\n' == *$'\n'$word$'\n'* ]]; then
                cmd=$word
                break
            fi
            ;;
        esac
    done

    case $cmd in
    "")
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$(_gossipctl_options "$prog")" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        ;;
    tail)
        COMPREPLY=($(compgen -W "-f --follow -n --lines" -- "$cur"))
        ;;
    send)
        [[ $cur == -* ]] && COMPREPLY=($(compgen -W "- --" -- "$cur"))
        ;;
    esac
    return 0
}

complete -F _gossipctl gossipctl
