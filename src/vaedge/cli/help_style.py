"""One style for every command's help, applied to the click commands typer builds.

- A bool option that is off by default is a plain flag (`--json`, `--force`): no `--no-json` twin, no
  `<bool>` placeholder suggesting it takes a value, no `[default: no-json]`.
- Arguments read as `BUNDLE` in the usage line, not `{bundle}`.
- Defaults read `[default: ...]` everywhere: a help text ending in "(default ...)" (an option whose
  default is None, resolved later, e.g. from a dataclass) is shown the same way as typer's own.
"""

from __future__ import annotations

import re

DEFAULT_IN_HELP = re.compile(r"\s*\(default:? (?P<value>[^()]*(?:\([^()]*\)[^()]*)*)\)\.?\s*$")


def tidy(command):
    """Apply the style to `command` (a click Group or Command) and its subcommands, in place; return it."""
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)
    _tidy_help_option(command)
    for param in getattr(command, "params", []):
        if param.param_type_name == "argument":
            _argument(param)
        elif param.param_type_name == "option":
            _option(param)
    return command


def _tidy_help_option(command) -> None:
    """click adds --help when help is shown; give it the flag style too."""
    make = command.get_help_option

    def get_help_option(ctx):
        option = make(ctx)
        if option is not None:
            _option(option)
        return option

    command.get_help_option = get_help_option


def _argument(param) -> None:
    name = param.name.upper()
    param.metavar = name
    usage = name if param.required else f"[{name}]"
    param._usage_display_name = lambda: usage + ("..." if param.nargs != 1 else "")


def _option(param) -> None:
    if getattr(param, "is_flag", False) and getattr(param, "is_bool_flag", True):
        param.metavar = ""  # a flag takes no value
        if param.default is False or param.default is None and not param.secondary_opts:
            param.secondary_opts = []
            param.show_default = False
    help_text = param.help or ""
    match = DEFAULT_IN_HELP.search(help_text)
    if match and param.default in (None, False):  # typer would show a string default as "(value)"
        param.help = f"{help_text[: match.start()].rstrip('.')}. \\[default: {match['value']}]"  # \[: not rich markup
        param.show_default = False
