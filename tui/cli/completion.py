"""``pixverse-tui completion bash|zsh|fish``: a completion script made from the parser
itself, so a new command or option is offered the day it is added.

What is offered: the commands, each command's options, file names where an argument
names a file, and the values of options that take a fixed set (``--status``,
``--tier``, ``--format``, ``--duration``…).
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field

FILE_DESTS = frozenset({"from_file", "output", "file", "to"})  # arguments that name files


@dataclass
class Command:
    name: str
    summary: str
    options: list[str] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)  # option -> its choices
    files: list[str] = field(default_factory=list)  # options whose value is a path
    file_positional: bool = False
    positional_choices: list[str] = field(default_factory=list)


def commands(parser: argparse.ArgumentParser,
             extra_values: dict[str, list[str]] | None = None) -> list[Command]:
    """What each subcommand takes, read from the parser."""
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    out = []
    for name, child in sub.choices.items():
        command = Command(name, helps.get(name, ""))
        for action in child._actions:
            if action.help == argparse.SUPPRESS:
                continue
            if not action.option_strings:
                if action.dest in FILE_DESTS or action.metavar in ("TASK|FILE.mp4",):
                    command.file_positional = True
                if action.choices:
                    command.positional_choices = [str(c) for c in action.choices]
                continue
            command.options += [o for o in action.option_strings if o.startswith("--")]
            long = next((o for o in action.option_strings if o.startswith("--")), None)
            if long is None or action.nargs == 0:
                continue
            if action.choices:
                command.values[long] = [str(c) for c in action.choices]
            elif extra_values and long in extra_values:
                command.values[long] = extra_values[long]
            elif action.dest in FILE_DESTS:
                command.files.append(long)
        out.append(command)
    return out


def _top_options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for a in parser._actions for o in a.option_strings if o.startswith("--")]


def bash(parser: argparse.ArgumentParser, cmds: list[Command]) -> str:
    prog = parser.prog
    func = "_" + prog.replace("-", "_")
    lines = [f"# bash completion for {prog}: eval \"$({prog} completion bash)\"",
             f"{func}() {{",
             '    local cur prev cmd i',
             '    cur="${COMP_WORDS[COMP_CWORD]}"',
             '    prev="${COMP_WORDS[COMP_CWORD-1]}"',
             '    cmd=""',
             '    for ((i = 1; i < COMP_CWORD; i++)); do',
             '        case "${COMP_WORDS[i]}" in -*) ;; *) cmd="${COMP_WORDS[i]}"; break ;; esac',
             '    done',
             '    if [[ -z "$cmd" ]]; then',
             '        if [[ "$cur" == -* ]]; then',
             f'            COMPREPLY=($(compgen -W {shlex.quote(" ".join(_top_options(parser)))}'
             ' -- "$cur"))',
             '        else',
             f'            COMPREPLY=($(compgen -W {shlex.quote(" ".join(c.name for c in cmds))}'
             ' -- "$cur"))',
             '        fi',
             '        return 0',
             '    fi',
             '    case "$cmd" in']
    for c in cmds:
        lines.append(f"        {c.name})")
        lines.append('            case "$prev" in')
        for option, values in c.values.items():
            lines.append(f"                {option}) COMPREPLY=($(compgen -W "
                         f"{shlex.quote(' '.join(values))} -- \"$cur\")); return 0 ;;")
        for option in c.files:
            lines.append(f'                {option}) COMPREPLY=($(compgen -f -- "$cur")); '
                         "return 0 ;;")
        lines.append("            esac")
        lines.append('            if [[ "$cur" == -* ]]; then')
        lines.append(f"                COMPREPLY=($(compgen -W "
                     f"{shlex.quote(' '.join(c.options))} -- \"$cur\"))")
        if c.positional_choices:
            lines.append("            else")
            lines.append(f"                COMPREPLY=($(compgen -W "
                         f"{shlex.quote(' '.join(c.positional_choices))} -- \"$cur\"))")
        elif c.file_positional:
            lines.append("            else")
            lines.append('                COMPREPLY=($(compgen -f -- "$cur"))')
        lines.append("            fi")
        lines.append("            ;;")
    lines += ["    esac", "}", f"complete -o filenames -o bashdefault -F {func} {prog}", ""]
    return "\n".join(lines)


def _zsh_quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "'\\''").replace(":", "\\:").replace(
        "[", "\\[").replace("]", "\\]")


def zsh(parser: argparse.ArgumentParser, cmds: list[Command]) -> str:
    prog = parser.prog
    func = "_" + prog.replace("-", "_")
    lines = [f"#compdef {prog}", f"# zsh completion for {prog}: "
             f"eval \"$({prog} completion zsh)\" (after compinit)", f"{func}() {{",
             "    local -a commands",
             "    commands=("]
    lines += [f"        '{_zsh_quote(c.name)}:{_zsh_quote(c.summary)}'" for c in cmds]
    lines += ["    )",
              "    if (( CURRENT == 2 )); then",
              f"        _describe -t commands '{prog} command' commands",
              f"        compadd -- {' '.join(_top_options(parser))}",
              "        return",
              "    fi",
              "    case ${words[2]} in"]
    for c in cmds:
        specs = []
        for option in c.options:
            if option in c.values:
                specs.append(f"'{option}=[ ]:value:({' '.join(c.values[option])})'")
            elif option in c.files:
                specs.append(f"'{option}=[ ]:file:_files'")
            else:
                specs.append(f"'{option}'")
        if c.positional_choices:
            specs.append(f"'1:action:({' '.join(c.positional_choices)})'")
        elif c.file_positional:
            specs.append("'*:file:_files'")
        joined = " ".join(specs) if specs else "'*:: :'"
        lines.append(f"        {c.name}) shift words; (( CURRENT-- )); _arguments -s {joined} ;;")
    lines += ["    esac", "}", f"compdef {func} {prog}", ""]
    return "\n".join(lines)


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish(parser: argparse.ArgumentParser, cmds: list[Command]) -> str:
    prog = parser.prog
    names = " ".join(c.name for c in cmds)
    lines = [f"# fish completion for {prog}: {prog} completion fish > "
             f"~/.config/fish/completions/{prog}.fish",
             f"complete -c {prog} -f"]
    for c in cmds:
        lines.append(f"complete -c {prog} -n 'not __fish_seen_subcommand_from {names}' "
                     f"-a {c.name} -d {_fish_quote(c.summary)}")
    for c in cmds:
        when = f"-n '__fish_seen_subcommand_from {c.name}'"
        for option in c.options:
            flag = f"-l {option[2:]}"
            if option in c.values:
                lines.append(f"complete -c {prog} {when} {flag} -x -a "
                             f"{_fish_quote(' '.join(c.values[option]))}")
            elif option in c.files:
                lines.append(f"complete -c {prog} {when} {flag} -r -F")
            else:
                lines.append(f"complete -c {prog} {when} {flag}")
        if c.positional_choices:
            lines.append(f"complete -c {prog} {when} -a "
                         f"{_fish_quote(' '.join(c.positional_choices))}")
        elif c.file_positional:
            lines.append(f"complete -c {prog} {when} -F")
    return "\n".join(lines) + "\n"


SHELLS = {"bash": bash, "zsh": zsh, "fish": fish}


def script(parser: argparse.ArgumentParser, shell: str,
           extra_values: dict[str, list[str]] | None = None) -> str:
    return SHELLS[shell](parser, commands(parser, extra_values))
